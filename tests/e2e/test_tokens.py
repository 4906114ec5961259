"""Scenario 2: every kind of bad CI token is a 401 with a JSON error code,
and none of them deploys anything."""

import time

from slipway_harness import error_code, forge_token


def test_bad_tokens_are_refused_and_deploy_nothing(slipway, org, project,
                                                   app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    revoked = slipway.create_token(comp["id"], name="to-revoke")
    slipway.revoke_token(comp["id"], revoked["id"])
    image = {"image": slipway.env["SLIPWAY_DEMO_IMAGE"]}

    status, body = slipway.hook(None, image)
    assert status == 401 and error_code(body) == "missing_token", body

    cases = {
        "malformed": "not-a-token",
        "bad checksum": revoked["token"][:-1] +
        ("A" if revoked["token"][-1] != "A" else "B"),
        "unknown (valid checksum)": forge_token(),
        "revoked": revoked["token"],
    }
    for what, token in cases.items():
        status, body = slipway.hook(token, image)
        assert status == 401, "%s token: %s %r" % (what, status, body)
        assert error_code(body) == "invalid_token", "%s: %r" % (what, body)

    status, _ = slipway.hook(None, image, headers={"Authorization": "Basic eDp5"})
    assert status == 401

    time.sleep(1.5)   # an event that leaked through would show up by now
    assert slipway.deployments(comp["id"]) == []
