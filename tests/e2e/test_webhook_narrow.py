"""Narrower credentials (issue 7): a CI token deploys only its component's
repository, and a signing token accepts only signed, fresh, first-time calls
(Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).

The signatures are computed here with Python's hmac, independently of the C
code under test. Hooks ask for tags the registry lacks where only the
ingress's answer matters: such a deployment fails at once and starts no
container."""

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import uuid

from slipway_harness import api, error_code, unique


def _cache_key(token):
    return "slipway:token:" + hashlib.sha256(token.encode()).hexdigest()


def _component(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    return slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())


def _host(slipway):
    return slipway.env["SLIPWAY_REGISTRY_HOST"]


def _repository(slipway):
    return slipway.env["SLIPWAY_DEMO_IMAGE"].rsplit(":", 1)[0]


def sign(secret, msg_id, timestamp, body):
    """The Standard Webhooks v1 signature of one call."""
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, b"%s.%d.%s" % (msg_id.encode(), timestamp, body),
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_hook(slipway, token, secret, body, msg_id=None, timestamp=None,
                signature=None, idempotency_key=None):
    """POSTs body (a dict, sent as these exact bytes) signed with secret;
    returns (status, json, msg_id)."""
    raw = json.dumps(body).encode()
    msg_id = msg_id or "msg_" + uuid.uuid4().hex
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": "application/json", "webhook-id": msg_id,
               "webhook-timestamp": str(ts),
               "webhook-signature": signature or sign(secret, msg_id, ts, raw)}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    status, resp = api("POST", slipway.url("webhook-ingress",
                                           "/v1/hooks/deploy"),
                       raw, token=token, headers=headers)
    return status, resp, msg_id


def _refused(status, body, want_status, want_code):
    assert status == want_status and error_code(body) == want_code, \
        "want %d %s, got %s %r" % (want_status, want_code, status, body)


# --- a token deploys its component's repository only --------------------------

def test_other_repository_on_the_right_host_is_refused(slipway, org, project,
                                                       app_ports):
    comp = _component(slipway, org, project, app_ports)
    tok = slipway.create_token(comp["id"])
    host, repo = _host(slipway), _repository(slipway)

    for image in ("%s/attacker/anything:v1" % host, "%s2:v1" % repo,
                  "%s/sub:v1" % repo):
        status, body = slipway.hook(tok["token"], {"image": image})
        _refused(status, body, 422, "image_repository_mismatch")
        assert body["error"]["field"] == "image", body
        assert repo in body["error"]["message"], body
        assert "only the tag and digest" in body["error"]["message"], body

    # The Postgres path (no cache entry) draws the same line: a token the
    # ingress has not seen (none in its memory) without its Redis binding.
    via_pg = slipway.create_token(comp["id"])
    slipway.redis_cli("del", _cache_key(via_pg["token"]))
    status, body = slipway.hook(via_pg["token"],
                                {"image": "%s/attacker/anything:v1" % host})
    _refused(status, body, 422, "image_repository_mismatch")

    time.sleep(1.5)
    assert slipway.deployments(comp["id"]) == []

    # Its own repository with any tag or digest is still the caller's to pick.
    status, body = slipway.hook(tok["token"],
                                {"image": "%s:%s" % (repo, unique("absent"))})
    assert status == 202, body
    status, body = slipway.hook(tok["token"], {"tag": unique("absent")})
    assert status == 202, body


def test_binding_of_the_older_format_is_looked_up(slipway, org, project,
                                                  app_ports):
    """A Redis entry written before repository and signing existed (or by
    someone else) is not trusted: the ingress asks Postgres. It leaves the
    entry alone: only component-svc may write bindings."""
    comp = _component(slipway, org, project, app_ports)
    tok = slipway.create_token(comp["id"])
    key, host = _cache_key(tok["token"]), _host(slipway)
    old = {"token_id": tok["id"], "component_id": comp["id"], "org": org,
           "registry_host": host, "repository": "%s/attacker/anything" % host,
           "expires_at_ms": 0}
    slipway.redis_cli("set", key, json.dumps(old), "ex", "300")

    status, body = slipway.hook(tok["token"],
                                {"image": "%s/attacker/anything:v1" % host})
    _refused(status, body, 422, "image_repository_mismatch")
    assert json.loads(slipway.redis_cli("get", key)[1]) == old
    status, body = slipway.hook(tok["token"], {"tag": unique("absent")})
    assert status == 202, body


