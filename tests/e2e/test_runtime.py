"""The data-plane runtime as a user sees it: versions behind the gateway,
health-gated cutovers that never interrupt the running version, crashed
containers restarted, an agent killed in the middle of a cutover, tenants
isolated from the platform, and ports that never collide.

Every test probes through the real HAProxy gateway (scripts/stack.sh) and
checks what a person would: HTTP answers, deployment states and reasons.
"""

import json
import os
import signal
import threading
import time

import pytest

from slipway_harness import (api, engine_call, engine_containers, get_text,
                             unique, wait_text)

PROBE_EVERY_S = 0.05

# Variants of the demo image (the same busybox and page, another command).
EXITS_AT_ONCE = "echo 'starting the app'; echo 'fatal: no config' >&2; exit 3"
NEVER_LISTENS = "echo 'waiting forever'; exec busybox sleep 600"
ANSWERS_500 = ("while true; do printf 'HTTP/1.0 500 Internal Server Error\\r\\n"
               "Content-Length: 0\\r\\n\\r\\n' | busybox nc -l -p $PORT; done")
SLOW_START = ("sleep 4; mkdir -p /tmp/w; echo 'hello from the slow one' "
              "> /tmp/w/index.html; exec httpd -f -p 0.0.0.0:$PORT -h /tmp/w")


def _deploy(slipway, comp_id, body):
    status, resp = api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/deployments" % comp_id), body)
    assert status == 202, (status, resp)
    return resp["id"]


def _dev(slipway, comp_id, **option):
    option["environment"] = "development"
    return _deploy(slipway, comp_id, option)


class Prober:
    """GETs url every PROBE_EVERY_S on a thread; remembers every answer."""

    def __init__(self, url):
        self.url = url
        self.answers = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.answers.append(get_text(self.url, timeout=2))
            time.sleep(PROBE_EVERY_S)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def failures(self):
        return [a for a in self.answers if a[0] is None or not
                200 <= a[0] < 300]


@pytest.fixture
def service(slipway, org, project, app_ports):
    """A service component on the demo image, v1 running behind the gateway."""
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    dep = slipway.wait_deployment(_dev(slipway, comp["id"], tag="v1"),
                                  "running", timeout=90)
    app = slipway.app_url(org, project, comp["name"])
    assert "demo v1" in wait_text(app, "demo v1")
    return comp, dep, app


def test_failed_versions_never_interrupt_the_running_one(slipway, service):
    comp, v1, app = service
    bad = [
        ("exit", slipway.push_variant("exit", EXITS_AT_ONCE),
         "unhealthy: container exited with code 3"),
        ("silent", slipway.push_variant("silent", NEVER_LISTENS),
         "unhealthy: not healthy within"),
        ("err500", slipway.push_variant("err500", ANSWERS_500),
         "unhealthy: not healthy within"),
        ("missing", None, "manifest_unknown"),
    ]
    with Prober(app) as probe:
        for tag, _, reason in bad:
            dep = slipway.wait_deployment(_dev(slipway, comp["id"], tag=tag),
                                          "failed", timeout=120)
            assert dep["reason"].startswith(reason), (tag, dep)
            if tag == "exit":
                assert dep["exit_code"] == 3, dep
                assert "fatal: no config" in dep["log_tail"], dep
            if tag == "err500":
                assert "HTTP 500" in dep["probe"], dep
            # The running version is still the one running, and says so.
            assert slipway.get_deployment(v1["id"])[1]["status"] == "running"
        v2 = slipway.wait_deployment(_dev(slipway, comp["id"], tag="v2"),
                                     "running", timeout=90)
        wait_text(app, "demo v2")
        time.sleep(1)
    assert probe.failures() == [], probe.failures()[:5]
    bodies = [text for _, text in probe.answers]
    assert any("demo v1" in b for b in bodies) and "demo v2" in bodies[-1]
    first_v2 = next(i for i, b in enumerate(bodies) if "demo v2" in b)
    # v1 until the cutover, v2 after it (the add and the drain are two
    # runtime commands: at most one request may fall between them).
    assert sum("demo v1" in b for b in bodies[first_v2:]) <= 1, bodies
    slipway.wait_deployment(v1["id"], "superseded", timeout=30)
    assert v2["endpoints"][0]["url"] == app, v2
    slipway.wait_containers(comp["id"], [v2["id"]])


