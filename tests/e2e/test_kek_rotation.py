"""KEK rotation as an operator does it: a new version line in the keyring
file, registry-svc and deploy-svc restarted (or sent SIGHUP), `registry-svc
rewrap` and `deploy-svc rewrap`, then the old versions removed. Every
registry and every configuration secret keeps working throughout: the
registry test logs in with the stored credentials, and a deployment whose
configuration holds a secret reaches running (deploy-svc opened it to seal
it to the data plane). And key files that group or others may read are
refused at start."""

import base64
import os
import re
import secrets
import shutil
import signal
import subprocess
import time

from slipway_harness import api, unique

REWRAP_LINE = re.compile(
    r"(?:registry|deploy)-svc rewrap: (\d+) re-wrapped, (\d+) already current, "
    r"(\d+) failed, (\d+) left under an older key \(newest KEK version (\d+)\)")


def _kek_file(slipway):
    return slipway.service_env["registry-svc"]["SLIPWAY_KEK_FILE"]


def _add_kek(slipway, version):
    with open(_kek_file(slipway), "a") as f:
        f.write("%d:%s\n" % (version, base64.b64encode(
            secrets.token_bytes(32)).decode()))
    assert os.stat(_kek_file(slipway)).st_mode & 0o777 == 0o600


def _rewrap(slipway, env=None, service="registry-svc"):
    """Runs `<service> rewrap` with the service's environment; returns
    (exit code, {rewrapped, current, failed, left, version}, output)."""
    r = subprocess.run([str(slipway.bin / service), "rewrap"],
                       env=env or slipway.service_env[service],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    m = REWRAP_LINE.search(out)
    assert m, "no summary from rewrap (exit %d):\n%s" % (r.returncode, out)
    keys = ("rewrapped", "current", "failed", "left", "version")
    return r.returncode, dict(zip(keys, map(int, m.groups()))), out


def _header(slipway, reg_id):
    """The secret's format byte and KEK version, hex (crypto.h)."""
    return slipway.psql(
        "SELECT encode(substring(secret FROM 1 FOR 5), 'hex') FROM "
        "registry.registries WHERE id = '%s'" % reg_id)


def _registry_test(slipway, org, reg_id):
    status, body = api("POST", slipway.url(
        "registry-svc", "/v1/orgs/%s/registries/%s/test" % (org, reg_id)))
    assert status == 200 and body.get("ok") is True, (status, body)


def _secret_header(slipway, comp_id):
    """The format byte and KEK version of the component's newest secret."""
    return slipway.psql(
        "SELECT encode(substring(decode(secrets->'API_TOKEN'->>'ciphertext', "
        "'base64') FROM 1 FOR 5), 'hex') FROM deploy.config_versions WHERE "
        "component_id = '%s' ORDER BY version DESC LIMIT 1" % comp_id)


def _sighup(slipway, services=("registry-svc", "deploy-svc")):
    """SIGHUP to each service; waits for its log to report the reload."""
    for service in services:
        log = slipway.log_path(service)
        before = log.read_text(errors="replace").count("keyring reloaded")
        slipway.procs[service].send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while log.read_text(errors="replace").count(
                "keyring reloaded") == before:
            assert time.monotonic() < deadline, slipway.log_tail(service)
            time.sleep(0.1)


def _rewrap_both(slipway, version):
    for service in ("registry-svc", "deploy-svc"):
        rc, got, out = _rewrap(slipway, service=service)
        assert rc == 0, out
        assert (got["failed"], got["left"], got["version"]) == (
            0, 0, version), (service, got)
        assert slipway.env["SLIPWAY_REGISTRY_PASSWORD"] not in out
        for secret in slipway.secrets:
            assert secret not in out, service


def _deploy_running(slipway, comp_id, tag):
    status, dep = api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/deployments" % comp_id),
        {"environment": "development", "tag": tag})
    assert status == 202, dep
    slipway.wait_deployment(dep["id"], "running", timeout=90)


