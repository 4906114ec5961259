"""Scenario: the data-plane agent's probes keep answering during an apply.

An apply (resolve, pull, start, health wait) can take minutes; a liveness
probe that goes unanswered meanwhile would get the agent killed mid-apply.
This test makes an apply slow and deterministic: the image's command only
sleeps, so its endpoint port never answers and the health wait lasts the
whole SLIPWAY_HEALTH_TIMEOUT_S. It runs on a second agent of its own (own
data plane, key, HTTP port and a short health timeout), reached through an
environment of a fresh org. While the apply runs, /healthz must answer 200
within 1 s every time; then the deployment fails as unhealthy and the agent
stops cleanly on SIGTERM.
"""

import json
import signal
import subprocess
import time

import slipway_harness as sh

HEALTH_TIMEOUT_S = 8
PROBE_LIMIT_S = 1.0


class ExtraAgent:
    """A second dataplane-agent process with its own data plane."""

    def __init__(self, slipway, http_port):
        self.slipway = slipway
        self.name = sh.unique("probe")
        self.port = http_port
        self.log = slipway.state / "logs" / ("dataplane-agent-%s.log" %
                                             self.name)
        self.proc = None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def start(self):
        s = self.slipway
        key = s.state / ("%s.key" % self.name)
        r = subprocess.run([str(s.bin / "dataplane-agent"), "keygen", "--out",
                            str(key)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        s.register_dataplane(self.name,
                             json.loads(key.read_text())["public_key"])
        env = dict(s.service_env["dataplane-agent"])
        env.update({"SLIPWAY_DATAPLANE": self.name,
                    "SLIPWAY_DATAPLANE_KEY_FILE": str(key),
                    "SLIPWAY_HTTP_PORT": str(self.port),
                    "SLIPWAY_HEALTH_TIMEOUT_S": str(HEALTH_TIMEOUT_S),
                    # Its own journal, and no gateway: the stack's HAProxy
                    # belongs to the main agent.
                    "SLIPWAY_AGENT_STATE_DIR": str(s.state / ("agent-" +
                                                              self.name)),
                    "SLIPWAY_GATEWAY_SOCKET": ""})
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                [str(s.bin / "dataplane-agent")], env=env, stdout=logf,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=s.state, start_new_session=True)
        deadline = time.monotonic() + 60
        last = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "agent exited with %d:\n%s" % (
                self.proc.returncode, self.tail())
            last = sh.get_text(self.url("/readyz"), timeout=2)
            if last[0] == 200:
                return
            time.sleep(0.2)
        raise AssertionError("agent %s not ready: %r\n%s" % (
            self.name, last, self.tail()))

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
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        for marker in sh.SANITIZER_MARKERS:
            if marker in text:
                return text[text.index(marker):][:4000]
        return None


def probe(url, timeout):
    """(status, seconds) of one GET."""
    t0 = time.monotonic()
    status, _ = sh.get_text(url, timeout=timeout)
    return status, time.monotonic() - t0


def watch_apply(slipway, agent, dep_id, timeout):
    """Polls the agent's probes until the deployment is final; returns the
    probes made while it was `starting` (the health wait)."""
    during = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, took = probe(agent.url("/healthz"), PROBE_LIMIT_S + 1)
        assert status == 200 and took < PROBE_LIMIT_S, (
            "/healthz answered %r after %.2f s during the apply\n%s" % (
                status, took, agent.tail()))
        st, dep = slipway.get_deployment(dep_id)
        state = dep.get("status") if st == 200 else None
        if state == "starting":
            during.append(took)
            if len(during) % 5 == 1:
                ready, rtook = probe(agent.url("/readyz"), 5)
                assert ready == 200, "/readyz %r during the apply" % ready
                metrics, _ = probe(agent.url("/metrics"), 5)
                assert metrics == 200, "/metrics %r during the apply" % metrics
        if state in ("running", "failed", "superseded"):
            return during
        time.sleep(0.2)
    raise AssertionError("deployment %s never finished; agent log:\n%s" % (
        dep_id, agent.tail()))


def remove_container(slipway, component_id):
    sock = slipway.env["SLIPWAY_ENGINE_SOCKET"]
    try:
        for c in sh.engine_containers(sock, "slipway.component=" +
                                      component_id):
            sh.engine_call(sock, "DELETE",
                           "/v1.41/containers/%s?force=true" % c["Id"])
    except (OSError, sh.HarnessError):
        pass


def test_agent_probes_answer_during_apply(slipway, org, project, app_ports,
                                          tmp_path):
    # The demo image with a command that only sleeps: the container runs
    # but its port never answers.
    image = slipway.push_variant("stall", "exec busybox sleep 600")
    agent = ExtraAgent(slipway, app_ports.take())
    comp = None
    try:
        agent.start()
        status, body = sh.api("POST", slipway.url(
            "deploy-svc", "/v1/orgs/%s/environments" % org),
            {"name": "development", "dataplane": agent.name, "position": 0})
        assert status in (200, 201), body
        reg = slipway.create_registry(org, auth_type="basic")
        comp = slipway.create_component(org, project, reg["id"], image=image,
                                        port=app_ports.take())
        tok = slipway.create_token(comp["id"])
        status, body = slipway.hook(tok["token"], {"image": image})
        assert status == 202, body
        dep_id = body["request_id"]

        during = watch_apply(slipway, agent, dep_id,
                             timeout=HEALTH_TIMEOUT_S + 60)
        # The health wait lasts HEALTH_TIMEOUT_S: the probes must have been
        # answered throughout it, not just before or after.
        assert len(during) >= HEALTH_TIMEOUT_S, (
            "only %d probes while starting" % len(during))
        dep = slipway.wait_deployment(dep_id, "failed", timeout=10)
        assert dep["dataplane"] == agent.name, dep
        assert (dep.get("reason") or "").startswith("unhealthy"), dep
    finally:
        rc = agent.stop()
        if comp is not None:
            remove_container(slipway, comp["id"])
    assert rc == 0, "agent exited with %r after SIGTERM:\n%s" % (
        rc, agent.tail())
    report = agent.sanitizer_report()
    assert report is None, report
