"""Scenario 5: the same ImagePushed delivered twice makes one deployment,
whether the CI retries with an Idempotency-Key or the bus redelivers."""

import subprocess
import time
import uuid


def test_idempotency_key_gives_one_deployment(slipway, org, project,
                                              app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    tok = slipway.create_token(comp["id"])
    key = {"Idempotency-Key": "ci-run-" + uuid.uuid4().hex}
    body = {"image": slipway.env["SLIPWAY_DEMO_IMAGE"]}

    s1, r1 = slipway.hook(tok["token"], body, headers=key)
    s2, r2 = slipway.hook(tok["token"], body, headers=key)
    assert s1 == 202 and s2 == 202, (r1, r2)
    assert r1 == r2, "a retry must get the same answer: %r %r" % (r1, r2)

    slipway.wait_deployment(r1["request_id"], "running", timeout=90)
    time.sleep(1)
    ids = [d["id"] for d in slipway.deployments(comp["id"])]
    assert ids == [r1["request_id"]], ids


def test_duplicate_bus_delivery_gives_one_deployment(slipway, org, project,
                                                     app_ports, produce_dup):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    request_id = str(uuid.uuid4())
    r = subprocess.run([produce_dup, slipway.env["SLIPWAY_KAFKA_BROKERS"], org,
                        comp["id"], slipway.env["SLIPWAY_DEMO_IMAGE"],
                        request_id], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60,
                       env=slipway.kafka_tool_env())
    assert r.returncode == 0, r.stdout.decode(errors="replace")

    slipway.wait_deployment(request_id, "running", timeout=90)
    time.sleep(1.5)
    ids = [d["id"] for d in slipway.deployments(comp["id"])]
    assert ids == [request_id], ids

    # The copy must have been skipped, not left failing: a consumer stuck
    # retrying it would block the next push on the same partition (same key).
    tok = slipway.create_token(comp["id"])
    status, body = slipway.hook(tok["token"], {"tag": "v2"})
    assert status == 202, body
    slipway.wait_deployment(body["request_id"], "running", timeout=90)
    slipway.wait_deployment(request_id, "superseded", timeout=30)
