"""A flood of forged tokens does not cost a CI caller a single deployment
(issue 9, "robustness figures"; the rate figure is make bench's).

Black box, against the real stack. Several CI callers, each with its own
component and token, post real image pushes ({"tag": ...}, one tag per
call) while threads flood the ingress with well-formed forged tokens (valid
checksum, never issued) from several client addresses, 127.0.0.1 (the CI
callers' own, as behind one NAT) and 127.0.0.2-4. Every CI call must be
answered 202 — they stay under their token's own limit (default 10/s,
burst 50), so no 429 is theirs to get — and each 202 must become exactly
one deployment with the image it asked for. The forged calls get only 401
invalid_token or 429 rate_limited with a Retry-After, and each flooding
address is limited at some point.

test_webhook_hotpath.py covers the flood's effect on authentication (its
CI caller posts an empty body, refused 400 after the token was accepted);
this test follows the valid calls through to the deployments.

No timing assertion: the CI callers make a fixed number of calls, the flood
runs until they are done and each flooder has been limited, every wait is
bounded.
"""

import base64
import hashlib
import http.client
import json
import re
import secrets
import threading
import time
import urllib.parse

from slipway_harness import api, error_code, forge_token, unique

CI_CALLERS = 3
CI_CALLS = 12                 # per caller, well inside the burst of 50
CI_INTERVAL_S = 0.2           # 5/s per token, under the default 10/s
FLOOD_ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
FLOOD_DEADLINE_S = 60         # a bound, not an expectation
FAIL_BURST, FAIL_RATE = 40, 20


class Hook:
    """One keep-alive connection to the ingress from a given address."""

    def __init__(self, slipway, source="127.0.0.1", timeout=15):
        u = urllib.parse.urlsplit(slipway.url("webhook-ingress"))
        self.host, self.port = u.hostname, u.port
        self.source, self.timeout = source, timeout
        self.conn = None

    def post(self, token, body):
        """(status, parsed body, lower-cased headers)."""
        data = json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json",
                "Authorization": "Bearer " + token}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout,
                    source_address=(self.source, 0))
            try:
                self.conn.request("POST", "/v1/hooks/deploy", data, hdrs)
                resp = self.conn.getresponse()
                raw = resp.read()
            except (http.client.HTTPException, OSError):
                self.close()     # a kept-alive connection the server closed
                if attempt:
                    raise
                continue
            headers = {k.lower(): v for k, v in resp.getheaders()}
            if headers.get("connection", "").lower() == "close":
                self.close()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = {"_raw": raw[:200]}
            return resp.status, parsed, headers

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def _null_dataplane_org(slipway):
    """An org whose development environment sits on a data plane no agent
    serves: its deployments are recorded and stay pending, nothing runs."""
    dp = unique("flood")
    slipway.register_dataplane(dp, base64.b64encode(
        secrets.token_bytes(32)).decode())
    org = unique("org")
    status, body = api("POST", slipway.url(
        "deploy-svc", "/v1/orgs/%s/environments" % org),
        {"name": "development", "dataplane": dp, "position": 0})
    assert status in (200, 201), (status, body)
    return org, dp


