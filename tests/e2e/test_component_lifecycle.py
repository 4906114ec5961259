"""A component's life after create: PATCH (image on the same registry,
health, resources, a web app's port) and DELETE (its tokens refused at
once, its containers, routes and schedule gone from the data plane, its
history still readable, its name free again). A refused PATCH changes
nothing."""

import json
import subprocess
import time

from slipway_harness import api, engine_containers, error_code, get_text, \
    unique, wait_text

from test_runtime import _deploy
from test_tasks import _executions, _ready_task, fast_plane  # noqa: F401


def _comp_url(slipway, comp_id):
    return slipway.url("component-svc", "/v1/components/%s" % comp_id)


def _containers(slipway, comp_id):
    return engine_containers(slipway.env["SLIPWAY_ENGINE_SOCKET"],
                             "slipway.component=" + comp_id)


def _until(pred, what, timeout):
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _running_service(slipway, org, project, app_ports, name=None):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take(), name=name)
    tok = slipway.create_token(comp["id"])
    status, body = slipway.hook(tok["token"],
                                {"image": slipway.env["SLIPWAY_DEMO_IMAGE"]})
    assert status == 202, body
    dep = slipway.wait_deployment(body["request_id"], "running", timeout=90)
    app = slipway.app_url(org, project, comp["name"])
    wait_text(app, "demo v1")
    return reg, comp, tok, dep, app


def _other_repository(slipway, tag):
    """demo/hello:v2 copied as demo/moved-<n>:<tag> on the stack's
    registry: another repository of the same registry host."""
    slipway.push_variant("lifecycle-auth", "exec sleep 1")   # the auth file
    host = slipway.env["SLIPWAY_REGISTRY_HOST"]
    auth = str(slipway.state / "variants" / "auth.json")
    image = "%s/demo/%s:%s" % (host, unique("moved"), tag)
    subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false",
                    "--dest-tls-verify=false", "--src-authfile", auth,
                    "--dest-authfile", auth,
                    "docker://%s/demo/hello:v2" % host, "docker://" + image],
                   check=True, timeout=120)
    return image


# --- DELETE ------------------------------------------------------------------

def test_deleted_service_leaves_the_data_plane(slipway, org, project,
                                              app_ports):
    reg, comp, tok, dep, app = _running_service(slipway, org, project,
                                                app_ports)
    assert _containers(slipway, comp["id"])

    status, body = api("DELETE", _comp_url(slipway, comp["id"]))
    assert status == 204, (status, body)
    deleted_at = time.monotonic()

    # The token is refused at the webhook within a second. The probe's
    # empty body deploys nothing while the ingress still remembers the
    # binding (a 400 then): the events drop it from its memory.
    _until(lambda: slipway.hook(tok["token"], {})[0] == 401,
           "the deleted component's token still deploys", timeout=1.5)
    status, body = slipway.hook(tok["token"], {"tag": "v2"})
    assert status == 401 and error_code(body) == "invalid_token", body

    # The gateway route and the container go within a few seconds.
    def unrouted():
        status, text = get_text(app)
        return status == 404 and "no_route" in text
    _until(unrouted, "the app is still routed", timeout=10)
    _until(lambda: _containers(slipway, comp["id"]) == [],
           "its container is still there", timeout=20)
    assert time.monotonic() - deleted_at < 20

    # The component is gone; a second DELETE is 404.
    status, body = api("GET", _comp_url(slipway, comp["id"]))
    assert status == 404 and error_code(body) == "not_found", body
    status, body = api("DELETE", _comp_url(slipway, comp["id"]))
    assert status == 404 and error_code(body) == "not_found", body
    status, body = api("GET", _comp_url(slipway, comp["id"]) + "/tokens")
    assert status == 404, body

    # Its history stays readable, as it was.
    history = slipway.deployments(comp["id"])
    assert [d["id"] for d in history] == [dep["id"]], history
    status, body = slipway.get_deployment(dep["id"])
    assert status == 200 and body["component_id"] == comp["id"], body

    # Nothing deploys it any more.
    status, body = api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/deployments" % comp["id"]),
        {"environment": "development", "tag": "v2"})
    assert status == 404 and error_code(body) == "not_found", body

    # The name is free again: a new component takes it and deploys.
    again = slipway.create_component(org, project, reg["id"],
                                     port=app_ports.take(), name=comp["name"])
    assert again["id"] != comp["id"]
    new_dep = _deploy(slipway, again["id"], {"environment": "development",
                                             "tag": "v2"})
    slipway.wait_deployment(new_dep, "running", timeout=90)
    assert "demo v2" in wait_text(app, "demo v2")
    assert slipway.deployments(comp["id"])[0]["id"] == dep["id"]


