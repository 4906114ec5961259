/*
 * hook_http.c: POST /v1/hooks/deploy.
 *
 * One request walks through asynchronous steps, each a callback on the event
 * loop: token lookup (Redis, else Postgres) -> for a signing token, the
 * signature and the claim of its webhook-id (Redis, hook_replay.c) ->
 * optional idempotency replay (Redis) -> produce ImagePushed -> broker
 * acknowledgement. The HTTP request is deferred across all of them (http.h:
 * it stays valid until we reply), and it is answered exactly once, by
 * whichever step ends the walk; the pending state is freed with that reply.
 *
 * Authentication comes before anything the body says: a caller without a
 * valid token learns nothing about the body. Every failing token — malformed,
 * unknown, revoked, expired — is the same 401 invalid_token. A signing
 * token's signature is checked right after the token and before the body,
 * so an unsigned or stale call learns nothing about its body either.
 *
 * Two limits (lib ratelimit.h), both answered 429 rate_limited with
 * Retry-After: calls per token id (SLIPWAY_WEBHOOK_TOKEN_RATE / _BURST),
 * taken once the token is known good; and authentication failures per
 * client address (SLIPWAY_WEBHOOK_AUTH_FAIL_RATE / _BURST). An address
 * over its failure limit is still served from memory and Redis (a valid
 * token behind the same NAT keeps working) but never reaches Postgres,
 * and its failures become 429 instead of 401: a flood of forged tokens
 * costs a Redis GET at most. A failure under the limit stays the one 401.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "hook.h"
#include "bus.h"
#include "clock.h"
#include "cache.h"
#include "crypto.h"
#include "envelope.h"
#include "http.h"
#include "metrics.h"
#include "ratelimit.h"
#include "topics.h"

#define HOOK_IDEM_CACHE_KEY_MAX 160

struct hook_pending {
	struct hook_pending *next;       /* in the loop pass's batch */
	struct hook *h;
	struct http_request *req;
	struct hook_request body;
	struct error body_err;           /* code "" when the body was fine */
	struct token_binding binding;
	char idem_header[HOOK_IDEM_KEY_MAX + 1];
	char idem_key[HOOK_IDEM_CACHE_KEY_MAX];
	char replay_key[HOOK_IDEM_CACHE_KEY_MAX];   /* "" unless we claimed it */
	char image[IMAGE_REF_MAX + 1];
	char digest[HOOK_DIGEST_MAX + 1];
	char request_id[37];
	char client[HTTP_PEER_MAX + 1];  /* address the failure limit counts */
};

struct hook_status {
	const char *code;
	int status;
};

/* Status of each refusal code; anything else is 503. */
static const struct hook_status hook_http_statuses[] = {
	{ "missing_token", 401 },
	{ "invalid_token", 401 },
	{ "malformed_json", 400 },
	{ "unsupported_media_type", 415 },
	{ "invalid_request", 400 },
	{ "body_too_large", 413 },
	{ "invalid_image", 422 },
	{ "image_registry_mismatch", 422 },
	{ "image_repository_mismatch", 422 },
	{ "signature_required", 401 },
	{ "signature_expired", 401 },
	{ "bad_signature", 401 },
	{ "replayed", 409 },
	{ "request_in_progress", 409 },
	{ "unavailable", 503 },
	{ "rate_limited", 429 },
};

static int
hook_http_status(const char *code)
{
	for (size_t i = 0; i < sizeof(hook_http_statuses) /
	    sizeof(hook_http_statuses[0]); i++)
		if (strcmp(hook_http_statuses[i].code, code) == 0)
			return hook_http_statuses[i].status;
	return 503;
}

static void
hook_http_count_refused(const char *code)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "code=\"%s\"", code);
	metrics_inc("slipway_webhook_refused_total", labels);
}

/*
 * Refuses with err's code and frees the pending state (p may be NULL). A
 * webhook-id claimed for this call is given back (hook_replay.c says why).
 */
