"""Scenario 9: the infrastructure restarts under a user's feet and nothing is
lost. PostgreSQL down: a CI token cached in Redis still gets its 202 (an
uncached one a 503, never a 401), the management APIs answer 503 with a JSON
error at once, /readyz says why, and the deployment is recorded and runs,
once, soon after Postgres is back; a quick restart between two calls costs
the next caller nothing. Kafka down: the webhook answers 503 within a bounded
time (a 202 only ever follows the broker's ack) and no deployment appears
from it, while the management API keeps answering and records a deploy that
goes out once the broker is back; the next webhook deploys. A deployment in
flight when the broker crashes still ends running, exactly once.

Every test puts the stack back (try/finally) so later tests run on a healthy
platform; the services themselves are never restarted here: they must ride
the outage out."""

import hashlib
import signal
import time

from slipway_harness import api, error_code, get_text, unique, wait_text

# What a user may wait for an answer while a dependency is down.
ANSWER_BOUND_S = 5
# The webhook's delivery bound (webhook-ingress HOOK_DELIVERY_TIMEOUT_MS) plus
# slack: a CI call never hangs longer than this with the broker down.
HOOK_503_BOUND_S = 15
READY_AGAIN_S = 30
# How long Postgres stays down: past the first few retry backoffs.
PG_OUTAGE_S = 8
KAFKA_OUTAGE_S = 3

DB_SERVICES = ("registry-svc", "component-svc", "deploy-svc")


