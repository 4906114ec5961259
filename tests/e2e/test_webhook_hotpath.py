"""The webhook's token path never blocks and cannot be flooded (issue 9).

Black box, against the real stack: with Postgres stopped a token the
ingress has seen is still served from its own memory (202), an unknown one
is 503 unavailable within 1 s, and the rest of the server keeps answering;
a flood of well-formed forged tokens leaves a valid CI caller's calls
untouched and gets only 401 or 429 (with Retry-After) itself; a token over
its own limit gets 429 with Retry-After, counted in /metrics; and the
in-process cache really serves hits and still drops a revoked token within
1 s.

Every test is bounded and stops by itself; the one timing assertion is the
issue's "within 1 s", measured around the request alone.
"""

import hashlib
import http.client
import json
import re
import threading
import time
import urllib.parse

from slipway_harness import error_code, forge_token, get_text, unique

# The ingress's defaults (webhook-ingress main.c): per token 10/s, burst 50;
# authentication failures per address 20/s, burst 40.
TOKEN_BURST = 50
FAIL_BURST, FAIL_RATE = 40, 20
FLOOD_S = 3.0
FLOOD_THREADS = 3
VALID_INTERVAL_S = 0.25     # 4/s: well under the per-token limit


def _cache_key(token):
    return "slipway:token:" + hashlib.sha256(token.encode()).hexdigest()


class Hook:
    """One keep-alive connection to the ingress: a flood must measure the
    server, not Python's connection set-up."""

    def __init__(self, slipway, timeout=10):
        u = urllib.parse.urlsplit(slipway.url("webhook-ingress"))
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn = None

    def post(self, token, body):
        """(status, parsed body, headers dict lower-cased, seconds)."""
        data = json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json"}
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout)
            t0 = time.monotonic()
            try:
                self.conn.request("POST", "/v1/hooks/deploy", data, hdrs)
                resp = self.conn.getresponse()
                raw = resp.read()
            except (http.client.HTTPException, OSError):
                self.close()      # the server closed a kept-alive connection
                if attempt:
                    raise
                continue
            took = time.monotonic() - t0
            headers = {k.lower(): v for k, v in resp.getheaders()}
            if headers.get("connection", "").lower() == "close":
                self.close()
            return resp.status, json.loads(raw) if raw else None, headers, took

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def _metric(slipway, name, labels=""):
    """A counter's value on the ingress's /metrics (0 when absent)."""
    status, text = get_text(slipway.url("webhook-ingress", "/metrics"))
    assert status == 200, text
    want = "%s{%s}" % (name, labels) if labels else name
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0


def _retry_after(headers):
    value = headers.get("retry-after")
    assert value is not None and re.fullmatch(r"[1-9][0-9]*", value), \
        "Retry-After %r" % value
    return int(value)