static void
hook_http_refuse_err(struct http_request *req, struct hook_pending *p,
    const struct error *err)
{
	if (p != NULL && p->replay_key[0] != '\0')
		hook_replay_release(p->h, p->replay_key);
	hook_http_count_refused(err->code);
	/* A flood is counted in /metrics, not written out line by line. */
	if (strcmp(err->code, "rate_limited") == 0)
		log_debug("webhook refused: %s: %s", err->code, err->msg);
	else
		log_info("webhook refused: %s: %s", err->code, err->msg);
	/* A dependency down: tell CI when a retry is worth it. */
	if (hook_http_status(err->code) == 503)
		http_add_header(req, "Retry-After", "1");
	http_reply_err(req, hook_http_status(err->code), err);
	free(p);
}

static void
hook_http_refuse(struct http_request *req, struct hook_pending *p,
    const char *code, const char *msg)
{
	struct error err;

	error_set(&err, code, "", "%s", msg);
	hook_http_refuse_err(req, p, &err);
}

/* 429 rate_limited; which limit is counted apart from the refusal. */
static void
hook_http_limited(struct http_request *req, struct hook_pending *p,
    const char *limit, int retry_after_s)
{
	char labels[32], secs[16];

	snprintf(labels, sizeof(labels), "limit=\"%s\"", limit);
	metrics_inc("slipway_webhook_rate_limited_total", labels);
	snprintf(secs, sizeof(secs), "%d", retry_after_s);
	http_add_header(req, "Retry-After", secs);
	hook_http_refuse(req, p, "rate_limited", strcmp(limit, "token") == 0 ?
	    "too many calls with this token; retry later" :
	    "too many failed authentications from this address; retry later");
}

/*
 * An authentication failure: counted against the client's address, and
 * 429 instead of 401 once the address is over its limit.
 */
static void
hook_http_auth_failed(struct http_request *req, struct hook_pending *p,
    struct hook *h, const char *client, const char *code, const char *msg)
{
	int retry = 1;

	if (!rate_table_take(h->fail_limits, client, clock_mono_ms(), &retry)) {
		hook_http_limited(req, p, "address", retry);
		return;
	}
	hook_http_refuse(req, p, code, msg);
}

/* 503 after the Idempotency-Key was claimed: release it for the retry. */
static void
hook_http_unavailable(struct hook_pending *p, const char *msg)
{
	if (p->idem_key[0] != '\0')
		hook_idempotency_release(p->h, p->idem_key);
	hook_http_refuse(p->req, p, "unavailable", msg);
}

/*
 * The 202 answer; also what a retry with the same Idempotency-Key gets.
 * status_url is on the platform's public address (SLIPWAY_PUBLIC_URL, the
 * front door, which routes /v1/deployments to deploy-svc) when one is set.
 */
static json_t *
hook_http_accepted(const struct hook_pending *p)
{
	char url[1024];

	snprintf(url, sizeof(url), "%s/v1/deployments/%s", p->h->cfg.status_base,
	    p->request_id);
	return json_pack("{s:s, s:s, s:s, s:s}", "request_id", p->request_id,
	    "component_id", p->binding.component_id, "image", p->image,
	    "status_url", url);
}

/* Broker verdict on ImagePushed: only now may CI hear 202. */
static void
hook_http_on_delivery(int ok, const char *errstr, void *arg)
{
	struct hook_pending *p = arg;
	json_t *body;
	char *s;

	log_ctx_set("request_id", http_request_id(p->req));
	if (!ok) {
		log_warnx("ImagePushed %s not delivered: %s", p->request_id,
		    errstr ? errstr : "unknown error");
		hook_http_unavailable(p,
		    "the event bus did not accept the request; retry later");
		return;
	}
	body = hook_http_accepted(p);
	if (p->idem_key[0] != '\0' && (s = json_dumps(body, JSON_COMPACT)) != NULL) {
		hook_idempotency_put(p->h, p->idem_key, s, strlen(s));
		free(s);
	}
	metrics_inc("slipway_webhook_accepted_total", "");
	log_info("webhook accepted: request %s, component %s, image %s",
	    p->request_id, p->binding.component_id, p->image);
	http_reply_json(p->req, 202, body);
	free(p);
}

