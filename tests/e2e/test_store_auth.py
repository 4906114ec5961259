"""Postgres and Redis accept only the stack's credentials, and each service's
role or ACL user only what that service needs (issue 7): no `trust`, no
Redis `default` user, the webhook cannot write a token binding nor a table,
a wrong Redis password is a clear /readyz reason and log line without the
password, and no store password reaches a log or --check-config."""

import json
import os
import stat
import subprocess
import time
import urllib.parse

from slipway_harness import STORE_VARS, get_text, unique


def _psql(url, sql, password=None):
    """psql with nothing but url (no ~/.pgpass, no PGPASSWORD unless
    given); returns (rc, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSFILE"] = os.devnull
    env["PGCONNECT_TIMEOUT"] = "5"
    if password is not None:
        env["PGPASSWORD"] = password
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        url, "-c", sql], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    return r.returncode, r.stdout.decode(errors="replace").strip()


def _without_password(url):
    u = urllib.parse.urlsplit(url)
    netloc = "%s@%s:%d" % (u.username, u.hostname, u.port)
    return urllib.parse.urlunsplit((u.scheme, netloc, u.path, u.query, ""))


def _denied(rc, out):
    assert rc != 0 and "permission denied" in out, (rc, out)


def test_postgres_refuses_clients_without_a_password(slipway):
    env = slipway.env
    for var in ("SLIPWAY_PG_COMPONENT_URL", "SLIPWAY_PG_WEBHOOK_URL"):
        bare = _without_password(env[var])
        rc, out = _psql(bare, "SELECT 1")
        assert rc != 0 and "password" in out, (var, rc, out)
        rc, out = _psql(bare, "SELECT 1", password="not-the-password")
        assert rc != 0 and "password authentication failed" in out, (rc, out)
    # The superuser has no password and is refused over TCP; the former
    # shared `slipway` role cannot log in at all.
    port = slipway.ports["pg"]
    for role in ("postgres", "slipway"):
        rc, out = _psql("postgresql://%s@127.0.0.1:%d/slipway" % (role, port),
                        "SELECT 1", password="anything")
        assert rc != 0, (role, out)
    rc, out = _psql(env["SLIPWAY_PG_COMPONENT_URL"], "SELECT 1")
    assert (rc, out) == (0, "1"), out


def test_each_postgres_role_owns_only_its_schema(slipway):
    owners = dict(line.split("|") for line in slipway.psql(
        "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE "
        "nspname IN ('registry', 'component', 'deploy')").splitlines())
    assert owners == {"registry": "slipway_registry",
                      "component": "slipway_component",
                      "deploy": "slipway_deploy"}, owners
    bad = slipway.psql(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN "
        "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN "
        "('registry', 'component', 'deploy') AND c.relkind = 'r' AND "
        "pg_get_userbyid(c.relowner) <> 'slipway_' || n.nspname")
    assert bad == "", "tables owned by another role: %s" % bad
    env = slipway.env
    _denied(*_psql(env["SLIPWAY_PG_COMPONENT_URL"],
                   "SELECT count(*) FROM deploy.schema_migrations"))
    _denied(*_psql(env["SLIPWAY_PG_DEPLOY_URL"],
                   "SELECT count(*) FROM registry.schema_migrations"))


def test_webhook_role_reads_tokens_but_writes_nothing(slipway, org, project):
    reg = slipway.create_registry(org)
    comp = slipway.create_component(org, project, reg["id"])
    tok = slipway.create_token(comp["id"])
    url = slipway.env["SLIPWAY_PG_WEBHOOK_URL"]
    rc, out = _psql(url, "SELECT count(*) FROM component.tokens WHERE id = "
                    "'%s'" % tok["id"])
    assert (rc, out) == (0, "1"), out
    _denied(*_psql(url, "UPDATE component.tokens SET revoked_at = NULL"))
    _denied(*_psql(url, "DELETE FROM component.components"))
    _denied(*_psql(url, "INSERT INTO component.outbox DEFAULT VALUES"))
    _denied(*_psql(url, "CREATE TABLE component.forged (x int)"))
    _denied(*_psql(url, "SELECT count(*) FROM registry.schema_migrations"))


def test_redis_refuses_clients_without_credentials(slipway):
    rc, out = slipway.redis_cli("get", "slipway:token:x", user=None)
    assert "NOAUTH" in out, (rc, out)
    rc, out = slipway.redis_cli("set", "slipway:token:x", "{}", user=None)
    assert "NOAUTH" in out, (rc, out)
    rc, out = slipway.redis_cli("ping", user="webhook",
                                password="not-the-password")
    assert "WRONGPASS" in out, (rc, out)
    assert slipway.redis_cli("exists", "slipway:token:x")[1] == "0"


def test_redis_users_have_only_their_keys_and_commands(slipway):
    key = "slipway:token:" + "0" * 64
    assert slipway.redis_cli("set", key, "{}", "ex", "60",
                             user="component")[1] == "OK"
    # The webhook reads a binding and may drop one (a revocation); it cannot
    # write one: a cache hit is trusted.
    assert slipway.redis_cli("get", key, user="webhook")[1] == "{}"
    rc, out = slipway.redis_cli("set", key, "forged", user="webhook")
    assert "NOPERM" in out, (rc, out)
    rc, out = slipway.redis_cli("set", "slipway:token:x", "y", user="webhook")
    assert "NOPERM" in out, (rc, out)
    assert slipway.redis_cli("get", key)[1] == "{}"
    assert slipway.redis_cli("del", key, user="webhook")[1] == "1"
    # Its own keys it writes.
    idem = "slipway:idem:%s:x" % unique("c")
    assert slipway.redis_cli("set", idem, "1", "ex", "60",
                             user="webhook")[1] == "OK"
    assert slipway.redis_cli("del", idem, user="webhook")[1] == "1"
    for user in ("webhook", "component"):
        for cmd in (("flushall",), ("keys", "*"), ("config", "get", "*"),
                    ("set", "other:key", "x")):
            rc, out = slipway.redis_cli(*cmd, user=user)
            assert "NOPERM" in out, (user, cmd, rc, out)
    rc, out = slipway.redis_cli("get", key, user="component")
    assert "NOPERM" in out, (rc, out)
    rc, out = slipway.redis_cli("set", idem, "1", user="component")
    assert "NOPERM" in out, (rc, out)


def test_wrong_redis_password_is_a_clear_readyz_reason(slipway, app_ports):
    wrong = "wrong-" + unique("pw")
    bad = slipway.extra_service("webhook-ingress", app_ports.take(),
                                SLIPWAY_REDIS_PASSWORD=wrong)
    try:
        bad.start(ready=False)
        deadline = time.monotonic() + 20
        while True:
            status, text = get_text(bad.url("/readyz"), timeout=2)
            if status == 503 and "AUTH" in text:
                break
            assert time.monotonic() < deadline, (status, text, bad.tail())
            time.sleep(0.2)
        reason = json.loads(text)["reason"]
        assert "AUTH as user webhook refused" in reason, reason
        assert "WRONGPASS" in reason, reason
        log = bad.log.read_text(errors="replace")
        assert "AUTH as user webhook refused" in log, bad.tail()
    finally:
        bad.stop()
    log = bad.log.read_text(errors="replace")
    assert wrong not in log and wrong not in text


def test_store_secrets_stay_out_of_check_config_and_state(slipway):
    secrets = slipway.store_secrets()
    assert len(secrets) >= 7, "store passwords missing from stack.env"
    assert secrets <= slipway.secrets, "the log scan misses store passwords"
    for service in ("registry-svc", "component-svc", "deploy-svc",
                    "webhook-ingress"):
        r = subprocess.run([str(slipway.bin / service), "--check-config"],
                           env=slipway.service_env[service],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=20)
        out = r.stdout.decode(errors="replace")
        assert r.returncode == 0, (service, out)
        for s in secrets:
            assert s not in out, "%s --check-config shows a password" % service
        # Each service is given only its own credentials.
        env = slipway.service_env[service]
        for k in STORE_VARS:
            assert k not in env, (service, k)
    for path in sorted(slipway.state.glob("*-password")) + [
            slipway.state / "redis" / "users.acl"]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o600, "%s is %o" % (path, mode)
    acl = (slipway.state / "redis" / "users.acl").read_text()
    for s in secrets:
        assert s not in acl