def test_crashed_container_is_reported_and_restarted(slipway, service):
    comp, v1, app = service
    sock = slipway.env["SLIPWAY_ENGINE_SOCKET"]
    (c,) = engine_containers(sock, "slipway.component=" + comp["id"])
    # A crash, as the kernel would do it: SIGKILL to the container's init
    # (the engine's kill API waits for an exit the agent's restart races).
    _, info = engine_call(sock, "GET", "/v1.41/containers/%s/json" % c["Id"])
    os.kill(info["State"]["Pid"], signal.SIGKILL)
    t0 = time.monotonic()
    # Noticed within 5 s, reported crashed, restarted, running again: the
    # deployment counts the restart and says what it recovered from.
    deadline = t0 + 10
    while True:
        dep = slipway.get_deployment(v1["id"])[1]
        if dep["restarts"] == 1 and dep["status"] == "running":
            break
        assert time.monotonic() < deadline, dep
        time.sleep(0.1)
    assert time.monotonic() - t0 < 5 + 1, "crash noticed too late"
    assert "exited with code 137" in dep["reason"], dep
    assert "demo v1" in wait_text(app, "demo v1")
    log = slipway.log_path("deploy-svc").read_text()
    assert "%s: running -> crashed" % v1["id"] in log


def test_agent_killed_mid_cutover_leaves_one_version(slipway, service):
    comp, v1, app = service
    slipway.push_variant("slow", SLOW_START)
    dep = _dev(slipway, comp["id"], tag="slow")
    slipway.wait_deployment(dep, "starting", timeout=60)
    slipway.kill_service("dataplane-agent")
    # The gateway keeps routing v1 while the agent is gone.
    assert "demo v1" in wait_text(app, "demo v1", timeout=5)
    slipway.restart_service("dataplane-agent")
    slipway.wait_deployment(dep, "running", timeout=90)
    assert "the slow one" in wait_text(app, "the slow one")
    slipway.wait_deployment(v1["id"], "superseded", timeout=30)
    slipway.wait_containers(comp["id"], [dep])


def test_sigterm_mid_cutover_stops_within_10s_old_version_serving(
        slipway, service):
    comp, v1, app = service
    slipway.push_variant("slow", SLOW_START)
    dep = _dev(slipway, comp["id"], tag="slow")
    slipway.wait_deployment(dep, "starting", timeout=60)
    proc = slipway.procs["dataplane-agent"]
    t0 = time.monotonic()
    slipway.kill_service("dataplane-agent", sig=signal.SIGTERM, timeout=10)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 0, proc.returncode
    assert "demo v1" in wait_text(app, "demo v1", timeout=5)
    assert slipway.get_deployment(v1["id"])[1]["status"] == "running"
    # The journaled command runs again at the next start.
    slipway.restart_service("dataplane-agent")
    slipway.wait_deployment(dep, "running", timeout=90)
    assert "the slow one" in wait_text(app, "the slow one")
    slipway.wait_containers(comp["id"], [dep])


def test_tenant_cannot_reach_the_platform(slipway, org, project, app_ports):
    """The container probes the stack's Redis, Kafka and Postgres ports on
    127.0.0.1 (its own loopback: the host's is not reachable) and serves
    what it saw."""
    ports = [slipway.ports[p] for p in ("redis", "kafka", "pg")]
    probe = "; ".join(
        "if busybox nc -w 2 127.0.0.1 %d </dev/null; then echo open %d; "
        "else echo refused %d; fi >> /tmp/w/index.html" % (p, p, p)
        for p in ports)
    image = slipway.push_variant("probe-%d" % ports[0], (
        "mkdir -p /tmp/w; %s; exec httpd -f -p 0.0.0.0:$PORT -h /tmp/w" %
        probe))
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"], image=image,
                                    port=app_ports.take())
    slipway.wait_deployment(_dev(slipway, comp["id"], image=image),
                            "running", timeout=90)
    text = wait_text(slipway.app_url(org, project, comp["name"]), "refused")
    for p in ports:
        assert "refused %d" % p in text, text
    assert "open" not in text, text


