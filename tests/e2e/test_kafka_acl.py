"""The bus is authenticated and authorized: every service and every
data-plane agent has its own SCRAM principal with only the ACLs its work
needs (services/slipway-kafka-acl/acl_table.c). A client without
credentials, or with another principal's, cannot produce a forged
DataPlaneRegistered, ApplyDeployment or status report, and an agent reads
only its own topics. What landed is checked as admin afterwards."""

import base64
import json
import os
import subprocess

import slipway_harness as sh


DEPLOY_EVENTS = "slipway.deploy.events"
STATUS = "slipway.dataplane.status"


def _commands(dp):
    return "slipway.dataplane.%s.commands" % dp


def _credentials(dp):
    return "slipway.dataplane.%s.credentials" % dp


def _probe(slipway, kafka_probe, user, *args, password=None):
    """Runs kafka_probe as user (None: no credentials); returns (exit
    status, its last JSON line, the record lines)."""
    env = slipway.kafka_tool_env(user, password=password)
    r = subprocess.run([kafka_probe, args[0], slipway.env[
        "SLIPWAY_KAFKA_BROKERS"]] + list(args[1:]), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    lines = [json.loads(ln) for ln in r.stdout.decode().splitlines() if ln]
    assert lines, "kafka_probe printed nothing: %s" % r.stderr.decode(
        errors="replace")[-2000:]
    return r.returncode, lines[-1], lines[:-1]


def _keys(slipway, kafka_probe, topic):
    """The record keys of topic, read as admin."""
    rc, last, records = _probe(slipway, kafka_probe, "admin", "consume", topic)
    assert rc == 0, (topic, last)
    return {rec["key"] for rec in records}


def _agent(slipway, orgs=None):
    """A registered data plane with its agent principal (no agent runs):
    returns (name, that principal's password)."""
    name = sh.unique("acl")
    slipway.kafka_principal(name)
    key = base64.b64encode(os.urandom(32)).decode()
    slipway.register_dataplane(name, key, orgs=orgs, acls=False)
    return name, slipway.kafka_password("agent-" + name)


def test_forged_events_are_refused_without_the_right_principal(slipway,
                                                               kafka_probe):
    local = slipway.dataplane
    other, other_pw = _agent(slipway)
    agent_pw = slipway.kafka_password("agent-" + local)
    org = sh.unique("org")
    forged = []
    # (who, password, topic, kind): none of them may write there.
    cases = [
        (None, None, DEPLOY_EVENTS, "dataplane-registered"),
        ("webhook-ingress", None, DEPLOY_EVENTS, "dataplane-registered"),
        ("component-svc", None, DEPLOY_EVENTS, "dataplane-registered"),
        ("registry-svc", None, DEPLOY_EVENTS, "dataplane-registered"),
        ("agent-" + local, agent_pw, DEPLOY_EVENTS, "dataplane-registered"),
        (None, None, _commands(local), "apply"),
        ("webhook-ingress", None, _commands(local), "apply"),
        ("registry-svc", None, _commands(local), "apply"),
        ("agent-" + other, other_pw, _commands(local), "apply"),
        ("agent-" + local, agent_pw, _commands(local), "apply"),
        ("deploy-svc", None, _credentials(local), "apply"),
        (None, None, STATUS, "status"),
        ("webhook-ingress", None, STATUS, "status"),
        ("component-svc", None, STATUS, "status"),
    ]
    for who, pw, topic, kind in cases:
        name = sh.unique("forged")
        forged.append((topic, name))
        rc, last, _ = _probe(slipway, kafka_probe, who, "produce", topic,
                             kind, org, name, password=pw)
        assert rc != 0 and not last["ok"], (who, topic, last)
        if who is not None:
            # Authenticated, then refused by an ACL.
            assert last["error"] == "TOPIC_AUTHORIZATION_FAILED", \
                (who, topic, last)
    # The one allowed write among them, read back: the refusals are the
    # ACLs', not a broken client, and the reads below see what is there.
    allowed = sh.unique("allowed")
    rc, last, _ = _probe(slipway, kafka_probe, "deploy-svc", "produce",
                         _commands(other), "apply", org, allowed)
    assert rc == 0 and last["ok"], last
    assert allowed in _keys(slipway, kafka_probe, _commands(other))
    # Nothing forged reached a topic.
    for topic in {t for t, _ in forged}:
        keys = _keys(slipway, kafka_probe, topic)
        leaked = [n for t, n in forged if t == topic and n in keys]
        assert not leaked, (topic, leaked)


def test_a_wrong_password_is_refused(slipway, kafka_probe):
    rc, last, _ = _probe(slipway, kafka_probe, "deploy-svc", "produce",
                         DEPLOY_EVENTS, "dataplane-registered",
                         sh.unique("org"), sh.unique("forged"),
                         password="not-the-password")
    assert rc != 0 and not last["ok"], last


def test_an_agent_reads_only_its_own_topics(slipway, kafka_probe):
    local = slipway.dataplane
    name, pw = _agent(slipway)
    me = "agent-" + name
    # Its own topics: readable (empty or not).
    for topic in (_credentials(name), _commands(name)):
        rc, last, _ = _probe(slipway, kafka_probe, me, "consume", topic,
                             password=pw)
        assert rc == 0 and last["ok"], (topic, last)
    # Another data plane's, and the platform's own: refused. (The status
    # topic it may write, so it may see it exists; that is all.)
    for topic in (_credentials(local), _commands(local), DEPLOY_EVENTS,
                  "slipway.registry.events", "slipway.orgkeys",
                  "slipway.component.events", "slipway.image.pushed"):
        rc, last, records = _probe(slipway, kafka_probe, me, "consume", topic,
                                   password=pw)
        assert rc == 3 and last["error"] == "TOPIC_AUTHORIZATION_FAILED", \
            (topic, last)
        assert records == [], (topic, records)
    # Without credentials nothing is readable at all.
    rc, last, records = _probe(slipway, kafka_probe, None, "consume",
                               _credentials(local))
    assert rc != 0 and records == [], last


def test_kafka_passwords_stay_out_of_check_config_and_state(slipway):
    agent_pw = slipway.kafka_password("agent-" + slipway.dataplane)
    secrets = {slipway.kafka_password(u) for u in (
        "registry-svc", "component-svc", "deploy-svc", "webhook-ingress",
        "admin")} | {agent_pw}
    assert len(secrets) == 6, "Kafka passwords are not distinct"
    assert secrets <= slipway.secrets, "the log scan misses Kafka passwords"
    for service in sh.SERVICES:
        env = slipway.service_env[service]
        r = subprocess.run([str(slipway.bin / service), "--check-config"],
                           env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20)
        out = r.stdout.decode(errors="replace")
        assert r.returncode == 0, (service, out)
        cfg = json.loads(out.splitlines()[-1])["config"]
        assert cfg["SLIPWAY_KAFKA_SECURITY_PROTOCOL"] == "sasl_plaintext", cfg
        want = "agent-" + slipway.dataplane if service == "dataplane-agent" \
            else service
        assert cfg["SLIPWAY_KAFKA_USERNAME"] == want, cfg
        for s in secrets:
            assert s not in out, "%s --check-config shows a password" % service
        # Each is given its own principal only: no other password.
        given = {v for k, v in env.items() if k.startswith("SLIPWAY_KAFKA")}
        assert len(secrets & given) <= 1, service
    # The broker's files with admin's password are the state dir's own.
    for name in ("server.properties", "admin.properties"):
        mode = (slipway.state / "kafka" / name).stat().st_mode & 0o777
        assert mode == 0o600, "%s is %o" % (name, mode)


def test_sasl_settings_are_checked_at_start(slipway, app_ports):
    """A half-done Kafka security setting stops a service at start with a
    clear reason, and never echoes the password."""
    env = dict(slipway.service_env["deploy-svc"])
    pw = env["SLIPWAY_KAFKA_PASSWORD"]
    port = str(app_ports.take())
    cases = [
        ({"SLIPWAY_KAFKA_USERNAME": ""}, "SLIPWAY_KAFKA_USERNAME is required"),
        ({"SLIPWAY_KAFKA_SECURITY_PROTOCOL": "sasl"},
         "SLIPWAY_KAFKA_SECURITY_PROTOCOL must be"),
        ({"SLIPWAY_KAFKA_SECURITY_PROTOCOL": "plaintext"},
         "need SLIPWAY_KAFKA_SECURITY_PROTOCOL"),
        ({"SLIPWAY_KAFKA_PASSWORD_FILE": str(slipway.state /
                                             "kafka-admin-password")},
         "exactly one of SLIPWAY_KAFKA_PASSWORD"),
        ({"SLIPWAY_KAFKA_SASL_MECHANISM": "GSSAPI"},
         "SLIPWAY_KAFKA_SASL_MECHANISM must be"),
    ]
    for extra, want in cases:
        e = dict(env)
        e.update(extra)
        e["SLIPWAY_HTTP_PORT"] = port
        r = subprocess.run([str(slipway.bin / "deploy-svc")], env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        out = r.stdout.decode(errors="replace")
        assert r.returncode != 0 and want in out, (extra, out[-2000:])
        assert pw not in out
    # A password file others may read is refused by --check-config already.
    loose = slipway.state / "kafka-loose-password"
    loose.write_text(pw + "\n")
    loose.chmod(0o644)
    e = dict(env)
    del e["SLIPWAY_KAFKA_PASSWORD"]
    e["SLIPWAY_KAFKA_PASSWORD_FILE"] = str(loose)
    r = subprocess.run([str(slipway.bin / "deploy-svc"), "--check-config"],
                       env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=20)
    out = r.stdout.decode(errors="replace")
    loose.unlink()
    assert r.returncode == 1 and "SLIPWAY_KAFKA_PASSWORD_FILE" in out, out
    assert pw not in out
