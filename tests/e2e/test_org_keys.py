"""Org keys and roles on every management route: the operator issues keys
per org (viewer < deployer < admin); each service learns them from
slipway.orgkeys and checks them itself. A key of another org finds nothing
(404, existence not revealed), a role too weak is 403, a revoked key is
401 on every service within a second, and the platform routes stay the
operator's.

The table below lists every management route once, with the weakest role
that may call it; each row is called with each key and the answer checked.
"""

import time

import pytest

from slipway_harness import api, error_code, unique

ROLES = ("viewer", "deployer", "admin")


def _issue(slipway, org, role, name=None):
    status, body = api("POST", slipway.url(
        "deploy-svc", "/v1/orgs/%s/keys" % org),
        {"name": name or unique(role), "role": role})
    assert status == 201, (status, body)
    assert body["key"].startswith("slk_") and body["role"] == role, body
    assert body["org"] == org and body["prefix"] == body["key"][:8], body
    slipway.secrets.add(body["key"])
    return body


def _wait_known(slipway, key, org, timeout=10):
    """Until every management service accepts the key (it travels as an
    event): GET on a viewer route of each."""
    urls = [slipway.url("registry-svc", "/v1/orgs/%s/registries" % org),
            slipway.url("component-svc",
                        "/v1/orgs/%s/projects/p/components" % org),
            slipway.url("deploy-svc", "/v1/orgs/%s/environments" % org)]
    deadline = time.monotonic() + timeout
    for url in urls:
        while True:
            status, body = api("GET", url, token=key)
            if status == 200:
                break
            assert status == 401 and time.monotonic() < deadline, \
                (url, status, body)
            time.sleep(0.05)


@pytest.fixture(scope="module")
def tenant(slipway):
    """Org A with a registry, a manual task that is ready in development, a
    CI token, an execution; keys of every role for A and an admin key of B."""
    a, b = unique("orga"), unique("orgb")
    project = unique("proj")
    reg = slipway.create_registry(a, auth_type="basic")
    image = slipway.push_variant("keystask", "echo keyed; exit 0")
    comp = slipway.create_component(a, project, reg["id"], image=image,
                                    ctype="manual-task")
    status, dep = api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/deployments" % comp["id"]),
        {"environment": "development", "image": image})
    assert status == 202, dep
    dep = slipway.wait_deployment(dep["id"], "ready", timeout=90)
    status, ex = api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/executions" % comp["id"]),
        {"environment": "development"})
    assert status == 202, ex
    keys = {role: _issue(slipway, a, role) for role in ROLES}
    keys["other"] = _issue(slipway, b, "admin")
    for k in keys.values():
        _wait_known(slipway, k["key"], k["org"])
    return {"org": a, "other_org": b, "project": project, "registry": reg,
            "component": comp, "deployment": dep, "execution": ex,
            "image": image, "keys": keys}


