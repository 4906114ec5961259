"""Tasks and web apps run as what they are: a task's deployment pulls and
pins its image and starts nothing (`ready`); each execution is a container
of its own that runs to an exit and is gone; a scheduled task runs at its
minutes, once each, through an agent's kill -9; a web app is routed at its
root with the same zero-downtime cutover as a service.

The scheduler tests run a data plane of their own whose agent reads an
accelerated clock (SLIPWAY_TEST_CLOCK, one scheduled minute per real
second); one test waits for real minutes on the stack's own agent.
"""

import time

import pytest

from slipway_harness import api, engine_containers, error_code, get_text, \
    unique, wait_text

from test_runtime import Prober, _deploy

FINAL = {"succeeded", "failed", "timed_out", "skipped"}
SCALE = 60        # the fast clock: a minute a second


def _executions_url(slipway, comp_id, env=None):
    q = "?environment=" + env if env else ""
    return slipway.url("deploy-svc",
                       "/v1/components/%s/executions%s" % (comp_id, q))


def _executions(slipway, comp_id, env=None):
    status, body = api("GET", _executions_url(slipway, comp_id, env))
    assert status == 200, (status, body)
    return body["executions"]


def _execution(slipway, ex_id):
    status, body = api("GET", slipway.url("deploy-svc",
                                          "/v1/executions/%s" % ex_id))
    assert status == 200, (status, body)
    return body


def _wait_execution(slipway, ex_id, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        ex = _execution(slipway, ex_id)
        if ex["status"] in FINAL:
            return ex
        assert time.monotonic() < deadline, "execution not final: %r" % ex
        time.sleep(0.2)


def _wait_runs(slipway, comp_id, pred, what, timeout=60):
    """Polls the component's executions until pred(list) holds."""
    deadline = time.monotonic() + timeout
    while True:
        runs = _executions(slipway, comp_id)
        if pred(runs):
            return runs
        assert time.monotonic() < deadline, "%s: %r" % (what, runs)
        time.sleep(0.3)


def _run(slipway, comp_id, environment="development", **body):
    body["environment"] = environment
    status, resp = api("POST", _executions_url(slipway, comp_id), body)
    assert status == 202, (status, resp)
    assert resp["status"] == "pending" and resp["component_id"] == comp_id
    return resp


def _task_containers(slipway, comp_id):
    return engine_containers(slipway.env["SLIPWAY_ENGINE_SOCKET"],
                             "slipway.component=" + comp_id)


def _ready_task(slipway, org, project, command, ctype="manual-task",
                tag=None, **fields):
    """A task component on a variant of the demo image, deployed to
    development and ready."""
    reg = slipway.create_registry(org, auth_type="basic")
    image = slipway.push_variant(tag or unique("task"), command)
    comp = slipway.create_component(org, project, reg["id"], image=image,
                                    ctype=ctype, **fields)
    dep = _deploy(slipway, comp["id"], {"environment": "development",
                                        "image": image})
    ready = slipway.wait_deployment(dep, "ready", timeout=90)
    assert ready["digest"].startswith("sha256:"), ready
    return comp, ready


def _minutes(runs):
    return sorted(r["scheduled_for"] for r in runs if r["trigger"] == "schedule")


# --- manual tasks ---------------------------------------------------------------

def test_manual_task_runs_to_its_exit_code(slipway, org, project):
    comp, ready = _ready_task(
        slipway, org, project,
        "echo 'migrating'; echo \"target=$TARGET\"; echo 'boom' >&2; exit 7")
    # Deploying a task starts nothing: the digest is pinned, no container.
    assert _task_containers(slipway, comp["id"]) == []
    # Nothing runs on its own either.
    assert _executions(slipway, comp["id"]) == []

    rc, out, err = slipway.cli("run", comp["id"], "--env", "development",
                               "--var", "TARGET=prod-db", "--wait",
                               timeout=120)
    assert rc == 7, (rc, out, err)
    assert "migrating" in out and "target=prod-db" in out and "boom" in out
    ex_id = out.splitlines()[0].strip()
    ex = _execution(slipway, ex_id)
    assert ex["status"] == "failed" and ex["exit_code"] == 7, ex
    assert ex["trigger"] == "manual" and ex["scheduled_for"] is None
    assert ex["deployment_id"] == ready["id"] and ex["digest"] == ready["digest"]
    assert ex["started_at"] and ex["finished_at"] >= ex["started_at"]
    assert "exited with code 7" in ex["reason"], ex
    # The container is removed once its exit is recorded.
    assert _task_containers(slipway, comp["id"]) == []

    # args replace the image's command; a zero exit is succeeded.
    ok = _run(slipway, comp["id"], args=["/bin/sh", "-c", "echo custom $X"],
              env={"X": "args"})
    done = _wait_execution(slipway, ok["id"])
    assert done["status"] == "succeeded" and done["exit_code"] == 0, done
    assert "custom args" in done["log_tail"], done
    runs = _executions(slipway, comp["id"], "development")
    assert [r["id"] for r in runs] == [ok["id"], ex_id], runs
    rc, out, _ = slipway.cli("executions", comp["id"])
    assert rc == 0 and ok["id"] in out and "succeeded" in out and \
        "failed" in out, out


def test_manual_task_times_out(slipway, org, project):
    comp, _ = _ready_task(slipway, org, project,
                          "echo 'working'; exec busybox sleep 600",
                          active_deadline_s=2)
    ex = _run(slipway, comp["id"])
    done = _wait_execution(slipway, ex["id"], timeout=60)
    assert done["status"] == "timed_out", done
    assert "working" in done["log_tail"], done
    assert _task_containers(slipway, comp["id"]) == []


def test_task_executions_need_a_ready_deployment(slipway, org, project):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    ctype="manual-task")
    # deploy-svc learns of the component from its event a moment later.
    deadline = time.monotonic() + 15
    while True:
        status, body = api("POST", _executions_url(slipway, comp["id"]),
                           {"environment": "development"})
        if status != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 409 and error_code(body) == "nothing_ready", body
    assert "development" in body["error"]["message"], body


