"""Scenario 8: failures a user lives through. A crashed deploy-svc or
data-plane agent loses nothing (the webhook still answers 202, the deployment
completes once the process is back, exactly once); with Redis down a valid
CI token still works through the Postgres fallback, and the cache is used
again once Redis is back; a tag missing from the registry ends the
deployment failed with a manifest_unknown reason."""

import hashlib
import time

from slipway_harness import (engine_containers, error_code, forge_token,
                             unique, wait_text)


def _setup(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    port = app_ports.take()
    comp = slipway.create_component(org, project, reg["id"], port=port)
    tok = slipway.create_token(comp["id"])
    return comp, tok["token"], slipway.app_url(org, project, comp["name"])


def _wait_known(slipway, dep_id, timeout=20):
    """Polls until deploy-svc has recorded the deployment; returns it."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        status, body = slipway.get_deployment(dep_id)
        last = (status, body)
        if status == 200:
            return body
        assert status == 404 and error_code(body) == "not_yet_known", last
        time.sleep(0.2)
    raise AssertionError("deployment %s never known; last %r" % (dep_id, last))


def test_deploy_svc_crash_loses_nothing(slipway, org, project, app_ports):
    comp, token, app = _setup(slipway, org, project, app_ports)
    image = slipway.env["SLIPWAY_DEMO_IMAGE"]

    slipway.kill_service("deploy-svc")
    try:
        # The ingress needs only the token store and the broker.
        status, body = slipway.hook(token, {"image": image})
        assert status == 202, body
        dep_id = body["request_id"]
    finally:
        slipway.restart_service("deploy-svc")

    dep = slipway.wait_deployment(dep_id, "running", timeout=60)
    assert dep["component_id"] == comp["id"], dep
    assert "hello from slipway demo v1" in wait_text(app, "demo v1")
    history = slipway.deployments(comp["id"])
    assert [d["id"] for d in history] == [dep_id], history

    # Crash again right after deploy-svc recorded a deployment: its offset is
    # most likely not committed yet (the event comes again after the restart)
    # and the agent's status reports arrive while it is down.
    status, body = slipway.hook(token, {"tag": "v2"})
    assert status == 202, body
    dep2_id = body["request_id"]
    _wait_known(slipway, dep2_id)
    slipway.kill_service("deploy-svc")
    slipway.restart_service("deploy-svc")
    slipway.wait_deployment(dep2_id, "running", timeout=60)
    assert "hello from slipway demo v2" in wait_text(app, "demo v2")
    slipway.wait_deployment(dep_id, "superseded", timeout=30)
    history = slipway.deployments(comp["id"])
    assert [d["id"] for d in history] == [dep2_id, dep_id], history


def test_agent_crash_deployment_waits_then_runs(slipway, org, project,
                                                app_ports):
    comp, token, app = _setup(slipway, org, project, app_ports)
    image = slipway.env["SLIPWAY_DEMO_IMAGE"]
    sock = slipway.env["SLIPWAY_ENGINE_SOCKET"]

    slipway.kill_service("dataplane-agent")
    try:
        status, body = slipway.hook(token, {"image": image})
        assert status == 202, body
        dep_id = body["request_id"]
        _wait_known(slipway, dep_id)
        time.sleep(1.5)   # an agent that was still around would have moved it
        status, dep = slipway.get_deployment(dep_id)
        assert status == 200 and dep["status"] == "pending", dep
        assert engine_containers(sock, "slipway.component=" + comp["id"]) == []
    finally:
        slipway.restart_service("dataplane-agent")

    slipway.wait_deployment(dep_id, "running", timeout=60)
    assert "hello from slipway demo v1" in wait_text(app, "demo v1")
    assert [d["id"] for d in slipway.deployments(comp["id"])] == [dep_id]


def test_redis_down_tokens_fall_back_to_postgres(slipway, org, project,
                                                 app_ports):
    comp, token, _ = _setup(slipway, org, project, app_ports)
    key = "slipway:token:" + hashlib.sha256(token.encode()).hexdigest()
    # Hooks here ask for a tag the registry lacks: the deployment fails at
    # once and no container is started; only the ingress's answer matters.
    absent = {"tag": unique("absent")}

    slipway.stop_redis()
    try:
        status, body = slipway.hook(token, absent)
        assert status == 202, "valid token with redis down: %s %r" % (
            status, body)
        assert body["component_id"] == comp["id"], body
        status, body = slipway.hook(forge_token(), absent)
        assert status == 401 and error_code(body) == "invalid_token", body
        # Issuing and revoking tokens does not need Redis either.
        fresh = slipway.create_token(comp["id"])
        status, body = slipway.hook(fresh["token"], absent)
        assert status == 202, "token issued with redis down: %s %r" % (
            status, body)
        # The ingress remembers the binding it just used: its TokenRevoked
        # event drops it, within a second, Redis or not. (The probe's empty
        # body deploys nothing while it is still accepted: a 400.)
        slipway.revoke_token(comp["id"], fresh["id"])
        t0 = time.monotonic()
        while slipway.hook(fresh["token"], {})[0] == 400 and \
                time.monotonic() - t0 < 1.0:
            time.sleep(0.05)
        status, body = slipway.hook(fresh["token"], absent)
        assert status == 401 and error_code(body) == "invalid_token", \
            "token revoked with redis down: %s %r" % (status, body)
    finally:
        if not slipway.redis_up():
            slipway.start_redis()

    # Recovered: both reconnect (and authenticate) with a backoff of at most
    # 5 s. The ingress never writes a binding (only component-svc may), but
    # it writes its own Idempotency-Key entries again; a token issued now is
    # cached by component-svc again.
    deadline = time.monotonic() + 15
    while True:
        idem = "ci-" + unique("run")
        status, body = slipway.hook(token, absent,
                                    headers={"Idempotency-Key": idem})
        assert status == 202, "after redis came back: %s %r" % (status, body)
        if slipway.redis_cli("--scan", "--pattern", "slipway:idem:*")[1]:
            break
        assert time.monotonic() < deadline, \
            "the ingress never used redis again after it came back"
        time.sleep(0.5)
    assert slipway.redis_cli("exists", key)[1] == "0", \
        "the ingress wrote a token binding"
    deadline = time.monotonic() + 15
    while True:
        fresh = slipway.create_token(comp["id"])["token"]
        fresh_key = "slipway:token:" + hashlib.sha256(
            fresh.encode()).hexdigest()
        if slipway.redis_cli("exists", fresh_key)[1] == "1":
            break
        assert time.monotonic() < deadline, \
            "component-svc never cached a binding after redis came back"
        time.sleep(0.5)
    # It lives as long as the token (no expiry: the 7-day cap), so older
    # tokens do not fall back to Postgres on every call.
    rc, ttl = slipway.redis_cli("ttl", fresh_key)
    assert 6 * 24 * 3600 < int(ttl) <= 7 * 24 * 3600, ttl


def test_unknown_tag_fails_with_manifest_unknown(slipway, org, project,
                                                 app_ports):
    comp, token, _ = _setup(slipway, org, project, app_ports)
    tag = unique("missing")
    status, body = slipway.hook(token, {"tag": tag})
    assert status == 202, body
    assert body["image"].endswith("/demo/hello:" + tag), body
    dep = slipway.wait_deployment(body["request_id"], "failed", timeout=60)
    assert (dep["reason"] or "").startswith("manifest_unknown"), dep
    assert engine_containers(slipway.env["SLIPWAY_ENGINE_SOCKET"],
                             "slipway.component=" + comp["id"]) == []
