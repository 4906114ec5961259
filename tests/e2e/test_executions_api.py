"""The executions API of deploy-svc (tasks), black-box: its error paths, and
one manual run recorded with its RunTask command. Nothing here needs the
agent to run a task: a ready deployment, which only an agent that pins
tasks reports, is written into deploy-svc's table by the test where a
scenario needs one."""

import time
import uuid

from slipway_harness import api, error_code


def _executions_url(slipway, component_id):
    return slipway.url("deploy-svc",
                       "/v1/components/%s/executions" % component_id)


def _run(slipway, component_id, body, wait_known=True):
    """POST .../executions; retried while deploy-svc has not yet learnt a
    component created a moment ago (404 not_found)."""
    deadline = time.monotonic() + 20
    while True:
        status, resp = api("POST", _executions_url(slipway, component_id), body)
        if not (wait_known and status == 404) or time.monotonic() > deadline:
            return status, resp
        time.sleep(0.2)


def _field(resp):
    return (resp or {}).get("error", {}).get("field")


def _manual_task(slipway, org, project):
    reg = slipway.create_registry(org, auth_type="basic")
    return slipway.create_component(org, project, reg["id"],
                                    ctype="manual-task")


def test_a_service_has_no_executions(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    status, resp = _run(slipway, comp["id"], {"environment": "development"})
    assert status == 422, resp
    assert error_code(resp) == "not_a_task", resp
    assert _field(resp) == "component", resp


def test_nothing_ready_for_a_fresh_manual_task(slipway, org, project):
    comp = _manual_task(slipway, org, project)
    status, resp = _run(slipway, comp["id"], {"environment": "development"})
    assert status == 409, resp
    assert error_code(resp) == "nothing_ready", resp
    status, resp = _run(slipway, comp["id"], {"environment": "nowhere"})
    assert status == 422, resp
    assert error_code(resp) == "unknown_environment", resp
    # Nothing was recorded by any of it.
    status, resp = api("GET", _executions_url(slipway, comp["id"]))
    assert status == 200, resp
    assert resp == {"executions": []}, resp


def test_bad_bodies_are_refused(slipway, org, project):
    comp = _manual_task(slipway, org, project)
    # First make sure deploy-svc knows the component: then every 400 below
    # is the body's fault, not the lag of component events.
    status, resp = _run(slipway, comp["id"], {"environment": "development"})
    assert status == 409, resp
    long_arg = "a" * 4097
    cases = [
        ({}, "missing_field", "environment"),
        ({"environment": 7}, "invalid_field", "environment"),
        ({"environment": "development", "tag": "v1"}, "unknown_field", "tag"),
        ({"environment": "development", "args": "--once"},
         "invalid_field", "args"),
        ({"environment": "development", "args": [1, 2]},
         "invalid_field", "args"),
        ({"environment": "development", "args": ["x"] * 65},
         "invalid_field", "args"),
        ({"environment": "development", "args": [long_arg]},
         "invalid_field", "args"),
        # A NUL inside a string: the server's JSON reader refuses it first.
        ({"environment": "development", "args": ["a\u0000b"]},
         "malformed_json", None),
        ({"environment": "development", "env": ["A=1"]},
         "invalid_field", "env"),
        ({"environment": "development", "env": {"1ABC": "x"}},
         "invalid_field", "env"),
        ({"environment": "development", "env": {"A-B": "x"}},
         "invalid_field", "env"),
        ({"environment": "development", "env": {"A": 1}},
         "invalid_field", "env"),
        ({"environment": "development",
          "env": {"V%d" % i: "x" for i in range(65)}},
         "invalid_field", "env"),
    ]
    for body, code, field in cases:
        status, resp = _run(slipway, comp["id"], body, wait_known=False)
        assert status == 400, (body, status, resp)
        assert error_code(resp) == code, (body, resp)
        assert _field(resp) == field, (body, resp)
    # Not JSON at all.
    status, resp = api("POST", _executions_url(slipway, comp["id"]),
                       b"{nope", headers={"Content-Type": "application/json"})
    assert status == 400, resp


def test_unknown_ids_are_404(slipway):
    unknown = str(uuid.uuid4())
    for cid in (unknown, "not-a-uuid"):
        status, resp = api("POST", _executions_url(slipway, cid),
                           {"environment": "development"})
        assert status == 404, (cid, resp)
        assert error_code(resp) == "not_found", resp
    for eid in (unknown, "not-a-uuid"):
        status, resp = api("GET", slipway.url("deploy-svc",
                                              "/v1/executions/%s" % eid))
        assert status == 404, (eid, resp)
        assert error_code(resp) == "not_found", resp
    status, resp = api("GET", _executions_url(slipway, "not-a-uuid"))
    assert status == 404, resp
    status, resp = api("GET", _executions_url(slipway, unknown) +
                       "?environment=Not_Valid")
    assert status == 400, resp
    assert _field(resp) == "environment", resp


def test_manual_run_from_the_ready_deployment(slipway, org, project):
    comp = _manual_task(slipway, org, project)
    status, resp = _run(slipway, comp["id"], {"environment": "development"})
    assert status == 409, resp     # and the org's environments now exist
    dep_id = str(uuid.uuid4())
    digest = "sha256:" + "ab" * 32
    # What an agent's ready report leaves behind (the agent of this suite
    # may not pin tasks yet).
    slipway.psql(
        "INSERT INTO deploy.deployments (id, component_id, org, environment,"
        " dataplane, image, digest, status, status_rank) SELECT '%s', '%s',"
        " '%s', 'development', dataplane, '%s', '%s', 'ready', 8 FROM"
        " deploy.environments WHERE org = '%s' AND name = 'development'" % (
            dep_id, comp["id"], org, comp["image"], digest, org))
    status, run = _run(slipway, comp["id"], {
        "environment": "development", "args": ["--once", ""],
        "env": {"MODE": "fast", "_X1": "é"}})
    assert status == 202, run
    assert run["status"] == "pending", run
    assert run["deployment_id"] == dep_id, run
    assert run["component_id"] == comp["id"], run
    assert run["environment"] == "development", run

    status, got = api("GET", slipway.url("deploy-svc",
                                         "/v1/executions/%s" % run["id"]))
    assert status == 200, got
    assert got["trigger"] == "manual", got
    assert got["digest"] == digest, got
    assert got["exit_code"] is None and got["started_at"] is None, got
    assert got["finished_at"] is None and got["scheduled_for"] is None, got
    assert got["status"] == "pending", got

    # The RunTask went to the deployment's data plane, with the execution.
    n = slipway.psql(
        "SELECT count(*) FROM deploy.outbox WHERE key = '%s' AND "
        "event_type = 'RunTask' AND topic LIKE 'slipway.dataplane.%%.commands'"
        % comp["id"])
    assert n == "1", n

    status, listed = api("GET", _executions_url(slipway, comp["id"]) +
                         "?environment=development")
    assert status == 200, listed
    assert [e["id"] for e in listed["executions"]] == [run["id"]], listed
    status, listed = api("GET", _executions_url(slipway, comp["id"]) +
                         "?environment=production")
    assert status == 200 and listed["executions"] == [], listed
