"""Configuration and secrets per component and environment, as a user sees
them: variables and secrets reach the container as its environment; a
configuration change alone redeploys nothing; --config-only (the API's
"config_only") rolls the current image out with the new configuration;
redeploying an earlier deployment restores its values (the release is
digest plus configuration version); promotion uses the target
environment's configuration; bad input is 422 with nothing changed; no
answer ever holds a secret's value. Every secret value set here is added to
slipway.secrets, so stop() also finds it in no log, Kafka segment or
pg_dump.
"""

import os
import signal
import threading
import time

import pytest

from slipway_harness import api, error_code, unique, wait_text

# Serves its own environment on $PORT: the test reads it through the gateway.
SERVES_ENV = ("mkdir -p /tmp/w; env | sort > /tmp/w/index.html; "
              "exec httpd -f -p 0.0.0.0:$PORT -h /tmp/w")


def _url(slipway, path):
    return slipway.url("deploy-svc", path)


def _cfg(slipway, comp_id, env="development", what="config"):
    return _url(slipway, "/v1/components/%s/environments/%s/%s" % (
        comp_id, env, what))


def _put_vars(slipway, comp_id, vars, env="development"):
    return api("PUT", _cfg(slipway, comp_id, env), {"vars": vars})


def _put_secret(slipway, comp_id, name, value, env="development"):
    slipway.secrets.add(value)
    return api("PUT", _cfg(slipway, comp_id, env, "secrets/" + name),
               {"value": value})


def _deploy(slipway, comp_id, **body):
    body.setdefault("environment", "development")
    status, resp = api("POST", _url(slipway, "/v1/components/%s/deployments"
                                    % comp_id), body)
    assert status == 202, (status, resp)
    return resp["id"]


