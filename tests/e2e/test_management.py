"""Scenario 7: the management APIs need the admin key, and a registry with
a bad host or a missing password is refused and not stored."""

from slipway_harness import api, error_code


def test_management_api_needs_admin_key(slipway, org):
    urls = [
        slipway.url("registry-svc", "/v1/orgs/%s/registries" % org),
        slipway.url("component-svc", "/v1/orgs/%s/projects/p/components" % org),
        slipway.url("deploy-svc", "/v1/dataplanes"),
    ]
    for url in urls:
        for token in (None, "wrong-admin-key"):
            status, body = api("GET", url, token=token)
            assert status == 401, "%s with %r: %s %r" % (url, token, status,
                                                         body)
            assert error_code(body), body
    status, body = api("POST", urls[0], {"name": "x", "host": "a.example",
                                         "auth_type": "anonymous"}, token=None)
    assert status == 401, body
    status, body = api("GET", urls[0])
    assert status == 200 and body["registries"] == [], body


def test_invalid_registries_are_refused_and_not_stored(slipway, org):
    url = slipway.url("registry-svc", "/v1/orgs/%s/registries" % org)
    bad = [
        {"name": "bad-host", "host": "not a host!", "auth_type": "anonymous"},
        {"name": "scheme", "host": "https://a.example/x",
         "auth_type": "anonymous"},
        {"name": "no-password", "host": "a.example", "auth_type": "basic",
         "username": "u"},
        {"name": "bad-type", "host": "a.example", "auth_type": "magic"},
    ]
    for reg in bad:
        status, body = api("POST", url, reg)
        assert status in (400, 422), "%s: %s %r" % (reg["name"], status, body)
        assert error_code(body), body
    status, body = api("GET", url)
    assert status == 200 and body["registries"] == [], body
