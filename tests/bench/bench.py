"""Benchmarks against a real stack and the real services (see run.sh).
Standard library only.

(a) webhook 202 throughput. Requests go to a component whose org's
    development environment sits on a data plane no agent serves
    ("bench-null"): every 202 is a real ImagePushed and a real deployment
    record, but no container churn skews the numbers on a small machine.
(b) webhook 202 -> running latency, on the real agent.
(c) ApplyDeployment -> running for a warm image, from the agent's own log
    lines, the health wait taken out; anchored on the engine's bare
    create + start + inspect of the same image.
(d) request availability through the gateway during back-to-back cutovers.

Every figure says how it was made; the closing lines read
"<name>: <value> (<ratio> of <anchor>)" where the figure has an anchor.
"""

import argparse
import base64
import concurrent.futures
import datetime
import http.client
import json
import os
import secrets
import statistics
import signal
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


# --- shared by (c) and (d) ---------------------------------------------------

def deploy(h, comp_id, tag):
    """POST a development deployment of tag; returns its id."""
    status, body = sh.api("POST", h.url(
        "deploy-svc", "/v1/components/%s/deployments" % comp_id),
        {"environment": "development", "tag": tag})
    if status != 202:
        raise sh.HarnessError("deploy %s: %s %r" % (tag, status, body))
    return body["id"]


def wait_final(h, dep_id, timeout=60):
    """Polls every 20 ms until running or failed; (status, deployment)."""
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        status, body = h.get_deployment(dep_id)
        if status == 200 and body["status"] in ("running", "failed"):
            return body["status"], body
        time.sleep(0.02)
    return "timeout", body


def service_component(h, app_port):
    """A service component on the demo image with v1 and then v2 deployed
    once, so both images are pulled; returns (component, serving tag)."""
    org, project = sh.unique("bench"), sh.unique("proj")
    reg = h.create_registry(org, auth_type="basic")
    comp = h.create_component(org, project, reg["id"], port=app_port)
    comp["org"], comp["project"] = org, project
    for tag in ("v1", "v2"):
        dep = deploy(h, comp["id"], tag)
        final, body = wait_final(h, dep, timeout=120)
        if final != "running":
            raise sh.HarnessError("warm-up %s: %s %r" % (tag, final, body))
        h.wait_containers(comp["id"], [dep], timeout=30)
    return comp, "v2"


def other(tag):
    return "v1" if tag == "v2" else "v2"


def elapsed(t0):
    return "    took %.1f s" % (time.monotonic() - t0)


# --- (c) ApplyDeployment -> running for a warm image -------------------------

# What the agent logs during an apply, in order (message prefixes); each
# line carries the deployment id. "healthy after N ms" is the health wait.
AGENT_MARKS = (
    ("queued", "queued ApplyDeployment"),
    ("resolving", "reporting resolving"),
    ("resolved", "resolved "),
    ("pulling", "reporting pulling"),
    ("starting", "reporting starting"),
    ("started", "started container"),
    ("healthy", "healthy after "),
    ("running", "reporting running"),
)

# The phases printed for the median apply: (label, from mark, to mark).
APPLY_PHASES = (
    ("queued -> slot picks it up, reports resolving", "queued", "resolving"),
    ("resolving acked + OCI resolve", "resolving", "resolved"),
    ("resolved -> reports pulling", "resolved", "pulling"),
    ("pulling acked + engine pull (warm)", "pulling", "starting"),
    ("starting acked + remove/create/start/inspect", "starting", "started"),
    ("health wait (excluded from the figure)", "started", "healthy"),
    ("gateway route + commit -> reports running", "healthy", "running"),
)


def log_time(ts):
    """The agent log's "2025-01-02T03:04:05.678Z" as epoch seconds."""
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def agent_marks(h):
    """Per deployment id: when each AGENT_MARKS line was first logged
    (epoch s), and health_ms from "healthy after N ms"."""
    marks = {}
    text = h.log_path("dataplane-agent").read_text(errors="replace")
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        dep, msg = rec.get("deployment_id"), rec.get("msg", "")
        if not dep:
            continue
        m = marks.setdefault(dep, {})
        for name, prefix in AGENT_MARKS:
            if msg.startswith(prefix) and name not in m:
                m[name] = log_time(rec["ts"])
                if name == "healthy":
                    m["health_ms"] = int(msg.split()[2])
                break
    return marks


