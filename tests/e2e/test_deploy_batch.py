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


def _produce_raw(slipway, produce_many, org, lines):
    """produce_many with ORG and lines as bytes (an org that is not UTF-8)."""
    r = subprocess.run([produce_many, slipway.env["SLIPWAY_KAFKA_BROKERS"],
                        org], input=b"\n".join(lines),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=180, env=slipway.kafka_tool_env())
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    assert int(r.stdout.decode().strip()) == len(lines)


def _wait_deleted(slipway, comp_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if slipway.psql("SELECT deleted FROM deploy.components WHERE id = "
                        "'%s'" % comp_id) == "t":
            return
        time.sleep(0.3)
    raise AssertionError("deploy-svc did not learn that %s was deleted"
                         % comp_id)


def test_bad_and_deleted_in_the_middle_of_a_batch(slipway, org, project,
                                                  produce_many):
    """One backlog, one batch: pushes for many components with, between
    them, pushes no retry can fix (a request id that is not a UUID, an
    invalid image: dead-lettered), pushes for a deleted component (recorded
    failed, from the component looked up once for all of them) and one whose
    org Postgres refuses as text (not UTF-8: the batch's one-statement
    insert fails as a whole, the batch goes again one event at a time, the
    event is retried and then dead-lettered). Every good push becomes
    exactly one deployment, in order per component; none of the others
    does."""
    comps = _setup(slipway, org, project)[:6]
    gone = comps.pop()
    status, body = api("DELETE", slipway.url("component-svc",
                                             "/v1/components/%s" % gone["id"]))
    assert status == 204, (status, body)
    _wait_deleted(slipway, gone["id"])
    repo = {c["id"]: c["image"].rsplit(":", 1)[0]
            for c in comps + [gone]}
    lines, good, last, bad, deleted, nreq = [], [], {}, [], [], 0
    for i in range(300):
        comp = comps[i % len(comps)]["id"]
        req = str(uuid.uuid4())
        if i % 50 == 10:
            nreq += 1
            lines.append("%s %s:b%d not-a-uuid %s" % (comp, repo[comp], i,
                                                      uuid.uuid4()))
            continue
        if i % 50 == 20:
            bad.append(req)
            lines.append("%s %s:Bad::%d %s %s" % (comp, repo[comp], i, req,
                                                   uuid.uuid4()))
            continue
        if i % 50 == 30:
            deleted.append(req)
            lines.append("%s %s:d%d %s %s" % (gone["id"], repo[gone["id"]],
                                              i, req, uuid.uuid4()))
            continue
        lines.append("%s %s:g%d %s %s" % (comp, repo[comp], i, req,
                                          uuid.uuid4()))
        good.append(req)
        last[comp] = req
    not_utf8 = str(uuid.uuid4())
    head, tail = lines[:150], lines[150:]
    # The log is the session's: count only this test's ImagePushed lines.
    log_from = slipway.log_path("deploy-svc").stat().st_size
    slipway.kill_service("deploy-svc")
    try:
        _produce(slipway, produce_many, org, head)
        _produce_raw(slipway, produce_many, b"org-\xff\xfe", [(
            "%s %s:x1 %s %s" % (gone["id"], repo[gone["id"]], not_utf8,
                                uuid.uuid4())).encode()])
        _produce(slipway, produce_many, org, tail)
    finally:
        slipway.restart_service("deploy-svc")
    ids = [c["id"] for c in comps] + [gone["id"]]
    _wait_count(slipway, ids, len(good) + len(deleted), 240)
    in_ids = ",".join("'%s'" % c for c in ids)
    rows = slipway.psql("SELECT id, status, reason FROM deploy.deployments "
                        "WHERE component_id IN (%s)" % in_ids).splitlines()
    got = {r.split("|")[0]: r.split("|", 2)[1:] for r in rows}
    assert len(rows) == len(got) == len(good) + len(deleted)
    assert sorted(got) == sorted(good + deleted)
    for req in good:
        assert got[req][0] == "pending", (req, got[req])
    for req in deleted:
        assert got[req] == ["failed", "component_deleted: the component "
                            "was deleted"], (req, got[req])
    newest = dict(r.split("|") for r in slipway.psql(
        "SELECT DISTINCT ON (component_id) component_id, id FROM "
        "deploy.deployments WHERE component_id IN (%s) AND status = "
        "'pending' ORDER BY component_id, created_at DESC" % in_ids)
        .splitlines())
    assert newest == last
    # Each good deployment announced once: DeploymentRequested and Apply.
    outbox = slipway.psql(
        "SELECT event_type, count(*) FROM deploy.outbox WHERE key IN (%s) "
        "OR key IN (%s) GROUP BY 1 ORDER BY 1" % (
            in_ids, ",".join("'%s'" % r for r in good + deleted)))
    assert outbox.splitlines() == [
        "ApplyDeployment|%d" % len(good),
        "DeploymentRequested|%d" % (len(good) + len(deleted)),
        "DeploymentStatusChanged|%d" % len(deleted)], outbox
    # The one Postgres refused is dead-lettered after its retries.
    deadline = time.monotonic() + 90
    log, rejected = "", []
    while time.monotonic() < deadline:
        with open(slipway.log_path("deploy-svc"), "rb") as f:
            f.seek(log_from)
            log = f.read().decode(errors="replace")
        rejected = [ln for ln in log.splitlines()
                    if "slipway.image.pushed[" in ln and "rejected:" in ln]
        if len(rejected) >= nreq + len(bad) + 1:
            break
        time.sleep(1)
    assert "request_id is not a UUID" in log
    assert "invalid image" in log
    assert "failed as a whole, applying it one by one" in log
    assert len(rejected) == nreq + len(bad) + 1, rejected
    assert slipway.psql("SELECT count(*) FROM deploy.deployments WHERE id = "
                        "'%s'" % not_utf8) == "0"
