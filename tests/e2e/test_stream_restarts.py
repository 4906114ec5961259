"""Issue 9's robustness figure: a stream of webhooks keeps coming while
deploy-svc is killed (-9) and restarted, then the broker is restarted, then
Postgres is: every 202 becomes exactly one deployment, of the image that
request named, and nothing refused (a 503 while a dependency is down, a 429
from the rate limit) becomes any.

It exercises the hot path's new parts together: the webhook's token caches
(Postgres down: the bindings in process and in Redis answer), deploy-svc's
batches (a batch in flight at the kill, rolled back while Postgres is down,
applied once after), and the bus never skipping a message across a broker
restart. The components' environment sits on a data plane no agent serves,
so the stream only costs deployment rows.

Bounded: the stream stops itself once the three faults are done (and at a
hard cap); every wait has a deadline; no assertion is about time."""

import base64
import hashlib
import os
import threading
import time

import slipway_harness as sh
from slipway_harness import api

COMPONENTS = 4
TOKENS_PER_COMPONENT = 2
THREADS = 4
PACE_S = 0.1              # per thread between requests: under the rate limit
STREAM_CAP_S = 300        # the stream never runs longer than this
AFTER_FAULTS_S = 3        # and goes on this long after the last fault
DRAIN_S = 240


class Stream:
    """Threads POSTing webhooks, each with a tag of its own, until stop."""

    def __init__(self, slipway, tokens):
        self.slipway = slipway
        self.tokens = tokens
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers = []   # (tag, token index, status, body or None)
        self.threads = [threading.Thread(target=self._run, args=(i,),
                                         daemon=True) for i in range(THREADS)]

    def _run(self, t):
        n = 0
        deadline = time.monotonic() + STREAM_CAP_S
        while not self.stop.is_set() and time.monotonic() < deadline:
            k = (t + n * THREADS) % len(self.tokens)
            tag = "s%d-%d" % (t, n)
            n += 1
            try:
                status, body = api("POST", self.slipway.url(
                    "webhook-ingress", "/v1/hooks/deploy"), {"tag": tag},
                    token=self.tokens[k][1], timeout=20)
            except OSError:
                status, body = None, None     # no answer: outcome unknown
            with self.lock:
                self.answers.append((tag, k, status, body))
            self.stop.wait(PACE_S)

    def start(self):
        for th in self.threads:
            th.start()

    def join(self):
        self.stop.set()
        for th in self.threads:
            th.join(timeout=60)
        assert not any(th.is_alive() for th in self.threads)


def _setup(slipway, org, project):
    dp = sh.unique("streamdp")
    slipway.register_dataplane(dp, base64.b64encode(os.urandom(32)).decode(),
                               orgs=[org])
    status, body = api("POST", slipway.url(
        "deploy-svc", "/v1/orgs/%s/environments" % org),
        {"name": "development", "dataplane": dp, "position": 0})
    assert status in (200, 201), body
    reg = slipway.create_registry(org, auth_type="basic")
    comps = [slipway.create_component(org, project, reg["id"])
             for _ in range(COMPONENTS)]
    tokens = [(c["id"], slipway.create_token(c["id"])["token"])
              for c in comps for _ in range(TOKENS_PER_COMPONENT)]
    # Every binding in Redis and every component known to deploy-svc
    # before the faults: what is tested is riding them out.
    deadline = time.monotonic() + 60
    for _, tok in tokens:
        key = "slipway:token:" + hashlib.sha256(tok.encode()).hexdigest()
        while slipway.redis_cli("exists", key)[1] != "1":
            assert time.monotonic() < deadline, "token not cached"
            time.sleep(0.1)
    ids = ",".join("'%s'" % c["id"] for c in comps)
    while int(slipway.psql("SELECT count(*) FROM deploy.components WHERE "
                           "id IN (%s)" % ids)) != COMPONENTS:
        assert time.monotonic() < deadline, "deploy-svc never learnt them"
        time.sleep(0.2)
    return comps, tokens


def _accepted_count(stream):
    with stream.lock:
        return sum(1 for a in stream.answers if a[2] == 202)


def _wait_accepted(stream, more, timeout=60):
    """Waits for `more` further 202s: the stream is flowing again."""
    want = _accepted_count(stream) + more
    deadline = time.monotonic() + timeout
    while _accepted_count(stream) < want:
        assert time.monotonic() < deadline, "the stream got no 202s"
        time.sleep(0.2)


def _faults(slipway, stream):
    """kill -9 of deploy-svc, a broker restart, a Postgres restart, each
    once the stream has had 202s since the one before."""
    _wait_accepted(stream, 20)
    slipway.kill_service("deploy-svc")
    slipway.restart_service("deploy-svc")
    _wait_accepted(stream, 20)
    try:
        slipway.stop_kafka()
    finally:
        slipway.start_kafka()
    _wait_accepted(stream, 20, timeout=120)
    try:
        slipway.stop_postgres()
    finally:
        slipway.start_postgres()
    _wait_accepted(stream, 20, timeout=120)
    stream.stop.wait(AFTER_FAULTS_S)


def _deployments(slipway, comps):
    ids = ",".join("'%s'" % c["id"] for c in comps)
    rows = slipway.psql("SELECT id, image FROM deploy.deployments WHERE "
                        "component_id IN (%s)" % ids)
    return [r.split("|") for r in rows.splitlines() if r]


def test_stream_through_restarts(slipway, org, project):
    comps, tokens = _setup(slipway, org, project)
    stream = Stream(slipway, tokens)
    stream.start()
    try:
        _faults(slipway, stream)
    finally:
        stream.join()
    slipway.wait_all_ready(60)

    accepted = {a[0]: a for a in stream.answers if a[2] == 202}
    refused = {a[0] for a in stream.answers
               if a[2] is not None and a[2] != 202}
    unknown = {a[0] for a in stream.answers if a[2] is None}
    want = {a[3]["request_id"]: tag for tag, a in accepted.items()}
    slipway.log("stream: %d requests, %d accepted, %d refused (%s), %d "
                "without an answer" % (
                    len(stream.answers), len(accepted), len(refused),
                    sorted({a[2] for a in stream.answers
                            if a[2] not in (None, 202)}), len(unknown)))
    assert accepted, "no webhook was accepted"

    deadline = time.monotonic() + DRAIN_S
    while True:
        rows = _deployments(slipway, comps)
        got = {r[0] for r in rows}
        if set(want) <= got or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    missing = set(want) - got
    assert not missing, "%d accepted webhooks never became deployments" % (
        len(missing))
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids))
    by_id = {r[0]: r[1] for r in rows}
    for rid, tag in want.items():
        assert by_id[rid].endswith(":" + tag), (rid, tag, by_id[rid])
    tags = [r[1].rsplit(":", 1)[1] for r in rows]
    assert len(tags) == len(set(tags)), "a request became two deployments"
    became = set(tags) & refused
    assert not became, "refused webhooks became deployments: %s" % sorted(
        became)[:10]
    extra = set(tags) - set(accepted) - unknown
    assert not extra, "deployments nobody asked for: %s" % sorted(extra)[:10]