def test_same_port_everywhere_each_at_its_own_address(slipway, org, project):
    reg = slipway.create_registry(org, auth_type="basic")
    a = slipway.create_component(org, project, reg["id"], port=8080)
    b = slipway.create_component(org, project, reg["id"], port=8080)
    da = slipway.wait_deployment(_dev(slipway, a["id"], tag="v1"), "running",
                                 timeout=90)
    slipway.wait_deployment(_dev(slipway, b["id"], tag="v2"), "running",
                            timeout=90)
    status, prod = api("POST", slipway.url(
        "deploy-svc", "/v1/deployments/%s/promote" % da["id"]),
        {"to": "production"})
    assert status == 202, prod
    slipway.wait_deployment(prod["id"], "running", timeout=90)
    assert "demo v1" in wait_text(slipway.app_url(org, project, a["name"]),
                                  "demo v1")
    assert "demo v2" in wait_text(slipway.app_url(org, project, b["name"]),
                                  "demo v2")
    assert "demo v1" in wait_text(slipway.app_url(
        org, project, a["name"], "production"), "demo v1")
    # The internal listener serves Public endpoints too; unknown paths are
    # a JSON 404 from the gateway.
    assert "demo v2" in wait_text(slipway.app_url(
        org, project, b["name"], internal=True), "demo v2")
    status, text = get_text(slipway.app_url(org, project, unique("nobody")))
    assert status == 404 and json.loads(text)["error"]["code"] == "no_route"


def test_a_slow_pull_does_not_delay_another_component(slipway, org, project,
                                                       app_ports, slow_registry):
    """A throttling proxy in front of the registry makes one component's
    resolve and pull slow; another component deploys meanwhile, and the slow
    command is neither redelivered nor run twice."""
    reg_slow = slipway.create_registry(org, auth_type="basic",
                                       host=slow_registry.host)
    slow = slipway.create_component(org, project, reg_slow["id"],
                                    image="%s/demo/hello:v1" %
                                    slow_registry.host, port=app_ports.take())
    reg = slipway.create_registry(org, auth_type="basic")
    fast = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    slow_dep = _dev(slipway, slow["id"], tag="v1")
    slipway.wait_deployment(slow_dep, {"resolving", "pulling"}, timeout=30)
    t0 = time.monotonic()
    slipway.wait_deployment(_dev(slipway, fast["id"], tag="v2"), "running",
                            timeout=60)
    took = time.monotonic() - t0
    assert slipway.get_deployment(slow_dep)[1]["status"] != "running", \
        "the slow pull was not slow: the test proves nothing"
    assert took < slow_registry.delay_s, took
    slipway.wait_deployment(slow_dep, "running", timeout=180)
    log = slipway.log_path("dataplane-agent").read_text()
    queued = [line for line in log.splitlines()
              if slow_dep in line and "queued ApplyDeployment" in line]
    assert len(queued) == 1, queued
    assert "already queued" not in "".join(
        line for line in log.splitlines() if slow_dep in line)


class _SlowRegistry:
    host = None
    delay_s = 12


@pytest.fixture
def slow_registry(slipway):
    """A TCP proxy on a free loopback port in front of the stack's registry
    that holds every manifest and blob answer back for delay_s."""
    from slow_proxy import SlowProxy
    target = slipway.env["SLIPWAY_REGISTRY_HOST"]
    proxy = SlowProxy(int(target.rsplit(":", 1)[1]), _SlowRegistry.delay_s)
    proxy.start()
    r = _SlowRegistry()
    r.host = "127.0.0.1:%d" % proxy.port
    try:
        yield r
    finally:
        proxy.stop()
