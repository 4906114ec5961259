"""Scenario 4: malformed JSON, oversized bodies and wrong media types get
the right status with a JSON error, from a caller with a valid token."""

import json

from slipway_harness import error_code, raw_http


def _post(slipway, token, body, ctype="application/json"):
    return raw_http(slipway.ports["webhook-ingress"], "POST",
                    "/v1/hooks/deploy",
                    {"Authorization": "Bearer " + token,
                     "Content-Type": ctype}, body)


def test_bad_request_bodies(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    token = slipway.create_token(comp["id"])["token"]

    status, body, _ = _post(slipway, token, b'{"image": ')
    assert status == 400, body
    assert error_code(body) == "malformed_json", body

    status, body, _ = _post(slipway, token, b'["not", "an", "object"]')
    assert status == 400, body

    big = json.dumps({"image": slipway.env["SLIPWAY_DEMO_IMAGE"],
                      "pad": "x" * (1024 * 1024 + 1)}).encode()
    status, body, head = _post(slipway, token, big)
    assert status == 413, head
    assert error_code(body) == "body_too_large", (head, body)

    status, body, _ = _post(slipway, token,
                            b'{"image": "%s"}' %
                            slipway.env["SLIPWAY_DEMO_IMAGE"].encode(),
                            ctype="text/plain")
    assert status == 415, body
    assert error_code(body), "415 without a JSON error: %r" % body

    status, body, _ = _post(slipway, token, b'{}')
    assert status == 400 and error_code(body) == "invalid_request", body

    assert slipway.deployments(comp["id"]) == []
