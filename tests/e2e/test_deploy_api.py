"""The three ways to deploy from the management API (no webhook): update the
tag, update the whole image URL, redeploy a previous deployment's image."""

from slipway_harness import api, error_code, wait_text


def _deploy(slipway, component_id, body):
    return api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/deployments" % component_id), body)


def test_tag_image_and_previous_deployments(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    port = app_ports.take()
    comp = slipway.create_component(org, project, reg["id"], port=port)
    app = slipway.app_url(org, project, comp["name"])
    host = slipway.env["SLIPWAY_REGISTRY_HOST"]

    # 1. By tag: the component's repository with the new tag.
    status, v2 = _deploy(slipway, comp["id"], {"environment": "development",
                                               "tag": "v2"})
    assert status == 202, v2
    assert v2["image"] == "%s/demo/hello:v2" % host, v2
    v2 = slipway.wait_deployment(v2["id"], "running", timeout=90)
    assert "demo v2" in wait_text(app, "demo v2")

    # 2. By whole image URL, on the same registry.
    status, v1 = _deploy(slipway, comp["id"], {
        "environment": "development", "image": "%s/demo/hello:v1" % host})
    assert status == 202, v1
    v1 = slipway.wait_deployment(v1["id"], "running", timeout=90)
    assert "demo v1" in wait_text(app, "demo v1")
    slipway.wait_deployment(v2["id"], "superseded", timeout=30)

    # 3. Redeploy a previous deployment: the same image, pinned by digest.
    status, again = _deploy(slipway, comp["id"], {
        "environment": "development", "from_deployment": v2["id"]})
    assert status == 202, again
    again = slipway.wait_deployment(again["id"], "running", timeout=90)
    assert again["digest"] == v2["digest"], (again, v2)
    assert "demo v2" in wait_text(app, "demo v2")

    history = slipway.deployments(comp["id"])
    assert [d["id"] for d in history] == [again["id"], v1["id"], v2["id"]]
    assert [d["source"] for d in history] == ["api"] * 3, history

    # 4. Promote to production: the same digest, not resolved again; the
    # development deployment keeps running beside it.
    status, prod = api("POST", slipway.url(
        "deploy-svc", "/v1/deployments/%s/promote" % again["id"]),
        {"to": "production"})
    assert status == 202, prod
    assert prod["environment"] == "production", prod
    prod = slipway.wait_deployment(prod["id"], "running", timeout=90)
    assert prod["digest"] == again["digest"], (prod, again)
    prod_app = slipway.app_url(org, project, comp["name"], "production")
    assert "demo v2" in wait_text(prod_app, "demo v2")
    assert prod["endpoints"][0]["url"] == prod_app, prod
    assert slipway.get_deployment(again["id"])[1]["status"] == "running"


def test_bad_deploy_requests_change_nothing(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    cases = [
        ({"environment": "development"}, 400),                    # no option
        ({"environment": "development", "tag": "v1",
          "image": "x/y:z"}, 400),                                  # two options
        ({"environment": "development", "tag": "bad tag!"}, 422),
        ({"environment": "development",
          "image": "ghcr.io/acme/other:1"}, 422),                   # other registry
        ({"environment": "nowhere", "tag": "v1"}, 422),
        ({"environment": "development",
          "from_deployment": "00000000-0000-4000-8000-000000000000"}, 422),
    ]
    for body, want in cases:
        status, resp = _deploy(slipway, comp["id"], body)
        assert status == want, (body, status, resp)
        assert error_code(resp), (body, resp)
    assert slipway.deployments(comp["id"]) == []
