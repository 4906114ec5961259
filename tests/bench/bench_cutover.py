"""The apply and cutover benchmarks (make bench --only apply,availability):

(c) ApplyDeployment -> running for a warm image, from the agent's own log
    lines, the health wait taken out; anchored on the engine's bare
    create + start + inspect of the same image.
(d) request availability through the gateway during back-to-back cutovers.

Not part of the default table (bench.py): they measure the data plane, not
the hot path of issue 9. Standard library only.
"""

import datetime
import json
import threading
import time

import slipway_harness as sh


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


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
