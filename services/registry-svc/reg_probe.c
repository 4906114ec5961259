/*
 * reg_probe.c: POST /v1/orgs/{org}/registries/{id}/test — does the registry
 * answer the OCI Distribution API, and do the stored credentials log in?
 *
 * The probe never blocks the event loop: a libcurl multi handle is driven by
 * a short libevent timer, and the HTTP reply is deferred until the probe's
 * state machine ends. Steps:
 *   PING   GET /v2/ without credentials.
 *          200 → reachable, no login needed; 401 Basic → BASIC; 401 Bearer → TOKEN.
 *   BASIC  GET /v2/ with the username/password.
 *   TOKEN  GET <realm>?service=<service> (with the username/password if any).
 * Loopback hosts are spoken to over plain http (local registries), every
 * other host over https. Nothing is pulled, and no secret is ever logged.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <event2/event.h>
#include "registry.h"
#include "crypto.h"
#include "http.h"
#include "slipway/v1/registry.pb-c.h"

#define PROBE_TICK_MS        20
#define PROBE_TIMEOUT_MS     8000
#define PROBE_CONNECT_MS     4000
#define PROBE_MAX_BODY       (64 * 1024)
#define PROBE_CHALLENGE_MAX  1024

enum probe_stage { PROBE_PING, PROBE_BASIC, PROBE_TOKEN, PROBE_DONE };

struct reg_probe {
	struct http_request *req;
	struct event *tick;
	CURLM *multi;
	CURL *easy;
	enum probe_stage stage;
	enum reg_auth auth;
	char host[REG_HOST_MAX + 1];
	char *username;              /* from the decrypted credentials, or NULL */
	char *password;
	char challenge[PROBE_CHALLENGE_MAX];
	size_t body;
	char url[2048];
};

static void reg_probe_finish(struct reg_probe *p, int ok, const char *status,
    const char *fmt, ...) LOG_PRINTF(4, 5);

/* 127.x.y.z, localhost or [::1], with or without a port. */
static int
reg_probe_loopback(const char *host)
{
	size_t n = strcspn(host, ":");

	if (strncmp(host, "[::1]", 5) == 0)
		return host[5] == '\0' || host[5] == ':';
	if (n == 9 && strncmp(host, "localhost", 9) == 0)
		return 1;
	return strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") == n;
}

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

	if (len > 17 && strncasecmp(line, "www-authenticate:", 17) == 0 &&
	    len - 17 < sizeof(p->challenge)) {
		memcpy(p->challenge, line + 17, len - 17);
		p->challenge[len - 17] = '\0';
		p->challenge[strcspn(p->challenge, "\r\n")] = '\0';
	}
	return len;
}

