"""The hot-path benchmark of issue 9 (make bench; see run.sh). One run
brings up its own stack, prints the whole table, each figure beside its
anchor measured in the same run and the ratio, with the command lines that
produced them, writes $SLIPWAY_BUILD/bench/results.json and tears down
everything it started.

  webhook     wrk + a Lua script POSTing {"tag":"v1"} with a valid token, at
              1, 32 and 256 connections, alternating rounds with nginx
              answering a static 202 of the same size; median of 3.
  kafka       kcat producing acks=all, idempotent, envelope-sized messages to
              the same broker: the plain librdkafka producer ceiling.
  drain       deploy-svc turning a backlog of ImagePushed (made by the
              webhook while deploy-svc is stopped) into deployments + outbox
              rows, beside pgbench running the same 4 inserts, 8 clients.
  latency     webhook 202 -> ApplyDeployment read from the data plane's
              commands topic (kcat as the agent's principal), one at a time.
  memory      PSS, USS and VmRSS of every service idle (judged on PSS), the
              RSS peak under load, VmHWM.
  flood       valid CI calls' rate while wrk floods forged tokens, as a
              ratio of their rate without the flood; what the forged got.
  scale       the webhook and drain figures again with 100k components, 1M
              tokens and 10M deployments bulk-loaded into the real schemas.

The webhook is measured on a component whose environment sits on a data
plane no agent serves ("bench-null"): every 202 is a real ImagePushed, but
nothing is deployed. Its per-token limit is off (SLIPWAY_WEBHOOK_TOKEN_RATE=0).
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import secrets
import select
import shlex
import base64
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import slipway_harness as sh  # noqa: E402
import tools  # noqa: E402

HOOK_PATH = "/v1/hooks/deploy"
HOOK_BODY = '{"tag":"v1"}'
LEVELS = (1, 32, 256)
NULL_DP, LAT_DP, KCAT_DP = "bench-null", "bench-lat", "bench-kcat"

# What --quick and the default run do (sizes, seconds).
PROFILES = {
    "full": {"round_s": 5, "reps": 3, "kcat_msgs": 500000, "kcat_reps": 3,
             "backlog": 10000, "pgbench_s": 10, "latency_n": 1000,
             "flood_s": 10, "ci_rate": 200, "scale": 1.0, "warm_min_s": 24,
             "warm_max_s": 60, "handoff_n": 5000},
    "quick": {"round_s": 2, "reps": 1, "kcat_msgs": 100000, "kcat_reps": 1,
              "backlog": 2000, "pgbench_s": 3, "latency_n": 100,
              "flood_s": 3, "ci_rate": 100, "scale": 0.01, "warm_min_s": 8,
              "warm_max_s": 20, "handoff_n": 1000},
}
WARM_ROUND_S = 4
FULL_SCALE = {"components": 100000, "tokens": 1000000,
              "deployments": 10000000}


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def say(msg):
    print(msg, flush=True)


class Report:
    """Figures, the commands that made them, and the closing lines."""

    def __init__(self):
        self.rows = []        # (figure, value, anchor, ratio, goal)
        self.closing = []
        self.commands = []
        self.data = {}
        self.cleanup = []     # run at teardown, whatever happened

    def command(self, what, cmd):
        if (what, cmd) not in self.commands:
            self.commands.append((what, cmd))

    def figure(self, name, value, anchor="—", ratio=None, goal="—",
               closing=None):
        r = "—" if ratio is None else "%.2f×" % ratio
        self.rows.append((name, value, anchor, r, goal))
        if closing is not None:
            self.closing.append(closing)

    def table(self):
        out = ["| figure | value | anchor, same run | ratio | goal |",
               "|---|---|---|---|---|"]
        out += ["| %s |" % " | ".join(row) for row in self.rows]
        return "\n".join(out)


# --- stack set-up ------------------------------------------------------------------

def null_dataplane(h, name):
    """A data plane (shared by every org) that no agent serves."""
    pk = base64.b64encode(secrets.token_bytes(32)).decode()
    h.register_dataplane(name, pk)


def org_on(h, dataplane):
    """A new org whose development environment is on dataplane, with a
    component and a CI token: (component, token)."""
    org = sh.unique("bench")
    status, body = sh.api("POST", h.url(
        "deploy-svc", "/v1/orgs/%s/environments" % org),
        {"name": "development", "dataplane": dataplane, "position": 0})
    if status not in (200, 201):
        raise sh.HarnessError("create environment: %s %r" % (status, body))
    reg = h.create_registry(org, auth_type="basic")
    comp = h.create_component(org, sh.unique("proj"), reg["id"])
    comp["org"], comp["registry"] = org, reg
    return comp, h.create_token(comp["id"])["token"]


def metric(h, name):
    """The sum of a counter over its label sets on the webhook's /metrics."""
    status, text = sh.get_text(h.url("webhook-ingress", "/metrics"))
    if status != 200:
        raise sh.HarnessError("metrics: %s %s" % (status, text[:200]))
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.split()[-1])
    return total


def hook_ok(h, token):
    status, body = h.hook(token, json.loads(HOOK_BODY))
    if status != 202:
        raise sh.HarnessError("webhook: %s %r\n%s" % (
            status, body, h.log_tail("webhook-ingress")))
    return body


# --- RSS ------------------------------------------------------------------------------

class RssWatch:
    """Samples VmRSS of every service every 0.25 s while a phase is set;
    a snapshot also has PSS and USS (smaps_rollup, too slow to sample)."""

    def __init__(self, h):
        self.h = h
        self.phase = None
        self.peak = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def snapshot(self, full=True):
        out = {}
        for s in sh.SERVICES:
            p = self.h.procs.get(s)
            if p is not None and p.poll() is None:
                rss, hwm = tools.proc_mem_kb(p.pid)
                out[s] = {"rss_kb": rss, "hwm_kb": hwm}
                if full:
                    out[s]["pss_kb"], out[s]["uss_kb"] = \
                        tools.proc_smaps_kb(p.pid)
        return out

    def _run(self):
        while not self._stop.wait(0.25):
            if self.phase is None:
                continue
            for s, v in self.snapshot(full=False).items():
                if v["rss_kb"] is not None:
                    self.peak[s] = max(self.peak.get(s, 0), v["rss_kb"])

    def stop(self):
        self._stop.set()
        self._t.join(timeout=5)


# --- webhook vs nginx -------------------------------------------------------------

def webhook_size(h, token):
    """The webhook's whole 202 response (head + body) in bytes, and its
    body (the template nginx answers with)."""
    port = h.ports["webhook-ingress"]
    status, size, _, body = tools.raw_response(port, tools.post_request(
        port, HOOK_PATH, token, HOOK_BODY))
    if status != 202:
        raise sh.HarnessError("webhook answered %d" % status)
    return size, body.decode()