def engine_request(sock, method, path, body=None):
    conn = sh._UnixHTTPConnection(sock, timeout=60)
    try:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data else {}
        conn.request(method, path, data, hdrs)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def engine_anchor(h, image, port, count):
    """create + start + inspect of image through the engine socket, with the
    body the agent sends (engine.c engine_create_body, the agent's default
    limits); the removal after each is not timed. Returns seconds each."""
    sock = h.env["SLIPWAY_ENGINE_SOCKET"]
    key = "%d/tcp" % port
    body = {"Image": image, "Env": ["PORT=%d" % port],
            "Labels": {"slipway.bench": "anchor"},
            "ExposedPorts": {key: {}},
            "HostConfig": {
                "NetworkMode": "slirp4netns", "Init": True,
                "PortBindings": {key: [{"HostIp": "127.0.0.1",
                                        "HostPort": ""}]},
                "SecurityOpt": ["no-new-privileges"],
                "CapDrop": ["NET_RAW", "MKNOD", "AUDIT_WRITE"],
                "ReadonlyRootfs": False, "RestartPolicy": {"Name": "no"},
                "Memory": 512 * 1024 * 1024, "NanoCpus": 1000000000,
                "PidsLimit": 512}}
    times = []
    for i in range(count + 1):          # the first one is a warm-up
        name = "slipway-bench-anchor-%d" % i
        t0 = time.perf_counter()
        try:
            for method, path, b, want in (
                    ("POST", "/containers/create?name=" + name, body, 201),
                    ("POST", "/containers/%s/start" % name, None, 204),
                    ("GET", "/containers/%s/json" % name, None, 200)):
                st, raw = engine_request(sock, method, "/v1.41" + path, b)
                if st != want:
                    raise sh.HarnessError("engine %s %s: %s %r" % (
                        method, path, st, raw[:300]))
            dt = time.perf_counter() - t0
        finally:
            engine_request(sock, "DELETE",
                           "/v1.41/containers/%s?force=true" % name)
        if i:
            times.append(dt)
    return times


def bench_apply(h, count, app_port):
    t_start = time.monotonic()
    comp, serving = service_component(h, app_port)
    deps, client = [], {}
    for _ in range(count):
        tag = other(serving)
        t0 = time.perf_counter()
        dep = deploy(h, comp["id"], tag)
        final, body = wait_final(h, dep)
        client[dep] = time.perf_counter() - t0
        if final != "running":
            print("    %s (%s): %s %r" % (dep, tag, final, body))
            continue
        # The old version drains and goes in the same job: the next
        # deployment must not queue behind it, or it would count the drain.
        h.wait_containers(comp["id"], [dep], timeout=30)
        deps.append((dep, body["digest"]))
        serving = tag
    marks = agent_marks(h)
    apply_ms, rows = [], []
    for dep, _ in deps:
        m = marks.get(dep, {})
        if not all(k in m for k, _ in AGENT_MARKS):
            print("    %s: agent log lacks %s" % (dep, [
                k for k, _ in AGENT_MARKS if k not in m]))
            continue
        total = 1000 * (m["running"] - m["queued"])
        apply_ms.append(total - m["health_ms"])
        rows.append(m)
    anchor = engine_anchor(h, "%s@%s" % (
        h.env["SLIPWAY_DEMO_IMAGE"].rsplit(":", 1)[0], deps[0][1]),
        app_port, count) if deps else []
    print("(c) ApplyDeployment -> running, warm image: %d deployments "
          "alternating v1/v2 (both pulled before), one at a time, each after "
          "the previous one's old container was removed" % count)
    print("    method: agent log (dataplane-agent.log, ms timestamps): "
          "\"queued ApplyDeployment\" -> \"reporting running\" of the "
          "deployment, minus the agent's \"healthy after N ms\"")
    if not apply_ms:
        print("    no deployment measured")
        return []
    p50, p99 = percentile(apply_ms, 50), percentile(apply_ms, 99)
    print("    apply ms (health wait excluded): p50 %.0f  p99 %.0f  min %.0f  "
          "max %.0f  (n=%d; p99 of %d = nearest rank)" % (
              p50, p99, min(apply_ms), max(apply_ms), len(apply_ms),
              len(apply_ms)))
    health = [m["health_ms"] for m in rows]
    print("    health wait ms: p50 %.0f  max %.0f" % (
        percentile(health, 50), max(health)))
    print("    client POST /v1/components/{id}/deployments -> status running "
          "(polled every 20 ms, health included): p50 %.0f ms" % (
              1000 * percentile([client[d] for d, _ in deps], 50)))
    print("    where the time goes (median per phase, ms):")
    for label, a, b in APPLY_PHASES:
        print("      %-48s %6.0f" % (label, percentile(
            [1000 * (m[b] - m[a]) for m in rows], 50)))
    a50 = 1000 * percentile(anchor, 50)
    print("    anchor: engine create+start+inspect of the same image "
          "(pinned digest) over %s with Python http.client, the agent's "
          "create body, %d runs after one warm-up: p50 %.0f ms, p99 %.0f "
          "ms" % (h.env["SLIPWAY_ENGINE_SOCKET"], len(anchor), a50,
                  1000 * percentile(anchor, 99)))
    print(elapsed(t_start))
    return [
        "apply_to_running_p50: %.0f ms (%.1f× of engine create+start p50 "
        "%.0f ms)" % (p50, p50 / a50, a50),
        "apply_to_running_p99: %.0f ms (%.1f× of engine create+start p50 "
        "%.0f ms)" % (p99, p99 / a50, a50),
    ]


