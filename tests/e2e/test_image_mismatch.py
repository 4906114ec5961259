"""Scenario 3: an image on another registry host is refused with 422."""

import time

from slipway_harness import error_code


def test_image_on_other_registry_is_refused(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    tok = slipway.create_token(comp["id"])

    status, body = slipway.hook(tok["token"],
                                {"image": "ghcr.io/acme/api:1.4.2"})
    assert status == 422, body
    assert error_code(body) == "image_registry_mismatch", body
    assert body["error"].get("field") == "image", body

    time.sleep(1.5)
    assert slipway.deployments(comp["id"]) == []
