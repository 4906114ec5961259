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

import time

import slipway_harness as sh

HEALTH_TIMEOUT_S = 8
PROBE_LIMIT_S = 1.0


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
    agent = slipway.extra_agent(app_ports.take(),
                                SLIPWAY_HEALTH_TIMEOUT_S=str(HEALTH_TIMEOUT_S))
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
