"""The front door (scripts/frontdoor.sh: nginx from
deploy/frontdoor/nginx.conf.template) in front of a harness's services, for
the black-box tests: tests/e2e/test_frontdoor.py and the console's.

FrontDoor runs one nginx; start_frontdoor() gives it a webhook-ingress of
its own, configured as it is behind the front door in `make run`
(SLIPWAY_PUBLIC_URL = the front door, SLIPWAY_WEBHOOK_TRUST_FORWARDED=1),
and routes everything else to the harness's own services, whose restarts
it rides through (nginx reconnects; a single-server upstream is never
marked down).
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import slipway_harness as sh

SCRIPT = sh.REPO / "scripts" / "frontdoor.sh"


class FrontDoor:
    """One nginx from scripts/frontdoor.sh on 127.0.0.1:port.

    upstreams: {"registry", "component", "deploy", "webhook"} -> base URL.
    .url is "http://127.0.0.1:<port>"; .stop() ends it (and its webhook,
    when start_frontdoor made one).
    """

    def __init__(self, state_dir, port, upstreams, console_dir, log_path,
                 trusted_proxies=""):
        self.state = Path(state_dir)
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.console_dir = Path(console_dir)
        self.log = Path(log_path)
        self.webhook = None
        self.proc = None
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("SLIPWAY_FRONTDOOR_")}
        self.env.update({
            "SLIPWAY_FRONTDOOR_LISTEN": "127.0.0.1:%d" % port,
            "SLIPWAY_FRONTDOOR_REGISTRY_URL": upstreams["registry"],
            "SLIPWAY_FRONTDOOR_COMPONENT_URL": upstreams["component"],
            "SLIPWAY_FRONTDOOR_DEPLOY_URL": upstreams["deploy"],
            "SLIPWAY_FRONTDOOR_WEBHOOK_URL": upstreams["webhook"],
            "SLIPWAY_FRONTDOOR_CONSOLE_DIR": str(self.console_dir),
            "SLIPWAY_FRONTDOOR_STATE_DIR": str(self.state),
            "SLIPWAY_FRONTDOOR_TRUSTED_PROXIES": trusted_proxies,
        })

    def start(self, timeout=30):
        """Starts nginx and waits until its /healthz answers 200."""
        self.state.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                ["bash", str(SCRIPT), "run"], env=self.env, stdout=logf,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise sh.HarnessError("front door exited with %d:\n%s" % (
                    self.proc.returncode, self.tail()))
            last = sh.get_text(self.url + "/healthz", timeout=2)
            if last[0] == 200:
                return self
            time.sleep(0.1)
        raise sh.HarnessError("front door not up after %d s (%r):\n%s" % (
            timeout, last, self.tail()))

    def api(self, method, path, body=None, token=sh.ADMIN, headers=None,
            timeout=15):
        """sh.api against the front door: (status, parsed body)."""
        return sh.api(method, self.url + path, body, token=token,
                      headers=headers, timeout=timeout)

    def tail(self, lines=40):
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self):
        """Ends nginx (SIGQUIT: finish what is in flight) and the webhook it
        was given; returns a list of problems (empty when clean)."""
        problems = []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
                problems.append("front door did not stop within 15 s")
        self.proc = None
        if self.webhook is not None:
            rc = self.webhook.stop()
            if rc != 0:
                problems.append("front door's webhook-ingress exited with %r:"
                                "\n%s" % (rc, self.webhook.tail()))
            report = self.webhook.sanitizer_report()
            if report:
                problems.append("front door's webhook-ingress: " + report)
            self.webhook = None
        return problems


def start_frontdoor(slipway, port=None, name="frontdoor", console_dir=None,
                    trusted_proxies="", **webhook_env):
    """A front door on port (default the harness's "frontdoor" port) with a
    webhook-ingress of its own on port + 1 that knows the public address;
    the other routes go to the harness's services. webhook_env: more
    variables for that webhook (e.g. its rate-limit knobs)."""
    port = port or slipway.ports["frontdoor"]
    url = "http://127.0.0.1:%d" % port
    hook = slipway.extra_service(
        "webhook-ingress", port + 1, SLIPWAY_PUBLIC_URL=url,
        SLIPWAY_WEBHOOK_TRUST_FORWARDED="1", **webhook_env)
    hook.start()
    fd = FrontDoor(
        slipway.state / name, port,
        {"registry": slipway.url("registry-svc"),
         "component": slipway.url("component-svc"),
         "deploy": slipway.url("deploy-svc"),
         "webhook": hook.url("")},
        console_dir or (slipway.build / "console"),
        slipway.state / "logs" / (name + ".log"),
        trusted_proxies=trusted_proxies)
    fd.webhook = hook
    try:
        fd.start()
    except Exception:
        fd.stop()
        raise
    return fd


def cli_env(slipway, fd, **extra):
    """The CLI's environment with only SLIPWAY_URL (and the admin key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update({"SLIPWAY_URL": fd.url, "SLIPWAY_ADMIN_TOKEN": slipway.admin_token})
    env.update(extra)
    return env


def cli(slipway, fd, *args, timeout=30, env=None):
    """The slipway CLI with only SLIPWAY_URL set: (rc, stdout, stderr)."""
    r = subprocess.run([str(slipway.bin / "slipway")] + list(args),
                       env=cli_env(slipway, fd, **(env or {})),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode()