def test_promoted_task_runs_in_production(slipway, org, project):
    comp, ready = _ready_task(slipway, org, project, "echo 'in prod'; exit 0",
                              tag="prodtask")
    status, body = api("POST", slipway.url(
        "deploy-svc", "/v1/deployments/%s/promote" % ready["id"]),
        {"to": "production"})
    assert status == 202, body
    prod = slipway.wait_deployment(body["id"], "ready", timeout=60)
    assert prod["digest"] == ready["digest"], prod
    ex = _run(slipway, comp["id"], environment="production")
    done = _wait_execution(slipway, ex["id"])
    assert done["status"] == "succeeded" and done["deployment_id"] == prod["id"]
    assert "in prod" in done["log_tail"]


# --- scheduled tasks --------------------------------------------------------------

def org_plane(slipway, org, app_ports, **env):
    """A data plane of org's own (an extra agent with env), bound as its
    development environment and started; a generator for fixtures."""
    agent = slipway.extra_agent(app_ports.take(), orgs=[org], **env)
    status, body = api("POST", slipway.url(
        "deploy-svc", "/v1/orgs/%s/environments" % org),
        {"name": "development", "dataplane": agent.name, "position": 0})
    assert status in (200, 201), body
    agent.start()
    yield agent
    agent.stop()


@pytest.fixture
def fast_plane(slipway, org, app_ports):
    """org_plane whose agent's clock runs SCALE times faster (anchored now,
    so a restarted agent continues the same timeline)."""
    yield from org_plane(slipway, org, app_ports, SLIPWAY_TEST_CLOCK="%d:%d" %
                         (int(time.time()), SCALE))


def test_scheduled_task_runs_every_minute(slipway, org, project, fast_plane):
    comp, _ = _ready_task(slipway, org, project, "echo \"run at $(date)\"",
                          ctype="scheduled-task", schedule="* * * * *",
                          timezone="Europe/Berlin")
    runs = _wait_runs(slipway, comp["id"],
                      lambda rs: sum(r["status"] == "succeeded"
                                     for r in rs) >= 2,
                      "two scheduled runs", timeout=60)
    done = [r for r in runs if r["status"] == "succeeded"]
    assert all(r["trigger"] == "schedule" and r["exit_code"] == 0 and
               "run at" in _execution(slipway, r["id"])["log_tail"]
               for r in done), done
    # One execution per minute, each at a whole minute.
    minutes = _minutes(runs)
    assert len(minutes) == len(set(minutes)), minutes
    assert all(m.endswith(":00.000Z") for m in minutes), minutes


