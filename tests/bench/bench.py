"""Webhook benchmarks (see run.sh). Standard library only.

Throughput requests go to a component whose org's development environment
sits on a data plane no agent serves ("bench-null"): every 202 is a real
ImagePushed and a real deployment record, but no container churn skews the
numbers on a small machine. Latency deployments run on the real agent.
"""

import argparse
import base64
import concurrent.futures
import http.client
import json
import os
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

import slipway_harness as sh  # noqa: E402


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


class Caller(threading.local):
    """One keep-alive connection per thread."""
    conn = None


def post_hook(local, port, token, body):
    data = json.dumps(body).encode()
    hdrs = {"Authorization": "Bearer " + token,
            "Content-Type": "application/json"}
    for attempt in (0, 1):
        if local.conn is None:
            local.conn = http.client.HTTPConnection("127.0.0.1", port,
                                                    timeout=30)
        try:
            local.conn.request("POST", "/v1/hooks/deploy", data, hdrs)
            r = local.conn.getresponse()
            r.read()
            if r.getheader("Connection", "").lower() == "close":
                local.conn.close()
                local.conn = None
            return r.status
        except (OSError, http.client.HTTPException):
            local.conn.close()
            local.conn = None
            if attempt:
                return "error"
    return "error"


def setup_component(h, org, port=None):
    reg = h.create_registry(org, auth_type="basic")
    comp = h.create_component(org, sh.unique("proj"), reg["id"], port=port)
    return comp, h.create_token(comp["id"])["token"]


def bench_throughput(h, n, concurrency):
    pk = base64.b64encode(secrets.token_bytes(32)).decode()
    h.register_dataplane("bench-null", pk)
    org = sh.unique("bench")
    status, body = sh.api("POST", h.url("deploy-svc",
                                        "/v1/orgs/%s/environments" % org),
                          {"name": "development", "dataplane": "bench-null",
                           "position": 0})
    if status not in (200, 201):
        raise sh.HarnessError("create environment: %s %r" % (status, body))
    comp, token = setup_component(h, org)
    port = h.ports["webhook-ingress"]
    local = Caller()
    body = {"image": h.env["SLIPWAY_DEMO_IMAGE"]}
    lat = []
    statuses = {}
    lock = threading.Lock()

    def one(_):
        t0 = time.perf_counter()
        st = post_hook(local, port, token, body)
        dt = time.perf_counter() - t0
        with lock:
            statuses[st] = statuses.get(st, 0) + 1
            if st == 202:
                lat.append(dt)

    for i in range(min(20, n)):   # warm-up: connections, Redis, producer
        one(i)
    lat.clear()
    statuses.clear()
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n), timeout=600))
    wall = time.perf_counter() - t0
    ok = statuses.get(202, 0)
    print("(a) webhook 202 throughput: %d requests, concurrency %d" % (
        n, concurrency))
    print("    statuses: %s" % json.dumps({str(k): v for k, v in
                                           statuses.items()}))
    print("    wall %.2f s, %.1f accepted/s" % (wall, ok / wall))
    if lat:
        print("    202 latency ms: p50 %.1f  p95 %.1f  p99 %.1f  max %.1f" % tuple(
            1000 * x for x in (percentile(lat, 50), percentile(lat, 95),
                               percentile(lat, 99), max(lat))))


def wait_running(h, dep_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = h.get_deployment(dep_id)
        if status == 200 and body["status"] in ("running", "failed"):
            return body["status"]
        time.sleep(0.05)
    return "timeout"


def bench_latency(h, count, app_port):
    org = sh.unique("lat")
    comp, token = setup_component(h, org, port=app_port)
    results = []
    for i in range(count):
        tag = "v1" if i % 2 == 0 else "v2"
        t0 = time.perf_counter()
        status, body = h.hook(token, {"tag": tag})
        t202 = time.perf_counter()
        if status != 202:
            print("    deployment %d: webhook said %s %r" % (i, status, body))
            continue
        final = wait_running(h, body["request_id"])
        t1 = time.perf_counter()
        results.append((tag, final, t202 - t0, t1 - t202))
    print("(b) webhook 202 -> running latency, %d deployments (tags v1/v2 "
          "alternating, status polled every 50 ms)" % count)
    for tag, final, a, b in results:
        print("    %s: 202 in %.1f ms, %s after %.2f s" % (tag, 1000 * a, final,
                                                         b))
    ok = [b for _, final, _, b in results if final == "running"]
    if ok:
        print("    running: median %.2f s, min %.2f s, max %.2f s" % (
            statistics.median(ok), min(ok), max(ok)))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=500, help="throughput requests")
    ap.add_argument("-c", type=int, default=8, help="concurrency")
    ap.add_argument("-d", type=int, default=5, help="latency deployments")
    ap.add_argument("--app-port", type=int,
                    default=int(os.environ.get("SLIPWAY_BENCH_APP_PORT", 38490)))
    args = ap.parse_args()
    offset = int(os.environ.get("SLIPWAY_BENCH_PORT_OFFSET", 200))
    state = os.environ.get("SLIPWAY_BENCH_STATE",
                           str(sh.REPO / "build" / "bench-state"))
    h = sh.Harness(state, ports=sh.ports_from_env(offset=offset))
    print("command: %s" % " ".join([sys.argv[0]] + sys.argv[1:]))
    print("ports: %s" % json.dumps(h.ports))
    rc = 0
    try:
        h.start()
        bench_throughput(h, args.n, args.c)
        bench_latency(h, args.d, args.app_port)
    except Exception as e:   # report, then always tear down
        print("bench failed: %s\n%s" % (e, h.all_log_tails()), file=sys.stderr)
        rc = 1
    finally:
        problems = h.stop()
        if problems:
            print("teardown: %s" % "; ".join(problems), file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