def wrk_cpu(url, script, c, seconds, parts):
    """One wrk round; res["cpu_us"][part] is the CPU (all threads) each
    of parts {name: [pids]} spent per 2xx answer during it."""
    before = {k: tools.cpu_ticks(p) for k, p in parts.items()}
    res, cmd = tools.run_wrk(url, script, c, seconds)
    ok = max(1, res["ok_per_s"] * seconds)
    res["cpu_us"] = {k: (tools.cpu_ticks(p) - before[k]) * 1e6 / ok
                     for k, p in parts.items()}
    return res, cmd


def rounds(h, rep, script, nginx, cfg, levels, with_nginx=True):
    """Alternating rounds per level: webhook, nginx, webhook, nginx...;
    returns {level: {"webhook": [runs], "nginx": [runs]}}. Each run also
    says the CPU per 202 of the webhook, the broker and nginx."""
    out = {}
    wurl = h.url("webhook-ingress", HOOK_PATH)
    nurl = "http://127.0.0.1:%d%s" % (nginx.port, HOOK_PATH) if nginx else None
    wparts = {"webhook": [h.procs["webhook-ingress"].pid],
              "kafka": [h.kafka_pid()]}
    for c in levels:
        out[c] = {"webhook": [], "nginx": []}
        for i in range(cfg["reps"]):
            res, cmd = wrk_cpu(wurl, script, c, cfg["round_s"], wparts)
            rep.command("webhook c=%d" % c, cmd)
            out[c]["webhook"].append(res)
            say("    webhook c=%-3d round %d: %.0f 202/s, p50 %.2f ms, p99 "
                "%.2f ms, non-2xx %d, socket errors %d; CPU per 202: "
                "webhook %.0f us, broker %.0f us" % (
                    c, i + 1, res["ok_per_s"], res["p50_ms"], res["p99_ms"],
                    res["non2xx"], res["socket_errors"],
                    res["cpu_us"]["webhook"], res["cpu_us"]["kafka"]))
            if with_nginx:
                res, cmd = wrk_cpu(nurl, script, c, cfg["round_s"],
                                   {"nginx": nginx.pids()})
                rep.command("nginx c=%d" % c, cmd)
                out[c]["nginx"].append(res)
                say("    nginx   c=%-3d round %d: %.0f 202/s, p50 %.2f ms, "
                    "p99 %.2f ms; CPU per 202 %.1f us" % (
                        c, i + 1, res["ok_per_s"], res["p50_ms"],
                        res["p99_ms"], res["cpu_us"]["nginx"]))
    return out


def med(runs, key):
    return statistics.median(r[key] for r in runs) if runs else float("nan")


# --- Kafka ---------------------------------------------------------------------------

def kafka_admin_cfg(h, work):
    e = h.env
    return tools.kcat_config(
        work / "kcat-admin.conf", e["SLIPWAY_KAFKA_BROKERS"],
        e["SLIPWAY_KAFKA_SECURITY_PROTOCOL"], e["SLIPWAY_KAFKA_SASL_MECHANISM"],
        "admin", h.kafka_password("admin"))


