"""deploy-svc drains a backlog in batches (one transaction per batch):
a few thousand ImagePushed, with the same event delivered twice, producer
retries of a request under a new event id and many events per component
interleaved, become exactly one deployment per request; the newest of each
component is the one requested last; a kill -9 in the middle of the drain
loses none and doubles none.

The components' environment sits on a data plane no agent serves, so the
deployments stay pending: what is measured is deploy-svc alone."""

import base64
import os
import random
import subprocess
import time
import uuid

import pytest

import slipway_harness as sh
from conftest import _build_tool
from slipway_harness import api

COMPONENTS = 24
EVENTS = 3000


@pytest.fixture(scope="module")
def produce_many(slipway):
    return _build_tool(slipway, "produce_many")


def _count(slipway, comp_ids):
    ids = ",".join("'%s'" % c for c in comp_ids)
    return int(slipway.psql("SELECT count(*) FROM deploy.deployments WHERE "
                            "component_id IN (%s)" % ids))


def _wait_count(slipway, comp_ids, want, timeout):
    deadline = time.monotonic() + timeout
    n = -1
    while time.monotonic() < deadline:
        n = _count(slipway, comp_ids)
        if n >= want:
            return n
        time.sleep(0.3)
    raise AssertionError("%d of %d deployments after %d s\n%s" % (
        n, want, timeout, slipway.log_tail("deploy-svc")))


def _wait_known(slipway, comp_ids, timeout=60):
    """deploy-svc has learnt every component from component.events."""
    ids = ",".join("'%s'" % c for c in comp_ids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = int(slipway.psql("SELECT count(*) FROM deploy.components WHERE "
                             "id IN (%s)" % ids))
        if n == len(comp_ids):
            return
        time.sleep(0.3)
    raise AssertionError("deploy-svc knows %d of %d components" % (
        n, len(comp_ids)))


def _setup(slipway, org, project):
    """An org bound to an agent-less data plane, and its components."""
    dp = sh.unique("batchdp")
    slipway.register_dataplane(dp, base64.b64encode(os.urandom(32)).decode(),
                               orgs=[org])
    status, body = api("POST", slipway.url(
        "deploy-svc", "/v1/orgs/%s/environments" % org),
        {"name": "development", "dataplane": dp, "position": 0})
    assert status in (200, 201), body
    reg = slipway.create_registry(org, auth_type="basic")
    comps = [slipway.create_component(org, project, reg["id"])
             for _ in range(COMPONENTS)]
    _wait_known(slipway, [c["id"] for c in comps])
    return comps


def _backlog(comps, rng):
    """The lines for produce_many and, per request, what must come of it:
    (lines, request ids, the last requested per component)."""
    lines, requests, last = [], [], {}
    repo = {c["id"]: c["image"].rsplit(":", 1)[0] for c in comps}
    for i in range(EVENTS):
        comp = comps[rng.randrange(len(comps))]["id"]
        req, ev = str(uuid.uuid4()), str(uuid.uuid4())
        line = "%s %s:t%d %s %s" % (comp, repo[comp], i, req, ev)
        lines.append(line)
        requests.append(req)
        last[comp] = req
        if i % 10 == 3:
            lines.append(line)                       # the same event again
        elif i % 10 == 7:
            lines.append("%s %s:t%d %s %s" % (       # a producer retry
                comp, repo[comp], i, req, str(uuid.uuid4())))
    return lines, requests, last


def _produce(slipway, produce_many, org, lines):
    r = subprocess.run([produce_many, slipway.env["SLIPWAY_KAFKA_BROKERS"],
                        org], input="\n".join(lines).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=180, env=slipway.kafka_tool_env())
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    assert int(r.stdout.decode().strip()) == len(lines)


def _check(slipway, comps, requests, last):
    ids = ",".join("'%s'" % c["id"] for c in comps)
    rows = slipway.psql("SELECT id, component_id FROM deploy.deployments "
                        "WHERE component_id IN (%s)" % ids).splitlines()
    got = [r.split("|")[0] for r in rows]
    assert len(got) == len(set(got))
    assert sorted(got) == sorted(requests), \
        "missing %d, unexpected %d" % (len(set(requests) - set(got)),
                                       len(set(got) - set(requests)))
    newest = slipway.psql(
        "SELECT DISTINCT ON (component_id) component_id, id FROM "
        "deploy.deployments WHERE component_id IN (%s) ORDER BY "
        "component_id, created_at DESC" % ids).splitlines()
    newest = dict(r.split("|") for r in newest)
    assert newest == last
    # Every one was recorded, none failed on the way.
    failed = slipway.psql("SELECT count(*) FROM deploy.deployments WHERE "
                          "component_id IN (%s) AND status = 'failed'" % ids)
    assert failed == "0", failed


def test_backlog_drains_once_per_request(slipway, org, project, produce_many):
    comps = _setup(slipway, org, project)
    lines, requests, last = _backlog(comps, random.Random(9))
    slipway.kill_service("deploy-svc")
    try:
        _produce(slipway, produce_many, org, lines)
    finally:
        slipway.restart_service("deploy-svc")
    _wait_count(slipway, [c["id"] for c in comps], len(requests), 240)
    _check(slipway, comps, requests, last)


def test_kill_during_drain_loses_and_doubles_nothing(slipway, org, project,
                                                      produce_many):
    comps = _setup(slipway, org, project)
    comp_ids = [c["id"] for c in comps]
    lines, requests, last = _backlog(comps, random.Random(17))
    slipway.kill_service("deploy-svc")
    try:
        _produce(slipway, produce_many, org, lines)
    finally:
        slipway.restart_service("deploy-svc")
    # Somewhere in the middle of the drain (wherever it is when the
    # count is read: the assertion does not depend on where).
    _wait_count(slipway, comp_ids, len(requests) // 4, 240)
    slipway.kill_service("deploy-svc")
    slipway.restart_service("deploy-svc")
    _wait_count(slipway, comp_ids, len(requests), 240)
    _check(slipway, comps, requests, last)


def test_pushes_before_their_component_in_one_batch(slipway, org, project,
                                                    produce_many):
    """ImagePushed for components deploy-svc has not learnt yet, and their
    ComponentCreated, wait in the same backlog: a push that must wait for
    its component is retried while the rest of its batch (the components)
    commits; none is lost, none doubled."""
    comps = _setup(slipway, org, project)[:2]
    slipway.kill_service("deploy-svc")
    try:
        comps += [slipway.create_component(org, project,
                                           comps[0]["registry_id"])
                  for _ in range(6)]
        repo = {c["id"]: c["image"].rsplit(":", 1)[0] for c in comps}
        lines, requests = [], []
        for i in range(400):
            comp = comps[i % len(comps)]["id"]
            req = str(uuid.uuid4())
            lines.append("%s %s:u%d %s %s" % (comp, repo[comp], i, req,
                                              str(uuid.uuid4())))
            requests.append(req)
        _produce(slipway, produce_many, org, lines)
    finally:
        slipway.restart_service("deploy-svc")
    comp_ids = [c["id"] for c in comps]
    _wait_count(slipway, comp_ids, len(requests), 240)
    ids = ",".join("'%s'" % c for c in comp_ids)
    got = slipway.psql("SELECT id FROM deploy.deployments WHERE component_id "
                       "IN (%s)" % ids).split()
    assert sorted(got) == sorted(requests)
    failed = slipway.psql("SELECT count(*) FROM deploy.deployments WHERE "
                          "component_id IN (%s) AND status = 'failed'" % ids)
    assert failed == "0", failed
