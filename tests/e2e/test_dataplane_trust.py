"""Data planes are trusted for what is theirs only: a registered name keeps
its key unless the operator rotates it on purpose, and a status report is
accepted only from the data plane the deployment went to."""

import base64
import os
import subprocess
import time

from slipway_harness import api, error_code


def _key():
    return base64.b64encode(os.urandom(32)).decode()


def test_dataplane_key_is_not_replaced_without_rotate(slipway):
    url = slipway.url("deploy-svc", "/v1/dataplanes")
    name = "trust-%s" % os.urandom(4).hex()
    first, second = _key(), _key()
    status, body = api("POST", url, {"name": name, "public_key": first,
                                     "shared": True})
    assert status == 201, body
    # The same key again: an idempotent retry.
    status, body = api("POST", url, {"name": name, "public_key": first})
    assert status == 200, body
    # Another key: refused, the first one stays.
    status, body = api("POST", url, {"name": name, "public_key": second})
    assert status == 409 and error_code(body) == "dataplane_exists", body
    status, body = api("GET", url)
    assert {d["name"]: d["public_key"] for d in body["dataplanes"]}[name] == \
        first, body
    # An explicit rotation replaces it, and the log says so.
    status, body = api("POST", url, {"name": name, "public_key": second,
                                     "rotate": True})
    assert status == 200, body
    status, body = api("GET", url)
    assert {d["name"]: d["public_key"] for d in body["dataplanes"]}[name] == \
        second, body
    assert "data plane %s key ROTATED" % name in \
        slipway.log_path("deploy-svc").read_text()
    status, body = api("POST", url, {"name": name, "public_key": first,
                                     "rotate": "yes"})
    assert status == 400, body


def test_status_report_from_another_dataplane_is_refused(slipway, org,
                                                         project, app_ports,
                                                         produce_dup):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    status, dep = api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/deployments" % comp["id"]),
        {"environment": "development", "tag": "v1"})
    assert status == 202, dep
    slipway.wait_deployment(dep["id"], "running", timeout=90)
    # A newer "crashed" would move a running deployment, but only from the
    # data plane it runs on (8 = DEPLOYMENT_STATE_CRASHED).
    r = subprocess.run([produce_dup, "--status",
                        slipway.env["SLIPWAY_KAFKA_BROKERS"], org, dep["id"],
                        comp["id"], "development", "intruder", "8"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60, env=slipway.kafka_tool_env())
    assert r.returncode == 0, r.stdout
    deadline = time.monotonic() + 20
    log = ""
    # The log is JSON: the quotes around the name are escaped.
    while 'rejected: report from data plane \\"intruder\\"' not in log:
        assert time.monotonic() < deadline, "forged report not refused"
        time.sleep(0.2)
        log = slipway.log_path("deploy-svc").read_text()
    status, body = slipway.get_deployment(dep["id"])
    assert body["status"] == "running" and body["restarts"] == 0, body