def test_rotation_rewrap_keeps_every_registry_working(slipway, org, project,
                                                      app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    assert _header(slipway, reg["id"]) == "0200000001"
    comp = slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())
    token = "tok-" + unique("kek")
    slipway.secrets.add(token)
    status, body = api("PUT", slipway.url(
        "deploy-svc", "/v1/components/%s/environments/development/secrets/"
        "API_TOKEN" % comp["id"]), {"value": token})
    assert status == 200, body
    assert _secret_header(slipway, comp["id"]) == "0200000001"

    # 1. A second version in the file: registry-svc restarted to learn it,
    # deploy-svc sent SIGHUP.
    _add_kek(slipway, 2)
    slipway.kill_service("registry-svc", sig=signal.SIGTERM)
    slipway.restart_service("registry-svc")
    _sighup(slipway, ("deploy-svc",))
    _registry_test(slipway, org, reg["id"])       # still under version 1
    fresh_org = unique("org")
    fresh = slipway.create_registry(fresh_org, auth_type="basic")
    assert _header(slipway, fresh["id"]) == "0200000002"

    # 2. rewrap moves the older rows to version 2, with the services running.
    rc, got, out = _rewrap(slipway)
    assert rc == 0, out
    assert got["rewrapped"] >= 1 and got["current"] >= 1, got
    assert (got["failed"], got["left"], got["version"]) == (0, 0, 2), got
    assert _header(slipway, reg["id"]) == "0200000002"
    assert slipway.env["SLIPWAY_REGISTRY_PASSWORD"] not in out
    rc, dgot, out = _rewrap(slipway, service="deploy-svc")
    assert rc == 0 and dgot["rewrapped"] >= 1 and dgot["left"] == 0, out
    assert token not in out
    assert _secret_header(slipway, comp["id"]) == "0200000002"

    # 3. The stored credentials still log in, and a deployment from that
    # registry, with that secret, reaches running.
    _registry_test(slipway, org, reg["id"])
    _deploy_running(slipway, comp["id"], "v1")

    # 4. Idempotent: nothing is left to do.
    rc, again, out = _rewrap(slipway)
    assert rc == 0, out
    assert again["rewrapped"] == 0 and again["left"] == 0, again
    assert again["current"] == got["rewrapped"] + got["current"], (again, got)
    rc, again, out = _rewrap(slipway, service="deploy-svc")
    assert rc == 0 and again["rewrapped"] == 0 and again["left"] == 0, out

    # 5. Without a restart: version 3, SIGHUP, rewrap, then versions 1 and 2
    # removed and SIGHUP again; every registry and secret still opens.
    _add_kek(slipway, 3)
    _sighup(slipway)
    newest_org = unique("org")
    newest = slipway.create_registry(newest_org, auth_type="basic")
    assert _header(slipway, newest["id"]) == "0200000003"
    _rewrap_both(slipway, 3)
    assert _secret_header(slipway, comp["id"]) == "0200000003"
    lines = open(_kek_file(slipway)).read().splitlines()
    with open(_kek_file(slipway), "w") as f:
        f.write("".join(line + "\n" for line in lines
                        if line.startswith("3:")))
    _sighup(slipway)
    for o, r in ((org, reg), (fresh_org, fresh), (newest_org, newest)):
        _registry_test(slipway, o, r["id"])
    _deploy_running(slipway, comp["id"], "v2")


def test_rewrap_names_a_row_it_cannot_open(slipway, org):
    """A keyring without the row's version: rewrap exits non-zero, names the
    row, and changes nothing."""
    reg = slipway.create_registry(org, auth_type="basic")
    before = _header(slipway, reg["id"])
    other = slipway.state / "kek-unrelated"
    other.write_text("%d:%s\n" % (int(before[2:], 16) + 100, base64.b64encode(
        secrets.token_bytes(32)).decode()))
    other.chmod(0o600)
    env = dict(slipway.service_env["registry-svc"], SLIPWAY_KEK_FILE=str(other))
    try:
        rc, got, out = _rewrap(slipway, env)
    finally:
        other.unlink()
    assert rc != 0, out
    assert got["failed"] >= 1 and got["rewrapped"] == 0, got
    assert reg["id"] in out, out
    assert _header(slipway, reg["id"]) == before
    _registry_test(slipway, org, reg["id"])


def _loose_copy(slipway, src, name):
    dst = slipway.state / name
    shutil.copyfile(src, dst)
    dst.chmod(0o644)
    return str(dst)


def _run(slipway, service, env, args=(), timeout=30):
    r = subprocess.run([str(slipway.bin / service)] + list(args), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace")


def test_key_files_readable_by_others_are_refused(slipway, app_ports):
    kek = _loose_copy(slipway, _kek_file(slipway), "kek-0644")
    agent_env = slipway.service_env["dataplane-agent"]
    key = _loose_copy(slipway, agent_env["SLIPWAY_DATAPLANE_KEY_FILE"],
                      "dataplane-0644.key")
    try:
        env = dict(slipway.service_env["registry-svc"], SLIPWAY_KEK_FILE=kek,
                   SLIPWAY_HTTP_PORT=str(app_ports.take()))
        want = "SLIPWAY_KEK_FILE: %s has mode 0644: group or others may " \
               "read or change it; chmod 600 it" % kek
        for args in (["--check-config"], [], ["rewrap"]):
            rc, out = _run(slipway, "registry-svc", env, args)
            assert rc == 1 and want in out, (args, rc, out)

        env = dict(agent_env, SLIPWAY_DATAPLANE_KEY_FILE=key,
                   SLIPWAY_DATAPLANE=unique("dp"),
                   SLIPWAY_HTTP_PORT=str(app_ports.take()),
                   SLIPWAY_AGENT_STATE_DIR=str(slipway.state / "agent-0644"))
        rc, out = _run(slipway, "dataplane-agent", env)
        assert rc == 1 and "SLIPWAY_DATAPLANE_KEY_FILE: %s has mode 0644" % \
            key in out, (rc, out)
    finally:
        os.unlink(kek)
        os.unlink(key)
