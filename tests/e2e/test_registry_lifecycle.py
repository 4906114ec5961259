"""A registry's lifecycle after it is created: PATCH renames it or rotates its
credentials (the data plane pulls with the new ones next time), DELETE is
refused while a component uses it, and every refused change leaves the
registry exactly as it was."""

import base64
import json
import os
import time

import pytest

from slipway_harness import api, error_code, unique


def _reg_url(slipway, org, reg_id=None):
    path = "/v1/orgs/%s/registries" % org
    if reg_id is not None:
        path += "/" + reg_id
    return slipway.url("registry-svc", path)


def _get(slipway, org, reg_id):
    status, body = api("GET", _reg_url(slipway, org, reg_id))
    assert status == 200, (status, body)
    return body


def _stored_count(slipway, reg_id):
    """How often the agent stored credentials for this registry (its log)."""
    with open(slipway.log_path("dataplane-agent"), errors="replace") as f:
        return sum(1 for line in f if reg_id in line and
                   "registry credentials stored" in line)


def _secret_blob(slipway, reg_id):
    """The encrypted credentials at rest, hex (format byte first)."""
    return slipway.psql("SELECT encode(secret, 'hex') FROM "
                        "registry.registries WHERE id = '%s'" % reg_id)


def _patch(slipway, org, reg_id, body, wait_agent=True):
    """PATCH, 200 expected; with wait_agent, waits until the agent stored the
    re-sealed credentials (the next pull must use them)."""
    before = _stored_count(slipway, reg_id)
    status, resp = api("PATCH", _reg_url(slipway, org, reg_id), body)
    assert status == 200, (status, resp)
    if body.get("password"):
        slipway.secrets.add(body["password"])
    if wait_agent:
        deadline = time.monotonic() + 20
        while _stored_count(slipway, reg_id) <= before:
            assert time.monotonic() < deadline, \
                "the agent never stored the rotated credentials"
            time.sleep(0.2)
    return resp


def _deploy(slipway, component_id, tag, want):
    status, dep = api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/deployments" % component_id),
        {"environment": "development", "tag": tag})
    assert status == 202, (status, dep)
    return slipway.wait_deployment(dep["id"], want, timeout=90)


def _wait_known_component(slipway, component_id, timeout=10):
    """Until registry-svc has consumed the component's ComponentCreated (an
    event: a DELETE sent before it arrives is not refused)."""
    deadline = time.monotonic() + timeout
    while slipway.psql("SELECT count(*) FROM registry.components WHERE "
                       "id = '%s'" % component_id) != "1":
        assert time.monotonic() < deadline, "ComponentCreated never arrived"
        time.sleep(0.1)