/* Produces ImagePushed (key = component id) and waits for the broker. */
static void
hook_http_produce_now(struct hook_pending *p)
{
	Slipway__V1__ImagePushed ip;
	Envelope env;
	char event_id[37];
	struct error err;

	crypto_uuid(p->request_id);
	slipway__v1__image_pushed__init(&ip);
	ip.component_id = p->binding.component_id;
	ip.image = p->image;
	ip.digest = p->digest;
	ip.source = (char *)(uintptr_t)"webhook";
	ip.request_id = p->request_id;
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_IMAGE_PUSHED, event_id,
	    p->binding.org, http_request_id(p->req));
	env.image_pushed = &ip;
	if (envelope_produce(p->h->producer, TOPIC_IMAGE_PUSHED,
	    p->binding.component_id, &env, hook_http_on_delivery, p, &err) == -1) {
		log_warnx("ImagePushed not queued: %s", err.msg);
		hook_http_unavailable(p, "the event bus is unavailable; retry later");
	}
}

/*
 * ImagePushed is handed to the producer at the end of the loop pass that
 * accepted its call, together with every other call that pass accepted.
 * Queued back to back they mostly share the producer's wake-ups and
 * ProduceRequests, where queued one by one between the pass's other work
 * each would wake librdkafka's broker thread, and the broker, for itself.
 * A call alone in its pass waits for nothing.
 */
static void
hook_http_produce(struct hook_pending *p)
{
	struct hook *h = p->h;

	p->next = NULL;
	*h->batch_tail = p;
	h->batch_tail = &p->next;
	if (h->batch == p)
		event_active(h->batch_ev, 0, 0);
}

void
hook_http_produce_batch(struct hook *h)
{
	struct hook_pending *p = h->batch, *next;

	h->batch = NULL;
	h->batch_tail = &h->batch;
	for (; p != NULL; p = next) {
		next = p->next;
		hook_http_produce_now(p);
	}
}

static void
hook_http_on_batch(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	hook_http_produce_batch(arg);
}

/* Sends the 202 stored for this Idempotency-Key again; 0 when it is not ours. */
static int
hook_http_send_stored(struct hook_pending *p, const char *stored, size_t len)
{
	json_error_t jerr;
	json_t *body;

	if ((body = json_loadb(stored, len, 0, &jerr)) == NULL)
		return 0;
	metrics_inc("slipway_webhook_accepted_total", "replay=\"true\"");
	log_info("webhook replayed for Idempotency-Key (component %s)",
	    p->binding.component_id);
	http_reply_json(p->req, 202, body);
	free(p);
	return 1;
}

/* A stored answer for this Idempotency-Key is replayed as is. */
static void
hook_http_on_idem(enum hook_idem st, const char *stored, size_t len, void *arg)
{
	struct hook_pending *p = arg;

	if (st == HOOK_IDEM_BUSY) {
		hook_http_refuse(p->req, p, "request_in_progress",
		    "a request with this Idempotency-Key is in progress");
		return;
	}
	if (st == HOOK_IDEM_REPLAY) {
		if (hook_http_send_stored(p, stored, len))
			return;
		/* Not our format: leave it alone and neither store nor release. */
		p->idem_key[0] = '\0';
	}
	if (p->h->stopping) {
		hook_http_unavailable(p, "shutting down");
		return;
	}
	hook_http_produce(p);
}

