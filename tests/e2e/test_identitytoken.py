"""identitytoken: a docker-config that holds only an identity token (what
`az acr login --expose-token` writes) deploys from a registry behind a token
server. A second registry (Debian's docker-registry, CNCF distribution) runs
with `auth: token`; the harness's TokenServer signs the RS256 JWTs it trusts.
registry-svc's test and the agent's resolver exchange the identity token at
the realm (POST grant_type=refresh_token); the engine's pull gets it as
X-Registry-Auth {"identitytoken"}."""

import json
import secrets
import subprocess
import time

import pytest

from slipway_harness import TokenServer, api, port_open, unique


@pytest.fixture(scope="module")
def token_registry(slipway, app_ports):
    """(registry host, token server) with demo/hello:v1 pushed to it."""
    tok_port, reg_port = app_ports.take(), app_ports.take()
    work = slipway.state / unique("tokreg")
    pusher = ("pusher", secrets.token_urlsafe(16))
    refresh = "rt-" + secrets.token_urlsafe(24)
    slipway.secrets.update({pusher[1], refresh})
    server = TokenServer(work, tok_port, refresh, basic=pusher).start()
    server.refresh = refresh
    config = work / "registry.yml"
    config.write_text(json.dumps({
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(work / "data")}},
        "http": {"addr": "127.0.0.1:%d" % reg_port, "secret": "local-only"},
        "auth": {"token": {"realm": server.realm, "service": server.service,
                           "issuer": server.issuer,
                           "rootcertbundle": str(server.cert_path)}},
    }))
    log = open(work / "registry.log", "wb")
    proc = subprocess.Popen(["docker-registry", "serve", str(config)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not port_open(reg_port):
            assert proc.poll() is None and time.monotonic() < deadline, \
                (work / "registry.log").read_text()
            time.sleep(0.05)
        host = "127.0.0.1:%d" % reg_port
        src = slipway.env["SLIPWAY_DEMO_IMAGE"]
        r = subprocess.run(
            ["skopeo", "copy", "-q", "--src-tls-verify=false",
             "--dest-tls-verify=false", "--src-creds", "%s:%s" % (
                 slipway.env["SLIPWAY_REGISTRY_USER"],
                 slipway.env["SLIPWAY_REGISTRY_PASSWORD"]),
             "--dest-creds", "%s:%s" % pusher, "docker://" + src,
             "docker://%s/demo/hello:v1" % host],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        assert r.returncode == 0, r.stdout.decode()
        yield host, server
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        server.stop()


def _docker_config(host, token):
    return json.dumps({"auths": {host: {
        "username": "00000000-0000-0000-0000-000000000000",
        "identitytoken": token}}})


def _registry(slipway, org, host, token, expect=201):
    status, resp = api("POST", slipway.url(
        "registry-svc", "/v1/orgs/%s/registries" % org),
        {"name": unique("acr"), "host": host, "auth_type": "docker-config",
         "docker_config": _docker_config(host, token)})
    assert status == expect, (status, resp)
    return resp


def _test(slipway, org, reg_id):
    status, resp = api("POST", slipway.url(
        "registry-svc", "/v1/orgs/%s/registries/%s/test" % (org, reg_id)))
    assert status == 200, (status, resp)
    return resp


def test_registry_is_token_protected(token_registry):
    host, _ = token_registry
    status, _ = api("GET", "http://%s/v2/" % host, token=None)
    assert status == 401


def test_identitytoken_only_config_deploys(slipway, org, project, app_ports,
                                           token_registry):
    host, server = token_registry
    reg = _registry(slipway, org, host, server.refresh)
    assert reg["auth_type"] == "docker-config"
    assert server.refresh not in json.dumps(reg)

    before = len(server.requests)
    result = _test(slipway, org, reg["id"])
    assert result["ok"] is True and result["status"] == "ok", result
    posts = [f for m, f in server.requests[before:] if m == "POST"]
    assert posts and posts[-1]["grant_type"] == "refresh_token", \
        server.requests[before:]
    assert posts[-1]["service"] == server.service

    comp = slipway.create_component(org, project, reg["id"],
                                    image="%s/demo/hello:v1" % host,
                                    port=app_ports.take())
    token = slipway.create_token(comp["id"])
    before = len(server.requests)
    status, body = slipway.hook(token["token"],
                                {"image": "%s/demo/hello:v1" % host})
    assert status == 202, (status, body)
    dep = slipway.wait_deployment(body["request_id"], "running", timeout=120)
    assert dep["digest"].startswith("sha256:"), dep
    # The agent's resolver exchanged the identity token for a pull scope.
    scopes = [f.get("scope") for m, f in server.requests[before:]
              if m == "POST" and f.get("grant_type") == "refresh_token"]
    assert "repository:demo/hello:pull" in scopes, server.requests[before:]
    # Nothing ever asked the token server with basic credentials but skopeo.
    assert all(m == "POST" for m, _ in server.requests[before:]), \
        server.requests[before:]


def test_wrong_identitytoken_is_unauthorized(slipway, org, token_registry):
    host, server = token_registry
    wrong = "rt-wrong-" + secrets.token_urlsafe(8)
    slipway.secrets.add(wrong)
    reg = _registry(slipway, org, host, wrong)
    result = _test(slipway, org, reg["id"])
    assert result["ok"] is False and result["status"] == "unauthorized", result


def test_identitytoken_config_refusals(slipway, org, token_registry):
    host, _ = token_registry
    for entry, code in (
            ({"identitytoken": ""}, "invalid_docker_config"),
            ({"identitytoken": "x", "auth": "dTpw"}, "invalid_docker_config"),
            ({"registrytoken": "x"}, "docker_config_unsupported")):
        status, resp = api("POST", slipway.url(
            "registry-svc", "/v1/orgs/%s/registries" % org),
            {"name": unique("acr"), "host": host,
             "auth_type": "docker-config",
             "docker_config": json.dumps({"auths": {host: entry}})})
        assert status == 422 and resp["error"]["code"] == code, (entry, resp)
