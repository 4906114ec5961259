"""Scenario 6: a registry registered with a wrong password: the webhook
accepts the push, and the deployment fails with a clear reason."""


def test_wrong_registry_password_fails_deployment(slipway, org, project,
                                                  app_ports):
    reg = slipway.create_registry(org, auth_type="basic",
                                  password="definitely-wrong")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    tok = slipway.create_token(comp["id"])

    status, body = slipway.hook(tok["token"],
                                {"image": slipway.env["SLIPWAY_DEMO_IMAGE"]})
    assert status == 202, body
    dep = slipway.wait_deployment(body["request_id"], "failed", timeout=90)
    assert "unauthorized" in (dep.get("reason") or ""), dep
    assert "definitely-wrong" not in str(dep), "the password leaked: %r" % dep