def _routes(slipway, t):
    """(name, weakest role, make) where make() returns (method, url, body,
    success statuses) for one fresh call."""
    org, comp, reg = t["org"], t["component"]["id"], t["registry"]["id"]
    dep, ex = t["deployment"]["id"], t["execution"]["id"]
    reg_url = lambda p="": slipway.url(  # noqa: E731
        "registry-svc", "/v1/orgs/%s/registries%s" % (org, p))
    comp_url = lambda p="": slipway.url(  # noqa: E731
        "component-svc", "/v1/components/%s%s" % (comp, p))
    dep_url = lambda p: slipway.url("deploy-svc", p)  # noqa: E731

    def new_registry():
        return ("POST", reg_url(), {"name": unique("r"), "auth_type":
                                    "anonymous", "host": "%s.example.com" %
                                    unique("h")}, {201})

    def delete_registry():
        status, r = api("POST", reg_url(), new_registry()[2])
        assert status == 201, r
        return ("DELETE", reg_url("/" + r["id"]), None, {204})

    def new_component():
        return ("POST", slipway.url(
            "component-svc", "/v1/orgs/%s/projects/%s/components" %
            (org, t["project"])), {"name": unique("c"), "type": "manual-task",
                                   "registry_id": reg, "image": t["image"]},
            {201})

    def revoke_token():
        status, tok = api("POST", comp_url("/tokens"), {"name": unique("t")})
        assert status == 201, tok
        slipway.secrets.add(tok["token"])
        return ("DELETE", comp_url("/tokens/" + tok["id"]), None, {204})

    return [
        ("list registries", "viewer", lambda: ("GET", reg_url(), None, {200})),
        ("get registry", "viewer",
         lambda: ("GET", reg_url("/" + reg), None, {200})),
        ("create registry", "admin", new_registry),
        ("delete registry", "admin", delete_registry),
        ("test registry", "deployer",
         lambda: ("POST", reg_url("/%s/test" % reg), None, {200})),
        ("list components", "viewer", lambda: ("GET", slipway.url(
            "component-svc", "/v1/orgs/%s/projects/%s/components" %
            (org, t["project"])), None, {200})),
        ("create component", "admin", new_component),
        ("get component", "viewer", lambda: ("GET", comp_url(), None, {200})),
        ("update component", "admin",
         lambda: ("PATCH", comp_url(), {"description": unique("d")}, {200})),
        ("create token", "deployer",
         lambda: ("POST", comp_url("/tokens"), {"name": unique("t")}, {201})),
        ("list tokens", "viewer",
         lambda: ("GET", comp_url("/tokens"), None, {200})),
        ("revoke token", "deployer", revoke_token),
        ("list environments", "viewer", lambda: ("GET", dep_url(
            "/v1/orgs/%s/environments" % org), None, {200})),
        ("bind environment", "admin", lambda: ("POST", dep_url(
            "/v1/orgs/%s/environments" % org), {"name": "staging",
                                                "dataplane": slipway.dataplane,
                                                "position": 2}, {200, 201})),
        ("list deployments", "viewer", lambda: ("GET", dep_url(
            "/v1/components/%s/deployments" % comp), None, {200})),
        ("deploy", "deployer", lambda: ("POST", dep_url(
            "/v1/components/%s/deployments" % comp),
            {"environment": "development", "image": t["image"]}, {202})),
        ("get deployment", "viewer", lambda: ("GET", dep_url(
            "/v1/deployments/" + dep), None, {200})),
        ("promote", "deployer", lambda: ("POST", dep_url(
            "/v1/deployments/%s/promote" % dep), {"to": "production"}, {202})),
        ("run", "deployer", lambda: ("POST", dep_url(
            "/v1/components/%s/executions" % comp),
            {"environment": "development"}, {202})),
        ("list executions", "viewer", lambda: ("GET", dep_url(
            "/v1/components/%s/executions" % comp), None, {200})),
        ("get execution", "viewer", lambda: ("GET", dep_url(
            "/v1/executions/" + ex), None, {200})),
    ]


def _call(make, token):
    method, url, body, ok = make()
    status, resp = api(method, url, body, token=token)
    return status, resp, ok


def test_every_route_enforces_org_and_role(slipway, tenant):
    keys = tenant["keys"]
    rank = {r: i for i, r in enumerate(ROLES)}
    problems = []
    for name, least, make in _routes(slipway, tenant):
        # Another org's admin key finds nothing, whatever the route.
        status, resp, _ = _call(make, keys["other"]["key"])
        if status != 404 or error_code(resp) != "not_found":
            problems.append("%s with org B's key: %s %r" % (name, status, resp))
        for role in ROLES:
            status, resp, ok = _call(make, keys[role]["key"])
            if rank[role] >= rank[least]:
                if status not in ok:
                    problems.append("%s as %s: %s %r" % (name, role, status,
                                                         resp))
            elif status != 403 or error_code(resp) != "forbidden":
                problems.append("%s as %s: %s %r, wanted 403" % (
                    name, role, status, resp))
        # The operator may do everything.
        status, resp, ok = _call(make, slipway.admin_token)
        if status not in ok:
            problems.append("%s as operator: %s %r" % (name, status, resp))
    assert not problems, "\n".join(problems)


