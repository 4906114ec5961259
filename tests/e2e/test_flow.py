"""Scenario 1: the whole webhook flow, from a registry with basic auth to a
running container answering HTTP, then a tag update that supersedes it."""

import re

from slipway_harness import wait_text


def test_webhook_deploys_then_tag_update_supersedes(slipway, org, project,
                                                     app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    assert "password" not in reg, "a secret came back: %r" % reg
    port = app_ports.take()
    comp = slipway.create_component(org, project, reg["id"], port=port)
    assert comp["endpoints"][0]["port"] == port
    tok = slipway.create_token(comp["id"])
    assert tok["token"].startswith("slp_")

    image = slipway.env["SLIPWAY_DEMO_IMAGE"]
    status, body = slipway.hook(tok["token"], {"image": image})
    assert status == 202, body
    for key in ("request_id", "component_id", "image", "status_url"):
        assert key in body, "202 lacks %s: %r" % (key, body)
    assert body["component_id"] == comp["id"]
    assert body["image"] == image
    assert body["status_url"].endswith("/v1/deployments/" + body["request_id"])

    first = slipway.wait_deployment(body["request_id"], "running", timeout=90)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", first["digest"] or ""), first
    assert first["component_id"] == comp["id"]
    assert first["environment"] == "development"
    app = slipway.app_url(org, project, comp["name"])
    assert "hello from slipway demo v1" in wait_text(app, "demo v1")

    status, body2 = slipway.hook(tok["token"], {"tag": "v2"})
    assert status == 202, body2
    assert body2["image"].endswith(":v2"), body2
    assert body2["request_id"] != body["request_id"]
    second = slipway.wait_deployment(body2["request_id"], "running",
                                     timeout=90)
    assert second["digest"] != first["digest"], (first, second)
    assert "hello from slipway demo v2" in wait_text(app, "demo v2")
    slipway.wait_deployment(body["request_id"], "superseded", timeout=30)

    # On the data plane, once the old version's drain is over: one
    # container for the component, the new one.
    (c,) = slipway.wait_containers(comp["id"], [body2["request_id"]])
    assert [n.lstrip("/") for n in c["Names"]] == [
        "slipway-%s-development-%s" % (comp["id"], body2["request_id"])], \
        c["Names"]
    assert c["Labels"].get("slipway.deployment") == body2["request_id"], c
    assert c["Labels"].get("slipway.managed") == "true", c

    history = slipway.deployments(comp["id"])
    assert [d["id"] for d in history] == [body2["request_id"],
                                          body["request_id"]], history
