"""Data planes belong to orgs: one is registered for named orgs (or shared),
an org's environments bind only a data plane granted to it, and a registry's
credentials reach only the data planes that serve an environment of its org
(sealed when the binding appears, tombstoned when it goes). What a data plane
receives is read from its agent's log: one line per credential stored or
removed, with the registry id."""

import base64
import json
import os
import subprocess
import time

import slipway_harness as sh
from slipway_harness import api, error_code


def _key():
    return base64.b64encode(os.urandom(32)).decode()


def _agent_lines(agent):
    """The agent's JSON log lines as dicts (others skipped)."""
    out = []
    try:
        text = agent.log.read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _stored_hosts(agent):
    hosts = []
    for ln in _agent_lines(agent):
        msg = ln.get("msg", "")
        if msg.startswith("registry credentials stored (host "):
            hosts.append(msg.split("(host ", 1)[1].split(",", 1)[0])
    return hosts


def _removed_ids(agent):
    return {ln.get("registry_id") for ln in _agent_lines(agent)
            if ln.get("msg") == "registry credentials removed"}


def _wait(what, pred, timeout=30):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _credential_keys(slipway, kafka_probe, dataplane, user):
    """The registry ids on a data plane's credentials topic, read from the
    bus as user (its agent's principal), or None when refused."""
    env = slipway.kafka_tool_env(user, password=slipway.kafka_password(user))
    r = subprocess.run([kafka_probe, "consume",
                        slipway.env["SLIPWAY_KAFKA_BROKERS"],
                        "slipway.dataplane.%s.credentials" % dataplane],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    lines = [json.loads(ln) for ln in r.stdout.decode().splitlines() if ln]
    if r.returncode != 0:
        assert lines and lines[-1]["error"] == "TOPIC_AUTHORIZATION_FAILED", \
            (r.returncode, lines, r.stderr.decode(errors="replace")[-1000:])
        return None
    return {ln["key"] for ln in lines[:-1]}


def _bind(slipway, org, dataplane, name="development", position=0):
    return api("POST", slipway.url(
        "deploy-svc", "/v1/orgs/%s/environments" % org),
        {"name": name, "dataplane": dataplane, "position": position})


def test_dataplane_grants_are_validated(slipway, org):
    url = slipway.url("deploy-svc", "/v1/dataplanes")
    name = sh.unique("grants")
    # A new data plane needs its orgs or shared.
    status, body = api("POST", url, {"name": name, "public_key": _key()})
    assert status == 422 and error_code(body) == "dataplane_grant_required", \
        body
    for bad, field in (({"orgs": [org], "shared": True}, "orgs"),
                       ({"orgs": []}, "orgs"), ({"orgs": "acme"}, "orgs"),
                       ({"orgs": ["bad org"]}, "orgs"),
                       ({"orgs": [org, org]}, "orgs"),
                       ({"orgs": ["o%d" % i for i in range(101)]}, "orgs"),
                       ({"shared": "yes"}, "shared"),
                       ({"shared": False}, "shared")):
        b = {"name": name, "public_key": _key()}
        b.update(bad)
        status, body = api("POST", url, b)
        assert status == 400 and body["error"]["field"] == field, (bad, body)
    key = _key()
    status, body = api("POST", url, {"name": name, "public_key": key,
                                     "orgs": [org]})
    assert status == 201, body
    assert body["orgs"] == [org] and body["shared"] is False, body
    # Again with the same key and no grant: the grant stays.
    status, body = api("POST", url, {"name": name, "public_key": key})
    assert status == 200 and body["orgs"] == [org], body
    status, body = api("GET", url)
    mine = {d["name"]: d for d in body["dataplanes"]}[name]
    assert mine["orgs"] == [org] and mine["shared"] is False, mine
    # An environment of the org binds it; then the grant cannot drop the org.
    status, body = _bind(slipway, org, name)
    assert status == 201, body
    other = sh.unique("org")
    status, body = api("POST", url, {"name": name, "public_key": key,
                                     "orgs": [other]})
    assert status == 409 and error_code(body) == "dataplane_in_use", body
    # Widening it is fine.
    status, body = api("POST", url, {"name": name, "public_key": key,
                                     "orgs": [other, org]})
    assert status == 200 and body["orgs"] == sorted([other, org]), body


def test_registry_sealed_only_to_dataplanes_of_its_org(slipway, app_ports,
                                                      kafka_probe):
    org_a, org_b = sh.unique("orga"), sh.unique("orgb")
    tag = os.urandom(4).hex()
    host_a, host_b = "a-%s.example" % tag, "b-%s.example" % tag
    host_b2 = "b2-%s.example" % tag
    agent = slipway.extra_agent(app_ports.take(), orgs=[org_b])
    try:
        agent.start()
        # Org A may not bind a data plane granted only to org B.
        status, body = _bind(slipway, org_a, agent.name)
        assert status == 422 and error_code(body) == \
            "dataplane_not_granted", body
        reg_a = slipway.create_registry(org_a, auth_type="anonymous",
                                        host=host_a)
        reg_b = slipway.create_registry(org_b, auth_type="anonymous",
                                        host=host_b)
        # No environment of org B binds it yet: nothing sealed to it.
        time.sleep(2)
        assert _stored_hosts(agent) == [], _stored_hosts(agent)
        # The binding appears: org B's registry is sealed to it.
        status, body = _bind(slipway, org_b, agent.name)
        assert status == 201, body
        _wait("org B's registry never reached its data plane",
              lambda: host_b in _stored_hosts(agent))
        # A registry created later goes to the data planes serving its org.
        reg_b2 = slipway.create_registry(org_b, auth_type="anonymous",
                                         host=host_b2)
        _wait("org B's new registry never reached its data plane",
              lambda: host_b2 in _stored_hosts(agent))
        assert host_a not in _stored_hosts(agent), _stored_hosts(agent)
        # Org A's registry is sealed to the shared data plane once an
        # environment of A binds it: then it is on the bus, but not where
        # org B's data plane may read.
        status, body = _bind(slipway, org_a, slipway.dataplane)
        assert status == 201, body
        me = "agent-" + agent.name
        _wait("org A's registry never reached the shared data plane",
              lambda: reg_a["id"] in _credential_keys(
                  slipway, kafka_probe, slipway.dataplane, "admin"))
        # Read with the agent's own principal: its topic holds org B's
        # registries and never org A's; the shared one's is refused to it.
        keys = _credential_keys(slipway, kafka_probe, agent.name, me)
        assert {reg_b["id"], reg_b2["id"]} <= keys, keys
        assert reg_a["id"] not in keys, keys
        assert _credential_keys(slipway, kafka_probe, slipway.dataplane,
                                me) is None
        # The last environment of org B moves to the shared data plane: its
        # registries are withdrawn from this one.
        status, body = _bind(slipway, org_b, slipway.dataplane)
        assert status == 201, body
        _wait("org B's registries were not withdrawn",
              lambda: {reg_b["id"], reg_b2["id"]} <= _removed_ids(agent))
        assert reg_a["id"] not in _removed_ids(agent)
        assert host_a not in _stored_hosts(agent), _stored_hosts(agent)
    finally:
        rc = agent.stop()
    assert rc == 0, "agent exited with %r:\n%s" % (rc, agent.tail())
    report = agent.sanitizer_report()
    assert report is None, report


def test_first_deploy_needs_the_default_dataplane_granted(slipway, org,
                                                         project, app_ports):
    # A deploy-svc whose default data plane serves another org only: an org
    # without environments gets none, and its deployment is refused.
    name = sh.unique("dp")
    status, body = api("POST", slipway.url("deploy-svc", "/v1/dataplanes"),
                       {"name": name, "public_key": _key(),
                        "orgs": [sh.unique("org")]})
    assert status == 201, body
    extra = slipway.extra_service("deploy-svc", app_ports.take(),
                                  SLIPWAY_DEFAULT_DATAPLANE=name)
    try:
        extra.start()
        reg = slipway.create_registry(org, auth_type="basic")
        comp = slipway.create_component(org, project, reg["id"],
                                        port=app_ports.take())
        deadline = time.monotonic() + 30
        while True:
            status, body = api("POST", extra.url(
                "/v1/components/%s/deployments" % comp["id"]),
                {"environment": "development", "tag": "v1"})
            if status != 404 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 422 and error_code(body) == \
            "dataplane_not_granted", body
        status, body = api("GET", slipway.url(
            "deploy-svc", "/v1/orgs/%s/environments" % org))
        assert status == 200 and body["environments"] == [], body
    finally:
        rc = extra.stop()
    assert rc == 0, "deploy-svc exited with %r:\n%s" % (rc, extra.tail())