def _setup(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    _deploy(slipway, comp["id"], "v1", "running")
    return reg, comp


def test_rename_keeps_credentials_and_deploys(slipway, org, project,
                                              app_ports):
    reg, comp = _setup(slipway, org, project, app_ports)
    before = _get(slipway, org, reg["id"])
    stored = _stored_count(slipway, reg["id"])

    resp = _patch(slipway, org, reg["id"], {"name": "renamed"},
                  wait_agent=False)
    after = _get(slipway, org, reg["id"])
    assert resp == after, (resp, after)
    assert after["name"] == "renamed"
    assert {k: v for k, v in after.items() if k != "name"} == \
        {k: v for k, v in before.items() if k != "name"}
    assert "password" not in resp

    _deploy(slipway, comp["id"], "v2", "running")
    # A rename re-seals nothing: the credentials did not change.
    assert _stored_count(slipway, reg["id"]) == stored


def test_rotating_credentials_reaches_the_next_pull(slipway, org, project,
                                                    app_ports):
    reg, comp = _setup(slipway, org, project, app_ports)
    user = slipway.env["SLIPWAY_REGISTRY_USER"]
    blob = _secret_blob(slipway, reg["id"])

    resp = _patch(slipway, org, reg["id"], {
        "auth_type": "basic", "username": user,
        "password": "rotated-but-wrong"})
    assert resp["auth_type"] == "basic" and resp["username"] == user, resp
    # Re-encrypted as a create does: a new blob, in the current format
    # (0x02), under the KEK version the create used (the newest).
    rotated = _secret_blob(slipway, reg["id"])
    assert rotated != blob and rotated[:2] == "02", (blob[:10], rotated[:10])
    assert rotated[:10] == blob[:10], (blob[:10], rotated[:10])
    dep = _deploy(slipway, comp["id"], "v2", "failed")
    assert "unauthorized" in (dep.get("reason") or ""), dep
    assert "rotated-but-wrong" not in str(dep)

    _patch(slipway, org, reg["id"], {
        "username": user, "password": slipway.env["SLIPWAY_REGISTRY_PASSWORD"]})
    _deploy(slipway, comp["id"], "v2", "running")


def test_basic_to_anonymous_fails_the_next_pull(slipway, org, project,
                                                app_ports):
    reg, comp = _setup(slipway, org, project, app_ports)

    resp = _patch(slipway, org, reg["id"], {"auth_type": "anonymous"})
    assert resp["auth_type"] == "anonymous" and "username" not in resp, resp
    assert _get(slipway, org, reg["id"]) == resp
    dep = _deploy(slipway, comp["id"], "v2", "failed")
    assert "unauthorized" in (dep.get("reason") or ""), dep


def test_delete_in_use_is_refused_with_the_components(slipway, org, project,
                                                      app_ports):
    reg, comp = _setup(slipway, org, project, app_ports)
    before = _get(slipway, org, reg["id"])

    status, body = api("DELETE", _reg_url(slipway, org, reg["id"]))
    assert status == 409, (status, body)
    assert error_code(body) == "registry_in_use", body
    assert body["error"]["components"] == [
        {"id": comp["id"], "name": comp["name"], "project": project}], body
    assert _get(slipway, org, reg["id"]) == before
    # Nothing was withdrawn from the data plane: it still deploys.
    _deploy(slipway, comp["id"], "v2", "running")


def test_delete_after_its_component_is_deleted(slipway, org, project):
    """ComponentDeleted frees the registry (component DELETE is
    component-svc's: skipped where it does not exist yet)."""
    reg = slipway.create_registry(org, auth_type="anonymous",
                                  host="freed.example")
    comp = slipway.create_component(org, project, reg["id"],
                                    image="freed.example/a/b:1",
                                    ctype="manual-task")
    url = _reg_url(slipway, org, reg["id"])
    _wait_known_component(slipway, comp["id"])
    status, body = api("DELETE", url)
    assert status == 409, (status, body)
    status, body = api("DELETE", slipway.url(
        "component-svc", "/v1/components/%s" % comp["id"]))
    if status in (404, 405):
        pytest.skip("component-svc has no component DELETE yet")
    assert status == 204, (status, body)
    deadline = time.monotonic() + 10
    while True:
        status, body = api("DELETE", url)
        if status == 204:
            break
        assert status == 409 and time.monotonic() < deadline, (status, body)
        time.sleep(0.1)
    assert api("GET", url)[0] == 404


def test_delete_unused_registry(slipway, org):
    reg = slipway.create_registry(org, auth_type="anonymous",
                                  host="unused.example")
    status, body = api("DELETE", _reg_url(slipway, org, reg["id"]))
    assert status == 204, (status, body)
    status, body = api("GET", _reg_url(slipway, org, reg["id"]))
    assert status == 404, (status, body)


def test_refused_patches_change_nothing(slipway, org):
    reg = slipway.create_registry(org, auth_type="basic")
    other = slipway.create_registry("other-" + org, auth_type="anonymous",
                                    host="other.example")
    url = _reg_url(slipway, org, reg["id"])
    before = _get(slipway, org, reg["id"])
    refusals = [
        ({"nmae": "typo"}, 400, "unknown_field"),
        ({"name": "ok", "secret": "x"}, 400, "unknown_field"),
        ({"name": ""}, 422, None),
        ({"name": 5}, 422, None),
        ({"host": "ghcr.io"}, 422, "host_immutable"),
        ({"name": "n", "host": "ghcr.io"}, 422, "host_immutable"),
        ({"auth_type": "basic", "username": "u"}, 422, "missing_field"),
        ({"auth_type": "magic"}, 422, "invalid_auth_type"),
        ({"auth_type": "anonymous", "password": "p"}, 422,
         "field_not_allowed"),
        ({"auth_type": "vendor", "vendor": "quay"}, 422, "invalid_vendor"),
    ]
    for body, want, code in refusals:
        status, resp = api("PATCH", url, body)
        assert status == want, (body, status, resp)
        if code is not None:
            assert error_code(resp) == code, (body, resp)
        assert _get(slipway, org, reg["id"]) == before, body

    # Another org's registry, and a malformed body: not found / 400.
    status, resp = api("PATCH", _reg_url(slipway, org, other["id"]),
                       {"name": "stolen"})
    assert status == 404, (status, resp)
    assert _get(slipway, "other-" + org, other["id"])["name"] == other["name"]
    status, resp = api("DELETE", _reg_url(slipway, org, other["id"]))
    assert status == 404, (status, resp)
    assert _get(slipway, "other-" + org, other["id"]) == other
    status, resp = api("PATCH", _reg_url(slipway, org,
                       "00000000-0000-4000-8000-000000000000"), {"name": "x"})
    assert status == 404, (status, resp)
    # The same host, spelled as given: accepted, nothing else changes.
    status, resp = api("PATCH", url, {"host": before["host"]})
    assert status == 200 and resp == before, (status, resp)


def test_cli_show_and_update(slipway, org):
    reg = slipway.create_registry(org, auth_type="basic")
    rc, out, err = slipway.cli("registry", "show", org, reg["id"])
    assert rc == 0 and reg["name"] in out, (rc, out, err)

    rc, out, err = slipway.cli("registry", "update", org, reg["id"],
                               "--name", "cli-renamed", "--username", "u2",
                               "--password-stdin", stdin="pw-from-stdin\n")
    slipway.secrets.add("pw-from-stdin")
    assert rc == 0, (rc, out, err)
    after = _get(slipway, org, reg["id"])
    assert after["name"] == "cli-renamed" and after["username"] == "u2", after
    assert "pw-from-stdin" not in out + err

    rc, out, err = slipway.cli("registry", "update", org, reg["id"],
                               "--auth", "anonymous")
    assert rc == 0, (rc, out, err)
    assert _get(slipway, org, reg["id"])["auth_type"] == "anonymous"

    rc, out, err = slipway.cli("registry", "update", org, reg["id"])
    assert rc == 2, (rc, out, err)
    rc, out, err = slipway.cli("registry", "update", org, reg["id"],
                               "--username", "u")
    assert rc == 2, (rc, out, err)


def test_cli_docker_config_and_vendor(slipway, org, tmp_path):
    """`registry add --docker-config FILE` sends the file's one auths entry;
    the registry's login test passes with it. --vendor needs no secret; a
    mix of two auth types is a usage error and creates nothing."""
    env = slipway.env
    host = env["SLIPWAY_REGISTRY_HOST"]
    auth = base64.b64encode(("%s:%s" % (env["SLIPWAY_REGISTRY_USER"],
                             env["SLIPWAY_REGISTRY_PASSWORD"])).encode())
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"auths": {host: {"auth": auth.decode()}}}))
    os.chmod(cfg, 0o600)
    slipway.secrets.add(auth.decode())
    name = unique("dcfg")
    rc, out, err = slipway.cli("registry", "add", org, "--name", name,
                               "--host", host, "--docker-config", str(cfg),
                               "--json")
    assert rc == 0, (rc, out, err)
    reg = json.loads(out)
    assert reg["auth_type"] == "docker-config", reg
    assert reg["username"] == env["SLIPWAY_REGISTRY_USER"], reg
    rc, out, err = slipway.cli("registry", "test", org, reg["id"])
    assert rc == 0, (rc, out, err)

    rc, out, err = slipway.cli("registry", "add", org, "--name", unique("v"),
                               "--host", "myreg.azurecr.io", "--vendor", "acr",
                               "--json")
    assert rc == 0 and json.loads(out)["auth_type"] == "vendor", (out, err)

    before = _list_names(slipway, org)
    for extra in (["--docker-config", str(cfg), "--username", "u"],
                  ["--vendor", "acr", "--password", "p"],
                  ["--auth", "docker-config"],
                  ["--docker-config", str(tmp_path / "missing.json")]):
        rc, out, err = slipway.cli("registry", "add", org, "--name",
                                   unique("bad"), "--host", host, *extra)
        assert rc == 2 and "usage" in err, (extra, rc, out, err)
    assert _list_names(slipway, org) == before