def _setup(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    port = app_ports.take()
    comp = slipway.create_component(org, project, reg["id"], port=port)
    tok = slipway.create_token(comp["id"])
    return reg, comp, tok["token"], slipway.app_url(org, project, comp["name"])


def _cache_token(slipway, token):
    """Makes sure the token's binding is in Redis (component-svc writes it on
    issue, fire and forget; the ingress may not write bindings)."""
    key = "slipway:token:" + hashlib.sha256(token.encode()).hexdigest()
    deadline = time.monotonic() + 5
    while slipway.redis_cli("exists", key)[1] != "1":
        assert time.monotonic() < deadline, "token not cached"
        time.sleep(0.1)


def _wait_deploy_knows(slipway, component_id, timeout=20):
    """Waits until deploy-svc has stored the component (ComponentCreated
    consumed), so the outage below is the only thing a deployment waits
    for."""
    deadline = time.monotonic() + timeout
    while slipway.psql("SELECT count(*) FROM deploy.components WHERE id = "
                       "'%s'" % component_id) != "1":
        assert time.monotonic() < deadline, "deploy-svc never learnt %s" % (
            component_id)
        time.sleep(0.1)


def _timed(method, url, body=None, timeout=30):
    t0 = time.monotonic()
    status, resp = api(method, url, body, timeout=timeout)
    return status, resp, time.monotonic() - t0


def _assert_alive(slipway):
    dead = slipway.services_alive()
    assert not dead, "services exited: %r" % dead


def _assert_unavailable(what, status, body, took):
    assert status == 503 and error_code(body) == "unavailable", \
        "%s with postgres down: %s %r" % (what, status, body)
    assert took < ANSWER_BOUND_S, "%s took %.1f s" % (what, took)


def _management_calls(slipway, org, project, reg, comp):
    """(what, method, url, body) a user would call, one per service and a
    write for each kind of resource."""
    return [
        ("list registries", "GET", slipway.url(
            "registry-svc", "/v1/orgs/%s/registries" % org), None),
        ("add registry", "POST", slipway.url(
            "registry-svc", "/v1/orgs/%s/registries" % org),
         {"name": unique("reg"), "auth_type": "anonymous",
          "host": "registry.example.invalid"}),
        ("show component", "GET", slipway.url(
            "component-svc", "/v1/components/%s" % comp["id"]), None),
        ("create component", "POST", slipway.url(
            "component-svc", "/v1/orgs/%s/projects/%s/components" %
            (org, project)),
         {"name": unique("comp"), "type": "service", "registry_id": reg["id"],
          "image": slipway.env["SLIPWAY_DEMO_IMAGE"]}),
        ("issue token", "POST", slipway.url(
            "component-svc", "/v1/components/%s/tokens" % comp["id"]),
         {"name": unique("tok")}),
        ("list deployments", "GET", slipway.url(
            "deploy-svc", "/v1/components/%s/deployments" % comp["id"]), None),
        ("deploy by tag", "POST", slipway.url(
            "deploy-svc", "/v1/components/%s/deployments" % comp["id"]),
         {"environment": "development", "tag": "v1"}),
    ]


def test_postgres_restart_loses_nothing(slipway, org, project, app_ports):
    reg, comp, token, app = _setup(slipway, org, project, app_ports)
    _cache_token(slipway, token)
    # A second token whose cache entry expired: only Postgres knows it.
    uncached = slipway.create_token(comp["id"])["token"]
    slipway.redis_cli("del", "slipway:token:" +
                      hashlib.sha256(uncached.encode()).hexdigest())
    image = slipway.env["SLIPWAY_DEMO_IMAGE"]
    tokens_before = api("GET", slipway.url(
        "component-svc", "/v1/components/%s/tokens" % comp["id"]))[1]
    _wait_deploy_knows(slipway, comp["id"])

    t0 = time.monotonic()
    slipway.stop_postgres()
    try:
        # The ingress needs only Redis (the cached token) and Kafka.
        status, body = slipway.hook(token, {"image": image})
        assert status == 202, "webhook with postgres down: %s %r" % (
            status, body)
        dep_id = body["request_id"]
        # A valid token the ingress cannot check now is "retry later",
        # never "invalid token".
        status, body = slipway.hook(uncached, {"image": image})
        assert status == 503 and error_code(body) == "unavailable", \
            "uncached token with postgres down: %s %r" % (status, body)

        # Not recorded yet: "not known yet" or "unavailable", never a 500.
        status, body = slipway.get_deployment(dep_id)
        assert (status, error_code(body)) in (
            (404, "not_yet_known"), (503, "unavailable")), (status, body)

        for what, method, url, req in _management_calls(
                slipway, org, project, reg, comp):
            status, resp, took = _timed(method, url, req)
            _assert_unavailable(what, status, resp, took)

        for s in DB_SERVICES:
            status, text = get_text(slipway.url(s, "/readyz"),
                                    timeout=ANSWER_BOUND_S)
            assert status == 503 and "postgres" in text, (s, status, text)
        # The webhook does not need Postgres for a cached token: still ready.
        status, text = get_text(slipway.url("webhook-ingress", "/readyz"))
        assert status == 200, text

        # Long enough for every retry loop (deploy-svc's consumer, the
        # outbox relays) to have backed off to its longer waits.
        time.sleep(max(0.0, PG_OUTAGE_S - (time.monotonic() - t0)))
        _assert_alive(slipway)
    finally:
        if not slipway.postgres_up():
            slipway.start_postgres()
    down_s = time.monotonic() - t0

    t_back = time.monotonic()
    took = slipway.wait_all_ready(READY_AGAIN_S)
    dep = slipway.wait_deployment(dep_id, "running", timeout=60)
    t_run = time.monotonic() - t_back
    assert dep["component_id"] == comp["id"], dep
    assert "hello from slipway demo v1" in wait_text(app, "demo v1")
    history = slipway.deployments(comp["id"])
    assert [d["id"] for d in history] == [dep_id], history
    # The uncached token works again (an empty body: auth, then a 400).
    # The webhook's Postgres connection comes back on its own backoff (at
    # most 2 s between attempts) and says "retry later" until then.
    deadline = time.monotonic() + 10
    while True:
        status, body = slipway.hook(uncached, {})
        if status != 503 or time.monotonic() > deadline:
            break
        assert error_code(body) == "unavailable", body
        time.sleep(0.2)
    assert status == 400 and error_code(body) == "invalid_request", body
    # The refused writes left nothing behind.
    tokens_after = api("GET", slipway.url(
        "component-svc", "/v1/components/%s/tokens" % comp["id"]))[1]
    assert tokens_after == tokens_before, (tokens_before, tokens_after)
    _assert_alive(slipway)
    slipway.log("postgres outage %.1f s, ready again in %.1f s, deployment "
                "running %.1f s after postgres was back" % (down_s, took,
                                                             t_run))


def test_postgres_quick_restart_goes_unnoticed(slipway, org, project):
    """A restart between two calls (an upgrade, a failover) must not cost
    the next caller a 503: the services notice the dead idle connections
    before using them."""
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"])
    calls = [c for c in _management_calls(slipway, org, project, reg, comp)
             if c[1] == "GET"]
    slipway.stop_postgres()
    slipway.start_postgres()
    for s in DB_SERVICES:
        status, text = get_text(slipway.url(s, "/readyz"),
                                timeout=ANSWER_BOUND_S)
        assert status == 200, "%s /readyz right after a restart: %s %s" % (
            s, status, text)
    for what, method, url, _ in calls:
        status, body = api(method, url, timeout=ANSWER_BOUND_S)
        assert status == 200, "%s right after a restart: %s %r" % (
            what, status, body)
    token = slipway.create_token(comp["id"])
    assert token["token"].startswith("slp_")


def test_kafka_restart_webhook_refuses_then_deploys(slipway, org, project,
                                                    app_ports):
    _, comp, token, app = _setup(slipway, org, project, app_ports)
    _cache_token(slipway, token)
    image = slipway.env["SLIPWAY_DEMO_IMAGE"]
    idem = {"Idempotency-Key": unique("idem")}

    t_stop = time.monotonic()
    slipway.stop_kafka()
    t_stop = time.monotonic() - t_stop
    try:
        t0 = time.monotonic()
        status, body = api("POST", slipway.url(
            "webhook-ingress", "/v1/hooks/deploy"), {"image": image},
            token=token, headers=idem, timeout=HOOK_503_BOUND_S + 30)
        took = time.monotonic() - t0
        assert status == 503 and error_code(body) == "unavailable", \
            "webhook with kafka down: %s %r" % (status, body)
        assert took < HOOK_503_BOUND_S, "the 503 took %.1f s" % took
        # The management API needs no broker: a deploy is recorded (its
        # ApplyDeployment waits in the outbox) and the API keeps answering.
        status, api_dep, took_api = _timed("POST", slipway.url(
            "deploy-svc", "/v1/components/%s/deployments" % comp["id"]),
            {"environment": "development", "image": image})
        assert status == 202, (status, api_dep)
        status, _, took_get = _timed("GET", slipway.url(
            "deploy-svc", "/v1/deployments/%s" % api_dep["id"]))
        assert status == 200
        slipway.log("kafka down: API deploy answered in %.2f s, GET in "
                    "%.2f s" % (took_api, took_get))
        assert max(took_api, took_get) < ANSWER_BOUND_S, (took_api, took_get)
        _assert_alive(slipway)
    finally:
        t_start = time.monotonic()
        if not slipway.kafka_up():
            slipway.start_kafka()
        t_start = time.monotonic() - t_start

    # The same Idempotency-Key was released by the 503: the retry deploys.
    t0 = time.monotonic()
    status, body = slipway.hook(token, {"image": image}, headers=idem)
    assert status == 202, "first webhook after kafka is back: %s %r" % (
        status, body)
    first_202 = time.monotonic() - t0
    dep_id = body["request_id"]
    # Both deployments run (the one whose apply came last supersedes the
    # other): the deploy made while the broker was down went out once it
    # was back.
    t_run = time.monotonic()
    slipway.wait_deployment(dep_id, {"running", "superseded"}, timeout=60)
    t_run = time.monotonic() - t_run
    slipway.wait_deployment(api_dep["id"], {"running", "superseded"},
                            timeout=30)
    assert "hello from slipway demo v1" in wait_text(app, "demo v1")
    history = slipway.deployments(comp["id"])
    # The refused call never became a deployment.
    assert sorted(d["id"] for d in history) == sorted([dep_id, api_dep["id"]])
    assert sorted(d["status"] for d in history) == ["running", "superseded"], \
        history
    _assert_alive(slipway)
    ready = slipway.wait_all_ready(READY_AGAIN_S)
    slipway.log("kafka stop %.1f s, 503 after %.1f s, start %.1f s; first "
                "202 after restart in %.1f s, running %.1f s later; all ready "
                "%.1f s later" % (t_stop, took, t_start, first_202, t_run,
                                  ready))


def test_deployment_in_flight_survives_kafka_crash(slipway, org, project,
                                                   app_ports):
    _, comp, token, app = _setup(slipway, org, project, app_ports)
    image = slipway.env["SLIPWAY_DEMO_IMAGE"]

    status, body = slipway.hook(token, {"image": image})
    assert status == 202, body
    dep_id = body["request_id"]
    # The broker acked ImagePushed; now it crashes before (or while) the
    # deployment moves through deploy-svc, the outbox and the agent.
    slipway.stop_kafka(sig=signal.SIGKILL)
    try:
        # Meanwhile the status stays readable (deploy-svc needs no broker
        # to answer it).
        slowest = 0.0
        deadline = time.monotonic() + KAFKA_OUTAGE_S
        while time.monotonic() < deadline:
            status, body, took = _timed("GET", slipway.url(
                "deploy-svc", "/v1/deployments/%s" % dep_id))
            assert status == 200 or (status, error_code(body)) == (
                404, "not_yet_known"), (status, body)
            slowest = max(slowest, took)
            time.sleep(0.2)
        _assert_alive(slipway)
    finally:
        t_start = time.monotonic()
        if not slipway.kafka_up():
            slipway.start_kafka()
        t_start = time.monotonic() - t_start

    t_run = time.monotonic()
    slipway.wait_deployment(dep_id, "running", timeout=90)
    t_run = time.monotonic() - t_run
    slipway.log("kafka crash: status answered within %.2f s; start %.1f s, "
                "running %.1f s later" % (slowest, t_start, t_run))
    assert slowest < ANSWER_BOUND_S, slowest
    assert "hello from slipway demo v1" in wait_text(app, "demo v1")
    assert [d["id"] for d in slipway.deployments(comp["id"])] == [dep_id]
    _assert_alive(slipway)
    slipway.wait_all_ready(READY_AGAIN_S)