def envelope_size(h, admin_cfg):
    """The size of a real ImagePushed envelope on slipway.image.pushed."""
    r = subprocess.run([tools.need("kcat"), "-F", str(admin_cfg), "-C", "-t",
                        "slipway.image.pushed", "-o", "beginning", "-c", "1",
                        "-e", "-q", "-f", "%S\n"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    out = [x for x in r.stdout.decode(errors="replace").splitlines()
           if x.strip().isdigit()]
    if r.returncode != 0 or not out:
        raise sh.HarnessError("reading an ImagePushed: %r" % r.stdout[-300:])
    return int(out[-1])


def skip_backlog(h, work, rep):
    """Moves deploy-svc's consumer group past every ImagePushed on the topic
    (deploy-svc is stopped): kcat joins the group as deploy-svc, reads to
    the end and commits. The webhook rounds' events are not drained."""
    e = h.env
    cfg = tools.kcat_config(
        work / "kcat-deploy.conf", e["SLIPWAY_KAFKA_BROKERS"],
        e["SLIPWAY_KAFKA_SECURITY_PROTOCOL"], e["SLIPWAY_KAFKA_SASL_MECHANISM"],
        "deploy-svc", h.kafka_password("deploy-svc"),
        ["enable.auto.commit=true", "auto.commit.interval.ms=200"])
    cmd = [tools.need("kcat"), "-F", str(cfg), "-G", "deploy-svc", "-q", "-e",
           "-f", "%o\\n", "slipway.image.pushed"]
    rep.command("skip the rounds' events (deploy-svc stopped)", shlex.join(cmd))
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=300)
    if r.returncode != 0:
        raise sh.HarnessError("kcat -G deploy-svc: %s" % r.stderr.decode(
            errors="replace")[-1000:])


# --- deploy-svc drain + pgbench ----------------------------------------------------

def drain(h, token, comp_id, cfg, rep, work, label):
    """deploy-svc stopped: the webhook makes a backlog (wrk c=32 for as long
    as ~backlog events take, counted by its accepted_total); then
    deploy-svc starts and drains it. The rate is the deployments' own
    created_at (clock_timestamp): (n-1)/(last-first)."""
    mark = h.psql("SELECT clock_timestamp()")
    before = metric(h, "slipway_webhook_accepted_total")
    wurl = h.url("webhook-ingress", HOOK_PATH)
    secs = cfg["backlog_s"]
    res, cmd = tools.run_wrk(wurl, work / "hook.lua", 32, secs)
    rep.command("backlog (deploy-svc stopped)", cmd)
    time.sleep(0.5)   # the last acknowledgements of in-flight requests
    n = int(metric(h, "slipway_webhook_accepted_total") - before)
    t0 = time.monotonic()
    h.restart_service("deploy-svc")
    q = ("SELECT count(*), extract(epoch from max(created_at) - "
         "min(created_at)) FROM deploy.deployments WHERE component_id = '%s' "
         "AND created_at > '%s'" % (comp_id, mark))
    deadline = t0 + 60 + n / 100.0
    got = 0
    while time.monotonic() < deadline:
        got, span = h.psql(q).split("|")
        got = int(got)
        if got >= n:
            break
        time.sleep(0.5)
    wall = time.monotonic() - t0
    if got != n:
        raise sh.HarnessError("%s: %d of %d backlog events became "
                              "deployments in %.0f s" % (label, got, n, wall))
    span = float(span)
    outbox = int(h.psql("SELECT count(*) FROM deploy.outbox WHERE "
                        "created_at > '%s'" % mark))
    rate = (n - 1) / span if span > 0 else float("nan")
    say("    %s: %d ImagePushed backlog (wrk c=32, %d s, deploy-svc "
        "stopped) -> %d deployments + %d outbox rows in %.2f s (first to "
        "last created_at): %.0f/s; restart to last: %.1f s" % (
            label, n, secs, got, outbox, span, rate, wall))
    return {"backlog": n, "span_s": span, "per_s": rate, "wall_s": wall,
            "outbox_rows": outbox}


def outbox_sizes(h):
    """Average payload size per outbox event type in deploy.outbox."""
    out = {}
    for line in h.psql("SELECT event_type, avg(length(payload))::int FROM "
                       "deploy.outbox GROUP BY 1").splitlines():
        k, _, v = line.partition("|")
        out[k] = int(v)
    return out


PGBENCH_SCHEMA = """
DROP SCHEMA IF EXISTS bench_pg CASCADE;
CREATE SCHEMA bench_pg;
CREATE TABLE bench_pg.processed_events (LIKE deploy.processed_events INCLUDING ALL);
CREATE TABLE bench_pg.deployments (LIKE deploy.deployments INCLUDING ALL);
CREATE TABLE bench_pg.outbox (LIKE deploy.outbox INCLUDING ALL);
CREATE SEQUENCE bench_pg.outbox_id_seq OWNED BY bench_pg.outbox.id;
ALTER TABLE bench_pg.outbox ALTER COLUMN id SET DEFAULT nextval('bench_pg.outbox_id_seq');
"""

# The 4 inserts deploy-svc's ImagePushed transaction makes (dedup claim,
# deployment, DeploymentRequested and ApplyDeployment outbox rows), into
# tables of the same shape (LIKE ... INCLUDING ALL: columns, defaults,
# indexes), with payloads of the real rows' sizes.
PGBENCH_SCRIPT = """\\set c random(1, 1000)
BEGIN;
INSERT INTO bench_pg.processed_events (event_id, consumer) VALUES (gen_random_uuid()::text, 'deploy-svc') ON CONFLICT DO NOTHING;
INSERT INTO bench_pg.deployments (id, component_id, org, environment, dataplane, image, digest, status, reason, source, status_rank, config_version, endpoints_ran_with) VALUES (gen_random_uuid(), CAST(md5(CAST(:c AS text)) AS uuid), 'bench-org', 'development', 'bench-null', '%(image)s', '', 'pending', '', 'webhook', 0, 0, '[]') ON CONFLICT (id) DO NOTHING;
INSERT INTO bench_pg.outbox (topic, key, payload, event_id, event_type) VALUES ('slipway.deploy.events', gen_random_uuid()::text, convert_to(repeat('x', %(req)d), 'UTF8'), gen_random_uuid()::text, 'DeploymentRequested');
INSERT INTO bench_pg.outbox (topic, key, payload, event_id, event_type) VALUES ('slipway.dataplane.bench-null.commands', md5(CAST(:c AS text)), convert_to(repeat('x', %(apply)d), 'UTF8'), gen_random_uuid()::text, 'ApplyDeployment');
END;
"""


def pgbench(h, cfg, rep, work, image):
    h.psql(PGBENCH_SCHEMA)
    sizes = outbox_sizes(h)
    script = work / "deploy_tx.sql"
    # pgbench reads ":name" in a statement as a variable, even inside a
    # string literal: the image's colons go in as chr(58).
    script.write_text(PGBENCH_SCRIPT % {
        "image": image.replace(":", "' || chr(58) || '"), "req": sizes.get("DeploymentRequested", 200),
        "apply": sizes.get("ApplyDeployment", 400)})
    res, cmd = tools.run_pgbench(h.env["SLIPWAY_PG_ADMIN_URL"], script, 8,
                                 cfg["pgbench_s"])
    rep.command("pgbench (script %s)" % script, cmd)
    say("    pgbench: %.0f tps (8 clients, %d s, latency avg %.2f ms), "
        "outbox payload sizes %s" % (res["tps"], cfg["pgbench_s"],
                                     res["latency_avg_ms"] or 0, sizes))
    h.psql("DROP SCHEMA bench_pg CASCADE")
    res["payload_sizes"] = sizes
    del res["raw"]
    return res


# --- 202 -> ApplyDeployment --------------------------------------------------------

def outbox_settled(h, timeout=600):
    """Waits until deploy-svc's outbox relay has published every row (the
    drain's rows would otherwise sit before each ApplyDeployment); returns
    what it waited for."""
    q = "SELECT count(*) FROM deploy.outbox WHERE sent_at IS NULL"
    t0 = time.monotonic()
    first = last = int(h.psql(q))
    while last > 0 and time.monotonic() - t0 < timeout:
        time.sleep(0.5)
        last = int(h.psql(q))
    took = time.monotonic() - t0
    if last > 0:
        raise sh.HarnessError("the outbox relay left %d rows unsent after "
                              "%d s" % (last, timeout))
    say("    outbox relay: %d unsent rows published in %.1f s (%.0f rows/s)"
        % (first, took, first / took if took > 0.5 and first else 0))
    return {"rows": first, "seconds": took}


def latency(h, token, comp_id, n, rep, work):
    """n webhook calls one after another; each one's ApplyDeployment is read
    from slipway.dataplane.bench-lat.commands by kcat with the agent's
    principal; latency = when kcat printed it - when the 202 arrived."""
    e = h.env
    cfg = tools.kcat_config(
        work / "kcat-agent.conf", e["SLIPWAY_KAFKA_BROKERS"],
        e["SLIPWAY_KAFKA_SECURITY_PROTOCOL"], e["SLIPWAY_KAFKA_SASL_MECHANISM"],
        "agent-" + LAT_DP, h.kafka_password("agent-" + LAT_DP))
    topic = "slipway.dataplane.%s.commands" % LAT_DP
    # -J: one JSON line per message (a binary payload's newlines escaped).
    cmd = [tools.need("kcat"), "-F", str(cfg), "-C", "-t", topic, "-o", "end",
           "-u", "-q", "-J"]
    rep.command("ApplyDeployment reader (agent principal)", shlex.join(cmd))
    errlog = open(work / "kcat-agent.log", "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errlog,
                            bufsize=0)
    errlog.close()
    buf = [b""]

    def next_message(timeout):
        deadline = time.monotonic() + timeout
        fd = proc.stdout.fileno()
        while b"\n" not in buf[0]:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, None
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None, None
                buf[0] += chunk
        t = time.monotonic()
        msg, _, buf[0] = buf[0].partition(b"\n")
        return msg, t

    port = h.ports["webhook-ingress"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdrs = {"Authorization": "Bearer " + token,
            "Content-Type": "application/json"}

    def call():
        conn.request("POST", HOOK_PATH, HOOK_BODY, hdrs)
        r = conn.getresponse()
        body = r.read()
        t = time.monotonic()
        if r.status != 202:
            raise sh.HarnessError("webhook %d %r" % (r.status, body))
        return json.loads(body)["request_id"], t

    lat, missed = [], 0
    try:
        # kcat starts at the end: the first call proves it is reading.
        for attempt in range(60):
            rid, _ = call()
            msg, _ = next_message(1.0)
            if msg is not None and rid.encode() in msg:
                break
        else:
            raise sh.HarnessError("the commands topic reader never saw an "
                                  "ApplyDeployment")
        time.sleep(0.5)
        while next_message(0.2)[0] is not None:
            pass
        for _ in range(n):
            rid, t202 = call()
            msg, t = next_message(30)
            if msg is None:
                missed += 1
                continue
            if rid.encode() not in msg:
                raise sh.HarnessError("an ApplyDeployment for another "
                                      "deployment arrived: %r" % msg[:80])
            lat.append(1000 * (t - t202))
    finally:
        conn.close()
        proc.terminate()
        proc.wait(timeout=10)
    say("    202 -> ApplyDeployment: %d calls, p50 %.1f ms, p99 %.1f ms, max "
        "%.1f ms, missed %d" % (len(lat), percentile(lat, 50),
                                percentile(lat, 99), max(lat or [0]), missed))
    return {"n": len(lat), "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99), "max_ms": max(lat or [0]),
            "missed": missed}


# --- forged-token flood ------------------------------------------------------------

def ci_callers(h, token, rate, seconds, threads=8):
    """Valid CI calls on a fixed schedule (rate per second over `threads`
    keep-alive connections; a late call goes at once): (202/s achieved,
    statuses, latencies ms)."""
    port = h.ports["webhook-ingress"]
    hdrs = {"Authorization": "Bearer " + token,
            "Content-Type": "application/json"}
    interval = threads / float(rate)
    statuses, lats = {}, []
    lock = threading.Lock()
    t_start = time.monotonic() + 0.2

    def one(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = 0
        try:
            while True:
                at = t_start + k * interval / threads + i * interval
                if at >= t_start + seconds:
                    return
                time.sleep(max(0.0, at - time.monotonic()))
                t0 = time.monotonic()
                try:
                    conn.request("POST", HOOK_PATH, HOOK_BODY, hdrs)
                    r = conn.getresponse()
                    r.read()
                    st = r.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    st = "error"
                dt = time.monotonic() - t0
                with lock:
                    statuses[str(st)] = statuses.get(str(st), 0) + 1
                    if st == 202:
                        lats.append(1000 * dt)
                i += 1
        finally:
            conn.close()

    ts = [threading.Thread(target=one, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=seconds + 60)
    took = time.monotonic() - t_start
    return statuses.get("202", 0) / max(took, seconds), statuses, lats


def flood(h, token, cfg, rep, work):
    forged = [sh.forge_token() for _ in range(20000)]
    script = work / "forged.lua"
    script.write_text(tools.lua_forged_flood(HOOK_PATH, forged, HOOK_BODY))
    secs, rate = cfg["flood_s"], cfg["ci_rate"]
    base, st0, lat0 = ci_callers(h, token, rate, secs)
    say("    CI callers alone (%d/s scheduled, 8 connections, %d s): %.1f "
        "202/s, statuses %s, p50 %.1f ms, p99 %.1f ms" % (
            rate, secs, base, st0, percentile(lat0, 50), percentile(lat0, 99)))
    proc, cmd = tools.start_wrk(h.url("webhook-ingress", HOOK_PATH), script,
                                64, secs + 3, threads=1)
    rep.command("forged-token flood", cmd)
    time.sleep(1.0)
    under, st1, lat1 = ci_callers(h, token, rate, secs)
    out, _ = proc.communicate(timeout=secs + 60)
    res = tools.parse_wrk(out.decode(errors="replace"))
    fs = res.get("statuses", {})
    say("    CI callers under the flood: %.1f 202/s, statuses %s, p50 %.1f ms,"
        " p99 %.1f ms" % (under, st1, percentile(lat1, 50),
                          percentile(lat1, 99)))
    say("    forged flood (wrk c=64, %d s): %.0f answers/s, statuses %s, 429 "
        "without Retry-After %d" % (secs + 3, res["all_per_s"], fs,
                                    res.get("retry_after_missing", -1)))
    return {"ci_rate_scheduled": rate, "alone_per_s": base,
            "under_flood_per_s": under, "alone_statuses": st0,
            "under_statuses": st1,
            "alone_p99_ms": percentile(lat0, 99),
            "under_p99_ms": percentile(lat1, 99),
            "forged_per_s": res["all_per_s"], "forged_statuses": fs,
            "forged_429_without_retry_after": res.get("retry_after_missing")}


# --- bulk load -----------------------------------------------------------------------

# Ids are made in key order (cid(i), did(i)) and each component's
# deployments are consecutive, newest first: the b-tree indexes grow at
# their right edge, so 10M rows load in minutes on 2 cores.
BULK_SQL = """
SET synchronous_commit = off;
SET maintenance_work_mem = '256MB';
CREATE FUNCTION pg_temp.cid(i bigint) RETURNS uuid IMMUTABLE LANGUAGE sql
  AS $$ SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid $$;
CREATE FUNCTION pg_temp.did(i bigint) RETURNS uuid IMMUTABLE LANGUAGE sql
  AS $$ SELECT ('dddddddd-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid $$;
INSERT INTO component.components (id, org, project, name, description, type,
    registry_id, registry_host, image, created_at)
  SELECT pg_temp.cid(i), 'scale-' || (i %% 1000), 'proj', 'comp-' || i,
         'bulk', 'service', '%(reg)s', '%(host)s', '%(image)s', now()
  FROM generate_series(1, %(comps)d) i;
INSERT INTO deploy.components (id, org, project, name, type, registry_id,
    registry_host, image)
  SELECT pg_temp.cid(i), 'scale-' || (i %% 1000), 'proj', 'comp-' || i,
         'service', '%(reg)s', '%(host)s', '%(image)s'
  FROM generate_series(1, %(comps)d) i;
INSERT INTO component.tokens (id, component_id, name, token_hash, prefix,
    created_at)
  SELECT pg_temp.did(i), pg_temp.cid((i - 1) %% %(comps)d + 1), 'bulk',
         encode(sha256(('t' || i)::bytea), 'hex'), 'slp_' || substr(md5('t' || i), 1, 4),
         now()
  FROM generate_series(1, %(tokens)d) i;
INSERT INTO deploy.deployments (id, component_id, org, environment, dataplane,
    image, digest, status, source, created_at, updated_at, status_rank)
  SELECT pg_temp.did(i), pg_temp.cid(c), 'scale-' || (c %% 1000),
         'development', '%(dp)s', '%(image)s',
         'sha256:' || md5('g' || i) || md5('h' || i),
         CASE WHEN k = 0 THEN 'running' ELSE 'superseded' END, 'webhook',
         now() - make_interval(secs => k), now() - make_interval(secs => k),
         CASE WHEN k = 0 THEN 4 ELSE 6 END
  FROM (SELECT i, (i - 1) / %(per_comp)d + 1 AS c, (i - 1) %% %(per_comp)d AS k
        FROM generate_series(1, %(deps)d) i) g;
INSERT INTO deploy.deployments (id, component_id, org, environment, dataplane,
    image, digest, status, source, created_at, updated_at, status_rank)
  SELECT gen_random_uuid(), '%(bench_comp)s', '%(bench_org)s', 'development',
         '%(dp)s', '%(image)s', '', 'superseded', 'webhook',
         now() - make_interval(days => 1, secs => i),
         now() - make_interval(days => 1, secs => i), 6
  FROM generate_series(1, %(per_comp)d) i;
ANALYZE component.components, component.tokens, deploy.components, deploy.deployments;
"""


def bulk_load(h, sizes, comp, rep):
    q = BULK_SQL % {
        "reg": comp["registry"]["id"], "host": h.env["SLIPWAY_REGISTRY_HOST"],
        "image": h.env["SLIPWAY_DEMO_IMAGE"], "comps": sizes["components"],
        "tokens": sizes["tokens"], "deps": sizes["deployments"],
        "dp": NULL_DP, "bench_comp": comp["id"], "bench_org": comp["org"],
        "per_comp": max(1, sizes["deployments"] // sizes["components"])}
    t0 = time.monotonic()
    h.psql(q, timeout=3600)
    took = time.monotonic() - t0
    counts = h.psql("SELECT (SELECT count(*) FROM component.components), "
                    "(SELECT count(*) FROM component.tokens), "
                    "(SELECT count(*) FROM deploy.deployments)")
    rep.command("bulk load (psql as the admin role, generate_series)",
                "psql $SLIPWAY_PG_ADMIN_URL -c '<BULK_SQL in bench.py>'")
    say("    bulk-loaded in %.0f s: components|tokens|deployments = %s" % (
        took, counts))
    return {"seconds": took, "counts": counts}


def unload(h):
    """Empties the bulk-loaded tables: the teardown's secret scan reads a
    pg_dump of the whole database, which 10M rows would make gigabytes."""
    t0 = time.monotonic()
    h.psql("TRUNCATE deploy.deployments, deploy.components, "
           "component.tokens, component.components CASCADE", timeout=600)
    say("    bulk rows truncated in %.0f s" % (time.monotonic() - t0))


# --- the run -------------------------------------------------------------------------

def warm_up(h, script, cfg):
    """wrk c=32 rounds for at least cfg["warm_min_s"], then until two in
    a row agree within 10 % (at most cfg["warm_max_s"]): a broker fresh
    from its start runs its JIT for the first tens of seconds, and measured
    then the broker's CPU per 202 was up to 5x its settled figure. A
    deployed broker is long warm."""
    url = h.url("webhook-ingress", HOOK_PATH)
    last, spent = None, 0
    while spent < cfg["warm_max_s"]:
        res, _ = tools.run_wrk(url, script, 32, WARM_ROUND_S)
        spent += WARM_ROUND_S
        rate = res["ok_per_s"]
        say("    warm-up c=32: %.0f 202/s" % rate)
        if spent >= cfg["warm_min_s"] and last and \
                abs(rate - last) <= 0.1 * last:
            return
        last = rate
    say("    warm-up: not settled after %d s, measuring anyway" % spent)


def hot_phase(h, rep, cfg, work, token, comp, nginx, label, with_nginx):
    """deploy-svc stopped, the broker warmed up, the webhook rounds, their
    events skipped, then a backlog drained by deploy-svc."""
    h.kill_service("deploy-svc", sig=signal.SIGTERM)
    warm_up(h, work / "hook.lua", cfg)
    r = rounds(h, rep, work / "hook.lua", nginx, cfg, LEVELS, with_nginx)
    skip_backlog(h, work, rep)
    w32 = med(r[32]["webhook"], "ok_per_s") or 1000.0
    cfg = dict(cfg, backlog_s=max(2, min(60, int(round(cfg["backlog"] /
                                                       w32)))))
    d = drain(h, token, comp["id"], cfg, rep, work, label)
    return r, d


def summarize_rounds(r):
    out = {}
    for c, v in r.items():
        out[str(c)] = {k: {"per_s": med(runs, "ok_per_s"),
                           "p50_ms": med(runs, "p50_ms"),
                           "p99_ms": med(runs, "p99_ms"),
                           "non2xx": sum(x["non2xx"] for x in runs),
                           "socket_errors": sum(x["socket_errors"] for x in runs),
                           "cpu_us": {part: statistics.median(
                               x["cpu_us"][part] for x in runs)
                               for part in runs[0]["cpu_us"]},
                           "runs": [{kk: x.get(kk) for kk in (
                               "ok_per_s", "p50_ms", "p99_ms", "requests",
                               "non2xx", "cpu_us")} for x in runs]}
                       for k, runs in v.items() if runs}
    return out


def run(h, args, cfg, rep, work):
    t_all = time.monotonic()
    say("== set-up")
    h.service_env["webhook-ingress"]["SLIPWAY_WEBHOOK_TOKEN_RATE"] = "0"
    h.kill_service("webhook-ingress", sig=signal.SIGTERM)
    h.restart_service("webhook-ingress")
    null_dataplane(h, NULL_DP)
    null_dataplane(h, KCAT_DP)
    h.kafka_principal(LAT_DP)
    h.register_dataplane(LAT_DP, base64.b64encode(secrets.token_bytes(32))
                         .decode(), acls=False)
    comp, token = org_on(h, NULL_DP)
    lat_comp, lat_token = org_on(h, LAT_DP)
    script = work / "hook.lua"
    tools.write_private(script, tools.lua_static_post(HOOK_PATH, token,
                                                      HOOK_BODY))
    hook_ok(h, token)
    size, body = webhook_size(h, token)
    nginx = tools.Nginx(work / "nginx", h.ports["nginx"])
    rep.cleanup.append(nginx.stop)
    nsize = nginx.start_sized(size, body)
    rep.command("nginx (static 202, %d bytes like the webhook's %d)" % (
        nsize, size), nginx.command())
    say("    webhook 202 response %d bytes; nginx's %d bytes" % (size, nsize))
    time.sleep(2)
    rss = RssWatch(h)
    idle = rss.snapshot()
    rep.data["rss_idle"] = idle
    say("    idle kB (RSS/PSS/USS): %s" % {
        s: "%s/%s/%s" % (v["rss_kb"], v.get("pss_kb"), v.get("uss_kb"))
        for s, v in idle.items()})

    skip = set(args.skip.split(",")) if args.skip else set()
    if "handoff" not in skip:
        say("== lib http: io_thread hand-off vs inline handlers")
        rep.data["handoff"] = handoff(rep, cfg, work)
    rss.phase = "load"
    if "webhook" not in skip:
        say("== webhook vs nginx (deploy-svc stopped), then the drain")
        r, d = hot_phase(h, rep, cfg, work, token, comp, nginx, "drain", True)
        rep.data["webhook"] = summarize_rounds(r)
        rep.data["drain"] = d
    if "kcat" not in skip:
        kcat_ceiling(h, cfg, rep, work)
    if "pgbench" not in skip:
        say("== pgbench, the same 4-insert transaction")
        rep.data["pgbench"] = pgbench(h, cfg, rep, work,
                                      h.env["SLIPWAY_DEMO_IMAGE"])
    if "latency" not in skip:
        say("== 202 -> ApplyDeployment")
        rep.data["relay_wait"] = outbox_settled(h)
        rep.data["latency"] = latency(h, lat_token, lat_comp["id"],
                                      cfg["latency_n"], rep, work)
    if "flood" not in skip:
        say("== forged-token flood")
        rep.data["flood"] = flood(h, token, cfg, rep, work)
    rss.phase = None
    rep.data["rss_load_peak"] = dict(rss.peak)

    scale = cfg["scale"] if args.scale is None else args.scale
    if scale > 0 and "scale" not in skip:
        sizes = {k: max(1, int(v * scale)) for k, v in FULL_SCALE.items()}
        say("== scale: %s" % sizes)
        rep.data["scale_sizes"] = sizes
        rep.data["bulk"] = bulk_load(h, sizes, comp, rep)
        rss.phase = "load"
        # nginx alternates here too: the machine's load drifts between
        # the small case and this one (others share the cores), and the
        # webhook/nginx ratio of each phase takes that drift out.
        r2, d2 = hot_phase(h, rep, cfg, work, token, comp, nginx,
                           "drain at scale", True)
        rss.phase = None
        rep.data["scale_webhook"] = summarize_rounds(r2)
        rep.data["scale_drain"] = d2
        if "pgbench" not in skip:
            rep.data["scale_pgbench"] = pgbench(h, cfg, rep, work,
                                                h.env["SLIPWAY_DEMO_IMAGE"])
        unload(h)
    rep.data["rss_end"] = rss.snapshot()
    rss.stop()
    nginx.stop()
    rep.data["seconds"] = time.monotonic() - t_all


def kcat_ceiling(h, cfg, rep, work):
    say("== kcat producer ceiling")
    admin = kafka_admin_cfg(h, work)
    esize = envelope_size(h, admin)
    runs = []
    for i in range(cfg["kcat_reps"]):
        rate, took, cmd = tools.kcat_produce(
            admin, "slipway.dataplane.%s.commands" % KCAT_DP,
            cfg["kcat_msgs"], esize)
        rep.command("kcat producer", cmd)
        runs.append(rate)
        say("    kcat: %d messages of %d bytes in %.2f s: %.0f msg/s" % (
            cfg["kcat_msgs"], esize, took, rate))
    rep.data["kcat"] = {"msg_per_s": statistics.median(runs), "runs": runs,
                        "size": esize}


def fmt_rate(x):
    return "%.0f/s" % x if x == x else "n/a"


def cpu_figure(rep, v):
    """What one 202 costs in CPU at 32 connections: the webhook process
    (its librdkafka threads included) and the broker, beside nginx. On a
    machine whose cores wrk, the broker and the webhook share, this is what
    bounds the webhook/nginx ratio."""
    if not v or not v["nginx"].get("cpu_us"):
        return
    wc, nc = v["webhook"]["cpu_us"], v["nginx"]["cpu_us"]["nginx"]
    total = wc["webhook"] + wc["kafka"]
    rep.figure("CPU per 202 at 32 connections",
               "webhook-ingress %.0f µs + broker %.0f µs" % (
                   wc["webhook"], wc["kafka"]),
               "nginx static 202: %.1f µs" % nc, total / max(nc, 0.001), "—",
               "cpu_per_202_c32: webhook %.0f us + broker %.0f us (%.1f of "
               "nginx %.1f us)" % (wc["webhook"], wc["kafka"],
                                   total / max(nc, 0.001), nc))


def handoff(rep, cfg, work):
    """tests/bench/http_handoff.c: sequential keep-alive GETs of a handler
    that answers at once, inline and through the io_thread hand-off,
    alternating rounds; the median round of each mode."""
    cmd = [str(work / "http_handoff"), str(cfg["reps"]), str(cfg["handoff_n"])]
    rep.command("lib http hand-off (inline vs io_thread, alternating rounds)",
                shlex.join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                         check=True).stdout
    modes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in ("inline", "io_thread"):
            modes.setdefault(parts[0], []).append((float(parts[1]),
                                                   float(parts[2])))
            say("    %s: p50 %s µs, p99 %s µs" % tuple(parts))
    res = {}
    for mode, rounds in modes.items():
        rounds.sort()
        p50, p99 = rounds[len(rounds) // 2]
        res[mode] = {"p50_us": p50, "p99_us": p99}
    if set(res) != {"inline", "io_thread"}:
        raise RuntimeError("http_handoff printed no figures: %r" % out[-500:])
    return res


def handoff_figure(rep, ho):
    if not ho:
        return
    a, b = ho["inline"], ho["io_thread"]
    ratio = b["p50_us"] / a["p50_us"]
    rep.figure("API request through the io_thread hand-off (sequential)",
               "p50 %.1f µs, p99 %.1f µs" % (b["p50_us"], b["p99_us"]),
               "inline handler, same server: p50 %.1f µs, p99 %.1f µs" % (
                   a["p50_us"], a["p99_us"]), ratio, "—",
               "http_handoff: p50 %.1f us p99 %.1f us (%.2f of inline p50 "
               "%.1f us; +%.1f us per request)" % (
                   b["p50_us"], b["p99_us"], ratio, a["p50_us"],
                   b["p50_us"] - a["p50_us"]))


def build_table(rep, cfg):
    d = rep.data
    w, k = d.get("webhook", {}), d.get("kcat")
    for c in LEVELS:
        v = w.get(str(c))
        if not v:
            continue
        wh, ng = v["webhook"], v["nginx"]
        ratio = wh["per_s"] / ng["per_s"]
        goal = {1: "p50 ≤ 1.5 ms", 32: "≥ 0.5× nginx, p99 < 20 ms",
                256: "—"}[c]
        anchor = "nginx static 202: %s, p50 %.2f ms, p99 %.2f ms" % (
            fmt_rate(ng["per_s"]), ng["p50_ms"], ng["p99_ms"])
        value = "%s, p50 %.2f ms, p99 %.2f ms" % (fmt_rate(wh["per_s"]),
                                                  wh["p50_ms"], wh["p99_ms"])
        closing = "webhook_202_c%d: %.0f/s p50 %.2f ms p99 %.2f ms (%.3f of " \
            "nginx static 202 %.0f/s)" % (c, wh["per_s"], wh["p50_ms"],
                                          wh["p99_ms"], ratio, ng["per_s"])
        if c == 256 and k:
            anchor += "; kcat acks=all: %s" % fmt_rate(k["msg_per_s"])
            closing += " (%.4f of kcat acks=all %.0f msg/s)" % (
                wh["per_s"] / k["msg_per_s"], k["msg_per_s"])
        rep.figure("webhook 202/s at %d connection%s" % (
            c, "s" if c > 1 else ""), value, anchor, ratio, goal, closing)
    cpu_figure(rep, w.get("32"))
    handoff_figure(rep, d.get("handoff"))
    if k:
        rep.figure("kcat producer, acks=all, idempotent, %d-byte messages" %
                   k["size"], fmt_rate(k["msg_per_s"]),
                   closing="kafka_producer_ceiling: %.0f msg/s (1.00 of "
                   "itself: the anchor)" % k["msg_per_s"])
    dr, pg = d.get("drain"), d.get("pgbench")
    if dr and pg:
        ratio = dr["per_s"] / pg["tps"]
        rep.figure("deploy-svc, ImagePushed → deployment + outbox, draining "
                   "%d" % dr["backlog"], fmt_rate(dr["per_s"]),
                   "pgbench, same 4 inserts, 8 clients: %.0f tps" % pg["tps"],
                   ratio, "≥ 0.5× pgbench",
                   "deploy_svc_drain: %.0f/s (%.3f of pgbench %.0f tps)" % (
                       dr["per_s"], ratio, pg["tps"]))
    rw = d.get("relay_wait")
    if rw and rw["rows"] and rw["seconds"] > 0.5:
        rep.figure("outbox relay publishing a backlog of %d rows" % rw["rows"],
                   "%.0f rows/s" % (rw["rows"] / rw["seconds"]),
                   closing="outbox_relay: %.0f rows/s (no anchor; %d rows in "
                   "%.1f s)" % (rw["rows"] / rw["seconds"], rw["rows"],
                                rw["seconds"]))
    la = d.get("latency")
    if la:
        rep.figure("webhook 202 → ApplyDeployment consumed, over %d" %
                   la["n"], "p50 %.1f ms, p99 %.1f ms" % (
                       la["p50_ms"], la["p99_ms"]),
                   closing="apply_latency: p50 %.1f ms p99 %.1f ms (no "
                   "anchor; %d missed)" % (la["p50_ms"], la["p99_ms"],
                                          la["missed"]))
    idle, peak, end = d.get("rss_idle", {}), d.get("rss_load_peak", {}), \
        d.get("rss_end", {})
    for s in sh.SERVICES:
        if s not in idle:
            continue
        i_mb = idle[s]["rss_kb"] / 1024.0
        p_mb = peak.get(s, 0) / 1024.0
        hwm = end.get(s, {}).get("hwm_kb")
        # Judged on PSS: RSS counts in full the library pages (libc,
        # librdkafka, libpq, ...) every process on the machine shares.
        pss, uss = idle[s].get("pss_kb"), idle[s].get("uss_kb")
        pss_mb = pss / 1024.0 if pss is not None else float("nan")
        uss_mb = uss / 1024.0 if uss is not None else float("nan")
        rep.figure("memory %s" % s, "idle PSS %.1f MB, USS %.1f MB, RSS "
                   "%.1f MB; under load RSS %.1f MB%s" % (
                       pss_mb, uss_mb, i_mb, p_mb, ", VmHWM %.1f MB" % (
                           hwm / 1024.0) if hwm else ""),
                   goal="< 8 MB idle (PSS)",
                   closing="mem_%s: idle PSS %.1f MB, USS %.1f MB, RSS %.1f "
                   "MB, load RSS %.1f MB (%.2f of the 8 MB idle goal, on PSS)"
                   % (s.replace("-", "_"), pss_mb, uss_mb, i_mb, p_mb,
                      pss_mb / 8.0))
    fl = d.get("flood")
    if fl:
        ratio = fl["under_flood_per_s"] / fl["alone_per_s"] \
            if fl["alone_per_s"] else float("nan")
        fs = fl["forged_statuses"]
        rep.figure("valid CI calls during a forged-token flood",
                   "%.1f/s (p99 %.1f ms); forged: %.0f/s, 401 × %d, 429 × %d,"
                   " other %d" % (fl["under_flood_per_s"], fl["under_p99_ms"],
                                  fl["forged_per_s"], fs.get("401", 0),
                                  fs.get("429", 0),
                                  sum(v for k2, v in fs.items()
                                      if k2 not in ("401", "429"))),
                   "the same calls without the flood: %.1f/s (p99 %.1f ms)" % (
                       fl["alone_per_s"], fl["alone_p99_ms"]),
                   ratio, "≥ 0.9×",
                   "flood_valid_rate: %.1f/s (%.3f of %.1f/s without the "
                   "flood; forged 401=%d 429=%d)" % (
                       fl["under_flood_per_s"], ratio, fl["alone_per_s"],
                       fs.get("401", 0), fs.get("429", 0)))
    sw, sd = d.get("scale_webhook"), d.get("scale_drain")
    if sw:
        sz = d["scale_sizes"]
        tag = "%dk components, %dk tokens, %dk deployments" % (
            sz["components"] // 1000, sz["tokens"] // 1000,
            sz["deployments"] // 1000)
        for c in LEVELS:
            a, b = w.get(str(c), {}).get("webhook"), sw.get(str(c), {}).get(
                "webhook")
            if not a or not b:
                continue
            raw = b["per_s"] / a["per_s"]
            na = w[str(c)].get("nginx")
            nb = sw[str(c)].get("nginx")
            if na and nb:
                # Each phase's webhook rate as a share of nginx's in the
                # same alternating rounds: the machine's drift cancels.
                ratio = (b["per_s"] / nb["per_s"]) / (a["per_s"] / na["per_s"])
                extra = "; %.3f of it as a share of nginx in the same " \
                    "rounds (%.0f/s then, %.0f/s now)" % (
                        ratio, na["per_s"], nb["per_s"])
            else:
                ratio, extra = raw, ""
            rep.figure("webhook 202/s at %d, %s" % (c, tag),
                       "%s, p99 %.2f ms (nginx now %s)" % (
                           fmt_rate(b["per_s"]), b["p99_ms"],
                           fmt_rate(nb["per_s"]) if nb else "n/a"),
                       "small case: %s, p99 %.2f ms (nginx then %s); raw "
                       "ratio %.2f×" % (fmt_rate(a["per_s"]), a["p99_ms"],
                                        fmt_rate(na["per_s"]) if na else
                                        "n/a", raw),
                       ratio, "within 1.5× (≥ 0.67×)",
                       "scale_webhook_202_c%d: %.0f/s (%.3f of the small "
                       "case %.0f/s%s)" % (c, b["per_s"], raw, a["per_s"],
                                           extra))
        if sd and dr:
            raw = sd["per_s"] / dr["per_s"]
            pa, pb = d.get("pgbench"), d.get("scale_pgbench")
            if pa and pb:
                # As a share of pgbench run right after each: drift cancels.
                ratio = (sd["per_s"] / pb["tps"]) / (dr["per_s"] / pa["tps"])
                extra = "; %.3f of it as a share of pgbench (%.0f tps then, " \
                    "%.0f tps now)" % (ratio, pa["tps"], pb["tps"])
            else:
                ratio, extra = raw, ""
            rep.figure("deploy-svc drain, %s" % tag, "%s (pgbench now %s)" % (
                fmt_rate(sd["per_s"]), "%.0f tps" % pb["tps"] if pb else
                "n/a"), "small case: %s (pgbench then %s); raw ratio %.2f×" % (
                    fmt_rate(dr["per_s"]), "%.0f tps" % pa["tps"] if pa else
                    "n/a", raw), ratio,
                "within 1.5× (≥ 0.67×)",
                "scale_deploy_svc_drain: %.0f/s (%.3f of the small case "
                "%.0f/s%s)" % (sd["per_s"], raw, dr["per_s"], extra))


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


def _on_term(signum, frame):
    """run.sh's timeout sends SIGTERM: unwind, so the stack is torn down."""
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, _on_term)
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="short rounds, one each, small scale (development)")
    ap.add_argument("--scale", type=float, default=None,
                    help="fraction of 100k components / 1M tokens / 10M "
                    "deployments for the scale figures (default 1, --quick "
                    "0.01; 0 skips them)")
    ap.add_argument("--round", type=int, default=None,
                    help="seconds per wrk round (default 5, --quick 2)")
    ap.add_argument("--skip", default="",
                    help="comma list of table parts to leave out: handoff, "
                    "webhook (with the drain), kcat, pgbench, latency, "
                    "flood, scale")
    ap.add_argument("--only", default=os.environ.get("SLIPWAY_BENCH_ONLY",
                                                     "table"),
                    help="table (default), or apply and/or availability: the "
                    "data-plane benchmarks of bench_cutover.py")
    ap.add_argument("-a", type=int, default=int(os.environ.get(
        "SLIPWAY_BENCH_APPLY_N", 30)), help="applies measured (apply)")
    ap.add_argument("-u", type=int, default=int(os.environ.get(
        "SLIPWAY_BENCH_CUTOVERS", 20)), help="cutovers (availability)")
    ap.add_argument("--app-port", type=int, default=int(os.environ.get(
        "SLIPWAY_BENCH_APP_PORT", 38490)))
    args = ap.parse_args()
    only = [b for b in args.only.split(",") if b]
    bad = set(only) - {"table", "apply", "availability"}
    if bad:
        ap.error("unknown --only %s" % ",".join(sorted(bad)))
    cfg = dict(PROFILES["quick" if args.quick else "full"])
    if args.round:
        cfg["round_s"] = args.round
    offset = int(os.environ.get("SLIPWAY_BENCH_PORT_OFFSET", "-5000"))
    build = os.environ.get("SLIPWAY_BUILD", "build")
    state = os.environ.get("SLIPWAY_BENCH_STATE",
                           str(sh.REPO / build / "bench-state"))
    work = (sh.REPO / build / "bench").resolve()
    work.mkdir(parents=True, exist_ok=True)
    ports = sh.ports_from_env(offset=offset)
    ports["nginx"] = 28098 + offset   # 28090 is the front door's
    bench_ports_check(ports)
    h = sh.Harness(state, ports=ports)
    rep = Report()
    say("command: %s" % " ".join(["tests/bench/run.sh"] + sys.argv[1:]))
    say("started %s UTC on %s, %d cores; ports %s" % (
        datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"),
        platform.node(), os.cpu_count(), json.dumps(ports)))
    t0 = time.monotonic()
    rc = 0
    try:
        h.start()
        say("stack and services up in %.1f s" % (time.monotonic() - t0))
        if "table" in only:
            run(h, args, cfg, rep, work)
        if "apply" in only or "availability" in only:
            import bench_cutover
            if "apply" in only:
                rep.closing += bench_cutover.bench_apply(h, args.a,
                                                         args.app_port)
            if "availability" in only:
                rep.closing += bench_cutover.bench_availability(
                    h, args.u, args.app_port)
    except Exception as e:   # report, then always tear down
        import traceback
        traceback.print_exc()
        print("bench failed: %s\n%s" % (e, h.all_log_tails()),
              file=sys.stderr)
        rc = 1
    finally:
        for fn in rep.cleanup:
            fn()
        problems = h.stop()
        if problems:
            print("teardown: %s" % "; ".join(problems)[:4000],
                  file=sys.stderr)
    build_table(rep, cfg)
    total = time.monotonic() - t0
    say("\n== the table (%s profile, whole run %.0f s incl. stack start and "
        "teardown)" % ("quick" if args.quick else "full", total))
    say(rep.table())
    say("\n== command lines")
    for what, cmd in rep.commands:
        say("  %s:\n    %s" % (what, cmd))
    say("")
    for line in rep.closing:
        say(line)
    out = work / "results.json"
    out.write_text(json.dumps({
        "date": datetime.datetime.utcnow().isoformat() + "Z",
        "host": platform.node(), "cores": os.cpu_count(),
        "profile": "quick" if args.quick else "full", "config": cfg,
        "seconds": total, "rc": rc, "table": rep.rows,
        "closing": rep.closing, "commands": rep.commands,
        "data": rep.data}, indent=1, default=str))
    say("results: %s" % out)
    return rc


if __name__ == "__main__":
    sys.exit(main())