def _list_names(slipway, org):
    status, body = api("GET", _reg_url(slipway, org))
    assert status == 200, body
    return sorted(r["name"] for r in body["registries"])


def _org_key(slipway, org, role):
    status, body = api("POST", slipway.url(
        "deploy-svc", "/v1/orgs/%s/keys" % org),
        {"name": unique(role), "role": role})
    assert status == 201, (status, body)
    slipway.secrets.add(body["key"])
    url = _reg_url(slipway, org)
    deadline = time.monotonic() + 10
    while api("GET", url, token=body["key"])[0] != 200:
        assert time.monotonic() < deadline, "key never known to registry-svc"
        time.sleep(0.05)
    return body["key"]


def test_patch_and_delete_need_an_org_admin(slipway, org):
    reg = slipway.create_registry(org, auth_type="anonymous",
                                  host="roles.example")
    url = _reg_url(slipway, org, reg["id"])
    deployer = _org_key(slipway, org, "deployer")
    status, resp = api("PATCH", url, {"name": "x"}, token=deployer)
    assert status == 403, (status, resp)
    status, resp = api("DELETE", url, token=deployer)
    assert status == 403, (status, resp)
    assert _get(slipway, org, reg["id"]) == reg
    admin = _org_key(slipway, org, "admin")
    status, resp = api("PATCH", url, {"name": "by-admin"}, token=admin)
    assert status == 200 and resp["name"] == "by-admin", (status, resp)