def test_internal_producer_is_held_to_the_repository(slipway, org, project,
                                                     app_ports, produce_dup):
    """deploy-svc repeats the check for ImagePushed that never passed the
    webhook: the deployment fails and nothing reaches the data plane."""
    comp = _component(slipway, org, project, app_ports)
    request_id = str(uuid.uuid4())
    image = "%s/attacker/anything:v1" % _host(slipway)
    r = subprocess.run([produce_dup, slipway.env["SLIPWAY_KAFKA_BROKERS"], org,
                        comp["id"], image, request_id], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60,
                       env=slipway.kafka_tool_env())
    assert r.returncode == 0, r.stdout.decode(errors="replace")
    dep = slipway.wait_deployment(request_id, "failed", timeout=60)
    assert dep["reason"].startswith("image_repository_mismatch"), dep
    assert slipway.wait_containers(comp["id"], [], timeout=2) == []


# --- signed webhooks -----------------------------------------------------------

def _signing_token(slipway, org, project, app_ports):
    comp = _component(slipway, org, project, app_ports)
    tok = slipway.create_token(comp["id"], signing=True)
    assert tok["signing"] is True, tok
    assert tok["signing_secret"].startswith("whsec_"), tok
    assert len(base64.b64decode(tok["signing_secret"][6:])) >= 24, tok
    return comp, tok


def test_signing_token_refuses_unsigned_stale_and_replayed_calls(
        slipway, org, project, app_ports):
    comp, tok = _signing_token(slipway, org, project, app_ports)
    token, secret = tok["token"], tok["signing_secret"]
    absent = {"tag": unique("absent")}

    status, body = slipway.hook(token, absent)
    _refused(status, body, 401, "signature_required")

    status, body, msg_id = signed_hook(slipway, token, secret, absent)
    assert status == 202, body
    assert body["component_id"] == comp["id"], body

    # The same message again, even freshly signed, is a replay.
    status, body, _ = signed_hook(slipway, token, secret, absent,
                                  msg_id=msg_id)
    _refused(status, body, 409, "replayed")

    old = int(time.time()) - 400
    status, body, _ = signed_hook(slipway, token, secret, absent,
                                  timestamp=old)
    _refused(status, body, 401, "signature_expired")
    status, body, _ = signed_hook(slipway, token, secret, absent,
                                  timestamp=int(time.time()) + 400)
    _refused(status, body, 401, "signature_expired")

    other = "whsec_" + base64.b64encode(b"\x07" * 32).decode()
    status, body, _ = signed_hook(slipway, token, other, absent)
    _refused(status, body, 401, "bad_signature")

    # Signed for another body: the signature covers the bytes sent.
    ts = int(time.time())
    wrong = sign(secret, "msg_x", ts, b'{"tag":"v1"}')
    status, body, _ = signed_hook(slipway, token, secret, absent,
                                  msg_id="msg_x", timestamp=ts,
                                  signature=wrong)
    _refused(status, body, 401, "bad_signature")

    # A sender retrying a lost 202 (same webhook-id, same Idempotency-Key)
    # gets the stored answer; the same id with a key never answered is
    # still a replay.
    key = unique("idem")
    status, first, retry_id = signed_hook(slipway, token, secret, absent,
                                          idempotency_key=key)
    assert status == 202, first
    status, again, _ = signed_hook(slipway, token, secret, absent,
                                   msg_id=retry_id, idempotency_key=key)
    assert status == 202 and again["request_id"] == first["request_id"], \
        (first, again)
    status, body, _ = signed_hook(slipway, token, secret, absent,
                                  msg_id=retry_id,
                                  idempotency_key=unique("idem"))
    _refused(status, body, 409, "replayed")

    # Unsigned or badly signed calls never became deployments: once the
    # last accepted one is known, exactly the two accepted calls are there.
    slipway.wait_deployment(first["request_id"], "failed", timeout=60)
    assert len(slipway.deployments(comp["id"])) == 2


def test_signing_rotation_and_retry_after_a_refusal(slipway, org, project,
                                                    app_ports):
    comp, tok = _signing_token(slipway, org, project, app_ports)
    token, secret = tok["token"], tok["signing_secret"]
    other = "whsec_" + base64.b64encode(b"\x09" * 32).decode()

    # Several signatures (a sender rotating its secret): one match is enough.
    body = {"tag": unique("absent")}
    raw = json.dumps(body).encode()
    ts, msg_id = int(time.time()), "msg_" + uuid.uuid4().hex
    both = "%s %s" % (sign(other, msg_id, ts, raw), sign(secret, msg_id, ts, raw))
    status, resp, _ = signed_hook(slipway, token, secret, body, msg_id=msg_id,
                                  timestamp=ts, signature=both)
    assert status == 202, resp

    # A refused call gives its webhook-id back: the sender may retry it.
    msg_id = "msg_" + uuid.uuid4().hex
    status, resp, _ = signed_hook(
        slipway, token, secret,
        {"image": "%s/attacker/anything:v1" % _host(slipway)}, msg_id=msg_id)
    _refused(status, resp, 422, "image_repository_mismatch")
    status, resp, _ = signed_hook(slipway, token, secret,
                                  {"tag": unique("absent")}, msg_id=msg_id)
    assert status == 202, resp