def _setup(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    return comp, slipway.create_token(comp["id"])


def _wait_address_refilled():
    """Every test here and after it calls from 127.0.0.1: leave the address's
    failure bucket full again, so a later 401 is not a 429."""
    time.sleep(FAIL_BURST / FAIL_RATE + 0.5)


# --- (d) the memory level serves hits, and revocation still reaches it --------

def test_memory_hits_and_revocation_within_a_second(slipway, org, project,
                                                   app_ports):
    comp, tok = _setup(slipway, org, project, app_ports)
    hook = Hook(slipway)
    absent = {"tag": unique("absent")}
    try:
        status, body, _, _ = hook.post(tok["token"], absent)
        assert status == 202, body
        # The next calls are answered from memory, even with the Redis
        # binding gone (only this process still knows the token).
        slipway.redis_cli("del", _cache_key(tok["token"]))
        before = _metric(slipway, "slipway_webhook_token_lookups_total",
                         'level="memory",result="valid"')
        for _ in range(3):
            status, body, _, _ = hook.post(tok["token"], {})
            assert status == 400 and error_code(body) == "invalid_request", \
                body
        after = _metric(slipway, "slipway_webhook_token_lookups_total",
                        'level="memory",result="valid"')
        # At least the last two: the first may have been Postgres's, had
        # the token's own TokenIssued raced the first lookup.
        assert after >= before + 2, (before, after)

        slipway.revoke_token(comp["id"], tok["id"])
        t0 = time.monotonic()
        answers = []
        while True:
            status, body, _, _ = hook.post(tok["token"], {})
            answers.append(status)
            if status == 401:
                break
            assert time.monotonic() - t0 < 1.0, \
                "revoked token still accepted after 1 s: %r" % answers
            time.sleep(0.02)
        assert error_code(body) == "invalid_token", body
    finally:
        hook.close()


# --- (c) per-token limit ----------------------------------------------------

def test_token_over_its_limit_gets_429(slipway, org, project, app_ports):
    comp, tok = _setup(slipway, org, project, app_ports)
    other = slipway.create_token(comp["id"])
    hook = Hook(slipway)
    # An empty body is refused (400) only after the token was accepted and
    # its call counted: the limit is exercised without deploying anything.
    statuses, limited = [], []
    limited_before = _metric(slipway, "slipway_webhook_rate_limited_total",
                             'limit="token"')
    try:
        for _ in range(TOKEN_BURST + 30):
            status, body, headers, _ = hook.post(tok["token"], {})
            statuses.append(status)
            if status == 429:
                assert error_code(body) == "rate_limited", body
                limited.append(_retry_after(headers))
            else:
                assert status == 400 and error_code(body) == \
                    "invalid_request", (status, body)
        assert limited, "no 429 after %d calls: %r" % (len(statuses),
                                                       statuses)
        # The burst is served before any refusal.
        assert statuses[:TOKEN_BURST] == [400] * TOKEN_BURST, statuses
        assert all(s <= 2 for s in limited), limited
        after = _metric(slipway, "slipway_webhook_rate_limited_total",
                        'limit="token"')
        assert after - limited_before >= len(limited), (limited_before, after)
        assert _metric(slipway, "slipway_webhook_refused_total",
                       'code="rate_limited"') >= len(limited)
        # The limit is the token's, not the component's.
        status, body, _, _ = hook.post(other["token"], {})
        assert status == 400, (status, body)
        # And it refills: after Retry-After the token is served again.
        time.sleep(max(limited) + 0.2)
        status, body, _, _ = hook.post(tok["token"], {})
        assert status == 400, (status, body)
    finally:
        hook.close()


# --- (b) a flood of forged tokens -------------------------------------------

def test_forged_flood_leaves_valid_calls_alone(slipway, org, project,
                                              app_ports):
    comp, tok = _setup(slipway, org, project, app_ports)
    warm = Hook(slipway)
    status, body, _, _ = warm.post(tok["token"], {})
    assert status == 400, (status, body)
    warm.close()

    stop = threading.Event()
    forged, valid, errors = [], [], []
    lock = threading.Lock()

    def flood():
        hook = Hook(slipway)
        seen = []
        try:
            while not stop.is_set():
                status, body, headers, _ = hook.post(forge_token(), {})
                retry = headers.get("retry-after")
                seen.append((status, error_code(body), retry))
        except Exception as e:   # reported below, never swallowed
            errors.append(repr(e))
        finally:
            hook.close()
            with lock:
                forged.extend(seen)

    def ci():
        hook = Hook(slipway)
        try:
            next_at = time.monotonic()
            while not stop.is_set():
                status, body, _, took = hook.post(tok["token"], {})
                valid.append((status, error_code(body), took))
                next_at += VALID_INTERVAL_S
                time.sleep(max(0.0, next_at - time.monotonic()))
        except Exception as e:
            errors.append(repr(e))
        finally:
            hook.close()

    threads = [threading.Thread(target=flood) for _ in range(FLOOD_THREADS)]
    threads.append(threading.Thread(target=ci))
    limited_before = _metric(slipway, "slipway_webhook_rate_limited_total",
                             'limit="address"')
    for t in threads:
        t.start()
    time.sleep(FLOOD_S)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    try:
        assert not errors, errors
        assert not any(t.is_alive() for t in threads), "a thread hung"
        # The CI caller made every call it meant to (one per interval) and
        # each was served: authenticated (400 for the empty body), never
        # refused for the flood around it.
        want = int(FLOOD_S / VALID_INTERVAL_S * 0.9)
        assert len(valid) >= want, "valid calls: %d < %d" % (len(valid), want)
        bad = [v for v in valid if v[0] != 400]
        assert not bad, "valid calls refused during the flood: %r" % bad[:5]
        # Forged tokens get 401 or 429 only, and every 429 says when.
        assert len(forged) > FAIL_BURST, "the flood was too small: %d" % (
            len(forged))
        kinds = {(s, c) for s, c, _ in forged}
        assert kinds <= {(401, "invalid_token"), (429, "rate_limited")}, kinds
        limited = [r for s, _, r in forged if s == 429]
        assert limited, "a flood of %d forged tokens was never limited" % (
            len(forged))
        for r in limited:
            assert r is not None and re.fullmatch(r"[1-9][0-9]*", r), r
        # Under the limit a forged token is the one 401; over it, 429s.
        assert sum(1 for s, _, _ in forged if s == 401) >= FAIL_BURST
        after = _metric(slipway, "slipway_webhook_rate_limited_total",
                        'limit="address"')
        assert after - limited_before >= len(limited)
    finally:
        _wait_address_refilled()


# --- (a) Postgres stopped ----------------------------------------------------

def test_postgres_down_cached_202_unknown_503(slipway, org, project,
                                             app_ports):
    comp, tok = _setup(slipway, org, project, app_ports)
    hook = Hook(slipway)
    absent = {"tag": unique("absent")}
    dep_id = None
    try:
        status, body, _, _ = hook.post(tok["token"], absent)
        assert status == 202, body
        # Only the ingress's memory knows the token from here on: the
        # Redis binding goes, Postgres goes. (The 400 makes sure the
        # binding is in memory: from the first call, or from Postgres now.)
        slipway.redis_cli("del", _cache_key(tok["token"]))
        status, body, _, _ = hook.post(tok["token"], {})
        assert status == 400, (status, body)
        slipway.stop_postgres()

        status, body, _, _ = hook.post(tok["token"], absent)
        assert status == 202, "seen token with postgres down: %s %r" % (
            status, body)
        dep_id = body["request_id"]
        for _ in range(3):
            status, body, headers, took = hook.post(forge_token(), absent)
            assert status == 503 and error_code(body) == "unavailable", \
                "unknown token with postgres down: %s %r" % (status, body)
            assert took < 1.0, "503 took %.3f s" % took
            _retry_after(headers)
        # The rest of the server is not held up.
        status, text = get_text(slipway.url("webhook-ingress", "/healthz"),
                                timeout=2)
        assert status == 200, text
        status, body, _, _ = hook.post(tok["token"], {})
        assert status == 400, (status, body)
    finally:
        hook.close()
        if not slipway.postgres_up():
            slipway.start_postgres()

    # Back: the ingress reconnects on its own (backoff at most 2 s) and
    # knows a forged token for what it is again; the 202 given during the
    # outage became a deployment once deploy-svc could record it.
    hook = Hook(slipway)
    try:
        deadline = time.monotonic() + 20
        while True:
            status, body, _, _ = hook.post(forge_token(), absent)
            if status == 401:
                break
            assert status == 503, (status, body)
            assert time.monotonic() < deadline, "postgres never used again"
            time.sleep(0.3)
    finally:
        hook.close()
    deadline = time.monotonic() + 60
    while True:
        status, body = slipway.get_deployment(dep_id)
        if status == 200:
            break
        assert time.monotonic() < deadline, (status, body)
        time.sleep(0.5)
    assert body["component_id"] == comp["id"], body
