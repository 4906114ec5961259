"""The load tools of the benchmark and the parsing of what they print:
wrk (with Lua scripts), nginx (the static-202 anchor), kcat (the producer
ceiling and the commands-topic consumer) and pgbench. Standard library only.

Every runner returns what it measured and the command line that did it, so
the report can print both. Secrets never go on a command line: Kafka
credentials reach kcat in a 0600 config file (-F), tokens reach wrk in its
Lua script.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path


class ToolError(Exception):
    pass


def need(tool, *alternatives):
    """The path of tool (or of the first alternative path that exists)."""
    found = shutil.which(tool)
    for alt in alternatives:
        if found is None and Path(alt).exists():
            found = alt
    if found is None:
        raise ToolError("%s not installed (scripts/setup.sh installs it)" %
                        tool)
    return found


def write_private(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)
    return path


# --- wrk ------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ToolError("wrk latency %r" % text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def lua_string(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def lua_static_post(path, token, body):
    """One fixed request: wrk sends it without calling Lua per request."""
    return ('wrk.method = "POST"\n'
            'wrk.path = %s\n'
            'wrk.body = %s\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            'wrk.headers["Authorization"] = %s\n' % (
                lua_string(path), lua_string(body),
                lua_string("Bearer " + token)))


# Counts statuses (and Retry-After on 429) per thread, printed by done().
_LUA_COUNTING = r'''
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  counts = {}
  retry_missing = 0
end
function response(status, headers, body)
  local k = tostring(status)
  counts[k] = (counts[k] or 0) + 1
  if status == 429 and headers["Retry-After"] == nil
     and headers["retry-after"] == nil then
    retry_missing = retry_missing + 1
  end
end
function done(summary, latency, requests)
  local total, missing = {}, 0
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
    missing = missing + t:get("retry_missing")
  end
  local parts = {}
  for k, v in pairs(total) do
    table.insert(parts, string.format('"%s": %d', k, v))
  end
  io.write(string.format('STATUS_COUNTS {%s} RETRY_AFTER_MISSING %d\n',
                         table.concat(parts, ", "), missing))
end
'''


def lua_forged_flood(path, tokens, body):
    """POSTs body with a different forged token per request (round robin
    over tokens), counting statuses."""
    lines = ",\n".join("  " + lua_string(t) for t in tokens)
    return ('local tokens = {\n%s\n}\n'
            'local n = 0\n'
            'function request()\n'
            '  n = n %% #tokens + 1\n'
            '  return wrk.format("POST", %s, {["Content-Type"] = '
            '"application/json", ["Authorization"] = "Bearer " .. tokens[n]},'
            ' %s)\n'
            'end\n' % (lines, lua_string(path), lua_string(body))
            ) + _LUA_COUNTING


def parse_wrk(out):
    """wrk --latency output -> dict (rate counts only 2xx/3xx answers)."""
    res = {}
    m = re.search(r"(\d+) requests in ([0-9.]+)(us|ms|s|m)", out)
    if not m:
        raise ToolError("wrk printed no summary:\n" + out[-2000:])
    res["requests"] = int(m.group(1))
    res["duration_s"] = _ms(m.group(2) + m.group(3)) / 1000.0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    res["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    for pct in ("50", "75", "90", "99"):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, out, re.M)
        if m:
            res["p%s_ms" % pct] = _ms(m.group(1))
    m = re.search(r"STATUS_COUNTS (\{.*\}) RETRY_AFTER_MISSING (\d+)", out)
    if m:
        res["statuses"] = json.loads(m.group(1))
        res["retry_after_missing"] = int(m.group(2))
    res["ok_per_s"] = (res["requests"] - res["non2xx"]) / res["duration_s"]
    res["all_per_s"] = res["requests"] / res["duration_s"]
    return res


def run_wrk(url, script, connections, duration_s, threads=None, timeout_s=10):
    """wrk against url with the Lua script; returns (parsed, command)."""
    wrk = need("wrk")
    threads = threads or (1 if connections < 2 else 2)
    cmd = [wrk, "-t%d" % threads, "-c%d" % connections,
           "-d%ds" % duration_s, "--timeout", "%ds" % timeout_s, "--latency",
           "-s", str(script), url]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=duration_s + timeout_s + 60)
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0:
        raise ToolError("wrk failed (%d): %s" % (r.returncode, out[-2000:]))
    parsed = parse_wrk(out)
    parsed["raw"] = out
    return parsed, " ".join(cmd)


def cpu_ticks(pids):
    """utime + stime of the processes (all their threads), in seconds."""
    hz = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / float(hz)


def with_children(pid):
    """pid and its direct children (nginx: the master and its workers)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [pid] + [int(x) for x in f.read().split()]
    except OSError:
        return [pid]