def test_platform_routes_are_the_operators(slipway, tenant):
    org = tenant["org"]
    admin = tenant["keys"]["admin"]["key"]
    for method, path, body in (
            ("GET", "/v1/dataplanes", None),
            ("POST", "/v1/dataplanes", {"name": unique("dp"),
                                        "public_key": "x", "shared": True}),
            ("GET", "/v1/orgs/%s/keys" % org, None),
            ("POST", "/v1/orgs/%s/keys" % org, {"name": "x", "role": "admin"})):
        status, resp = api(method, slipway.url("deploy-svc", path), body,
                           token=admin)
        assert status == 403 and error_code(resp) == "forbidden", \
            (method, path, status, resp)


def test_keys_are_listed_without_secrets_and_validated(slipway, tenant):
    org = tenant["org"]
    url = slipway.url("deploy-svc", "/v1/orgs/%s/keys" % org)
    status, body = api("GET", url)
    assert status == 200, body
    ids = {k["id"] for k in body["keys"]}
    assert {tenant["keys"][r]["id"] for r in ROLES} <= ids, body
    for k in body["keys"]:
        assert "key" not in k and "key_hash" not in k, k
        assert set(k) >= {"id", "org", "name", "role", "prefix", "created_at",
                          "revoked_at"}, k
    for bad, status_want in (({"name": "x", "role": "owner"}, 422),
                             ({"name": "x"}, 422),
                             ({"name": "x", "role": "admin", "extra": 1}, 400),
                             ({"name": "", "role": "admin"}, 422)):
        status, resp = api("POST", url, bad)
        assert status == status_want, (bad, status, resp)


def test_bad_and_revoked_keys_are_refused_everywhere(slipway, tenant):
    org = tenant["org"]
    urls = [slipway.url("registry-svc", "/v1/orgs/%s/registries" % org),
            slipway.url("component-svc", "/v1/components/%s" %
                        tenant["component"]["id"]),
            slipway.url("deploy-svc", "/v1/deployments/%s" %
                        tenant["deployment"]["id"])]
    forged = "slk_" + "A" * 38
    for url in urls:
        for token in (None, forged, "slk_nope", "Basic abc"):
            status, resp = api("GET", url, token=token)
            assert status == 401 and error_code(resp) == "unauthorized", \
                (url, token, status, resp)

    key = _issue(slipway, org, "viewer")
    _wait_known(slipway, key["key"], org)
    for url in urls:
        assert api("GET", url, token=key["key"])[0] == 200, url
    status, _ = api("DELETE", slipway.url(
        "deploy-svc", "/v1/orgs/%s/keys/%s" % (org, key["id"])))
    assert status == 204
    revoked_at = time.monotonic()
    for url in urls:
        while api("GET", url, token=key["key"])[0] != 401:
            assert time.monotonic() - revoked_at < 1.0, \
                "%s still accepts a revoked key" % url
            time.sleep(0.02)
    # Revoking twice is fine; another org's key id is not found.
    assert api("DELETE", slipway.url("deploy-svc", "/v1/orgs/%s/keys/%s" % (
        org, key["id"])))[0] == 204
    status, resp = api("DELETE", slipway.url(
        "deploy-svc", "/v1/orgs/%s/keys/%s" % (tenant["other_org"],
                                              tenant["keys"]["admin"]["id"])))
    assert status == 404, resp


def test_a_viewer_uses_the_cli(slipway, tenant):
    viewer = tenant["keys"]["viewer"]["key"]
    rc, out, err = slipway.cli("deployments", tenant["component"]["id"],
                               env={"SLIPWAY_API_KEY": viewer})
    assert rc == 0 and tenant["deployment"]["id"] in out, (rc, out, err)
    rc, out, err = slipway.cli("run", tenant["component"]["id"], "--env",
                               "development", env={"SLIPWAY_API_KEY": viewer})
    assert rc == 1 and "forbidden" in err, (rc, out, err)
    rc, out, err = slipway.cli("key", "list", tenant["org"])
    assert rc == 0 and tenant["keys"]["viewer"]["id"] in out, (rc, out, err)
