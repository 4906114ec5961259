/*
 * reg_probe.c: POST /v1/orgs/{org}/registries/{id}/test — does the registry
 * answer the OCI Distribution API, and do the stored credentials log in?
 *
 * The probe never blocks the event loop: its transfers run on the loop's
 * own events (lib curlev.h: curl's sockets and timer, no polling), and the
 * HTTP reply is deferred until the probe's state machine ends. Steps:
 *   PING   GET /v2/ without credentials.
 *          200 → reachable, no login needed; 401 Basic → BASIC; 401 Bearer → TOKEN.
 *   BASIC  GET /v2/ with the username/password.
 *   TOKEN  GET <realm>?service=<service> (with the username/password if any).
 * Loopback hosts are spoken to over plain http (local registries), every
 * other host over https. Nothing is pulled, and no secret is ever logged.
 *
 * The rules are the agent's (services/lib/regauth.h): the challenge is read
 * by the shared parser; a realm gets the credentials only over https, or
 * over plain http when the registry and the realm's host are both loopback;
 * every connection, /v2/ and realm alike, is checked at connect time against
 * SLIPWAY_ALLOW_PRIVATE_TARGETS (status "refused", the address and why in
 * the detail); a redirect is never followed (a failure, credentials never
 * re-sent).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "registry.h"
#include "crypto.h"
#include "curlev.h"
#include "http.h"
#include "regauth.h"
#include "slipway/v1/registry.pb-c.h"

#define PROBE_TIMEOUT_MS     8000
#define PROBE_CONNECT_MS     4000
#define PROBE_MAX_BODY       (64 * 1024)
#define PROBE_CHALLENGE_MAX  2048
#define PROBE_DETAIL_MAX     512

enum probe_stage { PROBE_PING, PROBE_BASIC, PROBE_TOKEN, PROBE_DONE };

struct reg_probe {
	struct http_request *req;
	struct curlev *cv;
	CURL *easy;
	enum probe_stage stage;
	enum reg_auth auth;
	char host[REG_HOST_MAX + 1];
	char *username;              /* from the decrypted credentials, or NULL */
	char *password;              /* or the identity token (regauth_identity) */
	char *form;                  /* the refresh-token exchange's body, or NULL */
	const struct regauth_policy *targets;   /* the service's, outlives us */
	struct regauth_guard guard;  /* of the transfer in flight */
	char challenge[PROBE_CHALLENGE_MAX];
	size_t body;
	char url[2048];
};

static void reg_probe_finish(struct reg_probe *p, int ok, const char *status,
    const char *fmt, ...) LOG_PRINTF(4, 5);

static size_t
reg_probe_on_body(char *data, size_t size, size_t n, void *arg)
{
	struct reg_probe *p = arg;

	(void)data;
	p->body += size * n;
	return p->body > PROBE_MAX_BODY ? 0 : size * n;
}

/* Keeps the WWW-Authenticate header (any case) of the last answer. */
static size_t
reg_probe_on_header(char *line, size_t size, size_t n, void *arg)
{
	struct reg_probe *p = arg;
	size_t len = size * n;

	if (regauth_header(line, len, "WWW-Authenticate", p->challenge,
	    sizeof(p->challenge)) == -1)
		p->challenge[0] = '\0';
	return len;
}

/*
 * Starts one GET of p->url, to a "registry" or "token realm" (kind, for a
 * refusal); with_creds adds HTTP basic authentication.
 */
static void reg_probe_on_done(CURL *easy, CURLcode rc, void *arg);

