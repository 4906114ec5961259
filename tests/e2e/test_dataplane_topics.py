"""A data plane's topics are created off the event loops (ARCHITECTURE.md
§9): registering one while the broker does not answer is still recorded
and answered (the Kafka admin call used to block POST /v1/dataplanes for
its 10 s timeout and then refuse it), and once the broker is back its
topics appear: its agent gets its credentials and its commands, and a
deployment to it runs."""

import json
import os
import signal
import subprocess
import time

import slipway_harness as sh
from slipway_harness import api


def _keygen(slipway, name):
    key = slipway.state / ("%s.key" % name)
    r = subprocess.run([str(slipway.bin / "dataplane-agent"), "keygen",
                        "--out", str(key)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return key, json.loads(key.read_text())["public_key"]


def _component_after_resume(slipway, org, project, registry_id, port,
                            timeout=90):
    """Creates the component once component-svc has learnt the registry.
    Its consumers reconnect to the resumed broker on their own time (a
    stopped broker looks dead to them, and librdkafka backs off), which can
    outlast component-svc's 3 s wait for a registry: until then the answer
    is 422 unknown_registry, as a user would see it, so ask again."""
    body = {"name": sh.unique("comp"), "description": "e2e",
            "type": "service", "registry_id": registry_id,
            "image": slipway.env["SLIPWAY_DEMO_IMAGE"],
            "endpoints": sh.endpoints_yaml(port)}
    url = slipway.url("component-svc", "/v1/orgs/%s/projects/%s/components"
                      % (org, project))
    deadline = time.monotonic() + timeout
    while True:
        status, resp = api("POST", url, body)
        if status == 201:
            return resp
        assert status == 422 and sh.error_code(resp) == "unknown_registry" \
            and time.monotonic() < deadline, (status, resp)
        time.sleep(0.5)


def test_registration_while_broker_is_held(slipway, org, project, app_ports):
    name = sh.unique("dp")
    key, public = _keygen(slipway, name)
    principal = slipway.kafka_principal(name)
    pid = slipway.kafka_pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        status, body = api("POST", slipway.url("deploy-svc", "/v1/dataplanes"),
                           {"name": name, "public_key": public,
                            "orgs": [org]}, timeout=30)
        # The record does not wait for Kafka either.
        status2, listed = api("GET", slipway.url("deploy-svc",
                                                 "/v1/dataplanes"), timeout=30)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert status == 201, body
    assert status2 == 200 and name in {d["name"] for d in
                                       listed["dataplanes"]}, listed
    slipway.kafka_acl("--dataplane", name)
    env = dict(principal)
    env.update({"SLIPWAY_DATAPLANE": name,
                "SLIPWAY_DATAPLANE_KEY_FILE": str(key),
                "SLIPWAY_AGENT_STATE_DIR": str(slipway.state /
                                               ("agent-" + name)),
                "SLIPWAY_GATEWAY_SOCKET": ""})
    agent = slipway.extra_service("dataplane-agent", app_ports.take(), **env)
    agent.log = slipway.state / "logs" / ("dataplane-agent-%s.log" % name)
    try:
        agent.start()
        status, body = api("POST", slipway.url(
            "deploy-svc", "/v1/orgs/%s/environments" % org),
            {"name": "development", "dataplane": name, "position": 0})
        assert status == 201, body
        reg = slipway.create_registry(org, auth_type="basic")
        comp = _component_after_resume(slipway, org, project, reg["id"],
                                       app_ports.take())
        tok = slipway.create_token(comp["id"])
        status, body = slipway.hook(tok["token"], {"tag": "v1"})
        assert status == 202, body
        dep = slipway.wait_deployment(body["request_id"], "running",
                                      timeout=120)
        assert dep["dataplane"] == name, dep
    finally:
        rc = agent.stop()
    assert rc == 0, "agent exited with %r:\n%s" % (rc, agent.tail())
    report = agent.sanitizer_report()
    assert report is None, report
