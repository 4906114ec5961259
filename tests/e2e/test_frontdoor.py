"""The front door (scripts/frontdoor.sh, deploy/frontdoor/nginx.conf.template):
one address for the four HTTP services and the console.

Every route family reaches the service that owns it and gets that service's
own answer; the CLI works with SLIPWAY_URL alone; bodies keep the services'
caps (the endpoints upload's 10 MiB + 128 KiB included); nginx's own
answers (unknown path, body too large, a service down) are the platform's
JSON errors; status_url points at the front door; a client cannot forge
the address the webhook rate-limits; the console's files come with the SPA
fallback, cache rules and security headers.
"""

import json
import os
import subprocess
import time
import uuid

import pytest

import frontdoor_harness as fdh
import slipway_harness as sh
from slipway_harness import api, error_code, unique

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _same(fd, slipway, service, method, path, body=None, token=sh.ADMIN):
    """The request through the front door and straight to the service:
    the same status and body. Returns them."""
    via = fd.api(method, path, body, token=token)
    direct = api(method, slipway.url(service, path), body, token=token)
    assert via == direct, "%s %s: front door %r, %s %r" % (
        method, path, via, service, direct)
    return via


def _org_key(slipway, fd, org, role="admin", timeout=20):
    """An org key issued through the front door, once every service knows
    it (it travels to them as an event): each one's viewer route, through
    the front door, says 200 instead of 401."""
    status, body = fd.api("POST", "/v1/orgs/%s/keys" % org,
                          {"name": unique("k"), "role": role})
    assert status == 201, (status, body)
    key = body["key"]
    slipway.secrets.add(key)
    deadline = time.monotonic() + timeout
    for path in ("/v1/orgs/%s/registries" % org,
                 "/v1/orgs/%s/projects/p/components" % org,
                 "/v1/orgs/%s/environments" % org):
        while True:
            status, got = fd.api("GET", path, token=key)
            if status == 200:
                break
            assert status == 401 and time.monotonic() < deadline, \
                (path, status, got)
            time.sleep(0.05)
    return key


def test_every_route_family_reaches_its_service(slipway, frontdoor, org,
                                                project, app_ports):
    fd = frontdoor
    # registry-svc, as the operator: create through the front door, read
    # both ways.
    status, reg = fd.api("POST", "/v1/orgs/%s/registries" % org, {
        "name": unique("reg"), "auth_type": "basic",
        "host": slipway.env["SLIPWAY_REGISTRY_HOST"],
        "username": slipway.env["SLIPWAY_REGISTRY_USER"],
        "password": slipway.env["SLIPWAY_REGISTRY_PASSWORD"]})
    assert status == 201, (status, reg)
    assert _same(fd, slipway, "registry-svc", "GET",
                 "/v1/orgs/%s/registries/%s" % (org, reg["id"]))[0] == 200
    # deploy-svc's keys (operator), then everything else with an org key.
    key = _org_key(slipway, fd, org)
    assert _same(fd, slipway, "deploy-svc", "GET",
                 "/v1/orgs/%s/keys" % org)[0] == 200
    assert _same(fd, slipway, "registry-svc", "GET",
                 "/v1/orgs/%s/registries" % org, token=key)[0] == 200
    status, body = sh.api("GET", fd.url + "/v1/healthz")  # not a route
    assert status == 404 and error_code(body) == "not_found", body

    # component-svc: the component, its endpoints, its tokens.
    port = app_ports.take()
    status, comp = fd.api(
        "POST", "/v1/orgs/%s/projects/%s/components" % (org, project),
        {"name": unique("comp"), "description": "front door", "type": "service",
         "registry_id": reg["id"], "image": slipway.env["SLIPWAY_DEMO_IMAGE"],
         "endpoints": sh.endpoints_yaml(port)}, token=key)
    assert status == 201, (status, comp)
    cid = comp["id"]
    for path in ("/v1/orgs/%s/projects/%s/components" % (org, project),
                 "/v1/components/%s" % cid,
                 "/v1/components/%s/endpoints" % cid):
        assert _same(fd, slipway, "component-svc", "GET", path,
                     token=key)[0] == 200, path
    status, tok = fd.api("POST", "/v1/components/%s/tokens" % cid,
                         {"name": unique("t")}, token=key)
    assert status == 201, (status, tok)
    slipway.secrets.add(tok["token"])
    assert _same(fd, slipway, "component-svc", "GET",
                 "/v1/components/%s/tokens" % cid, token=key)[0] == 200

    # deploy-svc: environments, deployments, executions, configuration,
    # secrets, data planes; an unknown deployment is deploy-svc's 404.
    for path in ("/v1/orgs/%s/environments" % org,
                 "/v1/components/%s/deployments" % cid,
                 "/v1/components/%s/environments/development/config" % cid,
                 "/v1/components/%s/environments/development/secrets" % cid,
                 "/v1/components/%s/executions" % cid):
        assert _same(fd, slipway, "deploy-svc", "GET", path,
                     token=key)[0] == 200, path
    for path in ("/v1/deployments/%s" % uuid.uuid4(),
                 "/v1/executions/%s" % uuid.uuid4()):
        status, body = _same(fd, slipway, "deploy-svc", "GET", path, token=key)
        assert error_code(body) is not None, (path, status, body)
    assert _same(fd, slipway, "deploy-svc", "GET", "/v1/dataplanes")[0] == 200
    # Org scoping is the services' own, unchanged: another org is 404.
    other = unique("org")
    status, body = _same(fd, slipway, "registry-svc", "GET",
                         "/v1/orgs/%s/registries" % other, token=key)
    assert status in (403, 404), (status, body)

    # webhook-ingress: a forged token is its 401.
    status, body = fd.api("POST", "/v1/hooks/deploy", {"tag": "v1"},
                          token=sh.forge_token())
    assert status == 401 and error_code(body) == "invalid_token", body

    # Unknown /v1 paths are nginx's JSON 404, not a page.
    for path in ("/v1/nothing", "/v1/components/%s/nothing" % cid,
                 "/v1/orgs/%s" % org):
        status, body = fd.api("GET", path)
        assert status == 404 and error_code(body) == "not_found", (path, body)