/* Caller authenticated: now the body, then idempotency, then the bus. */
static void
hook_http_go(struct hook_pending *p)
{
	const struct token_binding *b = &p->binding;
	struct error err;

	if (p->body_err.code[0] != '\0') {
		hook_http_refuse_err(p->req, p, &p->body_err);
		return;
	}
	if (hook_request_resolve(&p->body, b, p->image, sizeof(p->image),
	    p->digest, sizeof(p->digest), &err) == -1) {
		hook_http_refuse_err(p->req, p, &err);
		return;
	}
	if (p->idem_header[0] != '\0' && hook_idempotency_key(b->component_id,
	    p->idem_header, p->idem_key, sizeof(p->idem_key)) == 0) {
		hook_idempotency_claim(p->h, p->idem_key, hook_http_on_idem, p);
		return;
	}
	hook_http_produce(p);
}

static void
hook_http_refuse_replayed(struct hook_pending *p)
{
	hook_http_refuse(p->req, p, "replayed", "a call with this webhook-id "
	    "was accepted already; a new message needs a new id");
}

/*
 * A sender retries a lost 202 with the same webhook-id (Standard Webhooks)
 * and the same Idempotency-Key: it gets the stored answer. A key with no
 * answer stored is no retry of an accepted call: still replayed (the key
 * is not signed, so a fresh one must not turn a captured call into a
 * second deployment), and the claim just taken is given back.
 */
static void
hook_http_on_replayed_idem(enum hook_idem st, const char *stored, size_t len,
    void *arg)
{
	struct hook_pending *p = arg;

	if (st == HOOK_IDEM_BUSY) {
		hook_http_refuse(p->req, p, "request_in_progress",
		    "a request with this Idempotency-Key is in progress");
		return;
	}
	if (st == HOOK_IDEM_REPLAY && hook_http_send_stored(p, stored, len))
		return;
	if (st == HOOK_IDEM_NEW)
		hook_idempotency_release(p->h, p->idem_key);
	hook_http_refuse_replayed(p);
}

/* A signed call's webhook-id: first time, seen before, or cannot tell. */
static void
hook_http_on_replay(enum hook_replay st, void *arg)
{
	struct hook_pending *p = arg;

	log_ctx_set("request_id", http_request_id(p->req));
	if (st != HOOK_REPLAY_NEW)
		p->replay_key[0] = '\0';   /* not ours to release */
	if (st == HOOK_REPLAY_SEEN) {
		if (p->idem_header[0] != '\0' && hook_idempotency_key(
		    p->binding.component_id, p->idem_header, p->idem_key,
		    sizeof(p->idem_key)) == 0)
			hook_idempotency_claim(p->h, p->idem_key,
			    hook_http_on_replayed_idem, p);
		else
			hook_http_refuse_replayed(p);
		return;
	}
	if (st == HOOK_REPLAY_UNKNOWN || p->h->stopping) {
		hook_http_unavailable(p, "replay protection unavailable; retry later");
		return;
	}
	hook_http_go(p);
}

/*
 * The signing secret opens only with the token the caller sent (signing.h),
 * which is still in the request's Authorization header: the secret lives
 * on this stack frame for one verification and is wiped.
 */
static int
hook_http_signature(struct hook_pending *p, struct error *err)
{
	const struct signing_headers sh = {
		.id = http_request_header(p->req, "webhook-id"),
		.timestamp = http_request_header(p->req, "webhook-timestamp"),
		.signature = http_request_header(p->req, "webhook-signature"),
	};
	unsigned char wrap[SIGNING_WRAP_LEN];
	struct signing_key key;
	const unsigned char *body;
	const char *tok;
	size_t tlen = 0, blen = 0;
	int rc;

	tok = hook_request_bearer(http_request_header(p->req, "Authorization"),
	    &tlen);
	signing_wrap_key(tok != NULL ? tok : "", tok != NULL ? tlen : 0, wrap);
	rc = signing_open(wrap, p->binding.token_id, p->binding.signing_box, &key);
	explicit_bzero(wrap, sizeof(wrap));
	if (rc == -1) {
		log_warnx("token %s: its signing secret does not open",
		    p->binding.token_id);
		error_set(err, "invalid_token", "", "invalid token");
		return -1;
	}
	body = http_request_body(p->req, &blen);
	rc = signing_verify(&key, &sh, body, blen, clock_wall_ms() / 1000, err);
	signing_key_wipe(&key);
	if (rc == 0 && hook_replay_key(p->binding.token_id, sh.id, p->replay_key,
	    sizeof(p->replay_key)) == -1) {
		error_set(err, "bad_signature", "webhook-id", "webhook-id too long");
		return -1;
	}
	return rc;
}