def test_forbid_skips_a_run_while_the_last_one_runs(slipway, org, project,
                                                    fast_plane):
    # Each run takes about three scheduled minutes.
    comp, _ = _ready_task(slipway, org, project, "busybox sleep 3; echo done",
                          ctype="scheduled-task", schedule="* * * * *",
                          timezone="UTC")
    runs = _wait_runs(slipway, comp["id"],
                      lambda rs: any(r["status"] == "skipped" for r in rs) and
                      any(r["status"] == "succeeded" for r in rs),
                      "a skipped and a succeeded run", timeout=60)
    skipped = [r for r in runs if r["status"] == "skipped"]
    assert all("still running" in r["reason"] and
               "forbid" in r["reason"] for r in skipped), skipped
    assert len(_minutes(runs)) == len(set(_minutes(runs))), runs


def test_replace_stops_the_running_one(slipway, org, project, fast_plane):
    comp, _ = _ready_task(slipway, org, project, "busybox sleep 30",
                          ctype="scheduled-task", schedule="* * * * *",
                          timezone="UTC", concurrency_policy="replace")
    runs = _wait_runs(slipway, comp["id"],
                      lambda rs: sum(r["status"] == "failed" for r in rs) >= 2,
                      "two replaced runs", timeout=60)
    replaced = [r for r in runs if r["status"] == "failed"]
    assert all("replaced by the run scheduled for" in r["reason"]
               for r in replaced), replaced
    # One container at a time: the replaced ones are gone.
    assert len([c for c in _task_containers(slipway, comp["id"])
                if c["State"] == "running"]) <= 1


