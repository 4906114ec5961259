/*
 * cli_http.c: requests to the management APIs with libcurl. Every request
 * has a connect timeout and a total timeout, and every reply body is capped,
 * so a stuck or hostile server can neither hang nor flood the CLI.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "cli.h"

#define CONNECT_TIMEOUT_S 5L
#define REQUEST_TIMEOUT_S 30L
#define REPLY_MAX (8u * 1024 * 1024)

static const char *const svc_names[CLI_SVC_COUNT] = {
	[CLI_SVC_REGISTRY] = "registry-svc",
	[CLI_SVC_COMPONENT] = "component-svc",
	[CLI_SVC_DEPLOY] = "deploy-svc",
	[CLI_SVC_WEBHOOK] = "webhook-ingress",
};

void
cli_http_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
cli_http_cleanup(void)
{
	curl_global_cleanup();
}

static int
segment_ok(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

	return n > 0 && n <= 200 && s[n] == '\0' && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0;
}

int
cli_http_path(char *buf, size_t len, const char *tmpl, ...)
{
	va_list ap;
	const char *p = tmpl, *seg;
	size_t o = 0, n;
	int rc = 0;

	va_start(ap, tmpl);
	while (*p != '\0' && rc == 0) {
		if (strncmp(p, "{}", 2) == 0) {
			seg = va_arg(ap, const char *);
			if (seg == NULL || !segment_ok(seg)) {
				fprintf(stderr, "error: invalid_argument: \"%s\" is not a "
				    "valid name or id\n", seg ? seg : "");
				rc = -1;
				break;
			}
			n = strlen(seg);
			p += 2;
		} else {
			seg = p;
			n = 1;
			p++;
		}
		if (o + n >= len) {
			rc = -1;
			break;
		}
		memcpy(buf + o, seg, n);
		o += n;
	}
	va_end(ap);
	buf[o < len ? o : 0] = '\0';
	return rc;
}

/* libcurl write callback: appends to the reply, refusing past REPLY_MAX. */
static size_t
reply_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct cli_reply *r = arg;
	size_t n = size * nmemb;

	return buf_append(&r->body, &r->len, REPLY_MAX, data, n) == 0 ? n : 0;
}

/* content_type: the body's, NULL when there is no body. */
static struct curl_slist *
request_headers(const struct cli_ctx *ctx, const char *content_type)
{
	struct curl_slist *h = NULL;
	char auth[1024], ct[256];

	h = curl_slist_append(h, "Accept: application/json");
	if (content_type != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		h = curl_slist_append(h, ct);
	}
	if (ctx->token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", ctx->token);
		h = curl_slist_append(h, auth);
		memset(auth, 0, sizeof(auth));
	}
	return h;
}

static void
request_setup(CURL *c, const char *url, const char *method, const char *body,
    size_t len, struct curl_slist *h, struct cli_reply *r)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	if (body != NULL) {
		/* The size first: a body may hold NUL bytes (a file). */
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	} else if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
}

int
cli_http_send(const struct cli_ctx *ctx, enum cli_svc svc, const char *method,
    const char *path, const char *content_type, const void *body, size_t len,
    struct cli_reply *r)
{
	char url[1024];
	struct curl_slist *h;
	CURL *c;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", ctx->url[svc], path);
	if ((c = curl_easy_init()) == NULL) {
		fprintf(stderr, "error: internal: libcurl failed to start\n");
		return -1;
	}
	h = request_headers(ctx, body != NULL ? content_type : NULL);
	request_setup(c, url, method, body, len, h, r);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		fprintf(stderr, "error: unreachable: %s %s (%s): %s\n", method, url,
		    svc_names[svc], curl_easy_strerror(rc));
		cli_reply_free(r);
		return -1;
	}
	if (r->body != NULL && r->len > 0)
		r->json = json_loadb(r->body, r->len, 0, NULL);
	return 0;
}

int
cli_http_do(const struct cli_ctx *ctx, enum cli_svc svc, const char *method,
    const char *path, json_t *body, struct cli_reply *r)
{
	char *text = NULL;
	int rc;

	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		memset(r, 0, sizeof(*r));
		fprintf(stderr, "error: internal: cannot encode the request\n");
		return -1;
	}
	rc = cli_http_send(ctx, svc, method, path, "application/json", text,
	    text != NULL ? strlen(text) : 0, r);
	if (text != NULL) {
		/* The body may hold a password: do not leave it in freed memory. */
		memset(text, 0, strlen(text));
		free(text);
	}
	return rc;
}

void
cli_reply_free(struct cli_reply *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

void
cli_http_print_error(const struct cli_reply *r)
{
	json_t *e = r->json ? json_object_get(r->json, "error") : NULL;
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *field = json_string_value(json_object_get(e, "field"));

	if (code != NULL) {
		fprintf(stderr, "error: %s: %s", code, msg ? msg : "");
		if (field != NULL && field[0] != '\0')
			fprintf(stderr, " (field %s)", field);
		fputc('\n', stderr);
		return;
	}
	/* Not our error shape (a proxy, a crash): show a bounded excerpt. */
	fprintf(stderr, "error: http_%ld: %.200s\n", r->status,
	    r->body ? r->body : "");
}

int
cli_http_call(const struct cli_ctx *ctx, enum cli_svc svc, const char *method,
    const char *path, json_t *body, json_t **out)
{
	struct cli_reply r;

	if (out != NULL)
		*out = NULL;
	if (cli_http_do(ctx, svc, method, path, body, &r) < 0)
		return CLI_FAIL;
	if (r.status < 200 || r.status > 299) {
		cli_http_print_error(&r);
		cli_reply_free(&r);
		return CLI_FAIL;
	}
	if (r.len > 0 && r.json == NULL) {
		fprintf(stderr, "error: bad_reply: %s answered %ld with a body that is "
		    "not JSON\n", svc_names[svc], r.status);
		cli_reply_free(&r);
		return CLI_FAIL;
	}
	if (ctx->quiet && json_is_string(json_object_get(r.json, "id")))
		printf("%s\n", json_string_value(json_object_get(r.json, "id")));
	else if (ctx->json && !ctx->quiet && r.len > 0)
		printf("%s\n", r.body);
	if (out != NULL) {
		*out = r.json;
		r.json = NULL;
	}
	cli_reply_free(&r);
	return CLI_OK;
}