/* The token is good: a signing token's signature next, else the body. */
static void
hook_http_on_token(enum token_result res, const struct token_binding *b,
    void *arg)
{
	struct hook_pending *p = arg;
	struct error err;
	int retry = 1;

	log_ctx_set("request_id", http_request_id(p->req));
	if (res == TOKEN_UNAVAILABLE || p->h->stopping) {
		hook_http_refuse(p->req, p, "unavailable",
		    "token store unavailable; retry later");
		return;
	}
	if (res == TOKEN_UNCHECKED) {
		/* Over the failure limit and known to no cache: not checked. */
		rate_table_check(p->h->fail_limits, p->client, clock_mono_ms(),
		    &retry);
		hook_http_limited(p->req, p, "address", retry);
		return;
	}
	if (res == TOKEN_INVALID) {
		hook_http_auth_failed(p->req, p, p->h, p->client, "invalid_token",
		    "invalid token");
		return;
	}
	if (!rate_table_take(p->h->token_limits, b->token_id, clock_mono_ms(),
	    &retry)) {
		hook_http_limited(p->req, p, "token", retry);
		return;
	}
	p->binding = *b;
	if (!b->signing) {
		hook_http_go(p);
		return;
	}
	if (hook_http_signature(p, &err) == -1) {
		p->replay_key[0] = '\0';
		hook_http_refuse_err(p->req, p, &err);
		return;
	}
	hook_replay_claim(p->h, p->replay_key, hook_http_on_replay, p);
}

/* Validates the body and Idempotency-Key now; reported only after auth. */
static void
hook_http_read(struct http_request *req, struct hook_pending *p)
{
	const char *idem = http_request_header(req, "Idempotency-Key");
	const unsigned char *body;
	size_t len = 0;

	error_clear(&p->body_err);
	if (!http_request_is_json(req)) {
		error_set(&p->body_err, "unsupported_media_type", "",
		    "Content-Type must be application/json");
		return;
	}
	body = http_request_body(req, &len);
	if (hook_request_parse(body, len, &p->body, &p->body_err) == -1)
		return;
	if (idem != NULL) {
		if (!hook_request_idem_valid(idem)) {
			error_set(&p->body_err, "invalid_request", "Idempotency-Key",
			    "Idempotency-Key must be 1 to %d printable characters",
			    HOOK_IDEM_KEY_MAX);
			return;
		}
		snprintf(p->idem_header, sizeof(p->idem_header), "%s", idem);
	}
}

/*
 * Who the failure limit counts: the connection's peer, or with
 * SLIPWAY_WEBHOOK_TRUST_FORWARDED the last X-Forwarded-For hop (the one
 * our own proxy appended; earlier hops are the client's to invent).
 */
static void
hook_http_client(const struct hook *h, struct http_request *req, char *out,
    size_t len)
{
	const char *xff = http_request_header(req, "X-Forwarded-For");
	const char *last;
	size_t n;

	snprintf(out, len, "%s", http_request_peer(req));
	if (!h->cfg.trust_forwarded || xff == NULL)
		return;
	last = strrchr(xff, ',');
	last = last != NULL ? last + 1 : xff;
	last += strspn(last, " \t");
	n = strcspn(last, " \t");
	if (n > 0 && n < len)
		snprintf(out, len, "%.*s", (int)n, last);
}