/* Starts one GET; with_creds adds HTTP basic authentication. */
static int
reg_probe_get(struct reg_probe *p, int with_creds)
{
	if (p->easy != NULL) {
		curl_multi_remove_handle(p->multi, p->easy);
		curl_easy_cleanup(p->easy);
	}
	if ((p->easy = curl_easy_init()) == NULL)
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
	if (with_creds && p->username != NULL) {
		curl_easy_setopt(p->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(p->easy, CURLOPT_USERNAME, p->username);
		curl_easy_setopt(p->easy, CURLOPT_PASSWORD, p->password);
	}
	return curl_multi_add_handle(p->multi, p->easy) == CURLM_OK ? 0 : -1;
}

/* Copies the quoted value of key= out of a Bearer challenge; -1 if absent. */
static int
reg_probe_param(const char *ch, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key), n;
	const char *s;

	for (s = ch; (s = strcasestr(s, key)) != NULL; s += klen) {
		if ((s != ch && isalnum((unsigned char)s[-1])) || s[klen] != '=' ||
		    s[klen + 1] != '"')
			continue;
		s += klen + 2;
		n = strcspn(s, "\"");
		if (s[n] != '"' || n >= len)
			return -1;
		memcpy(out, s, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

/* 401 Bearer: ask the realm for a pull-less token, as docker login does. */
static int
reg_probe_token_url(struct reg_probe *p)
{
	char realm[1024], service[256], *esc;

	if (reg_probe_param(p->challenge, "realm", realm, sizeof(realm)) < 0 ||
	    (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0))
		return -1;
	if (reg_probe_param(p->challenge, "service", service, sizeof(service)) < 0) {
		snprintf(p->url, sizeof(p->url), "%s", realm);
		return 0;
	}
	if ((esc = curl_easy_escape(p->easy, service, 0)) == NULL)
		return -1;
	snprintf(p->url, sizeof(p->url), "%s%sservice=%s", realm,
	    strchr(realm, '?') != NULL ? "&" : "?", esc);
	curl_free(esc);
	return 0;
}

/* After PING: what the registry asks for decides the next step. */
static void
reg_probe_after_ping(struct reg_probe *p, long code)
{
	int has_creds = p->username != NULL;

	if (code == 200) {
		reg_probe_finish(p, 1, "ok", "the registry answers /v2/ without "
		    "authentication");
	} else if (code != 401) {
		reg_probe_finish(p, 0, "unreachable", "registry_unreachable: "
		    "GET /v2/ answered %ld", code);
	} else if (strncasecmp(p->challenge, " Bearer", 7) == 0 ||
	    strncasecmp(p->challenge, "Bearer", 6) == 0) {
		p->stage = PROBE_TOKEN;
		if (reg_probe_token_url(p) < 0 || reg_probe_get(p, 1) < 0)
			reg_probe_finish(p, 0, "unreachable", "registry_unreachable: "
			    "the registry's token challenge is malformed");
	} else if (!has_creds) {
		reg_probe_finish(p, p->auth == REG_AUTH_VENDOR, p->auth ==
		    REG_AUTH_VENDOR ? "ok" : "unauthorized", "%s",
		    p->auth == REG_AUTH_VENDOR ? "reachable; the data plane's own "
		    "identity logs in, which cannot be checked from here" :
		    "unauthorized: the registry requires credentials");
	} else {
		p->stage = PROBE_BASIC;
		if (reg_probe_get(p, 1) < 0)
			reg_probe_finish(p, 0, "unreachable", "cannot start request");
	}
}

static void
reg_probe_after_login(struct reg_probe *p, long code)
{
	const char *how = p->stage == PROBE_TOKEN ? "token" : "basic";

	if (code == 200)
		reg_probe_finish(p, 1, "ok", "logged in (%s authentication)", how);
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
	long code = 0;

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

static void
reg_probe_tick(evutil_socket_t fd, short what, void *arg)
{
	struct reg_probe *p = arg;
	CURLMsg *msg;
	int running, left;

	(void)fd;
	(void)what;
	curl_multi_perform(p->multi, &running);
	while (p->stage != PROBE_DONE &&
	    (msg = curl_multi_info_read(p->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			reg_probe_step(p, msg->data.result);
	if (p->stage == PROBE_DONE)
		reg_probe_free(p);   /* frees this timer too: nothing runs after */
}

static void
reg_probe_free(struct reg_probe *p)
{
	if (p->tick != NULL)
		event_free(p->tick);
	if (p->easy != NULL) {
		curl_multi_remove_handle(p->multi, p->easy);
		curl_easy_cleanup(p->easy);
	}
	if (p->multi != NULL)
		curl_multi_cleanup(p->multi);
	if (p->username != NULL)
		crypto_free_secret(p->username, strlen(p->username));
	if (p->password != NULL)
		crypto_free_secret(p->password, strlen(p->password));
	free(p);
}

/* Replies once; the caller frees the probe. */
static void
reg_probe_finish(struct reg_probe *p, int ok, const char *status,
    const char *fmt, ...)
{
	char detail[300];
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
	if (rc->username[0] != '\0' && rc->password[0] != '\0') {
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
	static const struct timeval tick = { 0, PROBE_TICK_MS * 1000 };

	snprintf(p->url, sizeof(p->url), "%s://%s/v2/",
	    reg_probe_loopback(p->host) ? "http" : "https", p->host);
	if ((p->multi = curl_multi_init()) == NULL ||
	    (p->tick = event_new(ctx->base, -1, EV_PERSIST, reg_probe_tick,
	    p)) == NULL || event_add(p->tick, &tick) < 0)
		return -1;
	return reg_probe_get(p, 0);
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