# --- (d) availability through the gateway during cutovers --------------------

class Prober:
    """GETs url every `every` s on its own thread (a new connection each
    time, as a browser's first request); keeps (sent, done, status, text)
    with epoch times."""

    def __init__(self, url, every):
        self.url, self.every = url, every
        self.answers = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        next_at = time.monotonic()
        while not self._stop.is_set():
            t0 = time.time()
            status, text = sh.get_text(self.url, timeout=2)
            self.answers.append((t0, time.time(), status, text))
            next_at += self.every
            time.sleep(max(0.0, next_at - time.monotonic()))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


def ok(answer):
    return answer[2] is not None and 200 <= answer[2] < 300


def utc(t):
    return datetime.datetime.fromtimestamp(
        t, datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def agent_lines_near(h, t, window=0.5, limit=25):
    """The agent's log lines within window s of epoch time t."""
    out = []
    text = h.log_path("dataplane-agent").read_text(errors="replace")
    for line in text.splitlines():
        try:
            ts = log_time(json.loads(line)["ts"])
        except (ValueError, KeyError):
            continue
        if abs(ts - t) <= window:
            out.append(line)
    return out[:limit]


def bench_availability(h, cutovers, app_port, every=0.02):
    t_start = time.monotonic()
    comp, serving = service_component(h, app_port)
    url = h.app_url(comp["org"], comp["project"], comp["name"])
    sh.wait_text(url, "demo " + serving)
    results = []
    with Prober(url, every) as probe:
        time.sleep(0.5)
        t_first = time.monotonic()
        for _ in range(cutovers):
            tag = other(serving)
            dep = deploy(h, comp["id"], tag)
            final, _ = wait_final(h, dep)
            results.append((dep, tag, final))
            serving = tag
        t_cutovers = time.monotonic() - t_first
        h.wait_containers(comp["id"], [results[-1][0]], timeout=30)
        time.sleep(1)
    answers = probe.answers
    fails = [a for a in answers if not ok(a)]
    good = [a for a in answers if ok(a)]
    gaps = [b[1] - a[1] for a, b in zip(good, good[1:])]
    max_gap = max(gaps) if gaps else float("nan")
    switches = 0
    seen = None
    for a in good:
        v = "v1" if "demo v1" in a[3] else "v2" if "demo v2" in a[3] else "?"
        switches += seen is not None and v != seen
        seen = v
    avail = 100.0 * len(good) / len(answers) if answers else float("nan")
    print("(d) availability through the gateway during %d back-to-back "
          "cutovers (v1/v2 alternating, each deployed as soon as the one "
          "before is running; drain %s s)" % (
              cutovers, h.service_env["dataplane-agent"]["SLIPWAY_DRAIN_S"]))
    print("    method: a thread GETs %s every %d ms (new connection each, "
          "2 s timeout) from 0.5 s before the first deployment to 1 s after "
          "the last old container is gone" % (url, 1000 * every))
    print("    deployments: %s" % json.dumps(
        {k: sum(1 for r in results if r[2] == k)
         for k in sorted({r[2] for r in results})}))
    marks = agent_marks(h)
    queued = [1000 * (m["resolving"] - m["queued"]) for m in (
        marks.get(r[0], {}) for r in results) if "resolving" in m]
    print("    %d cutovers in %.1f s; in the agent's queue (\"queued\" -> "
          "\"reporting resolving\") behind the previous one's drain: median "
          "%.0f ms, max %.0f ms" % (cutovers, t_cutovers,
                                   percentile(queued, 50), max(queued or [0])))
    print("    probes %d, failures %d, availability %.3f %%, version switches "
          "seen %d" % (len(answers), len(fails), avail, switches))
    print("    max gap between successful answers %.0f ms, p99 gap %.0f ms" % (
        1000 * max_gap, 1000 * percentile(gaps, 99)))
    for a in fails[:10]:
        print("    failed probe at %s (%.0f ms): %s %s" % (
            utc(a[0]), 1000 * (a[1] - a[0]), a[2], a[3][:160].replace(
                "\n", " ")))
    if fails:
        print("    agent log within 0.5 s of the first failure:")
        for line in agent_lines_near(h, fails[0][0]):
            print("      " + line)
    print(elapsed(t_start))
    return [
        "cutover_availability: %.3f %% (%d of %d probes failed; goal 100 %%)" %
        (avail, len(fails), len(answers)),
        "cutover_max_gap: %.0f ms (%.1f× of the %d ms probe period)" % (
            1000 * max_gap, max_gap / every, 1000 * every),
    ]


# --- ports -------------------------------------------------------------------

# Others use these on a shared host: the e2e tests' ports (DEFAULT_PORTS, all
# in 25000-29999) and 39000-39999; the bench must stay clear of both.
PORTS_TAKEN = ((25000, 29999, "the e2e tests"), (39000, 39999, "reserved"))


def bench_ports_check(ports):
    """Raises when a port the bench stack binds falls in PORTS_TAKEN; the
    gateway uses base, base+1, base+100, base+101 and base+220..base+319."""
    used = [p for k, p in ports.items() if k != "gateway"]
    g = ports["gateway"]
    used += [g, g + 1, g + 100, g + 101] + list(range(g + 220, g + 320))
    for lo, hi, who in PORTS_TAKEN:
        clash = sorted(p for p in used if lo <= p <= hi)
        if clash:
            raise sh.HarnessError(
                "bench ports %s fall in %d-%d (%s): change "
                "SLIPWAY_BENCH_PORT_OFFSET" % (clash[:5], lo, hi, who))


BENCHES = ("throughput", "latency", "apply", "availability")


def env_int(name, default):
    return int(os.environ.get(name, default))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=500, help="throughput requests")
    ap.add_argument("-c", type=int, default=8, help="concurrency")
    ap.add_argument("-d", type=int, default=5, help="latency deployments")
    ap.add_argument("-a", type=int,
                    default=env_int("SLIPWAY_BENCH_APPLY_N", 30),
                    help="warm-image applies measured in (c) "
                    "(SLIPWAY_BENCH_APPLY_N, default 30)")
    ap.add_argument("-u", type=int,
                    default=env_int("SLIPWAY_BENCH_CUTOVERS", 20),
                    help="cutovers under the prober in (d) "
                    "(SLIPWAY_BENCH_CUTOVERS, default 20)")
    ap.add_argument("--only", default=os.environ.get("SLIPWAY_BENCH_ONLY",
                                                     ",".join(BENCHES)),
                    help="comma list of %s (SLIPWAY_BENCH_ONLY)" %
                    ",".join(BENCHES))
    ap.add_argument("--app-port", type=int,
                    default=env_int("SLIPWAY_BENCH_APP_PORT", 38490),
                    help="the port the demo listens on in its container")
    args = ap.parse_args()
    only = [b for b in args.only.split(",") if b]
    unknown = sorted(set(only) - set(BENCHES))
    if unknown:
        ap.error("unknown benchmark %s" % ", ".join(unknown))
    # -5000: 20000-24999, clear of the e2e tests (25000-29999), the default
    # stack (9080-9399, 15000-19093) and the ephemeral ports (32768+).
    offset = env_int("SLIPWAY_BENCH_PORT_OFFSET", -5000)
    build = os.environ.get("SLIPWAY_BUILD", "build")
    state = os.environ.get("SLIPWAY_BENCH_STATE",
                           str(sh.REPO / build / "bench-state"))
    ports = sh.ports_from_env(offset=offset)
    bench_ports_check(ports)
    h = sh.Harness(state, ports=ports)
    print("command: %s" % " ".join([sys.argv[0]] + sys.argv[1:]))
    print("ports: %s" % json.dumps(h.ports))
    t_all = time.monotonic()
    closing = []
    rc = 0
    try:
        t0 = time.monotonic()
        h.start()
        # The throughput run posts with one token at full speed: measure the
        # webhook, not its per-token limit (10/s by default, 429 beyond).
        h.service_env["webhook-ingress"]["SLIPWAY_WEBHOOK_TOKEN_RATE"] = "0"
        h.kill_service("webhook-ingress", sig=signal.SIGTERM)
        h.restart_service("webhook-ingress")
        print("stack and services up in %.1f s (webhook without its "
              "per-token limit)" % (time.monotonic() - t0))
        if "throughput" in only:
            t0 = time.monotonic()
            bench_throughput(h, args.n, args.c)
            print(elapsed(t0))
        if "latency" in only:
            t0 = time.monotonic()
            bench_latency(h, args.d, args.app_port)
            print(elapsed(t0))
        if "apply" in only:
            closing += bench_apply(h, args.a, args.app_port)
        if "availability" in only:
            closing += bench_availability(h, args.u, args.app_port)
    except Exception as e:   # report, then always tear down
        print("bench failed: %s\n%s" % (e, h.all_log_tails()), file=sys.stderr)
        rc = 1
    finally:
        problems = h.stop()
        if problems:
            print("teardown: %s" % "; ".join(problems), file=sys.stderr)
    print("whole run %.1f s (stack start and teardown included)" % (
        time.monotonic() - t_all))
    for line in closing:
        print(line)
    return rc


if __name__ == "__main__":
    sys.exit(main())