def test_signing_secret_is_kept_sealed(slipway, org, project, app_ports):
    """Postgres and Redis hold only the sealed box; the Postgres path opens
    it with the caller's token just as the cached one does; the listing says
    which tokens sign."""
    comp, tok = _signing_token(slipway, org, project, app_ports)
    token, secret = tok["token"], tok["signing_secret"]
    raw_secret = secret[len("whsec_"):]

    rows = slipway.psql("SELECT coalesce(signing_secret_box, '') FROM "
                        "component.tokens WHERE id = '%s'" % tok["id"])
    assert rows.strip(), rows
    assert raw_secret not in rows
    cached = slipway.redis_cli("get", _cache_key(token))[1]
    binding = json.loads(cached)
    assert binding["signing"] is True and binding["signing_box"], binding
    assert raw_secret not in cached and token not in cached

    slipway.redis_cli("del", _cache_key(token))
    status, body, _ = signed_hook(slipway, token, secret,
                                  {"tag": unique("absent")})
    assert status == 202, body
    status, body = slipway.hook(token, {"tag": unique("absent")})
    _refused(status, body, 401, "signature_required")

    status, listing = api("GET", slipway.url(
        "component-svc", "/v1/components/%s/tokens" % comp["id"]))
    assert status == 200, listing
    assert [t["signing"] for t in listing["tokens"]] == [True], listing
    assert "signing_secret" not in json.dumps(listing)

    # A plain token of the same component ignores signature headers.
    plain = slipway.create_token(comp["id"])
    assert plain["signing"] is False and "signing_secret" not in plain, plain
    status, body, _ = signed_hook(slipway, plain["token"], secret,
                                  {"tag": unique("absent")}, signature="v1,xx")
    assert status == 202, body


def test_cli_token_create_signing(slipway, org, project, app_ports):
    """`slipway token create --signing` prints the token, then the secret."""
    comp = _component(slipway, org, project, app_ports)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update({"SLIPWAY_ADMIN_TOKEN": slipway.admin_token,
                "SLIPWAY_URL_COMPONENT": slipway.url("component-svc")})
    r = subprocess.run([str(slipway.bin / "slipway"), "token", "create",
                        comp["id"], "--name", "ci", "--signing"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 0, (out, err)
    m = re.fullmatch(r"(slp_[0-9A-Za-z]{38})\n(whsec_[A-Za-z0-9+/]{43}=)\n", out)
    assert m, out
    token, secret = m.groups()
    slipway.secrets.update({token, secret, secret[len("whsec_"):]})
    assert "signing secret" in err and secret not in err, err

    status, body, _ = signed_hook(slipway, token, secret,
                                  {"tag": unique("absent")})
    assert status == 202, body


def test_signing_token_with_redis_down_is_refused(slipway, org, project,
                                                  app_ports):
    """Without Redis a webhook-id cannot be checked: a signing token's call
    gets 503 (retry), never an unchecked 202. Plain tokens go on working."""
    comp, tok = _signing_token(slipway, org, project, app_ports)
    token, secret = tok["token"], tok["signing_secret"]
    plain = slipway.create_token(comp["id"])

    slipway.stop_redis()
    try:
        status, body, _ = signed_hook(slipway, token, secret,
                                      {"tag": unique("absent")})
        _refused(status, body, 503, "unavailable")
        status, body = slipway.hook(plain["token"], {"tag": unique("absent")})
        assert status == 202, body
    finally:
        if not slipway.redis_up():
            slipway.start_redis()

    # It reconnects with a backoff of at most 5 s.
    deadline = time.monotonic() + 15
    while True:
        status, body, _ = signed_hook(slipway, token, secret,
                                      {"tag": unique("absent")})
        if status == 202:
            break
        _refused(status, body, 503, "unavailable")
        assert time.monotonic() < deadline, "still %s %r" % (status, body)
        time.sleep(0.5)