def _wait_deployment(slipway, dep_id, timeout=90):
    """The deployment's JSON once deploy-svc knows it (404 not_yet_known
    until then)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = slipway.get_deployment(dep_id)
        if status == 200:
            return body
        assert status == 404 and error_code(body) == "not_yet_known", \
            (dep_id, status, body)
        assert time.monotonic() < deadline, \
            "deployment %s never recorded: %s %r" % (dep_id, status, body)
        time.sleep(0.2)


def _wait_redis_binding(slipway, token, timeout=15):
    """Until component-svc's binding of token is in Redis: an address over
    its failure limit is served from the caches only, so a CI caller's
    first call behind the flood must find its token there (as it does once
    the token is issued), never race the write."""
    key = "slipway:token:" + hashlib.sha256(token.encode()).hexdigest()
    deadline = time.monotonic() + timeout
    while slipway.redis_cli("exists", key)[1] != "1":
        assert time.monotonic() < deadline, "no Redis binding for a token"
        time.sleep(0.1)


def test_valid_calls_become_deployments_during_forged_flood(slipway):
    org, dp = _null_dataplane_org(slipway)
    reg = slipway.create_registry(org, auth_type="basic")
    project = unique("proj")
    callers = []
    for i in range(CI_CALLERS):
        comp = slipway.create_component(org, project, reg["id"])
        callers.append((comp, slipway.create_token(comp["id"])["token"]))
    for _, token in callers:
        _wait_redis_binding(slipway, token)

    ci_done = threading.Event()
    stop = threading.Event()
    accepted = {c["id"]: [] for c, _ in callers}   # (request_id, tag)
    refused, forged, errors = [], [], []
    limited_by = set()
    lock = threading.Lock()

    def ci(k, comp, token):
        hook = Hook(slipway)
        try:
            next_at = time.monotonic()
            for n in range(CI_CALLS):
                tag = "flood-%d-%d" % (k, n)
                status, body, _ = hook.post(token, {"tag": tag})
                with lock:
                    if status == 202:
                        accepted[comp["id"]].append((body["request_id"], tag))
                    else:
                        refused.append((tag, status, body))
                next_at += CI_INTERVAL_S
                time.sleep(max(0.0, next_at - time.monotonic()))
        except Exception as e:   # reported below, never swallowed
            errors.append("ci %d: %r" % (k, e))

    def flooder(addr):
        hook = Hook(slipway, source=addr)
        seen, was_limited = [], False
        deadline = time.monotonic() + FLOOD_DEADLINE_S
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                if ci_done.is_set() and was_limited:
                    break
                status, body, headers = hook.post(forge_token(),
                                                  {"tag": "forged"})
                seen.append((status, error_code(body),
                             headers.get("retry-after")))
                was_limited = was_limited or status == 429
        except Exception as e:
            errors.append("flood %s: %r" % (addr, e))
        finally:
            hook.close()
            with lock:
                forged.extend(seen)
                if was_limited:
                    limited_by.add(addr)

    floods = [threading.Thread(target=flooder, args=(a,))
              for a in FLOOD_ADDRESSES]
    cis = [threading.Thread(target=ci, args=(k, c, t))
           for k, (c, t) in enumerate(callers)]
    try:
        for t in floods:
            t.start()
        for t in cis:
            t.start()
        for t in cis:
            t.join(timeout=CI_CALLS * CI_INTERVAL_S + 120)
        ci_done.set()
        for t in floods:
            t.join(timeout=FLOOD_DEADLINE_S + 30)
    finally:
        stop.set()
        ci_done.set()
        for t in floods + cis:
            t.join(timeout=30)
        # Later tests call from 127.0.0.1 too: leave its failure bucket
        # full again, so their 401 is not a 429.
        time.sleep(FAIL_BURST / FAIL_RATE + 0.5)

    assert not errors, errors
    assert not any(t.is_alive() for t in floods + cis), "a thread hung"
    # Every CI call was accepted: none refused, none limited.
    assert not refused, "CI calls refused during the flood: %r" % refused[:5]
    assert all(len(v) == CI_CALLS for v in accepted.values()), \
        {k: len(v) for k, v in accepted.items()}

    # The forged calls: only the one 401, or 429 with a Retry-After.
    assert forged, "the flood made no calls"
    kinds = {(s, c) for s, c, _ in forged}
    assert kinds <= {(401, "invalid_token"), (429, "rate_limited")}, kinds
    for status, _, retry in forged:
        if status == 429:
            assert retry is not None and re.fullmatch(r"[1-9][0-9]*", retry), \
                "429 with Retry-After %r" % retry
    assert limited_by == set(FLOOD_ADDRESSES), \
        "addresses never limited: %s" % sorted(set(FLOOD_ADDRESSES) -
                                                limited_by)

    # Each 202 became exactly one deployment, with the image it asked for.
    for comp, _ in callers:
        repo = comp["image"].rsplit(":", 1)[0]
        for dep_id, tag in accepted[comp["id"]]:
            dep = _wait_deployment(slipway, dep_id)
            assert dep["component_id"] == comp["id"], dep
            assert dep["image"] == "%s:%s" % (repo, tag), dep
            assert dep["status"] == "pending", dep
        history = slipway.deployments(comp["id"])
        ids = sorted(d["id"] for d in history)
        assert ids == sorted(i for i, _ in accepted[comp["id"]]), \
            "deployments of %s: %d for %d accepted calls" % (
                comp["id"], len(ids), len(accepted[comp["id"]]))