def _known(slipway, comp_id, timeout=20):
    """deploy-svc learns components from their events: waits until it has."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api("GET", _cfg(slipway, comp_id))[0] == 200:
            return
        time.sleep(0.2)
    raise AssertionError("deploy-svc never learnt component %s" % comp_id)


def _version(slipway, comp_id, env="development"):
    status, body = api("GET", _cfg(slipway, comp_id, env))
    assert status == 200, (status, body)
    return body["version"]


@pytest.fixture
def app(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    image = slipway.push_variant("servesenv", SERVES_ENV)
    comp = slipway.create_component(org, project, reg["id"], image=image,
                                    port=app_ports.take())
    _known(slipway, comp["id"])
    return comp, image, slipway.app_url(org, project, comp["name"])


def test_variables_and_secrets_reach_the_container_and_roll_back(
        slipway, org, project, app):
    comp, image, url = app
    cid = comp["id"]
    secret1 = "s3cr3t-" + unique("one")
    secret2 = "s3cr3t-" + unique("two")

    status, body = _put_vars(slipway, cid, {"GREETING": "hello",
                                            "MODE": "first"})
    assert status == 200 and body["version"] == 1, (status, body)
    status, body = _put_secret(slipway, cid, "API_TOKEN", secret1)
    assert status == 200 and body["version"] == 2, (status, body)
    assert secret1 not in str(body)

    first = slipway.wait_deployment(_deploy(slipway, cid, image=image),
                                    "running", timeout=90)
    assert first["config_version"] == 2, first
    assert [e["port"] for e in first["endpoints_ran_with"]] == [comp_port(
        slipway, cid)], first
    text = wait_text(url, "GREETING=hello")
    assert "MODE=first" in text and "API_TOKEN=" + secret1 in text, text

    # A change alone redeploys nothing: the running version keeps its values.
    before = len(slipway.deployments(cid))
    status, _ = _put_vars(slipway, cid, {"GREETING": "bye", "MODE": "second"})
    assert status == 200
    status, _ = _put_secret(slipway, cid, "API_TOKEN", secret2)
    assert status == 200
    assert _version(slipway, cid) == 4
    time.sleep(3)
    assert len(slipway.deployments(cid)) == before
    assert "GREETING=hello" in wait_text(url, "GREETING=hello")

    # --config-only: the current image with the current configuration.
    rc, out, err = slipway.cli("deploy", cid, "--env", "development",
                               "--config-only", "--wait", timeout=120)
    assert rc == 0, (rc, out, err)
    second = slipway.deployments(cid)[0]
    assert second["status"] == "running" and second["config_version"] == 4
    assert second["digest"] == first["digest"] and second["source"] == "config"
    text = wait_text(url, "GREETING=bye")
    assert "MODE=second" in text and "API_TOKEN=" + secret2 in text, text

    # Redeploying the first deployment restores its digest and values.
    third = slipway.wait_deployment(_deploy(slipway, cid,
                                            from_deployment=first["id"]),
                                    "running", timeout=90)
    assert third["config_version"] == 2 and third["digest"] == first["digest"]
    text = wait_text(url, "GREETING=hello")
    assert "MODE=first" in text and "API_TOKEN=" + secret1 in text, text
    # ... and the environment's configuration itself is unchanged by it.
    assert _version(slipway, cid) == 4

    # No answer holds a secret's value.
    answers = [api("GET", _cfg(slipway, cid))[1],
               api("GET", _cfg(slipway, cid, what="secrets"))[1],
               slipway.deployments(cid), slipway.get_deployment(first["id"])]
    for a in answers:
        assert secret1 not in str(a) and secret2 not in str(a), a
    status, body = api("GET", _cfg(slipway, cid, what="secrets"))
    assert [s["name"] for s in body["secrets"]] == ["API_TOKEN"], body
    assert body["secrets"][0]["set_at"], body


def comp_port(slipway, cid):
    status, body = api("GET", slipway.url("component-svc",
                                          "/v1/components/%s" % cid))
    assert status == 200, body
    eps = body.get("endpoints") or []
    return eps[0]["port"] if eps else body.get("port")


def test_promotion_uses_the_target_environments_configuration(
        slipway, org, project, app):
    comp, image, url = app
    cid = comp["id"]
    assert _put_vars(slipway, cid, {"WHERE": "dev"})[0] == 200
    assert _put_vars(slipway, cid, {"WHERE": "prod"}, env="production")[0] \
        == 200
    dev = slipway.wait_deployment(_deploy(slipway, cid, image=image),
                                  "running", timeout=90)
    assert "WHERE=dev" in wait_text(url, "WHERE=dev")
    status, resp = api("POST", _url(slipway, "/v1/deployments/%s/promote"
                                    % dev["id"]), {"to": "production"})
    assert status == 202, (status, resp)
    prod = slipway.wait_deployment(resp["id"], "running", timeout=90)
    assert prod["digest"] == dev["digest"] and prod["config_version"] == 1
    prod_url = slipway.app_url(org, project, comp["name"], "production")
    assert "WHERE=prod" in wait_text(prod_url, "WHERE=prod")


def test_config_only_needs_something_running(slipway, org, project, app):
    comp, _, _ = app
    status, body = api("POST", _url(slipway, "/v1/components/%s/deployments"
                                    % comp["id"]),
                       {"environment": "development", "config_only": True})
    assert status == 409 and error_code(body) == "nothing_deployed", body


def test_bad_input_is_refused_and_changes_nothing(slipway, org, project, app):
    comp, _, _ = app
    cid = comp["id"]
    assert _put_vars(slipway, cid, {"GOOD": "1"})[0] == 200
    assert _version(slipway, cid) == 1
    bad = [
        ({"1BAD": "x"}, "invalid_name"),
        ({"A-B": "x"}, "invalid_name"),
        ({"": "x"}, "invalid_name"),
        ({"PORT": "80"}, "reserved_name"),
        ({"BIG": "x" * (32 * 1024 + 1)}, "value_too_large"),
        ({"NUM": 5}, "invalid_value"),
        ({"V%d" % i: "x" for i in range(201)}, "too_many_variables"),
    ]
    for vars, code in bad:
        status, body = _put_vars(slipway, cid, vars)
        assert status == 422 and error_code(body) == code, (vars.keys(), body)
    status, body = api("PUT", _cfg(slipway, cid), {"vars": "nope"})
    assert status == 400, body
    # A secret: a bad name, a reserved one, too large, a variable's name.
    for name, value, code in [("9X", "v", "invalid_name"),
                              ("PORT", "v", "reserved_name"),
                              ("BIG", "x" * (32 * 1024 + 1), "value_too_large"),
                              ("GOOD", "v", "name_in_use")]:
        status, body = api("PUT", _cfg(slipway, cid,
                                       what="secrets/" + name),
                           {"value": value})
        assert status == 422 and error_code(body) == code, (name, body)
    status, body = api("DELETE", _cfg(slipway, cid, what="secrets/NOPE"))
    assert status == 404, body
    status, body = api("PUT", _cfg(slipway, cid, env="nowhere"), {"vars": {}})
    assert status == 422 and error_code(body) == "unknown_environment", body
    # 200 together: the 201st (a secret) is refused.
    vars = {"V%d" % i: "x" for i in range(200)}
    assert _put_vars(slipway, cid, vars)[0] == 200
    status, body = _put_secret(slipway, cid, "ONE_MORE", "v-" + unique("s"))
    assert status == 422 and error_code(body) == "too_many_variables", body
    # Nothing of the refusals changed anything.
    assert _version(slipway, cid) == 2
    status, body = api("GET", _cfg(slipway, cid, what="secrets"))
    assert body["secrets"] == [], body


def test_cli_config_and_secrets(slipway, org, project, app):
    comp, _, _ = app
    cid = comp["id"]
    value = "cli-" + unique("secret")
    slipway.secrets.add(value)
    rc, out, err = slipway.cli("config", "set", cid, "--env", "development",
                               "A=1", "B=two words")
    assert rc == 0, (out, err)
    rc, out, err = slipway.cli("config", "unset", cid, "--env", "development",
                               "A")
    assert rc == 0, (out, err)
    rc, out, err = slipway.cli("config", "list", cid, "--env", "development")
    assert rc == 0 and out.strip() == "B=two words", (out, err)
    many = ["V%d=%d" % (i, i) for i in range(40)]
    rc, out, err = slipway.cli("config", "set", cid, "--env", "development",
                               *many)
    assert rc == 0, (out, err)
    rc, out, err = slipway.cli("config", "unset", cid, "--env", "development",
                               *[kv.split("=")[0] for kv in many])
    assert rc == 0, (out, err)
    rc, out, err = slipway.cli("secret", "set", cid, "--env", "development",
                               "TOKEN", "--value-stdin", stdin=value + "\n")
    assert rc == 0 and value not in out, (out, err)
    rc, out, err = slipway.cli("secret", "list", cid, "--env", "development")
    assert rc == 0 and "TOKEN" in out and value not in out, (out, err)
    rc, out, err = slipway.cli("secret", "rm", cid, "--env", "development",
                               "TOKEN")
    assert rc == 0, (out, err)
    rc, out, err = slipway.cli("config", "set", cid, "--env", "development",
                               "1X=bad")
    assert rc != 0 and "invalid_name" in err, (out, err)
    assert _version(slipway, cid) == 6


def test_a_tasks_executions_get_the_configuration(slipway, org, project):
    reg = slipway.create_registry(org, auth_type="basic")
    # The log tail is stored and reported: the secret's length only.
    image = slipway.push_variant("printsenv",
                                 "echo \"db=$DB_URL pw=${#DB_PASSWORD}\"")
    comp = slipway.create_component(org, project, reg["id"], image=image,
                                    ctype="manual-task")
    cid = comp["id"]
    _known(slipway, cid)
    pw = "pw-" + unique("task")
    assert _put_vars(slipway, cid, {"DB_URL": "postgres://db"})[0] == 200
    assert _put_secret(slipway, cid, "DB_PASSWORD", pw)[0] == 200
    slipway.wait_deployment(_deploy(slipway, cid, image=image), "ready",
                            timeout=90)
    rc, out, err = slipway.cli("run", cid, "--env", "development", "--wait",
                               timeout=120)
    assert rc == 0, (rc, out, err)
    assert "db=postgres://db pw=%d" % len(pw) in out, out
    # The agent's records on disk (the execution's among them) hold the
    # variables sealed: the secret is in none of its files.
    files = [f for f in (slipway.state / "agent").rglob("*") if f.is_file()]
    assert any("exec" in str(f) for f in files), files
    for f in files:
        assert pw.encode() not in f.read_bytes(), f


def test_a_configuration_that_does_not_open_fails_the_deployment(
        slipway, org, project, app):
    """deploy-svc seals to the key it has for the data plane: with another
    one there (changed underneath it, nothing announced), the agent cannot
    open the configuration and the deployment fails, saying so."""
    comp, image, _ = app
    cid = comp["id"]
    assert _put_vars(slipway, cid, {"X": "1"})[0] == 200
    dp = slipway.dataplane
    where = "FROM deploy.dataplanes WHERE name = '%s'" % dp
    old = slipway.psql("SELECT encode(public_key, 'hex') " + where)
    other = "aa" * 32
    slipway.psql("UPDATE deploy.dataplanes SET public_key = "
                 "decode('%s', 'hex') WHERE name = '%s'" % (other, dp))
    try:
        dep_id = _deploy(slipway, cid, image=image)
    finally:
        slipway.psql("UPDATE deploy.dataplanes SET public_key = "
                     "decode('%s', 'hex') WHERE name = '%s'" % (old, dp))
    failed = slipway.wait_deployment(dep_id, "failed", timeout=60)
    assert "config_unsealed" in failed["reason"], failed


def test_configuration_waits_for_a_component_just_created(slipway, org,
                                                          project):
    """deploy-svc learns components from their events: a PUT config right
    after the component was created waits for it instead of answering 404.
    The broker is held (SIGSTOP) so the event is surely still on its way."""
    reg = slipway.create_registry(org, auth_type="basic")
    slipway.create_component(org, project, reg["id"])  # registry now known
    pid = slipway.kafka_pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        comp = slipway.create_component(org, project, reg["id"])
        result = {}
        t = threading.Thread(target=lambda: result.update(
            answer=_put_vars(slipway, comp["id"], {"EARLY": "1"})))
        t.start()
        time.sleep(1.0)
        assert t.is_alive(), result   # it waits: no early 404
    finally:
        os.kill(pid, signal.SIGCONT)
    t.join(30)
    status, body = result["answer"]
    assert status == 200 and body["version"] == 1, (status, body)
    # A component that never comes is 404 after the wait.
    status, body = _put_vars(slipway, "00000000-0000-4000-8000-000000000000",
                             {"A": "1"})
    assert status == 404 and error_code(body) == "not_found", body