def test_request_id_and_forwarded_headers(slipway, frontdoor):
    """X-Request-Id goes through both ways; a sane one sent by the client
    is kept, anything else replaced."""
    rid = "fd-" + uuid.uuid4().hex
    status, _, head = sh.raw_http(frontdoor.port, "GET", "/v1/dataplanes", {
        "Authorization": "Bearer " + slipway.admin_token, "X-Request-Id": rid})
    assert status == 200
    assert ("x-request-id: %s" % rid) in head.lower(), head
    status, _, head = sh.raw_http(frontdoor.port, "GET", "/v1/dataplanes", {
        "Authorization": "Bearer " + slipway.admin_token,
        "X-Request-Id": "bad id with spaces"})
    assert status == 200 and "bad id" not in head, head
    # The access log is JSON, one object per line, without the key.
    lines = [json.loads(l) for l in frontdoor.log_text().splitlines()
             if l.startswith("{")]
    assert any(l.get("request_id") == rid and l["status"] == 200
               for l in lines), lines[-5:]
    assert slipway.admin_token not in frontdoor.log_text()


def _cli(slipway, fd, *args, **kw):
    rc, out, err = fdh.cli(slipway, fd, *args, **kw)
    assert rc == 0, (args, rc, out, err)
    return out, err


def test_cli_with_one_url(slipway, frontdoor, org, project, app_ports,
                          tmp_path):
    """register registry -> component -> token -> webhook -> running, the
    CLI given SLIPWAY_URL and nothing else."""
    fd = frontdoor
    out, _ = _cli(slipway, fd, "--check-config")
    cfg = json.loads(out)
    for var in ("SLIPWAY_URL_REGISTRY", "SLIPWAY_URL_COMPONENT",
                "SLIPWAY_URL_DEPLOY", "SLIPWAY_URL_WEBHOOK"):
        assert cfg[var] == fd.url, cfg
    rc, out, err = fdh.cli(slipway, fd, "--help")
    assert "SLIPWAY_URL," in out + err, out + err

    env = slipway.env
    r = subprocess.run(
        [str(slipway.bin / "slipway"), "registry", "add", org, "--name",
         unique("reg"), "--host", env["SLIPWAY_REGISTRY_HOST"], "--username",
         env["SLIPWAY_REGISTRY_USER"], "--password-stdin", "--json"],
        env=fdh.cli_env(slipway, fd), input=env["SLIPWAY_REGISTRY_PASSWORD"].encode(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr)
    reg = json.loads(r.stdout)
    eps = tmp_path / "endpoints.yaml"
    eps.write_text(sh.endpoints_yaml(app_ports.take()))
    out, _ = _cli(slipway, fd, "component", "create", org, project, "--name",
                  unique("c"), "--type", "service", "--registry", reg["id"],
                  "--image", env["SLIPWAY_DEMO_IMAGE"], "--endpoints", str(eps),
                  "--json")
    comp = json.loads(out)
    out, err = _cli(slipway, fd, "token", "create", comp["id"], "--name", "ci",
                    "--snippet", "curl")
    token = out.strip()
    assert token.startswith("slp_"), out
    slipway.secrets.add(token)
    # The CI snippet posts to the public address.
    assert "'%s/v1/hooks/deploy'" % fd.url in err, err

    tag = env["SLIPWAY_DEMO_IMAGE"].rsplit(":", 1)[1]
    status, body = fd.api("POST", "/v1/hooks/deploy", {"tag": tag},
                          token=token)
    assert status == 202, (status, body)
    # status_url is on the front door, and answers there.
    assert body["status_url"] == "%s/v1/deployments/%s" % (
        fd.url, body["request_id"]), body
    out, _ = _cli(slipway, fd, "deploy", "status", body["request_id"],
                  "--wait", "--timeout", "90", timeout=120)
    assert "running" in out, out
    status, dep = sh.api("GET", body["status_url"])
    assert status == 200 and dep["status"] == "running", dep
    out, _ = _cli(slipway, fd, "deployments", comp["id"])
    assert body["request_id"] in out, out


def _schemas_upload(n_files, pad):
    """endpoints.yaml with n REST endpoints, each naming a schema of about
    pad bytes, as multipart: (body, content type)."""
    openapi = (b"openapi: 3.0.3\ninfo:\n  title: t\n  version: 1.0.0\n"
               b"paths:\n  /a:\n    get:\n      responses:\n"
               b"        '200':\n          description: ok\n")
    yaml = "version: 0.1\nendpoints:\n"
    files = []
    for i in range(n_files):
        yaml += ("- name: api%d\n  port: %d\n  type: REST\n  context: /a%d\n"
                 "  schemaFilePath: s%d.yaml\n" % (i, 9000 + i, i, i))
        files.append(("s%d.yaml" % i,
                      openapi + b"x-pad: '" + b"p" * pad + b"'\n"))
    boundary = "fd" + uuid.uuid4().hex
    out = []
    for field, name, data in [("endpoints", "endpoints.yaml",
                                yaml.encode())] + \
            [("schema", n, d) for n, d in files]:
        out.append(b"--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
                   b"filename=\"%s\"\r\nContent-Type: application/octet-stream"
                   b"\r\n\r\n" % (boundary.encode(), field.encode(),
                                  name.encode()))
        out.append(data + b"\r\n")
    out.append(b"--%s--\r\n" % boundary.encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary


def test_body_caps(slipway, frontdoor, org, project):
    fd = frontdoor
    reg = slipway.create_registry(org, auth_type="anonymous")
    comp = slipway.create_component(org, project, reg["id"])
    path = "/v1/components/%s/endpoints" % comp["id"]
    # About 9 MiB: nine schema files just under their 1 MiB cap.
    body, ctype = _schemas_upload(9, 1024 * 1024 - 512)
    assert 9 * 1024 * 1024 - 64 * 1024 < len(body) < 10 * 1024 * 1024
    status, resp = fd.api("PUT", path, body, headers={"Content-Type": ctype},
                          timeout=120)
    assert status == 200, (status, resp)
    status, got = fd.api("GET", path)
    assert status == 200 and len(got["endpoints"]) == 9, got
    # About 11 MiB: past component-svc's cap, its own JSON 413.
    body, ctype = _schemas_upload(11, 1024 * 1024 - 512)
    assert len(body) > 11 * 1024 * 1024 - 64 * 1024
    status, resp = fd.api("PUT", path, body, headers={"Content-Type": ctype},
                          timeout=120)
    assert status == 413 and error_code(resp) == "body_too_large", resp
    # Far past it: nginx stops it, in the same JSON shape.
    status, resp, head = sh.raw_http(
        fd.port, "PUT", path, {"Content-Type": ctype,
                               "Authorization": "Bearer " + slipway.admin_token},
        body=b"x" * (20 * 1024 * 1024), timeout=60)
    assert status == 413 and error_code(resp) == "body_too_large", (resp, head)
    assert "application/json" in head.lower(), head
    # Every other route keeps its service's cap: registry-svc's 413.
    status, resp = fd.api("POST", "/v1/orgs/%s/registries" % org,
                          {"name": "x", "pad": "p" * (2 * 1024 * 1024)})
    assert status == 413 and error_code(resp) == "body_too_large", resp
    # The webhook's 16 KiB is webhook-ingress's answer; 2 MiB is nginx's.
    status, resp = fd.api("POST", "/v1/hooks/deploy",
                          {"tag": "p" * (64 * 1024)}, token=sh.forge_token())
    assert status == 413 and error_code(resp) == "body_too_large", resp
    status, resp, head = sh.raw_http(
        fd.port, "POST", "/v1/hooks/deploy",
        {"Content-Type": "application/json"}, body=b"{" * (2 * 1024 * 1024))
    assert status == 413 and error_code(resp) == "body_too_large", (resp, head)


def test_a_stopped_service_is_a_json_502(slipway, frontdoor, org):
    fd = frontdoor
    reg = slipway.create_registry(org, auth_type="anonymous")
    path = "/v1/orgs/%s/registries/%s" % (org, reg["id"])
    assert fd.api("GET", path)[0] == 200
    slipway.kill_service("registry-svc")
    try:
        status, body = fd.api("GET", path)
        assert status in (502, 503), (status, body)
        assert error_code(body) == "service_unavailable", body
        assert "registry-svc" in body["error"]["message"], body
        # The others keep answering.
        assert fd.api("GET", "/v1/dataplanes")[0] == 200
        assert fd.api("GET", "/v1/orgs/%s/projects/p/components" % org)[0] == 200
    finally:
        slipway.restart_service("registry-svc")
    # And the front door finds the restarted one by itself.
    status, body = fd.api("GET", path)
    assert status == 200 and body["id"] == reg["id"], (status, body)


def test_forged_forwarded_for_does_not_change_the_rate_limited_address(
        slipway):
    """The webhook behind the front door trusts X-Forwarded-For; nginx
    replaces the client's, so invented addresses still share one failure
    budget. Straight to that webhook the same forgery would work: the
    check is not vacuous."""
    port = slipway.ports["frontdoor"] + 2
    fd = fdh.start_frontdoor(slipway, port=port, name="frontdoor-xff",
                             SLIPWAY_WEBHOOK_AUTH_FAIL_BURST="3",
                             SLIPWAY_WEBHOOK_AUTH_FAIL_RATE="1")
    try:
        def flood(url, n=30):
            out = []
            for i in range(n):
                status, body = api("POST", url, {"tag": "v1"},
                                   token=sh.forge_token(), headers={
                                       "X-Forwarded-For": "10.%d.%d.%d" % (
                                           i // 65536, i // 256 % 256,
                                           i % 256)})
                out.append((status, error_code(body)))
            return out

        direct = flood(fd.webhook.url("/v1/hooks/deploy"))
        assert set(direct) == {(401, "invalid_token")}, direct
        via = flood(fd.url + "/v1/hooks/deploy")
        assert (429, "rate_limited") in via, via
        assert set(via) <= {(401, "invalid_token"), (429, "rate_limited")}, via
    finally:
        problems = fd.stop()
    assert not problems, problems


def _head(fd, path, headers=None):
    """GET path on the front door: (status, lower-cased response head)."""
    status, _, head = sh.raw_http(fd.port, "GET", path, headers or {})
    return status, head.lower()


def test_console_files_and_spa_fallback(slipway):
    """The console's build output (here a stand-in with the same layout:
    index.html + hashed assets/) from the same origin as the API. It lives
    in the harness's state dir, readable by nginx's workers (pytest's
    tmp_path is private to root, and a root nginx's workers are nobody)."""
    console = slipway.state / "console-standin"
    (console / "assets").mkdir(parents=True)
    (console / "index.html").write_text(
        "<!doctype html><title>Slipway</title>"
        "<script type=module src=/assets/app-1a2b3c.js></script>")
    (console / "assets" / "app-1a2b3c.js").write_text("console.log(1)\n")
    port = slipway.ports["frontdoor"] + 4
    fd = fdh.start_frontdoor(slipway, port=port, name="frontdoor-console",
                             console_dir=console)
    try:
        for path in ("/", "/index.html", "/components/abc/deployments",
                     "/registries"):
            status, text = sh.get_text(fd.url + path)
            assert status == 200 and "<title>Slipway</title>" in text, path
            status, head = _head(fd, path)
            assert "cache-control: no-cache" in head, (path, head)
            assert "content-type: text/html" in head, head
            for name, want in SECURITY_HEADERS.items():
                assert ("%s: %s" % (name, want)).lower() in head, (name, head)
        status, text = sh.get_text(fd.url + "/assets/app-1a2b3c.js")
        assert status == 200 and text == "console.log(1)\n"
        status, head = _head(fd, "/assets/app-1a2b3c.js")
        assert "cache-control: max-age=315360000" in head, head
        assert "x-content-type-options: nosniff" in head, head
        # A missing asset is a 404, never the page (a script would get HTML).
        status, body = sh.api("GET", fd.url + "/assets/gone-999.js")
        assert status == 404 and error_code(body) == "not_found", body
        # The API beside it still answers, with the same headers.
        status, head = _head(fd, "/v1/dataplanes", {
            "Authorization": "Bearer " + slipway.admin_token})
        assert status == 200 and "x-frame-options: deny" in head, head
    finally:
        problems = fd.stop()
    assert not problems, problems


def test_no_console_built_is_a_json_404(slipway, tmp_path):
    port = slipway.ports["frontdoor"] + 6
    fd = fdh.start_frontdoor(slipway, port=port, name="frontdoor-empty",
                             console_dir=tmp_path / "absent")
    try:
        for path in ("/", "/some/page"):
            status, body = sh.api("GET", fd.url + path)
            assert status == 404 and error_code(body) == "not_found", body
        assert fd.api("GET", "/v1/dataplanes")[0] == 200
    finally:
        problems = fd.stop()
    assert not problems, problems


def test_kubernetes_config_is_the_rendered_template():
    """deploy/k8s/frontdoor-config.yaml is `scripts/frontdoor.sh k8s`: the
    one routing table, not a copy that drifts."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SLIPWAY_FRONTDOOR_")}
    r = subprocess.run(["bash", str(fdh.SCRIPT), "k8s"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    checked_in = (sh.REPO / "deploy" / "k8s" / "frontdoor-config.yaml").read_text()
    assert r.stdout.decode() == checked_in, \
        "run: scripts/frontdoor.sh k8s > deploy/k8s/frontdoor-config.yaml"


@pytest.mark.parametrize("var,value", [
    ("SLIPWAY_FRONTDOOR_REGISTRY_URL", "https://x:1"),
    ("SLIPWAY_FRONTDOOR_LISTEN", "127.0.0.1:port"),
    ("SLIPWAY_FRONTDOOR_TRUSTED_PROXIES", "10.0.0.0/8;x"),
    ("SLIPWAY_FRONTDOOR_CONSOLE_DIR", "/tmp/a dir"),
])
def test_bad_settings_are_refused_clearly(tmp_path, var, value):
    env = {"PATH": "/usr/sbin:/usr/bin:/bin",
           "SLIPWAY_FRONTDOOR_STATE_DIR": str(tmp_path), var: value}
    r = subprocess.run(["bash", str(fdh.SCRIPT), "check"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert r.returncode != 0
    assert var in r.stderr.decode(), r.stderr
