"""Brings up the real Slipway platform for black-box tests and benchmarks.

One Harness = one local stack (scripts/stack.sh: Kafka, PostgreSQL, Redis, an
OCI registry, podman) plus the five real service binaries from
${SLIPWAY_BUILD:-build}/bin, on private ports. Used by tests/e2e/conftest.py
and tests/bench/bench.py so the start-up logic lives in one place.

Python standard library only (urllib, subprocess, socket, json): the tests
must run on a bare CI machine.
"""

import base64
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# The order matters: component-svc's migration grants the webhook's read-only
# role, deploy-svc must exist before a data plane can be registered, and the
# agent needs its data plane's topics.

SERVICES = ("registry-svc", "component-svc", "deploy-svc", "webhook-ingress",
            "dataplane-agent")

DEFAULT_PORTS = {
    "kafka": 29092, "kafka_controller": 29093, "pg": 25432, "redis": 26379,
    "registry": 25000,
    # The data plane's gateway (HAProxy): development public = base,
    # production public = base + 1, internal = + 100, TCP listeners from
    # base + 220 (scripts/stack.sh, SLIPWAY_GATEWAY_PORT_BASE).
    "gateway": 27080,
    "webhook-ingress": 28080, "registry-svc": 28081, "component-svc": 28082,
    "deploy-svc": 28083, "dataplane-agent": 28084,
    # The front door (scripts/frontdoor.sh, tests/e2e/frontdoor_harness.py);
    # its own webhook-ingress listens on this + 1.
    "frontdoor": 28090,
}

# Environment overrides so several harnesses (CI, a developer, a benchmark)
# can coexist: SLIPWAY_E2E_PORT_OFFSET moves every default port, and
# SLIPWAY_E2E_PORT_<NAME> (NAME upper-cased, '-' -> '_') sets one.
def ports_from_env(defaults=None, offset=None):
    if offset is None:
        offset = int(os.environ.get("SLIPWAY_E2E_PORT_OFFSET", "0"))
    ports = {}
    for name, port in (defaults or DEFAULT_PORTS).items():
        var = "SLIPWAY_E2E_PORT_" + name.upper().replace("-", "_")
        ports[name] = int(os.environ.get(var, port + offset))
    return ports


class HarnessError(Exception):
    pass


# What stack.env says about the gateway, passed on to the agent.
GATEWAY_VARS = ("SLIPWAY_GATEWAY_DIR", "SLIPWAY_GATEWAY_SOCKET",
                "SLIPWAY_GATEWAY_MASTER_SOCKET", "SLIPWAY_GATEWAY_LISTENERS",
                "SLIPWAY_GATEWAY_TCP_PORTS")

# The stack's store credentials (stack.env): one Postgres role and one Redis
# ACL user per service, each service given only its own.
STORE_VARS = ("SLIPWAY_PG_REGISTRY_URL", "SLIPWAY_PG_COMPONENT_URL",
              "SLIPWAY_PG_DEPLOY_URL", "SLIPWAY_PG_WEBHOOK_URL",
              "SLIPWAY_PG_ADMIN_URL", "SLIPWAY_REDIS_COMPONENT_PASSWORD",
              "SLIPWAY_REDIS_WEBHOOK_PASSWORD", "SLIPWAY_REDIS_ADMIN_PASSWORD")

# The stack's Kafka principals (stack.env): one SCRAM user per service with
# its own ACLs (services/slipway-kafka-acl/acl_table.c); an agent gets
# agent-<dataplane> from `stack.sh kafka-principal`; admin is for the test
# tools that talk to Kafka themselves.
KAFKA_PASSWORD_VARS = {
    "registry-svc": "SLIPWAY_KAFKA_REGISTRY_SVC_PASSWORD",
    "component-svc": "SLIPWAY_KAFKA_COMPONENT_SVC_PASSWORD",
    "deploy-svc": "SLIPWAY_KAFKA_DEPLOY_SVC_PASSWORD",
    "webhook-ingress": "SLIPWAY_KAFKA_WEBHOOK_INGRESS_PASSWORD",
    "admin": "SLIPWAY_KAFKA_ADMIN_PASSWORD",
}
KAFKA_VARS = ("SLIPWAY_KAFKA_SECURITY_PROTOCOL",
              "SLIPWAY_KAFKA_SASL_MECHANISM") + tuple(
                  KAFKA_PASSWORD_VARS.values())


# Sanitizer settings for the services (the caller's own ASAN_OPTIONS /
# UBSAN_OPTIONS win) and the lines that mark a report in a service log.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}
SANITIZER_MARKERS = ("runtime error:", "ERROR: AddressSanitizer",
                     "ERROR: LeakSanitizer", "WARNING: AddressSanitizer")


# --- HTTP helpers -----------------------------------------------------------

ADMIN = object()          # sentinel: "use the harness's admin token"
_admin_token = None       # set by Harness.start()


def api(method, url, body=None, token=ADMIN, headers=None, timeout=15):
    """One HTTP call; returns (status, parsed JSON or {"_raw": text} or None).

    body: dict/list -> JSON with Content-Type application/json; bytes/str are
    sent as they are (set Content-Type in headers yourself). token: ADMIN,
    None (no Authorization header) or a string sent as "Bearer <token>".
    """
    hdrs = {}
    data = None
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    elif isinstance(body, str):
        data = body.encode()
    elif isinstance(body, bytes):
        data = body
    if token is ADMIN:
        token = _admin_token
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, _parse(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, _parse(e.read())


def _parse(raw):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"_raw": raw.decode(errors="replace")}