def test_agent_kill_loses_no_run_and_duplicates_none(slipway, org, project,
                                                     fast_plane):
    comp, _ = _ready_task(slipway, org, project, "echo tick",
                          ctype="scheduled-task", schedule="* * * * *",
                          timezone="America/New_York")
    _wait_runs(slipway, comp["id"], lambda rs: len(rs) >= 2,
               "runs before the kill", timeout=60)
    fast_plane.proc.kill()
    fast_plane.proc.wait(timeout=10)
    time.sleep(3)      # about three scheduled minutes without an agent
    fast_plane.start()
    before = time.monotonic()
    runs = _wait_runs(slipway, comp["id"],
                      lambda rs: sum(r["status"] == "succeeded"
                                     for r in rs) >= 6,
                      "runs after the restart", timeout=60)
    assert time.monotonic() - before < 60
    minutes = _minutes(runs)
    assert len(minutes) == len(set(minutes)), minutes
    # Every minute from the first to the last is there exactly once: run,
    # or recorded skipped (missed while the agent was down).
    first = time.mktime(time.strptime(minutes[0][:16], "%Y-%m-%dT%H:%M"))
    last = time.mktime(time.strptime(minutes[-1][:16], "%Y-%m-%dT%H:%M"))
    assert len(minutes) == int((last - first) // 60) + 1, minutes
    for r in runs:
        if r["status"] == "skipped":
            assert "agent" in r["reason"] or "deadline" in r["reason"], r


def test_schedule_change_reaches_the_agent_without_redeploy(
        slipway, org, project, fast_plane):
    comp, ready = _ready_task(slipway, org, project, "echo changed",
                              ctype="scheduled-task", schedule="0 0 1 1 *",
                              timezone="UTC")
    time.sleep(2)
    assert _executions(slipway, comp["id"]) == []
    rc, out, err = slipway.cli("component", "update", comp["id"],
                               "--schedule", "* * * * *")
    assert rc == 0 and "* * * * *" in out, (rc, out, err)
    runs = _wait_runs(slipway, comp["id"],
                      lambda rs: any(r["status"] == "succeeded" for r in rs),
                      "a run on the new schedule", timeout=60)
    assert all(r["deployment_id"] == ready["id"] for r in runs), runs
    assert len(slipway.deployments(comp["id"])) == 1


def test_scheduled_task_on_real_minutes(slipway, org, project):
    comp, _ = _ready_task(slipway, org, project, "echo real",
                          ctype="scheduled-task", schedule="* * * * *",
                          timezone="Asia/Kolkata")
    runs = _wait_runs(slipway, comp["id"],
                      lambda rs: any(r["status"] == "succeeded" for r in rs),
                      "a run on the wall clock", timeout=130)
    run = [r for r in runs if r["status"] == "succeeded"][0]
    due = time.mktime(time.strptime(run["scheduled_for"][:19],
                                    "%Y-%m-%dT%H:%M:%S")) - time.timezone
    started = time.mktime(time.strptime(run["started_at"][:19],
                                        "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert 0 <= started - due < 30, run


# --- web apps ---------------------------------------------------------------------

def test_web_app_cutover_is_seamless(slipway, org, project):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"], ctype="web-app")
    assert comp["port"] == 8080 and comp["endpoints"][0]["context"] == "/"
    v1 = slipway.wait_deployment(_deploy(slipway, comp["id"], {
        "environment": "development", "tag": "v1"}), "running", timeout=90)
    app = slipway.app_url(org, project, comp["name"], context="/")
    assert "demo v1" in wait_text(app, "demo v1")
    assert [e["url"] for e in v1["endpoints"]] == [app], v1
    with Prober(app) as probe:
        v2 = _deploy(slipway, comp["id"], {"environment": "development",
                                           "tag": "v2"})
        slipway.wait_deployment(v2, "running", timeout=90)
        wait_text(app, "demo v2")
        slipway.wait_containers(comp["id"], [v2], timeout=30)
    assert probe.answers and probe.failures() == [], probe.failures()[:5]
    assert get_text(app)[0] == 200


# --- the component API for tasks ----------------------------------------------------

def test_task_settings_are_validated_and_patched(slipway, org, project):
    reg = slipway.create_registry(org, auth_type="basic")
    base = slipway.url("component-svc",
                       "/v1/orgs/%s/projects/%s/components" % (org, project))
    body = {"name": unique("nightly"), "type": "scheduled-task",
            "registry_id": reg["id"], "image": slipway.env["SLIPWAY_DEMO_IMAGE"],
            "schedule": "30 2 * * MON-FRI", "timezone": "Europe/Berlin"}
    for bad, code, field, text in (
            ({"schedule": "61 * * * *"}, "invalid_schedule", "schedule",
             "minute: 61 is out of range 0-59 (position 1)"),
            ({"schedule": "* * * *"}, "invalid_schedule", "schedule", None),
            ({"timezone": "Mars/Olympus"}, "invalid_timezone", "timezone", None),
            ({"concurrency_policy": "queue"}, "invalid_concurrency_policy",
             "concurrency_policy", None),
            ({"active_deadline_s": 0}, "invalid_field", "active_deadline_s",
             None)):
        b = dict(body)
        b.update(bad)
        status, resp = api("POST", base, b)
        assert status == 422 and error_code(resp) == code and \
            resp["error"]["field"] == field, (bad, resp)
        if text:
            assert text in resp["error"]["message"], resp
    status, comp = api("POST", base, body)
    assert status == 201, comp
    assert comp["concurrency_policy"] == "forbid" and \
        comp["starting_deadline_s"] == 300 and \
        comp["active_deadline_s"] == 3600, comp

    url = slipway.url("component-svc", "/v1/components/%s" % comp["id"])
    status, resp = api("PATCH", url, {"schedule": "*/10 * * * *",
                                      "concurrency_policy": "replace",
                                      "description": "every ten minutes"})
    assert status == 200, resp
    assert resp["schedule"] == "*/10 * * * *" and \
        resp["concurrency_policy"] == "replace" and \
        resp["description"] == "every ten minutes" and \
        resp["timezone"] == "Europe/Berlin", resp
    # A refused PATCH changes nothing.
    for bad, status_want, code in (({"schedule": "0 25 * * *"}, 422,
                                    "invalid_schedule"),
                                   ({"image": "x/y:1"}, 422,
                                    "image_registry_mismatch"),
                                   ({"name": "x"}, 400, "unknown_field"),
                                   ({"schedule": 5}, 400, "invalid_field")):
        status, resp = api("PATCH", url, bad)
        assert status == status_want and error_code(resp) == code, (bad, resp)
    status, resp = api("GET", url)
    assert resp["schedule"] == "*/10 * * * *", resp

    # A service has no schedule; a manual task none either.
    svc = slipway.create_component(org, project, reg["id"])
    status, resp = api("PATCH", slipway.url(
        "component-svc", "/v1/components/%s" % svc["id"]),
        {"schedule": "* * * * *"})
    assert status == 422 and resp["error"]["field"] == "schedule", resp
    manual = slipway.create_component(org, project, reg["id"],
                                      ctype="manual-task")
    status, resp = api("PATCH", slipway.url(
        "component-svc", "/v1/components/%s" % manual["id"]),
        {"timezone": "UTC"})
    assert status == 422 and resp["error"]["field"] == "timezone", resp
    status, resp = api("PATCH", slipway.url(
        "component-svc", "/v1/components/%s" % unique("x")), {})
    assert status == 404, resp