/* POST /v1/hooks/deploy */
static void
hook_http_deploy(struct http_request *req, void *ctx)
{
	struct hook *h = ctx;
	struct hook_pending *p;
	const char *tok;
	char hash[65], client[HTTP_PEER_MAX + 1];
	size_t len = 0;
	int limited;

	/* Every outcome is logged here: "webhook accepted" or "refused". */
	http_request_quiet(req);
	hook_http_client(h, req, client, sizeof(client));
	tok = hook_request_bearer(http_request_header(req, "Authorization"), &len);
	if (tok == NULL) {
		hook_http_auth_failed(req, NULL, h, client, "missing_token",
		    "Authorization: Bearer <token> required");
		return;
	}
	/* Garbage never reaches Redis or Postgres: the checksum rejects it. */
	if (!token_format_valid(tok, len)) {
		hook_http_auth_failed(req, NULL, h, client, "invalid_token",
		    "invalid token");
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		hook_http_refuse(req, NULL, "unavailable", "out of memory");
		return;
	}
	p->h = h;
	p->req = req;
	snprintf(p->client, sizeof(p->client), "%s", client);
	hook_http_read(req, p);
	crypto_sha256_hex(tok, len, hash);
	limited = !rate_table_check(h->fail_limits, client, clock_mono_ms(), NULL);
	token_cache_lookup(h, hash, limited ? TOKEN_LOOKUP_CACHES_ONLY : 0,
	    hook_http_on_token, p);
}

static const struct http_route hook_http_routes[] = {
	{ HTTP_POST, "/v1/hooks/deploy", hook_http_deploy, HTTP_AUTH_NONE, NULL,
	  0 },
};

/* Ready once the revocation consumer has its partitions, unless Redis
 * refused our credentials (Redis merely down is fine: a cache). */
static int
hook_http_ready(void *ctx, char *why, size_t whylen)
{
	struct hook *h = ctx;
	const char *auth = cache_auth_error(h->cache);

	if (auth != NULL) {
		snprintf(why, whylen, "%s", auth);
		return 0;
	}
	if (h->consumer == NULL || !bus_consumer_ready(h->consumer)) {
		snprintf(why, whylen, "revocation consumer not assigned yet");
		return 0;
	}
	return 1;
}

/* The limiter tables; an address or token id past capacity is forgotten. */
static int
hook_http_limits_start(struct hook *h, struct error *err)
{
	const struct rate_limit per_token = { h->cfg.token_rate,
	    h->cfg.token_burst };
	const struct rate_limit per_addr = { h->cfg.fail_rate, h->cfg.fail_burst };

	h->token_limits = rate_table_new(HOOK_LIMIT_KEYS, &per_token);
	h->fail_limits = rate_table_new(HOOK_LIMIT_KEYS, &per_addr);
	if (h->token_limits == NULL || h->fail_limits == NULL) {
		error_set(err, "config", "", "rate limits: a burst must be at "
		    "least 1 when its rate is set");
		return -1;
	}
	return 0;
}

int
hook_http_start(struct hook *h, struct error *err)
{
	struct http_server_config cfg = {
		.service = HOOK_SERVICE,
		.addr = h->cfg.http_addr,
		.port = h->cfg.http_port,
		.max_body = HOOK_BODY_MAX,
		.ready = hook_http_ready,
	};

	if (hook_http_limits_start(h, err) == -1)
		return -1;
	h->batch_tail = &h->batch;
	if ((h->batch_ev = event_new(h->base, -1, 0, hook_http_on_batch,
	    h)) == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	h->http = http_server_new(h->base, &cfg, hook_http_routes,
	    sizeof(hook_http_routes) / sizeof(hook_http_routes[0]), h, err);
	return h->http == NULL ? -1 : 0;
}

void
hook_http_free(struct hook *h)
{
	if (h->batch_ev != NULL)
		event_free(h->batch_ev);
	h->batch_ev = NULL;
	rate_table_free(h->token_limits);
	rate_table_free(h->fail_limits);
	h->token_limits = h->fail_limits = NULL;
}