def test_delete_needs_an_org_admin(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    keys = {}
    for role in ("deployer", "admin"):
        status, body = api("POST", slipway.url(
            "deploy-svc", "/v1/orgs/%s/keys" % org),
            {"name": unique(role), "role": role})
        assert status == 201, body
        keys[role] = body["key"]
        slipway.secrets.add(body["key"])
    status, body = api("POST", slipway.url(
        "deploy-svc", "/v1/orgs/%s/keys" % unique("other")),
        {"name": "x", "role": "admin"})
    assert status == 201, body
    slipway.secrets.add(body["key"])
    other = body["key"]

    def delete(key):
        return _until(lambda: (lambda r: r if r[0] != 401 else None)(
            api("DELETE", _comp_url(slipway, comp["id"]), token=key)),
            "the key is not known yet", timeout=5)

    status, body = delete(keys["deployer"])
    assert status == 403 and error_code(body) == "forbidden", body
    status, body = delete(other)
    assert status == 404, body
    status, body = delete(keys["admin"])
    assert status == 204, body

    # The history stays its org's: readable with its key, not another's.
    history = slipway.url("deploy-svc",
                          "/v1/components/%s/deployments" % comp["id"])
    # (A service has no executions: 422 not_a_task while deploy-svc knows
    # it, 404 once it heard of the delete; either way nothing runs.)
    runs = slipway.url("deploy-svc", "/v1/components/%s/executions" %
                       comp["id"])
    _until(lambda: api("POST", runs, {"environment": "development"})[0] == 404,
           "deploy-svc never heard of the delete", timeout=3)
    status, body = api("GET", history, token=keys["deployer"])
    assert status == 200 and body["deployments"] == [], body
    status, body = api("GET", history, token=other)
    assert status == 404, body


def test_deleted_tasks_stop_running(slipway, org, project, fast_plane):  # noqa: F811
    comp, ready = _ready_task(slipway, org, project, "echo tick",
                              ctype="scheduled-task", schedule="* * * * *",
                              timezone="UTC")
    _until(lambda: any(r["status"] == "succeeded"
                       for r in _executions(slipway, comp["id"])),
           "a scheduled run before the delete", timeout=60)
    rc, out, err = slipway.cli("component", "rm", comp["id"])
    assert rc == 0 and comp["id"] in out, (rc, out, err)
    time.sleep(2)      # runs that were starting report their end
    before = {r["id"] for r in _executions(slipway, comp["id"])}
    time.sleep(5)      # five scheduled minutes
    after = {r["id"] for r in _executions(slipway, comp["id"])}
    assert after == before, "it still runs: %r" % (after - before)
    assert _containers(slipway, comp["id"]) == []
    assert slipway.deployments(comp["id"])[0]["id"] == ready["id"]

    # A manual task: no run after the delete.
    image = slipway.push_variant(unique("task"), "echo manual")
    manual = slipway.create_component(org, project, comp["registry_id"],
                                      image=image, ctype="manual-task")
    slipway.wait_deployment(_deploy(slipway, manual["id"], {
        "environment": "development", "image": image}), "ready", timeout=90)
    rc, out, err = slipway.cli("component", "rm", manual["id"])
    assert rc == 0, (rc, out, err)
    # deploy-svc hears of the delete asynchronously, within a moment.
    status, body = _until(lambda: (lambda r: r if r[0] == 404 else None)(
        api("POST", slipway.url(
            "deploy-svc", "/v1/components/%s/executions" % manual["id"]),
            {"environment": "development"})),
        "the deleted manual task still runs", timeout=3)
    assert error_code(body) == "not_found", body
    rc, out, err = slipway.cli("component", "rm", manual["id"])
    assert rc == 1 and "not_found" in err + out, (rc, out, err)


# --- PATCH -------------------------------------------------------------------

def test_patched_image_is_the_default_of_tag_only_webhooks(slipway, org,
                                                          project, app_ports):
    _, comp, tok, _, app = _running_service(slipway, org, project, app_ports)
    moved = _other_repository(slipway, "v2")
    rc, out, err = slipway.cli("component", "update", comp["id"],
                               "--image", moved.rsplit(":", 1)[0] + ":v1",
                               "--memory-mb", "256", "--json")
    assert rc == 0, (rc, out, err)
    patched = json.loads(out)
    assert patched["image"] == moved.rsplit(":", 1)[0] + ":v1", patched
    assert patched["resources"] == {"memory_mb": 256}, patched
    status, got = api("GET", _comp_url(slipway, comp["id"]))
    assert status == 200 and got["image"] == patched["image"], got

    # The ingress remembers the token's binding from the first deploy; the
    # ComponentUpdated event drops it within a second. Until then the new
    # repository is refused (422), which deploys nothing; once accepted,
    # the absent tag's deployment fails at once and the app stays as is.
    repo = moved.rsplit(":", 1)[0]
    _until(lambda: slipway.hook(tok["token"], {
        "image": "%s:%s" % (repo, unique("absent"))})[0] == 202,
        "the ingress still uses the old repository", timeout=1.0)
    status, body = slipway.hook(tok["token"], {"tag": "v2"})
    assert status == 202 and body["image"] == moved, body
    slipway.wait_deployment(body["request_id"], "running", timeout=90)
    assert "demo v2" in wait_text(app, "demo v2")
    # The old repository is no longer the token's.
    status, body = slipway.hook(tok["token"], {
        "image": slipway.env["SLIPWAY_DEMO_IMAGE"]})
    assert status == 422 and error_code(body) == "image_repository_mismatch", \
        body


def test_refused_patches_change_nothing(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take(),
                                    health={"path": "/"},
                                    resources={"pids": 128})
    url = _comp_url(slipway, comp["id"])
    status, before = api("GET", url)
    assert status == 200, before
    host = slipway.env["SLIPWAY_REGISTRY_HOST"]
    refused = [
        ({"image": "ghcr.io/acme/api:1"}, 422, "image_registry_mismatch"),
        ({"description": "changed", "image": "ghcr.io/acme/api:1"}, 422,
         "image_registry_mismatch"),
        ({"image": host + "/UPPER:1"}, 422, "invalid_image"),
        ({"image": 7}, 422, None),
        ({"bogus": 1}, 400, "unknown_field"),
        ({"description": "changed", "health": {"timeout_s": 0}}, 422,
         "invalid_health"),
        ({"health": {"port": 1}}, 422, "invalid_health"),
        ({"resources": {"memory_mb": "big"}}, 400, "invalid_resources"),
        ({"resources": {"memory_mb": 1}}, 422, "invalid_resources"),
        ({"port": 9000}, 422, "invalid_field"),
        ({"schedule": "* * * * *"}, 422, "invalid_field"),
    ]
    for body, want_status, want_code in refused:
        status, resp = api("PATCH", url, body)
        assert status == want_status, (body, status, resp)
        if want_code is not None:
            assert error_code(resp) == want_code, (body, resp)
        status, now = api("GET", url)
        assert now == before, (body, now)

    # What may change does, and only that.
    status, resp = api("PATCH", url, {"health": {"path": "/healthz",
                                                 "timeout_s": 30},
                                      "resources": None})
    assert status == 200, resp
    assert resp["health"] == {"path": "/healthz", "timeout_s": 30}, resp
    assert resp["resources"] is None, resp
    assert resp["image"] == before["image"], resp
    assert resp["description"] == before["description"], resp

    # A web app's port is its one endpoint.
    web = slipway.create_component(org, project, reg["id"], ctype="web-app",
                                   port=None)
    new_port = app_ports.take()
    status, resp = api("PATCH", _comp_url(slipway, web["id"]),
                       {"port": new_port})
    assert status == 200, resp
    assert resp["port"] == new_port, resp
    assert [e["port"] for e in resp["endpoints"]] == [new_port], resp
    status, resp = api("PATCH", _comp_url(slipway, web["id"]),
                       {"port": 70000})
    assert status == 422, resp
    status, now = api("GET", _comp_url(slipway, web["id"]))
    assert now["port"] == new_port, now


def test_deleted_task_stops_its_running_execution(slipway, org, project):
    comp, _ = _ready_task(slipway, org, project, "busybox sleep 60")
    status, ex = api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/executions" % comp["id"]),
        {"environment": "development"})
    assert status == 202, ex

    def execution():
        status, body = api("GET", slipway.url(
            "deploy-svc", "/v1/executions/%s" % ex["id"]))
        assert status == 200, body
        return body
    _until(lambda: execution()["status"] == "running", "the run never ran",
           timeout=60)
    status, body = api("DELETE", _comp_url(slipway, comp["id"]))
    assert status == 204, body
    done = _until(lambda: (lambda e: e if e["status"] != "running" else None)(
        execution()), "the run goes on after the delete", timeout=15)
    assert done["status"] == "failed" and "removed" in done["reason"], done
    _until(lambda: _containers(slipway, comp["id"]) == [],
           "its container is still there", timeout=10)