def start_wrk(url, script, connections, duration_s, threads=1, timeout_s=10):
    """wrk in the background (a flood): (Popen, command)."""
    wrk = need("wrk")
    cmd = [wrk, "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration_s,
           "--timeout", "%ds" % timeout_s, "--latency", "-s", str(script), url]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT), " ".join(cmd)


# --- raw HTTP, to size the anchor's answer --------------------------------------

def raw_response(port, request):
    """Sends request bytes, reads one whole response (Content-Length);
    returns (status, total bytes, head bytes, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        want = int(m.group(1)) if m else 0
        while len(body) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    finally:
        s.close()
    status = int(head.split(b" ", 2)[1])
    return status, len(head) + 4 + len(body), head, body


def post_request(port, path, token, body):
    b = body.encode()
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Content-Type: application/json\r\nAuthorization: Bearer %s\r\n"
            "Content-Length: %d\r\n\r\n" % (path, port, token, len(b))
            ).encode() + b


# --- nginx: a static 202 -----------------------------------------------------------

class Nginx:
    """Debian's nginx, one worker (one event loop, like each service),
    answering every request with a fixed 202 body, on 127.0.0.1:port, with
    its own prefix (pid, logs, temp dirs) under workdir."""

    def __init__(self, workdir, port):
        self.dir = Path(workdir)
        self.port = port
        self.bin = need("nginx", "/usr/sbin/nginx")
        self.conf = self.dir / "nginx.conf"
        self.proc = None

    def _write(self, body):
        for d in ("logs", "tmp"):
            (self.dir / d).mkdir(parents=True, exist_ok=True)
        esc = body.replace("\\", "\\\\").replace("'", "\\'")
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.conf.write_text(
            "%sworker_processes 1;\n"
            "daemon off;\n"
            "pid %s/nginx.pid;\n"
            "error_log %s/logs/error.log warn;\n"
            "events { worker_connections 4096; }\n"
            "http {\n"
            "  access_log off;\n"
            "  keepalive_requests 1000000;\n"
            "  keepalive_timeout 120s;\n"
            "  client_body_temp_path %s/tmp/body;\n"
            "  proxy_temp_path %s/tmp/proxy;\n"
            "  fastcgi_temp_path %s/tmp/fastcgi;\n"
            "  uwsgi_temp_path %s/tmp/uwsgi;\n"
            "  scgi_temp_path %s/tmp/scgi;\n"
            "  server {\n"
            "    listen 127.0.0.1:%d;\n"
            "    location / {\n"
            "      default_type application/json;\n"
            "      return 202 '%s';\n"
            "    }\n"
            "  }\n"
            "}\n" % ((user,) + (self.dir,) * 7 + (self.port, esc)))

    def start(self, body):
        self.stop()
        self._write(body)
        self.proc = subprocess.Popen(
            [self.bin, "-p", str(self.dir), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ToolError("nginx exited: %s" % self.proc.stderr.read()
                                .decode(errors="replace"))
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise ToolError("nginx never listened on %d" % self.port)

    def start_sized(self, total_bytes, template):
        """Starts it answering template padded (with spaces inside the JSON)
        so that the whole response is total_bytes long; returns the
        response's real size."""
        pad = 0
        for _ in range(3):    # the Content-Length's digits may change too
            self.start(template[:-1] + " " * pad + template[-1:])
            _, size, _, _ = raw_response(self.port, post_request(
                self.port, "/v1/hooks/deploy", "x", '{"tag":"v1"}'))
            if size == total_bytes:
                break
            pad = max(0, pad + total_bytes - size)
        return size

    def command(self):
        return "%s -p %s -c %s" % (self.bin, self.dir, self.conf)

    def pids(self):
        return with_children(self.proc.pid) if self.proc is not None else []

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None


