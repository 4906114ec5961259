"""Scenario 9: a CI token's life as the ingress sees it — an expired token is
refused whether its binding comes from Postgres or from the Redis cache, a
revocation reaches the ingress at once — and the whole flow driven by the
`slipway` CLI a user runs."""

import hashlib
import json
import re
import time

from slipway_harness import api, endpoints_yaml, error_code, unique, wait_text


def _cache_key(token):
    return "slipway:token:" + hashlib.sha256(token.encode()).hexdigest()


def _component(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    return slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())


def _token(slipway, component_id, **extra):
    body = {"name": unique("tok")}
    body.update(extra)
    status, tok = api("POST", slipway.url(
        "component-svc", "/v1/components/%s/tokens" % component_id), body)
    assert status == 201, "create token: %s %r" % (status, tok)
    return tok


def test_expired_token_is_refused(slipway, org, project, app_ports):
    comp = _component(slipway, org, project, app_ports)
    absent = {"tag": unique("absent")}   # no container work, only the token
    via_pg = _token(slipway, comp["id"], expires_in_days=1)
    via_cache = _token(slipway, comp["id"], expires_in_days=1)
    for tok in (via_pg, via_cache):
        assert tok["expires_at"], tok
        status, body = slipway.hook(tok["token"], absent)
        assert status == 202, "before expiry: %s %r" % (status, body)

    # A token's expiry is fixed when it is issued, so the ingress that just
    # served these keeps their bindings (expiry included) in memory. This
    # test moves the expiry behind its back, which only a replica that has
    # not seen the tokens can notice: one is started for the checks below,
    # so they still go through Postgres and Redis.
    fresh = slipway.extra_service("webhook-ingress", app_ports.take())
    fresh.start()
    try:
        _expired_refused(slipway, fresh, via_pg, via_cache, absent)
    finally:
        fresh.stop()


def _expired_refused(slipway, fresh, via_pg, via_cache, absent):
    def hook(token):
        return api("POST", fresh.url("/v1/hooks/deploy"), absent, token=token)

    slipway.psql("UPDATE component.tokens SET expires_at = now() - "
                 "interval '1 minute' WHERE id IN ('%s', '%s')" % (
                     via_pg["id"], via_cache["id"]))

    # Postgres path: no cache entry, the fallback must see the expiry.
    slipway.redis_cli("del", _cache_key(via_pg["token"]))
    status, body = hook(via_pg["token"])
    assert status == 401 and error_code(body) == "invalid_token", \
        "expired token (postgres path): %s %r" % (status, body)
    assert slipway.redis_cli("exists", _cache_key(via_pg["token"]))[1] == "0"

    # Cache path: the entry is still there (its TTL outlives the token) and
    # says when the token expires; the ingress must honour expires_at_ms.
    key = _cache_key(via_cache["token"])
    rc, cached = slipway.redis_cli("get", key)
    binding = json.loads(cached)
    assert binding["token_id"] == via_cache["id"], binding
    binding["expires_at_ms"] = int(time.time() * 1000) - 60000
    slipway.redis_cli("set", key, json.dumps(binding), "ex", "300")
    status, body = hook(via_cache["token"])
    assert status == 401 and error_code(body) == "invalid_token", \
        "expired token (cache path): %s %r" % (status, body)


def test_revoke_reaches_the_ingress_at_once(slipway, org, project, app_ports):
    comp = _component(slipway, org, project, app_ports)
    tok = _token(slipway, comp["id"])
    absent = {"tag": unique("absent")}
    status, body = slipway.hook(tok["token"], absent)   # warms the cache
    assert status == 202, body

    slipway.revoke_token(comp["id"], tok["id"])
    t0 = time.monotonic()
    answers = []
    while True:
        status, body = slipway.hook(tok["token"], absent)
        answers.append(status)
        if status == 401:
            break
        assert time.monotonic() - t0 < 1.0, \
            "revoked token still accepted after 1 s: %r" % answers
        time.sleep(0.05)
    assert error_code(body) == "invalid_token", body


# --- the CLI ------------------------------------------------------------------

def _cli(slipway, *args, stdin=None, timeout=30):
    return slipway.cli(*args, stdin=stdin, timeout=timeout)


def _field(out, name):
    m = re.search(r"^%s:\s*(\S+)\s*$" % re.escape(name), out, re.M)
    assert m, "no %s: line in %r" % (name, out)
    return m.group(1)


def test_cli_end_to_end(slipway, org, project, app_ports, tmp_path):
    env = slipway.env
    password = env["SLIPWAY_REGISTRY_PASSWORD"]
    rc, out, err = _cli(slipway, "registry", "add", org, "--name", unique("reg"),
                        "--host", env["SLIPWAY_REGISTRY_HOST"], "--username",
                        env["SLIPWAY_REGISTRY_USER"], "--password-stdin",
                        stdin=password + "\n")
    assert rc == 0, (rc, out, err)
    assert password not in out + err
    registry_id = _field(out, "id")

    # The registry accepts the stored credentials; a wrong password is
    # reported as such, with exit status 1 for scripts.
    rc, out, err = _cli(slipway, "registry", "test", org, registry_id)
    assert rc == 0 and ": ok" in out, (rc, out, err)
    bad = slipway.create_registry(org, password="not-the-password",
                                  host="localhost:%s" % env[
                                      "SLIPWAY_REGISTRY_HOST"].split(":")[1])
    rc, out, err = _cli(slipway, "registry", "test", org, bad["id"])
    assert rc == 1 and "unauthorized" in out, (rc, out, err)

    port = app_ports.take()
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text(endpoints_yaml(port))
    # Straight after `registry add`: component-svc waits for the registry
    # event instead of answering unknown_registry.
    name = unique("comp")
    rc, out, err = _cli(slipway, "component", "create", org, project,
                        "--name", name, "--type", "service",
                        "--registry", registry_id, "--image",
                        env["SLIPWAY_DEMO_IMAGE"], "--endpoints", str(endpoints))
    assert rc == 0, (rc, out, err)
    component_id = _field(out, "id")
    assert re.search(r"\b%d\b" % port, out), out

    rc, out, err = _cli(slipway, "token", "create", component_id, "--name", "ci")
    assert rc == 0, (rc, out, err)
    assert re.fullmatch(r"slp_[0-9A-Za-z]{38}\n", out), out
    token = out.strip()

    status, body = slipway.hook(token, {"image": env["SLIPWAY_DEMO_IMAGE"]})
    assert status == 202, body
    dep_id = body["request_id"]

    rc, out, err = _cli(slipway, "deploy", "status", dep_id, "--wait",
                        "--timeout", "90", timeout=100)
    assert rc == 0, (rc, out, err)
    assert "%s: running" % dep_id in out, out
    app = slipway.app_url(org, project, name)
    assert app in out, out      # deploy status prints the endpoint's URL
    assert "hello from slipway demo v1" in wait_text(app, "demo v1")

    rc, out, err = _cli(slipway, "deployments", component_id)
    assert rc == 0, (rc, out, err)
    row = [line for line in out.splitlines() if dep_id in line]
    assert len(row) == 1 and "running" in row[0], out
