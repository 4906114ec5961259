"""Issue 9: no service hangs on a Postgres that stops answering.

Every process of the stack's Postgres (the postmaster and all its backends)
is stopped with SIGSTOP: connections stay open and TCP connects still
succeed (the kernel accepts them), but nothing is ever answered, like a
server behind a network black hole. For registry-svc, component-svc and
deploy-svc, each run here with a short statement deadline
(SLIPWAY_PG_QUERY_TIMEOUT_MS), a call that needs Postgres then answers 503
"unavailable" within a bound, /healthz keeps answering all along, and once
Postgres runs again (SIGCONT) the same call succeeds without a restart.

The bound is one deadline plus slack: a call arriving while the loop waits
out another statement of the process (the outbox relay's poll, a
consumer's batch) waits for that one, after which the process backs off
and refuses its statement at once; otherwise its own statement waits.

A call stuck in its statement holds only its own service's handlers: the
connections are served by a thread of their own (lib http.h, io_thread),
so while it waits out a long deadline /healthz, /metrics and refusals
(413, 404) are answered at once, before the stuck call returns.

Bounded: every call has a client timeout, the freeze lasts a few seconds,
and Postgres is always continued (finally), then the harness's own
services must be ready again so the rest of the session is unaffected.
"""

import os
import signal
import threading
import time
from pathlib import Path

from slipway_harness import ADMIN, api, error_code, get_text

DEADLINE_MS = 1000
SLACK_S = 1.5
BOUND_S = DEADLINE_MS / 1000 + SLACK_S
FROZEN_S = 4            # how long /healthz is watched while frozen
RECOVER_S = 30

# A call of each service that reads Postgres (ADMIN token, any org).
CALLS = {
    "registry-svc": "/v1/orgs/{org}/registries",
    "component-svc": "/v1/orgs/{org}/projects/{project}/components",
    "deploy-svc": "/v1/orgs/{org}/environments",
}


def _postgres_pids(slipway):
    """The postmaster (its pid file) and every process it forked."""
    data = Path((slipway.state / "pg.dir").read_text().strip()) / "data"
    master = int((data / "postmaster.pid").read_text().split()[0])
    pids = [master]
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == master:
            pids.append(int(d))
    return pids


def _signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _timed(method, url):
    t0 = time.monotonic()
    try:
        status, body = api(method, url, timeout=BOUND_S + 10)
    except OSError as e:
        status, body = None, str(e)
    return status, body, time.monotonic() - t0


def _watch_healthz(extras, seconds):
    """Polls every service's /healthz while frozen: the slowest answer."""
    worst = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for name, svc in extras.items():
            t0 = time.monotonic()
            status, text = get_text(svc.url("/healthz"), timeout=BOUND_S + 5)
            took = time.monotonic() - t0
            assert status == 200, "%s /healthz while frozen: %s %s" % (
                name, status, text)
            worst = max(worst, took)
        time.sleep(0.1)
    return worst


def _wait_ok(svc, path):
    deadline = time.monotonic() + RECOVER_S
    last = None
    while time.monotonic() < deadline:
        last = _timed("GET", svc.url(path))
        if last[0] == 200:
            return last[2]
        time.sleep(0.2)
    raise AssertionError("%s %s not 200 %d s after SIGCONT: %r\n%s" % (
        svc.service, path, RECOVER_S, last[:2], svc.tail()))


def _start_checked(extras, paths):
    for svc in extras.values():
        svc.start()
    for s, svc in extras.items():
        status, body, _ = _timed("GET", svc.url(paths[s]))
        assert status == 200, "%s before the freeze: %s %r" % (
            s, status, body)


def _freeze(slipway):
    """SIGSTOPs Postgres; returns the pids to SIGCONT."""
    pids = _postgres_pids(slipway)
    _signal_all(pids, signal.SIGSTOP)
    # A backend forked just before the postmaster stopped: stop it too.
    pids = sorted(set(pids) | set(_postgres_pids(slipway)))
    _signal_all(pids, signal.SIGSTOP)
    return pids


def _stop_checked(extras):
    codes = {s: svc.stop() for s, svc in extras.items()}
    for s, svc in extras.items():
        assert codes[s] == 0, "%s exited with %r:\n%s" % (s, codes[s],
                                                          svc.tail())
        report = svc.sanitizer_report()
        assert report is None, report