# --- kcat -----------------------------------------------------------------------

def kcat_config(path, brokers, protocol, mechanism, user, password, extra=()):
    """A kcat -F file (0600) with the broker and SASL settings."""
    lines = ["bootstrap.servers=%s" % brokers,
             "security.protocol=%s" % protocol,
             "sasl.mechanisms=%s" % mechanism,
             "sasl.username=%s" % user,
             "sasl.password=%s" % password] + list(extra)
    return write_private(path, "\n".join(lines) + "\n")


def kcat_produce(config, topic, count, size):
    """count messages of size bytes through one kcat producer (acks=all,
    idempotent, librdkafka's defaults otherwise), fed by yes | head; the
    wall time includes the final flush of every acknowledgement. Returns
    (msg/s, seconds, command)."""
    kcat = need("kcat")
    line = "x" * size
    cmd = ("yes %s | head -n %d | %s -F %s -P -t %s -X acks=all "
           "-X enable.idempotence=true" % (line, count, kcat, config, topic))
    shown = cmd.replace(line, "<%d bytes>" % size)
    t0 = time.monotonic()
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=600)
    took = time.monotonic() - t0
    out = r.stdout.decode(errors="replace")
    # head closing the pipe makes yes exit 141: only kcat's status counts.
    if r.returncode not in (0, 141) or "ERROR" in out or "%3|" in out:
        raise ToolError("kcat producer failed (%d): %s" % (r.returncode,
                                                           out[-2000:]))
    return count / took, took, shown


def kcat_offsets(config, topic):
    """The topic's end offsets summed over partitions (kcat -Q -t t:-1)."""
    kcat = need("kcat")
    r = subprocess.run([kcat, "-F", str(config), "-Q", "-t", "%s:-1" % topic],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0:
        raise ToolError("kcat -Q: %s" % out[-1000:])
    return out


# --- pgbench ----------------------------------------------------------------------

def run_pgbench(url, script, clients, duration_s):
    pgbench = need("pgbench", "/usr/lib/postgresql/15/bin/pgbench")
    cmd = [pgbench, "-n", "-M", "prepared", "-c", str(clients), "-j",
           str(min(clients, 2)), "-T", str(duration_s), "-f", str(script)]
    r = subprocess.run(cmd + [url], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=duration_s + 120)
    out = r.stdout.decode(errors="replace")
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if r.returncode != 0 or not m:
        raise ToolError("pgbench failed (%d): %s" % (r.returncode,
                                                     out[-2000:]))
    lat = re.search(r"latency average = ([0-9.]+) ms", out)
    return {"tps": float(m.group(1)),
            "latency_avg_ms": float(lat.group(1)) if lat else None,
            "raw": out}, " ".join(cmd + ["$SLIPWAY_PG_ADMIN_URL"])


# --- /proc ------------------------------------------------------------------------

def proc_smaps_kb(pid):
    """(PSS, USS) in kB of a live process from /proc/PID/smaps_rollup, or
    (None, None). PSS counts each shared page divided by the processes
    sharing it; USS only the pages no other process has (private clean +
    dirty): what the process alone costs the machine."""
    got = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, rest = line.partition(":")
                if k in ("Pss", "Private_Clean", "Private_Dirty"):
                    got[k] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return None, None
    if "Pss" not in got:
        return None, None
    return got["Pss"], got.get("Private_Clean", 0) + got.get(
        "Private_Dirty", 0)


def proc_mem_kb(pid):
    """(VmRSS, VmHWM) in kB of a live process, or (None, None)."""
    rss = hwm = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm
