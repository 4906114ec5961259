"""Where registry traffic and credentials may go: registry-svc's registry
test and the agent's resolver (issue 7, "Narrower credentials";
services/lib/regauth.h).

A fake registry on 127.0.0.1 plays each part and records every request it
gets, so each test also shows what never reached it. All traffic is loopback
(ARCHITECTURE.md §9): the non-loopback hosts below are names a registry
hands out, refused before anything resolves or connects to them; the
refusal of private and link-local addresses is unit-tested
(tests/unit/test_regauth.c, test_regauth_guard.c).

- The stack allows loopback (SLIPWAY_ALLOW_PRIVATE_TARGETS=loopback): the
  test of a loopback registry answers ok. A second registry-svc started
  without the variable (public addresses only) refuses the very same
  registry, names the address and the fix, and never connects to it.
- A Bearer realm on plain http off loopback gets nothing; one on loopback
  gets the credentials and logs in.
- A redirect is reported, never followed.
- The agent's resolver applies the same policy: an agent started without
  the variable fails a deployment from the stack's loopback registry with
  the address and the fix, before any pull.
"""

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slipway_harness import api, unique

VAR = "SLIPWAY_ALLOW_PRIVATE_TARGETS"


class FakeRegistry:
    """A registry's /v2/ and token endpoint on 127.0.0.1:<free port>.

    answer(path, authorized) -> (status, headers, body) decides each reply;
    requests lists (method, path, authorized) of every request received."""

    def __init__(self, answer):
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                authorized = "Authorization" in self.headers
                fake.requests.append(("GET", self.path, authorized))
                status, headers, body = answer(self.path, authorized)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def paths(self):
        return [p for _, p, _ in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _test(url_base, org, reg_id):
    status, body = api("POST", "%s/v1/orgs/%s/registries/%s/test" % (
        url_base, org, reg_id))
    assert status == 200, (status, body)
    return body


def _main(slipway):
    return slipway.url("registry-svc", "")


def test_loopback_registry_refused_unless_allowed(slipway, org, app_ports):
    fake = FakeRegistry(lambda path, auth: (200, {}, b"{}"))
    # A second registry-svc without the variable: public addresses only.
    # Same database and keyring, so it sees the registries the first stores.
    strict = slipway.extra_service("registry-svc", app_ports.take(),
                                   drop=(VAR,))
    try:
        reg = slipway.create_registry(org, auth_type="anonymous",
                                      host=fake.host)
        body = _test(_main(slipway), org, reg["id"])
        assert body["ok"] is True and body["status"] == "ok", body
        assert fake.paths() == ["/v2/"], fake.requests

        strict.start()
        body = _test(strict.url(""), org, reg["id"])
        assert body == {
            "ok": False, "status": "refused", "host": fake.host,
            "detail": "refused: registry host %s resolves to 127.0.0.1, a "
                      "loopback address; set SLIPWAY_ALLOW_PRIVATE_TARGETS="
                      "loopback to allow it" % fake.host}, body
        # Refused at connect time: the fake registry never saw it.
        assert fake.paths() == ["/v2/"], fake.requests
    finally:
        rc = strict.stop()
        fake.close()
    assert rc == 0, "strict registry-svc exited with %r:\n%s" % (
        rc, strict.tail())
    report = strict.sanitizer_report()
    assert report is None, report


def test_policy_is_checked_with_the_config(slipway):
    """--check-config shows the policy in its canonical form and refuses a
    value that does not parse, naming the entry and the fix."""
    env = dict(slipway.service_env["registry-svc"])
    bin_ = str(slipway.bin / "registry-svc")
    env[VAR] = " Loopback, 10.1.0.0/16 "
    r = subprocess.run([bin_, "--check-config"], env=env, timeout=30,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert r.returncode == 0 and out["config"][VAR] == "loopback,10.1.0.0/16", \
        out
    env[VAR] = "loopback,10.1.2.0/16"
    r = subprocess.run([bin_, "--check-config"], env=env, timeout=30,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert r.returncode == 1 and out["error"]["field"] == VAR and \
        out["error"]["message"] == VAR + ": \"10.1.2.0/16\" has host bits " \
        "set; the range is 10.1.0.0/16", out


def test_plain_http_realm_off_loopback_gets_nothing(slipway, org):
    challenge = 'Bearer realm="http://auth.registry.invalid/token",' \
                'service="fake"'
    fake = FakeRegistry(lambda path, auth: (
        401, {"WWW-Authenticate": challenge}, b"{}"))
    try:
        reg = slipway.create_registry(org, auth_type="basic", host=fake.host,
                                      username="u", password=unique("pw"))
        body = _test(_main(slipway), org, reg["id"])
        assert body["ok"] is False and body["status"] == "refused", body
        assert body["detail"] == (
            "refused: the registry's token realm is plain http to "
            "auth.registry.invalid, which is not loopback; credentials go "
            "to a token realm only over https"), body
        # Only the anonymous ping reached the registry; nothing carried
        # the credentials anywhere.
        assert fake.requests == [("GET", "/v2/", False)], fake.requests
    finally:
        fake.close()


def test_loopback_realm_gets_the_credentials(slipway, org):
    holder = {}

    def answer(path, authorized):
        if path.startswith("/token"):
            return (200, {}, b'{"token": "t0ken"}') if authorized else \
                (401, {}, b"{}")
        return 401, {"WWW-Authenticate": 'Bearer realm="http://%s/token",'
                     'service="fake"' % holder["host"]}, b"{}"

    fake = FakeRegistry(answer)
    holder["host"] = fake.host
    try:
        reg = slipway.create_registry(org, auth_type="basic", host=fake.host,
                                      username="u", password=unique("pw"))
        body = _test(_main(slipway), org, reg["id"])
        assert body["ok"] is True, body
        assert body["detail"] == "logged in (token authentication)", body
        assert fake.requests == [("GET", "/v2/", False),
                                 ("GET", "/token?service=fake", True)], \
            fake.requests
    finally:
        fake.close()


def test_redirect_is_not_followed(slipway, org):
    holder = {}

    def answer(path, authorized):
        if not authorized:
            return 401, {"WWW-Authenticate": 'Basic realm="fake"'}, b"{}"
        return 302, {"Location": "http://%s/elsewhere" % holder["host"]}, b""

    fake = FakeRegistry(answer)
    holder["host"] = fake.host
    try:
        reg = slipway.create_registry(org, auth_type="basic", host=fake.host,
                                      username="u", password=unique("pw"))
        body = _test(_main(slipway), org, reg["id"])
        assert body["ok"] is False and body["status"] == "unreachable", body
        assert body["detail"] == (
            "registry_unreachable: GET /v2/ with credentials answered 302 (a "
            "redirect to %s), which is not followed: credentials are never "
            "re-sent after a redirect" % fake.host), body
        assert fake.paths() == ["/v2/", "/v2/"], fake.requests
    finally:
        fake.close()


def test_agent_refuses_loopback_unless_allowed(slipway, org, project,
                                              app_ports):
    agent = slipway.extra_agent(app_ports.take(), drop=(VAR,))
    try:
        agent.start()
        status, body = api("POST", slipway.url(
            "deploy-svc", "/v1/orgs/%s/environments" % org),
            {"name": "development", "dataplane": agent.name, "position": 0})
        assert status in (200, 201), body
        reg = slipway.create_registry(org, auth_type="basic")
        comp = slipway.create_component(org, project, reg["id"],
                                        port=app_ports.take())
        tok = slipway.create_token(comp["id"])
        status, body = slipway.hook(tok["token"], {
            "image": slipway.env["SLIPWAY_DEMO_IMAGE"]})
        assert status == 202, body
        dep = slipway.wait_deployment(body["request_id"], "failed",
                                      timeout=60)
        host = slipway.env["SLIPWAY_REGISTRY_HOST"]
        assert dep["dataplane"] == agent.name, dep
        assert dep.get("reason") == (
            "registry_unreachable: registry host %s resolves to 127.0.0.1, a "
            "loopback address; set SLIPWAY_ALLOW_PRIVATE_TARGETS=loopback to "
            "allow it" % host), dep
    finally:
        rc = agent.stop()
    assert rc == 0, "agent exited with %r:\n%s" % (rc, agent.tail())
    report = agent.sanitizer_report()
    assert report is None, report