def raw_http(port, method, path, headers, body=b"", timeout=10):
    """A request over a plain socket, for bodies a server may refuse early.

    Sends the head first and gives the server a moment to answer (a 413 on
    Content-Length) before the body, so the answer is not lost to a reset.
    Returns (status, parsed body or None, raw head text).
    """
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % (
        method, path, port)
    for k, v in headers.items():
        head += "%s: %s\r\n" % (k, v)
    head += "Content-Length: %d\r\n\r\n" % len(body)
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(head.encode())
        s.settimeout(0.3)
        early = b""
        try:
            early = s.recv(65536)
        except socket.timeout:
            pass
        s.settimeout(timeout)
        if not early:
            try:
                s.sendall(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
        chunks = [early]
        while True:
            try:
                c = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not c:
                break
            chunks.append(c)
    finally:
        s.close()
    raw = b"".join(chunks)
    if not raw:
        raise HarnessError("no answer to %s %s" % (method, path))
    head_b, _, rest = raw.partition(b"\r\n\r\n")
    status = int(head_b.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head_b.lower():
        rest = _dechunk(rest)
    return status, _parse(rest), head_b.decode(errors="replace")


def _dechunk(data):
    out = b""
    while data:
        line, _, data = data.partition(b"\r\n")
        try:
            n = int(line.split(b";")[0], 16)
        except ValueError:
            break
        if n == 0:
            break
        out += data[:n]
        data = data[n + 2:]
    return out


def get_text(url, timeout=2):
    """GET returning (status, text) or (None, error string) when unreachable."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)


def wait_text(url, want, timeout=30):
    """Polls url until its body contains want; returns the last body."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        status, text = get_text(url)
        last = (status, text)
        if status == 200 and want in text:
            return text
        time.sleep(0.25)
    raise AssertionError("%s never answered %r; last: %r" % (url, want, last))


def error_code(body):
    try:
        return body["error"]["code"]
    except (TypeError, KeyError):
        return None


# --- CI token forging (same algorithm as services/lib/crypto.c) --------------

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62_fixed(n, width):
    out = ""
    for _ in range(width):
        out = BASE62[n % 62] + out
        n //= 62
    return out


def forge_token():
    """A well-formed token with a valid checksum that nobody issued.

    "slp_" + 32 random base62 + 6 base62 digits of CRC32(random part); the
    digit order must match services/lib/crypto.c token_generate.
    """
    rnd = "".join(secrets.choice(BASE62) for _ in range(32))
    return "slp_" + rnd + _base62_fixed(zlib.crc32(rnd.encode()), 6)


# --- the engine (podman's Docker-compatible API over a unix socket) ----------

class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def engine_call(sock_path, method, path):
    conn = _UnixHTTPConnection(sock_path)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, _parse(r.read())
    finally:
        conn.close()


def engine_containers(sock_path, label="slipway.managed=true"):
    q = urllib.parse.quote(json.dumps({"label": [label]}))
    status, body = engine_call(sock_path, "GET",
                               "/v1.41/containers/json?all=1&filters=" + q)
    if status != 200 or not isinstance(body, list):
        raise HarnessError("engine list: %s %r" % (status, body))
    return body


def engine_remove_slipway(sock_path):
    removed = 0
    for c in engine_containers(sock_path):
        engine_call(sock_path, "DELETE",
                    "/v1.41/containers/%s?force=true" % c["Id"])
        removed += 1
    return removed


# --- ports for the deployed containers --------------------------------------

class PortPool:
    """Hands out distinct free 127.0.0.1 ports from [lo, hi)."""

    def __init__(self, lo, hi):
        self._next, self._hi = lo, hi

    def take(self):
        while self._next < self._hi:
            port = self._next
            self._next += 1
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
        raise HarnessError("no free endpoint port left")


# --- the harness -------------------------------------------------------------

class Harness:
    def __init__(self, state_dir, ports=None, build_dir=None, log=None,
                 dataplane="local"):
        self.state = Path(state_dir).resolve()
        self.ports = ports or ports_from_env()
        build = build_dir or os.environ.get("SLIPWAY_BUILD", "build")
        self.bin = (REPO / build / "bin").resolve()
        self.build = (REPO / build).resolve()
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.dataplane = dataplane
        self.env = {}           # parsed stack.env
        self.procs = {}         # service -> Popen
        self.service_env = {}   # service -> environment it was started with
        self.admin_token = None
        self.stack_up = False
        self.secrets = set()    # values that must never appear in a log

    # URLs
    def url(self, service, path=""):
        return "http://127.0.0.1:%d%s" % (self.ports[service], path)

    def app_url(self, org, project, component, environment="development",
                context="/", internal=False):
        """Where the gateway serves a component's HTTP endpoint: the
        environment's public (or internal) listener, then
        /<org>/<project>/<component><context>."""
        offset = {"development": 0, "production": 1}[environment]
        port = self.ports["gateway"] + offset + (100 if internal else 0)
        return "http://127.0.0.1:%d/%s/%s/%s%s" % (port, org, project,
                                                   component, context)

    def log_path(self, service):
        return self.state / "logs" / (service + ".log")

    def log_tail(self, service, lines=40):
        try:
            text = self.log_path(service).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def all_log_tails(self, lines=30):
        out = []
        for s in SERVICES:
            out.append("----- %s (last %d lines of %s) -----\n%s" % (
                s, lines, self.log_path(s), self.log_tail(s, lines)))
        return "\n".join(out)

    # --- start -------------------------------------------------------------

    def start(self):
        global _admin_token
        missing = [s for s in SERVICES if not (self.bin / s).exists()]
        if missing:
            raise HarnessError("not built: %s (run make)" % ", ".join(
                str(self.bin / s) for s in missing))
        self._wipe_state()
        (self.state / "logs").mkdir(parents=True)
        self._stack_up()
        self.admin_token = secrets.token_urlsafe(32)
        self.secrets.update({self.admin_token,
                             self.env["SLIPWAY_REGISTRY_PASSWORD"]})
        self.secrets.update(self.store_secrets())
        _admin_token = self.admin_token
        # The main agent's Kafka principal (and its data plane's ACLs) before
        # its data plane is registered: the agent reads its topics from then.
        agent_kafka = self.kafka_principal(self.dataplane)
        kek = self._write_kek()
        key_file, public_key = self._agent_keygen()
        common = self._common_env()
        env = self.env
        # The stack's registries are on loopback: the one non-public range
        # registry-svc's test and the agent's resolver may reach.
        self._start("registry-svc", common, **self.kafka_env("registry-svc"),
                    SLIPWAY_PG_URL=env["SLIPWAY_PG_REGISTRY_URL"],
                    SLIPWAY_ADMIN_TOKEN=self.admin_token, SLIPWAY_KEK_FILE=kek,
                    SLIPWAY_ALLOW_PRIVATE_TARGETS="loopback")
        self._start("component-svc", common, **self.kafka_env("component-svc"),
                    SLIPWAY_PG_URL=env["SLIPWAY_PG_COMPONENT_URL"],
                    SLIPWAY_REDIS_USER="component",
                    SLIPWAY_REDIS_PASSWORD=env[
                        "SLIPWAY_REDIS_COMPONENT_PASSWORD"],
                    SLIPWAY_ADMIN_TOKEN=self.admin_token)
        self._start("deploy-svc", common, **self.kafka_env("deploy-svc"),
                    SLIPWAY_PG_URL=env["SLIPWAY_PG_DEPLOY_URL"],
                    SLIPWAY_ADMIN_TOKEN=self.admin_token, SLIPWAY_KEK_FILE=kek,
                    SLIPWAY_DEFAULT_DATAPLANE=self.dataplane)
        for s in ("registry-svc", "component-svc", "deploy-svc"):
            self._wait_ready(s)
        self.register_dataplane(self.dataplane, public_key, acls=False)
        self._start("webhook-ingress", common,
                    **self.kafka_env("webhook-ingress"),
                    SLIPWAY_PG_URL=env["SLIPWAY_PG_WEBHOOK_URL"],
                    SLIPWAY_REDIS_USER="webhook",
                    SLIPWAY_REDIS_PASSWORD=env["SLIPWAY_REDIS_WEBHOOK_PASSWORD"],
                    SLIPWAY_DEPLOY_URL=self.url("deploy-svc"))
        self._start("dataplane-agent", common, **agent_kafka,
                    SLIPWAY_DATAPLANE=self.dataplane,
                    SLIPWAY_DATAPLANE_KEY_FILE=key_file,
                    SLIPWAY_ENGINE_SOCKET=self.env["SLIPWAY_ENGINE_SOCKET"],
                    SLIPWAY_INSECURE_REGISTRIES=self.env["SLIPWAY_REGISTRY_HOST"],
                    SLIPWAY_ALLOW_PRIVATE_TARGETS="loopback",
                    SLIPWAY_HEALTH_TIMEOUT_S="20",
                    SLIPWAY_DRAIN_S="1",
                    SLIPWAY_AGENT_STATE_DIR=str(self.state / "agent"),
                    **{k: self.env[k] for k in GATEWAY_VARS})
        for s in ("webhook-ingress", "dataplane-agent"):
            self._wait_ready(s)
        self.log("harness: platform up (state %s)" % self.state)

    def _wipe_state(self):
        """Removes a previous run's state: stops a stack left running there,
        unmounts what podman's overlay store left mounted, then deletes."""
        if not self.state.exists():
            return
        if (self.state / "run").exists():
            self._stack_env = self._stack_environ()
            subprocess.run(["bash", "scripts/stack.sh", "down"], cwd=REPO,
                           env=self._stack_env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
        prefix = str(self.state) + "/"
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f]
        for m in sorted((m for m in mounts if m.startswith(prefix)),
                        key=len, reverse=True):
            subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.state)

    def _stack_environ(self):
        env = dict(os.environ)
        env.update({
            "SLIPWAY_STATE": str(self.state),
            "SLIPWAY_KAFKA_PORT": str(self.ports["kafka"]),
            "SLIPWAY_KAFKA_CONTROLLER_PORT": str(self.ports["kafka_controller"]),
            "SLIPWAY_PG_PORT": str(self.ports["pg"]),
            "SLIPWAY_REDIS_PORT": str(self.ports["redis"]),
            "SLIPWAY_REGISTRY_PORT": str(self.ports["registry"]),
            "SLIPWAY_GATEWAY_PORT_BASE": str(self.ports["gateway"]),
            # stack.sh runs this build's slipway-kafka-acl.
            "SLIPWAY_BUILD": str(self.build),
        })
        return env

    def _stack_up(self):
        env = self._stack_environ()
        self._stack_env = env
        self.stack_up = True   # so stop() runs "down" even after a partial up
        t0 = time.monotonic()
        try:
            r = subprocess.run(["bash", "scripts/stack.sh", "up"], cwd=REPO,
                               env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=300)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")
            raise HarnessError("stack.sh up timed out after 300 s:\n" +
                               out[-4000:])
        out = r.stdout.decode(errors="replace")
        if r.returncode != 0:
            raise HarnessError("stack.sh up failed (%d):\n%s" % (
                r.returncode, out[-4000:]))
        self.env = self._parse_stack_env(self.state / "stack.env")
        need = ("SLIPWAY_KAFKA_BROKERS", "SLIPWAY_REDIS_HOST",
                "SLIPWAY_REDIS_PORT", "SLIPWAY_REGISTRY_HOST",
                "SLIPWAY_REGISTRY_USER", "SLIPWAY_REGISTRY_PASSWORD",
                "SLIPWAY_ENGINE_SOCKET", "SLIPWAY_DEMO_IMAGE") + GATEWAY_VARS + \
            STORE_VARS + KAFKA_VARS
        missing = [n for n in need if not self.env.get(n)]
        if missing:
            raise HarnessError("stack.env lacks %s" % ", ".join(missing))
        self.log("harness: stack up in %.1f s" % (time.monotonic() - t0))

    @staticmethod
    def _parse_stack_env(path):
        """Lets bash read the export lines, so any quoting works."""
        if not path.exists():
            raise HarnessError("stack.sh up wrote no %s" % path)
        r = subprocess.run(["bash", "-c", 'set -a; . "$1"; env -0', "_",
                            str(path)], env={"PATH": os.environ["PATH"]},
                           stdout=subprocess.PIPE, check=True, timeout=10)
        env = {}
        for item in r.stdout.split(b"\0"):
            k, sep, v = item.decode().partition("=")
            if sep and (k.startswith("SLIPWAY_") or k.startswith("CONTAINERS_")):
                env[k] = v
        return env

    def store_secrets(self):
        """The stack's Postgres, Redis and Kafka passwords (stack.env): the
        log scan looks for each."""
        found = set()
        for k in STORE_VARS + tuple(KAFKA_PASSWORD_VARS.values()):
            v = self.env[k]
            if k.endswith("_URL"):
                v = urllib.parse.urlsplit(v).password
            if v:
                found.add(v)
        return found

    def _write_kek(self):
        path = self.state / "kek"
        path.write_text("1:" + base64.b64encode(secrets.token_bytes(32)).decode()
                        + "\n")
        path.chmod(0o600)
        return str(path)

    def _agent_keygen(self):
        path = self.state / "dataplane.key"
        r = subprocess.run([str(self.bin / "dataplane-agent"), "keygen",
                            "--out", str(path)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
        if r.returncode != 0:
            raise HarnessError("dataplane-agent keygen failed: %s" %
                               r.stderr.decode(errors="replace"))
        public_key = json.loads(path.read_text())["public_key"]
        return str(path), public_key

    def _common_env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SLIPWAY_")}
        for k in ("SLIPWAY_KAFKA_BROKERS", "SLIPWAY_REDIS_HOST",
                  "SLIPWAY_REDIS_PORT", "SLIPWAY_KAFKA_SECURITY_PROTOCOL",
                  "SLIPWAY_KAFKA_SASL_MECHANISM"):
            env[k] = self.env[k]
        for k, v in self.env.items():
            if k.startswith("CONTAINERS_"):
                env[k] = v
        env["SLIPWAY_HTTP_ADDR"] = "127.0.0.1"
        env["SLIPWAY_LOG_DEBUG"] = os.environ.get("SLIPWAY_LOG_DEBUG", "0")
        # Sanitizer builds (make asan): a report must fail the run, not sit
        # unread in a log. UBSan stops the service at the first finding, ASan
        # and LSan make it exit non-zero; stop() also scans the logs.
        env.setdefault("ASAN_OPTIONS", SANITIZER_ENV["ASAN_OPTIONS"])
        env.setdefault("UBSAN_OPTIONS", SANITIZER_ENV["UBSAN_OPTIONS"])
        return env

    def _start(self, service, common, **extra):
        env = dict(common)
        env.update(extra)
        env["SLIPWAY_HTTP_PORT"] = str(self.ports[service])
        logf = open(self.log_path(service), "ab")
        self.service_env[service] = env
        self.procs[service] = subprocess.Popen(
            [str(self.bin / service)], env=env, stdout=logf,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.state,
            start_new_session=True)
        logf.close()

    def _wait_ready(self, service, timeout=60):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            proc = self.procs[service]
            if proc.poll() is not None:
                raise HarnessError("%s exited with %d before ready:\n%s" % (
                    service, proc.returncode, self.log_tail(service)))
            last = get_text(self.url(service, "/readyz"), timeout=2)
            if last[0] == 200:
                return
            time.sleep(0.2)
        raise HarnessError("%s not ready after %d s (last /readyz: %r):\n%s" % (
            service, timeout, last, self.log_tail(service)))

    # --- Kafka principals ---------------------------------------------------

    def kafka_env(self, service):
        """A service's own Kafka credentials (stack.env), as it is given
        them."""
        return {"SLIPWAY_KAFKA_USERNAME": service,
                "SLIPWAY_KAFKA_PASSWORD": self.env[KAFKA_PASSWORD_VARS[service]]}

    def kafka_tool_env(self, user="admin", password=None):
        """The environment of a test tool that talks to Kafka itself
        (tests/e2e/tools, kafka_auth.h): as user (default admin, whose
        password stack.env has; a service's too), or without credentials
        when user is None."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SLIPWAY_KAFKA_")}
        if user is None:
            return env
        if password is None:
            password = self.env[KAFKA_PASSWORD_VARS[user]]
        env.update({k: self.env[k] for k in (
            "SLIPWAY_KAFKA_SECURITY_PROTOCOL", "SLIPWAY_KAFKA_SASL_MECHANISM")})
        env.update({"SLIPWAY_KAFKA_USERNAME": user,
                    "SLIPWAY_KAFKA_PASSWORD": password})
        return env

    def kafka_acl(self, *args):
        """slipway-kafka-acl grant ARGS as admin (one CreateAcls request)."""
        env = self.kafka_tool_env()
        env["SLIPWAY_KAFKA_BROKERS"] = self.env["SLIPWAY_KAFKA_BROKERS"]
        r = subprocess.run([str(self.bin / "slipway-kafka-acl"), "grant"] +
                           list(args), env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise HarnessError("slipway-kafka-acl grant %s: %s" % (
                " ".join(args), r.stdout.decode(errors="replace")))

    def kafka_principal(self, dataplane):
        """The agent principal agent-<dataplane> (SCRAM user, ACLs of its
        data plane) through `stack.sh kafka-principal`; returns the agent's
        Kafka environment (its password by file)."""
        r = subprocess.run(["bash", "scripts/stack.sh", "kafka-principal",
                            dataplane], cwd=REPO, env=self._stack_env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120)
        if r.returncode != 0:
            raise HarnessError("stack.sh kafka-principal %s: %s" % (
                dataplane, r.stdout.decode(errors="replace")[-3000:]))
        path = self.state / ("kafka-agent-%s-password" % dataplane)
        self.secrets.add(path.read_text().strip())
        return {"SLIPWAY_KAFKA_USERNAME": "agent-" + dataplane,
                "SLIPWAY_KAFKA_PASSWORD_FILE": str(path)}

    def kafka_password(self, user):
        """The password of a Kafka principal made by the stack."""
        if user in KAFKA_PASSWORD_VARS:
            return self.env[KAFKA_PASSWORD_VARS[user]]
        return (self.state / ("kafka-%s-password" % user)).read_text().strip()

    def register_dataplane(self, name, public_key, orgs=None, acls=True):
        """Registers a data plane for the given orgs, or shared by every org
        when orgs is None. acls: first grant the services' writes to its
        topics (slipway-kafka-acl --dataplane), as an operator would."""
        if acls:
            self.kafka_acl("--dataplane", name)
        body = {"name": name, "public_key": public_key}
        if orgs is None:
            body["shared"] = True
        else:
            body["orgs"] = list(orgs)
        status, body = api("POST", self.url("deploy-svc", "/v1/dataplanes"),
                           body)
        if status not in (200, 201):
            raise HarnessError("POST /v1/dataplanes: %s %r\n%s" % (
                status, body, self.log_tail("deploy-svc")))
        return body

    # --- stop --------------------------------------------------------------

    def stop_services(self, timeout=10):
        """SIGTERM every service (agent first); returns a list of problems."""
        problems = []
        for s in reversed(SERVICES):
            proc = self.procs.get(s)
            if proc is None or proc.poll() is not None:
                if proc is not None and proc.returncode != 0:
                    problems.append("%s had already exited with %d" % (
                        s, proc.returncode))
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=timeout)
                if rc != 0:
                    problems.append("%s exited with %d after SIGTERM" % (s, rc))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
                problems.append("%s did not exit within %d s of SIGTERM" % (
                    s, timeout))
        self.procs = {}
        return problems

    def sanitizer_reports(self, lines=40):
        """The first ASan/UBSan/LSan report in each service log, as problems
        (a report in a service that still exited 0 would otherwise be lost)."""
        found = []
        for s in SERVICES:
            try:
                text = self.log_path(s).read_text(errors="replace").splitlines()
            except OSError:
                continue
            for i, line in enumerate(text):
                if any(m in line for m in SANITIZER_MARKERS):
                    found.append("%s: sanitizer report in %s:\n%s" % (
                        s, self.log_path(s), "\n".join(text[i:i + lines])))
                    break
        return found

    def _stored_texts(self):
        """(where, text) of what the platform stores: every service log,
        every Kafka log segment (every topic; the producers do not
        compress) and a pg_dump of the whole database."""
        texts = []
        for s in SERVICES:
            try:
                texts.append((str(self.log_path(s)),
                              self.log_path(s).read_text(errors="replace")))
            except OSError:
                continue
        for seg in sorted((self.state / "kafka" / "data").glob("*/*.log")):
            texts.append(("Kafka segment %s" % seg.parent.name,
                          seg.read_bytes().decode("latin-1")))
        if self.env.get("SLIPWAY_PG_ADMIN_URL"):
            r = subprocess.run([str(_pg_bin() / "pg_dump"),
                                self.env["SLIPWAY_PG_ADMIN_URL"]],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60)
            texts.append(("pg_dump", r.stdout.decode(errors="replace")))
        return texts

    def secret_leaks(self):
        """Registry passwords, CI tokens, signing secrets, org keys and the
        admin key the tests used, found in a service log, a Kafka topic or
        the database, as problems."""
        found = []
        for where, text in self._stored_texts():
            for secret in sorted(self.secrets):
                if len(secret) >= 8 and secret in text:
                    found.append("a secret (%s…) appears in %s" % (
                        secret[:4], where))
        return found

    def stop(self):
        problems = self.stop_services()
        problems += self.sanitizer_reports()
        problems += self.secret_leaks()
        sock = self.env.get("SLIPWAY_ENGINE_SOCKET")
        if sock and os.path.exists(sock):
            try:
                engine_remove_slipway(sock)
            except (OSError, HarnessError, http.client.HTTPException) as e:
                problems.append("removing containers: %s" % e)
        if self.stack_up:
            self.stack_up = False
            try:
                r = subprocess.run(["bash", "scripts/stack.sh", "down"],
                                   cwd=REPO, env=self._stack_env,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=120)
            except subprocess.TimeoutExpired as e:
                problems.append("stack.sh down timed out after 120 s: %s" %
                                (e.stdout or b"").decode(errors="replace"))
                return problems
            if r.returncode != 0:
                problems.append("stack.sh down failed: %s" %
                                r.stdout.decode(errors="replace")[-2000:])
        return problems

    # --- fault injection (tests/e2e/test_resilience.py) ----------------------

    def kill_service(self, service, sig=signal.SIGKILL, timeout=10):
        """Sends sig (default SIGKILL: a crash, no clean shutdown) to one
        service and waits for it to be gone; its Popen is dropped so
        stop_services() does not count the crash as a problem."""
        proc = self.procs.pop(service, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        proc.wait(timeout=timeout)

    def restart_service(self, service, timeout=60):
        """Starts a killed service again with the environment it had."""
        if service in self.procs and self.procs[service].poll() is None:
            raise HarnessError("%s is still running" % service)
        env = self.service_env[service]
        self._start(service, env)
        self._wait_ready(service, timeout=timeout)

    def redis_cli(self, *args, user="admin", password=None, timeout=10):
        """redis-cli against the stack's Redis as an ACL user (default the
        stack's admin; password defaults to that user's from stack.env;
        user None: no AUTH at all); returns (rc, stdout text)."""
        env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
        cmd = ["redis-cli", "-h", self.env["SLIPWAY_REDIS_HOST"],
               "-p", self.env["SLIPWAY_REDIS_PORT"]]
        if user is not None:
            if password is None:
                password = self.env["SLIPWAY_REDIS_%s_PASSWORD" % user.upper()]
            env["REDISCLI_AUTH"] = password   # not on a command line
            cmd += ["--user", user]
        r = subprocess.run(cmd + list(args), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        return r.returncode, r.stdout.decode(errors="replace").strip()

    def redis_up(self):
        return self.redis_cli("ping", timeout=3)[1] == "PONG"

    def stop_redis(self, timeout=10):
        """Shuts the stack's Redis down (no save) and waits until the port is
        closed."""
        self.redis_cli("shutdown", "nosave")
        port = int(self.env["SLIPWAY_REDIS_PORT"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                return
            time.sleep(0.1)
        raise HarnessError("redis still listening %d s after shutdown" % timeout)

    def start_redis(self, timeout=120):
        """Brings Redis back the way the stack started it."""
        self.restore_stack("redis", self.redis_up, timeout=timeout)

    def restore_stack(self, part, check, timeout=180):
        """Starts what is down again the way the stack started it: `stack.sh
        up` is idempotent and only starts the parts that are down. check()
        must then say the part is back."""
        r = subprocess.run(["bash", "scripts/stack.sh", "up"], cwd=REPO,
                           env=self._stack_env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        if r.returncode != 0 or not check():
            raise HarnessError("restarting %s failed:\n%s" % (
                part, r.stdout.decode(errors="replace")[-2000:]))

    def _wait_port_closed(self, part, port, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not port_open(port):
                return
            time.sleep(0.1)
        raise HarnessError("%s still listening on %d %d s after the stop" % (
            part, port, timeout))

    def postgres_up(self):
        return port_open(self.ports["pg"]) and subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.ports["pg"]),
             "-d", "postgres", "-U", "postgres"], timeout=10).returncode == 0

    def stop_postgres(self, timeout=30):
        """Stops the stack's Postgres like stack.sh does (pg_ctl -m fast,
        as the postgres user when we are root): open sessions are ended."""
        data = Path((self.state / "pg.dir").read_text().strip()) / "data"
        cmd = [str(_pg_bin() / "pg_ctl"), "-D", str(data), "-m", "fast", "-s",
               "-t", str(timeout), "stop"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout + 10)
        if r.returncode != 0:
            raise HarnessError("pg_ctl stop failed: %s" %
                               r.stdout.decode(errors="replace"))
        self._wait_port_closed("postgres", self.ports["pg"], timeout)

    def start_postgres(self, timeout=120):
        self.restore_stack("postgres", self.postgres_up, timeout=timeout)

    def kafka_pid(self):
        """The broker's pid from stack.sh's pid file, or None when it is not
        running (a stale pid reused by another program does not count)."""
        try:
            pid = int((self.state / "run" / "kafka.pid").read_text().split()[0])
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"kafka.Kafka" in f.read():
                    return pid
        except (OSError, ValueError, IndexError):
            pass
        return None

    def kafka_up(self):
        return self.kafka_pid() is not None and port_open(self.ports["kafka"])

    def stop_kafka(self, sig=signal.SIGTERM, timeout=30):
        """Stops the broker by its pid: SIGTERM is a clean shutdown, SIGKILL
        a crash. A broker still alive after timeout s is killed."""
        pid = self.kafka_pid()
        if pid is None:
            raise HarnessError("kafka is not running")
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while os.path.exists("/proc/%d" % pid) and \
                _proc_state(pid) not in ("Z", "X"):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
            time.sleep(0.1)
        self._wait_port_closed("kafka", self.ports["kafka"], 10)

    def start_kafka(self, timeout=180):
        self.restore_stack("kafka", self.kafka_up, timeout=timeout)

    def services_alive(self):
        """The services that are no longer running, with their exit codes."""
        return {s: p.returncode for s, p in self.procs.items()
                if p.poll() is not None}

    def wait_all_ready(self, timeout=30):
        """Waits until every running service answers /readyz 200; returns
        the seconds it took."""
        t0 = time.monotonic()
        for s in self.procs:
            self._wait_ready(s, timeout=max(1, timeout -
                                            (time.monotonic() - t0)))
        return time.monotonic() - t0

    def psql(self, sql, url=None, timeout=20):
        """Runs sql against the stack's Postgres, by default as the
        superuser over the unix socket (url: another role's URL); returns
        psql's unaligned, tuples-only output."""
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v",
                            "ON_ERROR_STOP=1",
                            url or self.env["SLIPWAY_PG_ADMIN_URL"],
                            "-c", sql], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        out = r.stdout.decode(errors="replace").strip()
        if r.returncode != 0:
            raise HarnessError("psql failed: %s" % out)
        return out

    def wait_containers(self, component_id, deployments, timeout=20):
        """Waits until the engine runs exactly the given deployments' containers
        of a component (an old version goes after its drain); returns them."""
        sock = self.env["SLIPWAY_ENGINE_SOCKET"]
        deadline = time.monotonic() + timeout
        while True:
            found = engine_containers(sock, "slipway.component=" + component_id)
            have = sorted(c["Labels"].get("slipway.deployment") for c in found)
            if have == sorted(deployments):
                return found
            if time.monotonic() > deadline:
                raise AssertionError("containers of %s: %r, wanted %r" % (
                    component_id, have, sorted(deployments)))
            time.sleep(0.2)

    # --- more processes ----------------------------------------------------

    def extra_service(self, service, port, drop=(), **env):
        """Another `service` with the harness's environment for it, minus the
        variables in drop, plus env, on port (ExtraService, not started)."""
        e = {k: v for k, v in self.service_env[service].items()
             if k not in drop}
        e.update(env)
        e["SLIPWAY_HTTP_PORT"] = str(port)
        return ExtraService(self, service, unique(service), e)

    def extra_agent(self, port, drop=(), orgs=None, **env):
        """A dataplane-agent of a data plane of its own (keypair made and
        registered here, for orgs or, when None, shared), with its own
        journal and no gateway: the stack's HAProxy belongs to the main
        agent. Not started."""
        name = unique("dp")
        key = self.state / ("%s.key" % name)
        r = subprocess.run([str(self.bin / "dataplane-agent"), "keygen",
                            "--out", str(key)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
        if r.returncode != 0:
            raise HarnessError("keygen: %s" % r.stderr.decode(errors="replace"))
        env.update(self.kafka_principal(name))
        self.register_dataplane(name, json.loads(key.read_text())["public_key"],
                                orgs=orgs, acls=False)
        env.update({"SLIPWAY_DATAPLANE": name,
                    "SLIPWAY_DATAPLANE_KEY_FILE": str(key),
                    "SLIPWAY_AGENT_STATE_DIR": str(self.state / ("agent-" +
                                                                 name)),
                    "SLIPWAY_GATEWAY_SOCKET": ""})
        agent = self.extra_service("dataplane-agent", port, drop, **env)
        agent.name = name
        agent.log = self.state / "logs" / ("dataplane-agent-%s.log" % name)
        return agent

    # --- images ------------------------------------------------------------

    def push_variant(self, tag, command):
        """Pushes demo/hello:<tag>: the demo image with another command (a
        shell line run by /bin/sh -c), once per session; returns its
        reference. The command sees $PORT like the demo's."""
        pushed = self.__dict__.setdefault("_variants", {})
        if tag in pushed:
            return pushed[tag]
        host = self.env["SLIPWAY_REGISTRY_HOST"]
        work = self.state / "variants"
        work.mkdir(exist_ok=True)
        authfile = work / "auth.json"
        if not authfile.exists():
            cred = "%s:%s" % (self.env["SLIPWAY_REGISTRY_USER"],
                              self.env["SLIPWAY_REGISTRY_PASSWORD"])
            authfile.touch(mode=0o600)
            authfile.write_text(json.dumps({"auths": {host: {
                "auth": base64.b64encode(cred.encode()).decode()}}}))
        layout = work / "oci"
        _run(["skopeo", "copy", "-q", "--src-tls-verify=false",
              "--src-authfile", str(authfile),
              "docker://%s/demo/hello:v1" % host, "oci:%s:%s" % (layout, tag)])
        _run(["umoci", "config", "--no-history", "--image",
              "%s:%s" % (layout, tag), "--config.cmd", "/bin/sh",
              "--config.cmd", "-c", "--config.cmd", command])
        image = "%s/demo/hello:%s" % (host, tag)
        _run(["skopeo", "copy", "-q", "--dest-tls-verify=false",
              "--dest-authfile", str(authfile), "oci:%s:%s" % (layout, tag),
              "docker://" + image])
        pushed[tag] = image
        return image

    # --- domain helpers ----------------------------------------------------

    def create_registry(self, org, auth_type="basic", host=None, username=None,
                        password=None, name=None, expect=201):
        body = {"name": name or unique("reg"), "auth_type": auth_type,
                "host": host or self.env["SLIPWAY_REGISTRY_HOST"]}
        if auth_type == "basic":
            body["username"] = (self.env["SLIPWAY_REGISTRY_USER"]
                                if username is None else username)
            body["password"] = (self.env["SLIPWAY_REGISTRY_PASSWORD"]
                                if password is None else password)
        if body.get("password"):
            self.secrets.add(body["password"])
        status, resp = api("POST", self.url(
            "registry-svc", "/v1/orgs/%s/registries" % org), body)
        if expect is not None:
            assert status == expect, "create registry: %s %r" % (status, resp)
        return resp

    def create_component(self, org, project, registry_id, image=None,
                         port=None, name=None, ctype="service", **fields):
        """Creates a component (fields: more body keys, e.g. a task's
        schedule). Called straight after create_registry, this also checks
        that component-svc waits for the RegistryCreated event rather than
        answering 422 unknown_registry."""
        body = {"name": name or unique("comp"), "description": "e2e",
                "type": ctype, "registry_id": registry_id,
                "image": image or self.env["SLIPWAY_DEMO_IMAGE"]}
        if port is not None:
            body["endpoints"] = endpoints_yaml(port)
        body.update(fields)
        status, resp = api("POST", self.url(
            "component-svc", "/v1/orgs/%s/projects/%s/components" %
            (org, project)), body)
        assert status == 201, "create component: %s %r" % (status, resp)
        return resp

    def create_token(self, component_id, name=None, signing=False):
        """A CI token; with signing=True also its whsec_ signing secret
        (resp["signing_secret"]). Both join the secrets the log scan looks
        for, the secret also without its prefix."""
        body = {"name": name or unique("tok")}
        if signing:
            body["signing"] = True
        status, resp = api("POST", self.url(
            "component-svc", "/v1/components/%s/tokens" % component_id), body)
        assert status == 201, "create token: %s %r" % (status, resp)
        self.secrets.add(resp["token"])
        if resp.get("signing_secret"):
            self.secrets.add(resp["signing_secret"])
            self.secrets.add(resp["signing_secret"].split("_", 1)[1])
        return resp

    def revoke_token(self, component_id, token_id):
        status, resp = api("DELETE", self.url(
            "component-svc", "/v1/components/%s/tokens/%s" % (
                component_id, token_id)))
        assert status == 204, "revoke token: %s %r" % (status, resp)

    def hook(self, token, body, headers=None):
        return api("POST", self.url("webhook-ingress", "/v1/hooks/deploy"),
                   body, token=token, headers=headers)

    def cli(self, *args, stdin=None, timeout=30, env=None):
        """Runs the slipway CLI against this platform (env: more variables,
        e.g. SLIPWAY_API_KEY): (exit status, stdout, stderr)."""
        extra = env or {}
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SLIPWAY_")}
        env.update({
            "SLIPWAY_ADMIN_TOKEN": self.admin_token,
            "SLIPWAY_URL_REGISTRY": self.url("registry-svc"),
            "SLIPWAY_URL_COMPONENT": self.url("component-svc"),
            "SLIPWAY_URL_DEPLOY": self.url("deploy-svc"),
            "SLIPWAY_URL_WEBHOOK": self.url("webhook-ingress"),
        })
        env.update(extra)
        r = subprocess.run([str(self.bin / "slipway")] + list(args), env=env,
                           input=(stdin or "").encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def get_deployment(self, dep_id):
        return api("GET", self.url("deploy-svc", "/v1/deployments/%s" % dep_id))

    def deployments(self, component_id):
        """The component's deployment history ([] when deploy-svc has none)."""
        status, resp = api("GET", self.url(
            "deploy-svc", "/v1/components/%s/deployments" % component_id))
        if status == 404:
            return []
        assert status == 200, "list deployments: %s %r" % (status, resp)
        return resp["deployments"]

    def wait_deployment(self, dep_id, want, timeout=60):
        """Polls until the deployment's status is want (a str or a set).

        404 not_yet_known is retried; reaching another final state fails
        at once with the deployment's JSON."""
        wants = {want} if isinstance(want, str) else set(want)
        final = {"running", "ready", "failed", "superseded"}
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            status, body = self.get_deployment(dep_id)
            last = (status, body)
            if status == 200:
                if body.get("status") in wants:
                    return body
                # A running deployment may still become superseded or
                # crashed: then running is no final answer.
                if body.get("status") in final - wants and \
                        not (body.get("status") == "running" and
                             wants & {"superseded", "crashed"}):
                    raise AssertionError("deployment %s is %s, wanted %s: %r" % (
                        dep_id, body.get("status"), sorted(wants), body))
            elif not (status == 404 and error_code(body) == "not_yet_known"):
                raise AssertionError("GET deployment %s: %s %r" % (
                    dep_id, status, body))
            time.sleep(0.2)
        raise AssertionError("deployment %s not %s within %d s; last %r" % (
            dep_id, sorted(wants), timeout, last))


class ExtraService:
    """One more service process beside the harness's own: its binary, an
    environment derived from the harness's, its own HTTP port and log. Tests
    use it for a second agent or a differently configured service."""

    def __init__(self, slipway, service, name, env):
        self.slipway = slipway
        self.service = service
        self.name = name
        self.env = env
        self.port = int(env["SLIPWAY_HTTP_PORT"])
        self.log = slipway.state / "logs" / ("%s-%s.log" % (service, name))
        self.proc = None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def start(self, timeout=60, ready=True):
        """Starts it and waits for /readyz 200 (ready False: does not
        wait)."""
        s = self.slipway
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                [str(s.bin / self.service)], env=self.env, stdout=logf,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=s.state, start_new_session=True)
        if not ready:
            return
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "%s exited with %d:\n%s" % (
                self.name, self.proc.returncode, self.tail())
            last = get_text(self.url("/readyz"), timeout=2)
            if last[0] == 200:
                return
            time.sleep(0.2)
        raise AssertionError("%s not ready: %r\n%s" % (self.name, last,
                                                       self.tail()))

    def tail(self, lines=40):
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self):
        """SIGTERM; returns the exit status (None when it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            return None

    def sanitizer_report(self):
        """The first sanitizer report in its log, or None."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        for marker in SANITIZER_MARKERS:
            if marker in text:
                return text[text.index(marker):][:4000]
        return None


def _run(cmd, timeout=120):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    if r.returncode != 0:
        raise HarnessError("%s: %s" % (" ".join(cmd[:3]),
                                       r.stdout.decode(errors="replace")))


def port_open(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _pg_bin():
    """PostgreSQL's bin dir, the newest installed (as stack.sh picks it)."""
    dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                  key=lambda p: [int(x) if x.isdigit() else 0
                                 for x in p.parent.name.split(".")])
    if dirs and (dirs[-1] / "pg_ctl").exists():
        return dirs[-1]
    found = shutil.which("pg_ctl")
    if found is None:
        raise HarnessError("pg_ctl not found")
    return Path(found).parent


def _proc_state(pid):
    """The state letter of /proc/PID/stat ('Z' for a zombie), or 'X'."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def endpoints_yaml(port, context="/"):
    return ("version: 0.1\n"
            "endpoints:\n"
            "- name: web\n"
            "  port: %d\n"
            "  type: REST\n"
            "  networkVisibility: Public\n"
            "  context: %s\n" % (port, context))


# --- a registry token server (distribution token spec) ------------------------

class TokenServer:
    """A token server on 127.0.0.1:port for a registry run with
    `auth: {token: {realm, service, issuer, rootcertbundle}}`.

    POST /token with grant_type=refresh_token (OAuth2 form, what an identity
    token is exchanged with) checks refresh_token; GET /token with HTTP basic
    (user, password) is docker login's way. Both answer an RS256 JWT for the
    scope asked ({"token", "access_token", "expires_in"}), signed with a key
    whose self-signed certificate (self.cert_path) the registry trusts; the
    certificate rides in the JWT's x5c header. Every request is recorded in
    self.requests as (method, {field: value}) without its secret."""

    def __init__(self, state_dir, port, refresh_token, basic=None,
                 service="slipway-token-test", issuer="slipway-token-test"):
        import threading
        self.port, self.service, self.issuer = port, service, issuer
        self.refresh_token, self.basic = refresh_token, basic
        self.requests = []
        self.realm = "http://127.0.0.1:%d/token" % port
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key_path = self.dir / "token.key"
        self.cert_path = self.dir / "token.crt"
        _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
              "-keyout", str(self.key_path), "-out", str(self.cert_path),
              "-days", "2", "-subj", "/CN=slipway-token-test"])
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert_path),
                              "-outform", "DER"], stdout=subprocess.PIPE,
                             check=True).stdout
        self._x5c = base64.b64encode(der).decode()
        self._lock = threading.Lock()
        self._server = None

    # JWTs ------------------------------------------------------------------

    @staticmethod
    def _b64url(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def _sign(self, data):
        try:
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import padding
            key = serialization.load_pem_private_key(
                self.key_path.read_bytes(), password=None)
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        except ImportError:
            return subprocess.run(["openssl", "dgst", "-sha256", "-sign",
                                   str(self.key_path)], input=data,
                                  stdout=subprocess.PIPE, check=True).stdout

    def jwt(self, subject, access):
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [self._x5c]}
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service,
                  "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": uuid.uuid4().hex, "access": access}
        signing_input = ("%s.%s" % (
            self._b64url(json.dumps(header).encode()),
            self._b64url(json.dumps(claims).encode()))).encode()
        return signing_input.decode() + "." + self._b64url(
            self._sign(signing_input))

    @staticmethod
    def _access(scopes):
        """[{type, name, actions}] for "repository:demo/hello:pull,push"."""
        out = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) >= 3 and parts[0] == "repository":
                out.append({"type": "repository", "name": ":".join(parts[1:-1]),
                            "actions": parts[-1].split(",")})
        return out

    # HTTP --------------------------------------------------------------------

    def _handle(self, method, path, headers, body):
        url = urllib.parse.urlsplit(path)
        if url.path != "/token":
            return 404, {"error": "not_found"}
        if method == "POST":
            # containers/image (podman) sends the form in the query string
            # of its POST; the distribution spec puts it in the body.
            form = urllib.parse.parse_qs(url.query, keep_blank_values=True)
            for k, v in urllib.parse.parse_qs(body.decode(errors="replace"),
                                              keep_blank_values=True).items():
                form.setdefault(k, []).extend(v)
            fields = {k: v[0] for k, v in form.items()}
            ok = (fields.get("grant_type") == "refresh_token" and
                  fields.get("refresh_token") == self.refresh_token and
                  fields.get("service") == self.service)
            scopes = form.get("scope", [])
            scopes = [s for v in scopes for s in v.split(" ") if s]
            subject = "identity"
        else:
            fields = {k: v[0] for k, v in urllib.parse.parse_qs(
                url.query, keep_blank_values=True).items()}
            scopes = urllib.parse.parse_qs(url.query).get("scope", [])
            auth = headers.get("Authorization", "")
            ok = self.basic is not None and auth == "Basic " + \
                base64.b64encode(("%s:%s" % self.basic).encode()).decode()
            subject = self.basic[0] if self.basic else "anonymous"
        safe = {k: v for k, v in fields.items() if k != "refresh_token"}
        with self._lock:
            self.requests.append((method, safe))
        if not ok:
            return 401, {"errors": [{"code": "UNAUTHORIZED",
                                     "message": "bad credentials"}]}
        token = self.jwt(subject, self._access(scopes))
        return 200, {"token": token, "access_token": token, "expires_in": 300,
                     "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                time.gmtime())}

    def start(self):
        import http.server
        import threading
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _body(self):
                # Go's clients (podman's containers/image) send the form
                # chunked.
                if "chunked" in self.headers.get("Transfer-Encoding", ""):
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(size + 2)[:size]
                        if size == 0:
                            return body
                        body += chunk
                        if len(body) > 65536:
                            return body
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(min(n, 65536)) if n > 0 else b""

            def _serve(self, method):
                body = self._body()
                status, out = owner._handle(method, self.path, self.headers,
                                            body)
                raw = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port),
                                                       Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
