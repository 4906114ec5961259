"""A user's own registry on a loopback port other than the stack's: a
docker-registry on 127.0.0.1:<free port> with htpasswd auth and no TLS.

Docker reaches registries on 127.0.0.0/8, ::1 and localhost over plain HTTP
when they do not speak TLS; Slipway must too, in the agent's resolver and in
the engine's pull, although this registry is neither in
SLIPWAY_INSECURE_REGISTRIES nor in the engine's registries.conf (both list
only the stack's own registry). Before, the deployment failed with
"SSL routines::wrong version number".
"""

import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from slipway_harness import api, get_text, wait_text

USER = "lo-owner"
HELLO = "hello from slipway demo v1"


def _free_port(ip):
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def _b64_auth(user, password):
    return base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class LoopbackRegistry:
    """A Debian docker-registry on a free port of ip, htpasswd, plain HTTP."""

    def __init__(self, state_dir, ip="127.0.0.1"):
        self.dir = Path(tempfile.mkdtemp(prefix="lo-registry-",
                                         dir=str(state_dir)))
        self.ip = ip
        self.password = secrets.token_urlsafe(18)
        self.host = None
        self.proc = None

    def log_tail(self, lines=30):
        try:
            text = (self.dir / "registry.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self):
        # htpasswd -i reads the password from stdin: it stays off ps.
        r = subprocess.run(["htpasswd", "-iBn", USER],
                           input=self.password.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        htpasswd = self.dir / "htpasswd"
        htpasswd.write_bytes(r.stdout)
        htpasswd.chmod(0o600)
        # The free port is only probed; another process may take it before
        # the registry binds, so try a few.
        for _ in range(3):
            port = _free_port(self.ip)
            cfg = self.dir / "registry.yml"
            cfg.write_text(
                "version: 0.1\n"
                "log: {level: warn, accesslog: {disabled: true}}\n"
                "storage: {filesystem: {rootdirectory: %s}, "
                "delete: {enabled: true}}\n"
                "http: {addr: \"%s:%d\", secret: %s}\n"
                "auth: {htpasswd: {realm: lo-registry, path: %s}}\n" % (
                    self.dir / "storage", self.ip, port,
                    secrets.token_hex(16), htpasswd))
            with open(self.dir / "registry.log", "ab") as log:
                self.proc = subprocess.Popen(
                    ["docker-registry", "serve", str(cfg)], stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)
            if self._ready(port):
                self.host = "%s:%d" % (self.ip, port)
                return
            self.stop()
        raise AssertionError("loopback registry did not start:\n" +
                             self.log_tail())

    def _ready(self, port, timeout=20):
        """True once GET /v2/ answers 401 over plain HTTP."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            status, _ = get_text("http://%s:%d/v2/" % (self.ip, port))
            if status == 401:
                return True
            time.sleep(0.1)
        return False

    def push_demo(self, slipway):
        """Copies the stack's demo image into this registry; returns the
        image reference there and its manifest digest."""
        src = slipway.env["SLIPWAY_DEMO_IMAGE"]          # host/demo/hello:v1
        dest = "%s/%s" % (self.host, src.split("/", 1)[1])
        authfile = self.dir / "auth.json"
        with open(os.open(str(authfile), os.O_WRONLY | os.O_CREAT |
                          os.O_TRUNC, 0o600), "w") as f:
            json.dump({"auths": {
                slipway.env["SLIPWAY_REGISTRY_HOST"]: {"auth": _b64_auth(
                    slipway.env["SLIPWAY_REGISTRY_USER"],
                    slipway.env["SLIPWAY_REGISTRY_PASSWORD"])},
                self.host: {"auth": _b64_auth(USER, self.password)},
            }}, f)
        r = subprocess.run(
            ["skopeo", "copy", "-q", "--src-tls-verify=false",
             "--dest-tls-verify=false", "--src-authfile", str(authfile),
             "--dest-authfile", str(authfile), "docker://" + src,
             "docker://" + dest],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
        assert r.returncode == 0, "skopeo copy: " + r.stderr.decode(
            errors="replace")
        r = subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", "--authfile",
             str(authfile), "--format", "{{.Digest}}", "docker://" + dest],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert r.returncode == 0, "skopeo inspect: " + r.stderr.decode(
            errors="replace")
        return dest, r.stdout.decode().strip()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture(scope="module")
def loopback_registry(slipway):
    """(registry, image reference, digest): the demo image, pushed."""
    reg = LoopbackRegistry(slipway.state)
    slipway.secrets.add(reg.password)
    try:
        reg.start()
        image, digest = reg.push_demo(slipway)
        assert reg.host != slipway.env["SLIPWAY_REGISTRY_HOST"]
        yield reg, image, digest
    finally:
        reg.stop()
        shutil.rmtree(reg.dir, ignore_errors=True)


def _deploy_v1(slipway, component_id):
    status, dep = api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/deployments" % component_id),
        {"environment": "development", "tag": "v1"})
    assert status == 202, (status, dep)
    return dep


def test_deploys_from_own_loopback_registry(slipway, org, project, app_ports,
                                            loopback_registry):
    reg, image, digest = loopback_registry
    r = slipway.create_registry(org, host=reg.host, username=USER,
                                password=reg.password)
    comp = slipway.create_component(org, project, r["id"], image=image,
                                    port=app_ports.take())

    dep = _deploy_v1(slipway, comp["id"])
    assert dep["image"] == image, dep
    dep = slipway.wait_deployment(dep["id"], "running", timeout=120)
    # Resolved by the agent against this registry, not the stack's.
    assert dep.get("digest") == digest, (dep, digest)
    endpoints = dep.get("endpoints") or []
    assert endpoints, dep
    assert HELLO in wait_text(endpoints[0]["url"], HELLO), dep


def test_wrong_password_is_unauthorized_not_tls(slipway, org, project,
                                                app_ports, loopback_registry):
    """The credentials reach the registry over plain HTTP, and are refused:
    the reason names the credentials, not a TLS failure."""
    reg, image, _ = loopback_registry
    wrong = "wrong-" + secrets.token_urlsafe(12)
    r = slipway.create_registry(org, host=reg.host, username=USER,
                                password=wrong)
    comp = slipway.create_component(org, project, r["id"], image=image,
                                    port=app_ports.take())

    dep = _deploy_v1(slipway, comp["id"])
    dep = slipway.wait_deployment(dep["id"], "failed", timeout=90)
    reason = dep.get("reason") or ""
    assert "unauthorized" in reason, dep
    assert "SSL" not in reason and "TLS" not in reason, dep
    assert wrong not in json.dumps(dep), "the password leaked: %r" % dep