def test_frozen_postgres_answers_503_and_recovers(slipway, app_ports, org,
                                                  project):
    extras = {s: slipway.extra_service(
        s, app_ports.take(), SLIPWAY_PG_QUERY_TIMEOUT_MS=str(DEADLINE_MS))
        for s in CALLS}
    paths = {s: p.format(org=org, project=project) for s, p in CALLS.items()}
    pids = []
    try:
        _start_checked(extras, paths)
        pids = _freeze(slipway)
        for s, svc in extras.items():
            # The first call meets a connection that stopped answering, the
            # second one the reconnect (or its back-off): both are bounded.
            for attempt in (1, 2):
                status, body, took = _timed("GET", svc.url(paths[s]))
                slipway.log("pg_hang: %s call %d while frozen: %s in %.2f s"
                            % (s, attempt, status, took))
                assert status == 503 and error_code(body) == "unavailable", \
                    "%s call %d while frozen: %s %r" % (s, attempt, status,
                                                        body)
                assert took < BOUND_S, "%s answered after %.2f s (bound %.1f)" \
                    % (s, took, BOUND_S)
        worst = _watch_healthz(extras, FROZEN_S)
        slipway.log("pg_hang: slowest /healthz while frozen: %.2f s" % worst)
        assert worst < BOUND_S, "a /healthz took %.2f s" % worst
        for s, svc in extras.items():
            status, text = get_text(svc.url("/readyz"), timeout=BOUND_S + 5)
            assert status == 503, "%s /readyz while frozen: %s %s" % (
                s, status, text)
    finally:
        _signal_all(pids, signal.SIGCONT)
    try:
        for s, svc in extras.items():
            took = _wait_ok(svc, paths[s])
            slipway.log("pg_hang: %s answers 200 again (%.2f s)" % (s, took))
            assert svc.proc.poll() is None, "%s exited" % s
        # The harness's own services (default deadline) recover too.
        slipway.wait_all_ready(timeout=60)
    finally:
        _stop_checked(extras)


STUCK_DEADLINE_MS = 5000
TOO_LARGE = b"x" * (600 * 1024)   # over every service's body cap


def _answered_while_stuck(slipway, name, svc, path):
    """While one call waits on the frozen Postgres, the rest is answered."""
    stuck = {}

    def call():
        stuck["result"] = _timed("GET", svc.url(path))

    t = threading.Thread(target=call, daemon=True)
    t.start()
    time.sleep(0.3)    # the call is in its statement (or queued behind one)
    assert t.is_alive(), "%s answered %r before the deadline" % (
        name, stuck.get("result"))
    t0 = time.monotonic()
    status, text = get_text(svc.url("/healthz"), timeout=5)
    assert status == 200, "%s /healthz: %s %s" % (name, status, text)
    status, text = get_text(svc.url("/metrics"), timeout=5)
    assert status == 200 and "slipway_http_requests_total" in text, \
        "%s /metrics: %s" % (name, status)
    status, body = api("POST", svc.url("/v1/too-large"), body=TOO_LARGE,
                       token=ADMIN, headers={"Content-Type": "text/plain"},
                       timeout=5)
    assert status == 413 and error_code(body) == "body_too_large", \
        "%s large body: %s %r" % (name, status, body)
    status, body = api("GET", svc.url("/v1/no-such-thing"), timeout=5)
    assert status == 404, "%s unknown path: %s %r" % (name, status, body)
    took = time.monotonic() - t0
    # Ordering, not speed: all of it came back while the call still waits.
    assert t.is_alive(), "%s: the stuck call returned %r first" % (
        name, stuck.get("result"))
    slipway.log("pg_hang: %s answered probes and refusals in %.3f s while a "
                "call waited on Postgres" % (name, took))
    return t, stuck


def test_stuck_call_leaves_probes_answered(slipway, app_ports, org, project):
    extras = {s: slipway.extra_service(
        s, app_ports.take(),
        SLIPWAY_PG_QUERY_TIMEOUT_MS=str(STUCK_DEADLINE_MS)) for s in CALLS}
    paths = {s: p.format(org=org, project=project) for s, p in CALLS.items()}
    pids, pending = [], []
    try:
        _start_checked(extras, paths)
        pids = _freeze(slipway)
        for s, svc in extras.items():
            pending.append((s, _answered_while_stuck(slipway, s, svc,
                                                     paths[s])))
    finally:
        _signal_all(pids, signal.SIGCONT)
    try:
        for s, (t, stuck) in pending:
            t.join(STUCK_DEADLINE_MS / 1000 + 15)
            assert not t.is_alive(), "%s: the stuck call never returned" % s
            status, body, took = stuck["result"]
            slipway.log("pg_hang: %s stuck call: %s after %.2f s" % (
                s, status, took))
            assert status in (200, 503), "%s stuck call: %s %r" % (
                s, status, body)
        for s, svc in extras.items():
            _wait_ok(svc, paths[s])
        slipway.wait_all_ready(timeout=60)
    finally:
        _stop_checked(extras)