static int
reg_probe_get(struct reg_probe *p, int with_creds, const char *kind)
{
	char host[256];

	if (p->easy != NULL) {
		curlev_remove(p->cv, p->easy);
		curl_easy_cleanup(p->easy);
	}
	if (regauth_url_host(p->url, host, sizeof(host)) == -1)
		host[0] = '\0';
	if ((p->easy = curl_easy_init()) == NULL ||
	    regauth_guard_attach(p->easy, &p->guard, p->targets, "%s host %s",
	    kind, host) == -1)
		return -1;
	p->challenge[0] = '\0';
	p->body = 0;
	curl_easy_setopt(p->easy, CURLOPT_URL, p->url);
	curl_easy_setopt(p->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, (long)PROBE_TIMEOUT_MS);
	curl_easy_setopt(p->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)PROBE_CONNECT_MS);
	curl_easy_setopt(p->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->easy, CURLOPT_USERAGENT, "slipway-registry-svc");
	curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, reg_probe_on_body);
	curl_easy_setopt(p->easy, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(p->easy, CURLOPT_HEADERFUNCTION, reg_probe_on_header);
	curl_easy_setopt(p->easy, CURLOPT_HEADERDATA, p);
	if (with_creds && p->form != NULL) {
		/* An identity token is never Basic: it is POSTed, form-encoded. */
		curl_easy_setopt(p->easy, CURLOPT_COPYPOSTFIELDS, p->form);
	} else if (with_creds && p->username != NULL) {
		curl_easy_setopt(p->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(p->easy, CURLOPT_USERNAME, p->username);
		curl_easy_setopt(p->easy, CURLOPT_PASSWORD, p->password);
	}
	return curlev_add(p->cv, p->easy, reg_probe_on_done, p);
}

/* 401 Bearer: the realm's URL for a pull-less token, as docker login does. */
static int
reg_probe_token_url(struct reg_probe *p, const struct regauth_challenge *ch)
{
	char *esc;
	int n;

	if (ch->service[0] == '\0') {
		snprintf(p->url, sizeof(p->url), "%s", ch->realm);
		return 0;
	}
	if ((esc = curl_easy_escape(p->easy, ch->service, 0)) == NULL)
		return -1;
	n = snprintf(p->url, sizeof(p->url), "%s%sservice=%s", ch->realm,
	    strchr(ch->realm, '?') != NULL ? "&" : "?", esc);
	curl_free(esc);
	return n > 0 && (size_t)n < sizeof(p->url) ? 0 : -1;
}

/* A 3xx: never followed, so the credentials never go where it points. */
static void
reg_probe_redirected(struct reg_probe *p, const char *request, long code,
    const char *where)
{
	reg_probe_finish(p, 0, "unreachable", "registry_unreachable: %s "
	    "answered %ld (a redirect%s%s), which is not followed: credentials "
	    "are never re-sent after a redirect", request, code,
	    where[0] ? " to " : "", where);
}

/*
 * An identity token is exchanged (grant_type=refresh_token, no scope: a
 * login check) at the realm, the same exchange the agent makes for a pull.
 */
static int
reg_probe_identity_form(struct reg_probe *p, const struct regauth_challenge *ch)
{
	size_t len = strlen(p->password) * 3 + 512;

	if ((p->form = malloc(len)) == NULL)
		return -1;
	return regauth_refresh_form(ch->service, NULL, p->password, p->form, len);
}

/* 401 Bearer: the realm must pass the shared rule before it gets anything. */
static void
reg_probe_bearer(struct reg_probe *p, const struct regauth_challenge *ch)
{
	char host[256];

	if (regauth_url_host(ch->realm, host, sizeof(host)) == -1) {
		reg_probe_finish(p, 0, "unreachable", "registry_unreachable: the "
		    "registry's token realm is not an http(s) URL");
		return;
	}
	if (!regauth_realm_allowed(ch->realm, p->host, NULL)) {
		reg_probe_finish(p, 0, "refused", "refused: the registry's token "
		    "realm is plain http to %s, which is not loopback; credentials "
		    "go to a token realm only over https", host);
		return;
	}
	p->stage = PROBE_TOKEN;
	if (regauth_identity(p->username) && reg_probe_identity_form(p, ch) < 0) {
		reg_probe_finish(p, 0, "unreachable", "registry_unreachable: "
		    "cannot build the identity token exchange");
		return;
	}
	if (reg_probe_token_url(p, ch) < 0 || reg_probe_get(p, 1,
	    "token realm") < 0)
		reg_probe_finish(p, 0, "unreachable", "registry_unreachable: "
		    "cannot start the token request");
}

/* 401 without Bearer: Basic with the stored credentials, if there are any. */
static void
reg_probe_basic(struct reg_probe *p)
{
	if (regauth_identity(p->username)) {
		reg_probe_finish(p, 0, "unauthorized", "unauthorized: the registry "
		    "asks for Basic authentication, but an identity token is "
		    "exchanged only at a Bearer token realm");
		return;
	}
	if (p->username == NULL) {
		reg_probe_finish(p, p->auth == REG_AUTH_VENDOR, p->auth ==
		    REG_AUTH_VENDOR ? "ok" : "unauthorized", "%s",
		    p->auth == REG_AUTH_VENDOR ? "reachable; the data plane's own "
		    "identity logs in, which cannot be checked from here" :
		    "unauthorized: the registry requires credentials");
		return;
	}
	p->stage = PROBE_BASIC;
	if (reg_probe_get(p, 1, "registry") < 0)
		reg_probe_finish(p, 0, "unreachable", "cannot start request");
}

/* After PING: what the registry asks for decides the next step. */
static void
reg_probe_after_ping(struct reg_probe *p, long code)
{
	struct regauth_challenge ch;
	char where[256];

	if (code == 200)
		reg_probe_finish(p, 1, "ok", "the registry answers /v2/ without "
		    "authentication");
	else if (regauth_guard_redirect(p->easy, code, where, sizeof(where)))
		reg_probe_redirected(p, "GET /v2/", code, where);
	else if (code != 401)
		reg_probe_finish(p, 0, "unreachable", "registry_unreachable: "
		    "GET /v2/ answered %ld", code);
	else if (p->challenge[0] == '\0')
		reg_probe_basic(p);
	else if (regauth_challenge_parse(p->challenge, strlen(p->challenge),
	    &ch) == -1)
		reg_probe_finish(p, 0, "unreachable", "registry_unreachable: the "
		    "registry's WWW-Authenticate challenge is malformed");
	else if (ch.scheme == REGAUTH_SCHEME_BEARER)
		reg_probe_bearer(p, &ch);
	else
		reg_probe_basic(p);
}

static void
reg_probe_after_login(struct reg_probe *p, long code)
{
	const char *how = p->stage == PROBE_TOKEN ? "token" : "basic";
	char where[256];

	if (code == 200)
		reg_probe_finish(p, 1, "ok", "logged in (%s authentication)", how);
	else if (regauth_guard_redirect(p->easy, code, where, sizeof(where)))
		reg_probe_redirected(p, p->stage == PROBE_TOKEN ? "the token "
		    "realm" : "GET /v2/ with credentials", code, where);
	else if (code == 401 || code == 403)
		reg_probe_finish(p, 0, "unauthorized", "unauthorized: the registry "
		    "refused the credentials (%s authentication, %ld)", how, code);
	else
		reg_probe_finish(p, 0, "unreachable", "registry_unreachable: %s "
		    "authentication answered %ld", how, code);
}

/* One finished transfer moves the state machine. */
static void
reg_probe_step(struct reg_probe *p, CURLcode rc)
{
	char refusal[PROBE_DETAIL_MAX];
	long code = 0;

	if (rc != CURLE_OK && regauth_guard_refused(&p->guard, rc, refusal,
	    sizeof(refusal))) {
		reg_probe_finish(p, 0, "refused", "refused: %s", refusal);
		return;
	}
	if (rc != CURLE_OK) {
		reg_probe_finish(p, 0, "unreachable", "registry_unreachable: %s",
		    curl_easy_strerror(rc));
		return;
	}
	curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
	if (p->stage == PROBE_PING)
		reg_probe_after_ping(p, code);
	else
		reg_probe_after_login(p, code);
}

static void reg_probe_free(struct reg_probe *p);

/* A transfer ended: the next step, or the end of the probe. */
static void
reg_probe_on_done(CURL *easy, CURLcode rc, void *arg)
{
	struct reg_probe *p = arg;

	(void)easy;
	reg_probe_step(p, rc);
	if (p->stage == PROBE_DONE)
		reg_probe_free(p);
}

static void
reg_probe_free(struct reg_probe *p)
{
	if (p->easy != NULL) {
		if (p->cv != NULL)
			curlev_remove(p->cv, p->easy);
		curl_easy_cleanup(p->easy);
	}
	curlev_free(p->cv);
	if (p->username != NULL)
		crypto_free_secret(p->username, strlen(p->username));
	if (p->password != NULL)
		crypto_free_secret(p->password, strlen(p->password));
	if (p->form != NULL)
		crypto_free_secret(p->form, strlen(p->form));
	free(p);
}

/* Replies once; the caller frees the probe. */
static void
reg_probe_finish(struct reg_probe *p, int ok, const char *status,
    const char *fmt, ...)
{
	char detail[PROBE_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	p->stage = PROBE_DONE;
	log_info("registry %s test: %s", p->host, status);
	http_reply_json(p->req, 200, json_pack("{s:b, s:s, s:s, s:s}", "ok", ok,
	    "status", status, "host", p->host, "detail", detail));
}

/* The stored username and password, decrypted (none for anonymous/vendor). */
static int
reg_probe_creds(struct reg_ctx *ctx, struct reg_probe *p,
    const struct reg_row *row, struct error *err)
{
	Slipway__V1__RegistryCredentials *rc;
	unsigned char *pt;
	size_t len;
	int ok = 0;

	if (secret_decrypt(ctx->keyring, row->id, row->secret, row->secret_len,
	    &pt, &len, err) < 0)
		return -1;
	rc = slipway__v1__registry_credentials__unpack(NULL, len, pt);
	crypto_free_secret(pt, len);
	if (rc == NULL) {
		error_set(err, "internal", "", "stored credentials do not decode");
		return -1;
	}
	if (rc->identity_token != NULL && rc->identity_token[0] != '\0') {
		p->username = strdup(REGAUTH_IDENTITY_USER);
		p->password = strdup(rc->identity_token);
		ok = p->username != NULL && p->password != NULL;
		explicit_bzero(rc->identity_token, strlen(rc->identity_token));
	} else if (rc->username[0] != '\0' && rc->password[0] != '\0') {
		p->username = strdup(rc->username);
		p->password = strdup(rc->password);
		ok = p->username != NULL && p->password != NULL;
	} else {
		ok = 1;
	}
	if (rc->password[0] != '\0')
		explicit_bzero(rc->password, strlen(rc->password));
	slipway__v1__registry_credentials__free_unpacked(rc, NULL);
	if (!ok)
		error_set(err, "internal", "", "out of memory");
	return ok ? 0 : -1;
}

static int
reg_probe_begin(struct reg_ctx *ctx, struct reg_probe *p)
{
	snprintf(p->url, sizeof(p->url), "%s://%s/v2/",
	    regauth_host_loopback(p->host) ? "http" : "https", p->host);
	if ((p->cv = curlev_new(ctx->base)) == NULL)
		return -1;
	return reg_probe_get(p, 0, "registry");
}

void
reg_probe_start(struct reg_ctx *ctx, struct http_request *req,
    const struct reg_row *row)
{
	struct reg_probe *p;
	struct error err;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		http_reply_error(req, 500, "internal", "", "out of memory");
		return;
	}
	p->req = req;
	p->auth = row->auth;
	p->targets = &ctx->cfg.targets;
	snprintf(p->host, sizeof(p->host), "%s", row->host);
	if (reg_probe_creds(ctx, p, row, &err) < 0) {
		log_warnx("registry %s: %s", row->id, err.msg);
		http_reply_error(req, 500, "internal", "", "cannot read the "
		    "registry's credentials");
		reg_probe_free(p);
	} else if (reg_probe_begin(ctx, p) < 0) {
		http_reply_error(req, 500, "internal", "", "cannot start the test");
		reg_probe_free(p);
	}
}
