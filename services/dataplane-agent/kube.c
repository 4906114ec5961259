/*
 * kube.c: the Kubernetes API client behind kube.h, and the pure helpers
 * that name and place the runtime's objects.
 *
 * Each request takes a curl handle of its own, so one struct kube serves
 * every apply worker at once. The token is read at kube_new and read again
 * whenever its file changes (checked before a request, at most once a
 * second): a projected service-account token is rotated by the kubelet,
 * and a token file an operator replaces takes effect without a restart.
 * A file that cannot be read keeps the token that was.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <curl/curl.h>

#include "clock.h"
#include "crypto.h"
#include "kube.h"
#include "log.h"

#define KUBE_TOKEN_MAX 16384

#define KUBE_TOKEN_CHECK_MS 1000

struct kube {
	char server[512];
	char ca_file[512];
	char token_file[512];
	pthread_mutex_t lock;    /* auth and what the file was when read */
	char *auth;              /* "Authorization: Bearer …" */
	struct stat token_st;
	long long token_checked_ms;
	int timeout_s;
};

static const struct kube_kind_info kube_kinds[KUBE_KIND_MAX] = {
	[KUBE_NAMESPACE] = { "Namespace", "v1", "namespaces", 0 },
	[KUBE_SECRET] = { "Secret", "v1", "secrets", 1 },
	[KUBE_SERVICE] = { "Service", "v1", "services", 1 },
	[KUBE_DEPLOYMENT] = { "Deployment", "apps/v1", "deployments", 1 },
	[KUBE_CRONJOB] = { "CronJob", "batch/v1", "cronjobs", 1 },
	[KUBE_JOB] = { "Job", "batch/v1", "jobs", 1 },
	[KUBE_POD] = { "Pod", "v1", "pods", 1 },
	[KUBE_HTTPROUTE] = { "HTTPRoute", "gateway.networking.k8s.io/v1",
	    "httproutes", 1 },
	[KUBE_GRPCROUTE] = { "GRPCRoute", "gateway.networking.k8s.io/v1",
	    "grpcroutes", 1 },
	[KUBE_INGRESS] = { "Ingress", "networking.k8s.io/v1", "ingresses", 1 },
	[KUBE_NETWORKPOLICY] = { "NetworkPolicy", "networking.k8s.io/v1",
	    "networkpolicies", 1 },
	[KUBE_CONFIGMAP] = { "ConfigMap", "v1", "configmaps", 1 },
};

const struct kube_kind_info *
kube_kind_info(enum kube_kind k)
{
	if ((unsigned)k >= KUBE_KIND_MAX)
		return NULL;
	return &kube_kinds[k];
}

/* --- pure helpers ---------------------------------------------------------- */

int
kube_dns_label_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
		    s[i] == '-'))
			return 0;
	return 1;
}

void
kube_dns_label(const char *s, size_t max, char out[KUBE_NAME_MAX])
{
	char hex[65];
	size_t n = 0, full = 0;
	int dash = 0;

	if (max == 0 || max > 63)
		max = 63;
	/* The whole folded form is measured, so a cut is always hashed. */
	for (const char *p = s; *p != '\0'; p++) {
		int c = tolower((unsigned char)*p);
		int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!ok) {
			dash = full > 0;
			continue;
		}
		if (dash) {
			if (n < KUBE_NAME_MAX - 1)
				out[n++] = '-';
			full++;
			dash = 0;
		}
		if (n < KUBE_NAME_MAX - 1)
			out[n++] = (char)c;
		full++;
	}
	out[n] = '\0';
	if (full == 0) {
		snprintf(out, KUBE_NAME_MAX, "x");
		return;
	}
	if (full <= max)
		return;
	crypto_sha256_hex(s, strlen(s), hex);
	n = max - 9;
	while (n > 0 && out[n - 1] == '-')
		n--;
	snprintf(out + n, KUBE_NAME_MAX - n, "%s%.8s", n ? "-" : "", hex);
}

void
kube_namespace_name(const char *org, const char *environment,
    char out[KUBE_NAME_MAX])
{
	char raw[300];

	snprintf(raw, sizeof(raw), "slipway-%s-%s", org, environment);
	kube_dns_label(raw, 63, out);
}

void
kube_object_name(const char *component, const char *component_id,
    const char *suffix, char out[KUBE_NAME_MAX])
{
	char hex[65], base[KUBE_NAME_MAX], full[3 * KUBE_NAME_MAX];
	size_t sl = suffix ? strlen(suffix) : 0, room;

	/* Suffixes are the runtime's own short words ("pull", "env-…"). */
	if (sl > 20)
		sl = 20;
	crypto_sha256_hex(component_id, strlen(component_id), hex);
	/* "-" + suffix + "-" + 8 hex after the component's part. */
	room = 63 - 9 - (sl ? sl + 1 : 0);
	kube_dns_label(component, room, base);
	snprintf(full, sizeof(full), "%s%s%.*s-%.8s", base, sl ? "-" : "",
	    (int)sl, sl ? suffix : "", hex);
	snprintf(out, KUBE_NAME_MAX, "%.63s", full);
}

int
kube_selector(char *buf, size_t len, const char *const *kv)
{
	size_t n = 0;
	int w;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	for (size_t i = 0; kv[i] != NULL && kv[i + 1] != NULL; i += 2) {
		w = snprintf(buf + n, len - n, "%s%s=%s", n ? "," : "", kv[i],
		    kv[i + 1]);
		if (w < 0 || (size_t)w >= len - n)
			return -1;
		n += (size_t)w;
	}
	return 0;
}

/* 1 when s may stand in a path segment as it is (names, namespaces). */
static int
kube_segment_ok(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 253)
		return 0;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
		    *p == '-' || *p == '.'))
			return 0;
	return 1;
}

int
kube_path(char *buf, size_t len, enum kube_kind kind, const char *ns,
    const char *name, const char *query)
{
	const struct kube_kind_info *ki = kube_kind_info(kind);
	/* A namespaced collection without a namespace: across all of them. */
	int in_ns = ki != NULL && ki->namespaced && (ns != NULL || name != NULL);
	int w;

	if (ki == NULL || (in_ns && !kube_segment_ok(ns)) ||
	    (name != NULL && !kube_segment_ok(name)))
		return -1;
	w = snprintf(buf, len, "/%s%s%s%s/%s%s%s%s%s",
	    strchr(ki->api_version, '/') ? "apis/" : "api/", ki->api_version,
	    in_ns ? "/namespaces/" : "", in_ns ? ns : "",
	    ki->resource, name ? "/" : "", name ? name : "",
	    query && query[0] ? "?" : "", query ? query : "");
	return w < 0 || (size_t)w >= len ? -1 : 0;
}

/* --- the client ------------------------------------------------------------ */

/* The file's first line, trimmed (malloc'd), or NULL. */
static char *
kube_read_token(const char *path, struct error *err)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL) {
		error_set(err, "kube_config", "", "cannot read token file %s", path);
		return NULL;
	}
	if ((buf = calloc(1, KUBE_TOKEN_MAX + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, KUBE_TOKEN_MAX, f);
	fclose(f);
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (n == 0 || strpbrk(buf, "\r\n") != NULL) {
		error_set(err, "kube_config", "", "token file %s is empty or has "
		    "more than one line", path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* "Authorization: Bearer <the file's token>" (malloc'd), or NULL with err. */
static char *
kube_auth_of(const char *path, struct error *err)
{
	char *tok = kube_read_token(path, err), *auth;
	size_t n;

	if (tok == NULL)
		return NULL;
	n = strlen(tok) + 32;
	if ((auth = malloc(n)) != NULL)
		snprintf(auth, n, "Authorization: Bearer %s", tok);
	else
		error_set(err, "no_memory", "", "out of memory");
	explicit_bzero(tok, strlen(tok));
	free(tok);
	return auth;
}

/* Under the lock: the token again when its file changed since it was read. */
static void
kube_token_refresh(struct kube *k)
{
	struct stat st;
	struct error err;
	long long now = clock_mono_ms();
	char *auth;

	if (now - k->token_checked_ms < KUBE_TOKEN_CHECK_MS)
		return;
	k->token_checked_ms = now;
	if (stat(k->token_file, &st) == -1 || (st.st_ino == k->token_st.st_ino &&
	    st.st_dev == k->token_st.st_dev && st.st_size == k->token_st.st_size &&
	    st.st_mtim.tv_sec == k->token_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == k->token_st.st_mtim.tv_nsec))
		return;
	if ((auth = kube_auth_of(k->token_file, &err)) == NULL) {
		log_warnx("kube: %s: keeping the token read before", err.msg);
		return;
	}
	explicit_bzero(k->auth, strlen(k->auth));
	free(k->auth);
	k->auth = auth;
	k->token_st = st;
	log_info("kube: token file %s changed: read it again", k->token_file);
}

/* Appends the Authorization header (the current token) to hdrs. */
static struct curl_slist *
kube_auth_header(struct kube *k, struct curl_slist *hdrs)
{
	pthread_mutex_lock(&k->lock);
	kube_token_refresh(k);
	hdrs = curl_slist_append(hdrs, k->auth);
	pthread_mutex_unlock(&k->lock);
	return hdrs;
}

/* Fills server, token and CA from the in-cluster environment. */
static int
kube_in_cluster(struct kube *k, const char **token_file, struct error *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");

	if (host == NULL || host[0] == '\0') {
		error_set(err, "kube_config", "", "no API server configured and "
		    "not in a cluster (KUBERNETES_SERVICE_HOST unset)");
		return -1;
	}
	snprintf(k->server, sizeof(k->server), strchr(host, ':') ?
	    "https://[%s]:%s" : "https://%s:%s", host, port && port[0] ? port :
	    "443");
	if (k->ca_file[0] == '\0')
		snprintf(k->ca_file, sizeof(k->ca_file), "%s/ca.crt", KUBE_SA_DIR);
	if (*token_file == NULL || (*token_file)[0] == '\0')
		*token_file = KUBE_SA_DIR "/token";
	return 0;
}

struct kube *
kube_new(const struct kube_config *c, struct error *err)
{
	struct kube *k = calloc(1, sizeof(*k));
	const char *token_file = c->token_file;
	size_t n;

	if (k == NULL) {
		error_set(err, "no_memory", "", "out of memory");
		return NULL;
	}
	k->timeout_s = c->timeout_s > 0 ? c->timeout_s : 20;
	snprintf(k->ca_file, sizeof(k->ca_file), "%s", c->ca_file ? c->ca_file :
	    "");
	if (c->server == NULL || c->server[0] == '\0') {
		if (kube_in_cluster(k, &token_file, err) == -1)
			goto fail;
	} else
		snprintf(k->server, sizeof(k->server), "%s", c->server);
	n = strlen(k->server);
	while (n > 0 && k->server[n - 1] == '/')
		k->server[--n] = '\0';
	if (token_file == NULL || token_file[0] == '\0') {
		error_set(err, "kube_config", "", "a token file is required");
		goto fail;
	}
	snprintf(k->token_file, sizeof(k->token_file), "%s", token_file);
	pthread_mutex_init(&k->lock, NULL);
	if ((k->auth = kube_auth_of(k->token_file, err)) == NULL)
		goto fail;
	if (stat(k->token_file, &k->token_st) == -1)
		memset(&k->token_st, 0, sizeof(k->token_st));
	k->token_checked_ms = clock_mono_ms();
	return k;
fail:
	kube_free(k);
	return NULL;
}

void
kube_free(struct kube *k)
{
	if (k == NULL)
		return;
	if (k->auth != NULL) {
		explicit_bzero(k->auth, strlen(k->auth));
		free(k->auth);
	}
	if (k->token_file[0] != '\0')
		pthread_mutex_destroy(&k->lock);
	free(k);
}

struct kube_buf {
	char *p;
	size_t n;
	int over;
};

static size_t
kube_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct kube_buf *b = arg;
	size_t len = size * nmemb;
	char *np;

	if (b->n + len > KUBE_BODY_MAX) {
		b->over = 1;
		return 0;
	}
	if ((np = realloc(b->p, b->n + len + 1)) == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, data, len);
	b->n += len;
	b->p[b->n] = '\0';
	return len;
}

/* The handle for one request: TLS trust, auth, timeouts. */
static CURL *
kube_handle(struct kube *k, const char *url, struct curl_slist **hdrs,
    const char *content_type)
{
	CURL *h = curl_easy_init();
	char ct[128];

	if (h == NULL)
		return NULL;
	*hdrs = kube_auth_header(k, *hdrs);
	*hdrs = curl_slist_append(*hdrs, "Accept: application/json");
	if (content_type != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		*hdrs = curl_slist_append(*hdrs, ct);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)k->timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	if (k->ca_file[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, k->ca_file);
	return h;
}

int
kube_request(struct kube *k, const char *method, const char *path,
    const char *content_type, const char *body, json_t **out,
    struct error *err)
{
	struct curl_slist *hdrs = NULL;
	struct kube_buf b = { NULL, 0, 0 };
	char url[KUBE_PATH_MAX + 600];
	long status = 0;
	CURLcode rc;
	CURL *h;

	if (out != NULL)
		*out = NULL;
	snprintf(url, sizeof(url), "%s%s", k->server, path);
	if ((h = kube_handle(k, url, &hdrs, content_type)) == NULL) {
		curl_slist_free_all(hdrs);
		error_set(err, "no_memory", "", "out of memory");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, kube_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		error_set(err, "kube_unreachable", "", "kube_unreachable: %s %s: %s",
		    method, path, b.over ? "answer too large" :
		    curl_easy_strerror(rc));
		free(b.p);
		return -1;
	}
	if (out != NULL && b.p != NULL)
		*out = json_loadb(b.p, b.n, 0, NULL);
	free(b.p);
	return (int)status;
}

int
kube_ping(struct kube *k)
{
	struct error err;

	return kube_request(k, "GET", "/readyz", NULL, NULL, NULL, &err) == 200;
}

/* err from a refusal: the Status object's message when there is one. */
static int
kube_refused(const char *what, const char *path, int status, json_t *ans,
    struct error *err)
{
	const char *msg = json_string_value(json_object_get(ans, "message"));
	const char *reason = json_string_value(json_object_get(ans, "reason"));

	error_set(err, status == 403 ? "kube_forbidden" : status == 422 ?
	    "kube_invalid" : "kube_refused", "", "kube: %s %s: HTTP %d %s: %.150s",
	    what, path, status, reason ? reason : "", msg ? msg : "");
	json_decref(ans);
	return -1;
}

int
kube_apply(struct kube *k, enum kube_kind kind, json_t *obj, json_t **out,
    struct error *err)
{
	json_t *md = json_object_get(obj, "metadata"), *ans = NULL;
	char path[KUBE_PATH_MAX], *body;
	int st;

	if (out != NULL)
		*out = NULL;
	if (kube_path(path, sizeof(path), kind,
	    json_string_value(json_object_get(md, "namespace")),
	    json_string_value(json_object_get(md, "name")),
	    "fieldManager=" KUBE_FIELD_MANAGER "&force=true") == -1) {
		error_set(err, "kube_invalid", "", "kube: object without a valid "
		    "name or namespace");
		return -1;
	}
	/* JSON is YAML: the apply-patch content type takes it as it is. */
	if ((body = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		error_set(err, "no_memory", "", "out of memory");
		return -1;
	}
	st = kube_request(k, "PATCH", path, "application/apply-patch+yaml", body,
	    &ans, err);
	free(body);
	if (st == -1)
		return -1;
	if (st != 200 && st != 201)
		return kube_refused("apply", path, st, ans, err);
	if (out != NULL)
		*out = ans;
	else
		json_decref(ans);
	return 0;
}

int
kube_get(struct kube *k, enum kube_kind kind, const char *ns,
    const char *name, json_t **out, struct error *err)
{
	char path[KUBE_PATH_MAX];
	json_t *ans = NULL;
	int st;

	*out = NULL;
	if (kube_path(path, sizeof(path), kind, ns, name, NULL) == -1) {
		error_set(err, "kube_invalid", "", "kube: invalid name");
		return -1;
	}
	if ((st = kube_request(k, "GET", path, NULL, NULL, &ans, err)) == -1)
		return -1;
	if (st == 404) {
		json_decref(ans);
		return 1;
	}
	if (st != 200 || ans == NULL)
		return kube_refused("get", path, st, ans, err);
	*out = ans;
	return 0;
}

int
kube_delete(struct kube *k, enum kube_kind kind, const char *ns,
    const char *name, struct error *err)
{
	char path[KUBE_PATH_MAX];
	json_t *ans = NULL;
	int st;

	/* Background: the garbage collector takes the ReplicaSets and pods. */
	if (kube_path(path, sizeof(path), kind, ns, name,
	    "propagationPolicy=Background") == -1) {
		error_set(err, "kube_invalid", "", "kube: invalid name");
		return -1;
	}
	if ((st = kube_request(k, "DELETE", path, NULL, NULL, &ans, err)) == -1)
		return -1;
	if (st == 200 || st == 202 || st == 404) {
		json_decref(ans);
		return 0;
	}
	return kube_refused("delete", path, st, ans, err);
}

int
kube_list(struct kube *k, enum kube_kind kind, const char *ns,
    const char *selector, json_t **out, struct error *err)
{
	char path[KUBE_PATH_MAX], query[600];
	json_t *ans = NULL;
	char *esc = NULL;
	int st;

	*out = NULL;
	if (selector != NULL && selector[0] != '\0') {
		if ((esc = curl_easy_escape(NULL, selector, 0)) == NULL)
			return -1;
		snprintf(query, sizeof(query), "labelSelector=%s", esc);
		curl_free(esc);
	} else
		query[0] = '\0';
	if (kube_path(path, sizeof(path), kind, ns, NULL, query) == -1) {
		error_set(err, "kube_invalid", "", "kube: invalid namespace");
		return -1;
	}
	if ((st = kube_request(k, "GET", path, NULL, NULL, &ans, err)) == -1)
		return -1;
	/* No such resource (a CRD not installed): nothing of it exists. */
	if (st == 404) {
		json_decref(ans);
		*out = json_pack("{s:[]}", "items");
		return *out != NULL ? 0 : -1;
	}
	if (st != 200 || !json_is_array(json_object_get(ans, "items")))
		return kube_refused("list", path, st, ans, err);
	*out = ans;
	return 0;
}

/* --- watch ----------------------------------------------------------------- */

void
kube_watch_stream_clear(struct kube_watch_stream *w)
{
	free(w->buf);
	w->buf = NULL;
	w->n = 0;
}

/* One line of the stream: {"type": …, "object": …}. 0 go on, -1 end. */
static int
kube_watch_line(struct kube_watch_stream *w, const char *line, size_t len)
{
	json_t *ev = json_loadb(line, len, 0, NULL);
	json_t *obj = json_object_get(ev, "object");
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *rv;
	int rc = 0;

	if (type == NULL || !json_is_object(obj)) {
		w->bad = 1;
		json_decref(ev);
		return -1;
	}
	if (strcmp(type, "ERROR") == 0) {
		/* A Status: 410 Gone means rv was compacted away. */
		w->gone = json_integer_value(json_object_get(obj, "code")) == 410;
		w->bad = !w->gone;
		json_decref(ev);
		return -1;
	}
	rv = json_string_value(json_object_get(json_object_get(obj, "metadata"),
	    "resourceVersion"));
	if (rv != NULL && strlen(rv) < w->rvlen)
		snprintf(w->rv, w->rvlen, "%s", rv);
	if (strcmp(type, "BOOKMARK") != 0 && w->fn(w->arg, type, obj) == 1) {
		w->stopped = 1;
		rc = -1;
	}
	json_decref(ev);
	return rc;
}

int
kube_watch_feed(struct kube_watch_stream *w, const char *data, size_t len)
{
	const char *nl;
	char *np;
	size_t off = 0;

	if (w->n + len > KUBE_EVENT_MAX) {
		w->bad = 1;
		return -1;
	}
	if ((np = realloc(w->buf, w->n + len + 1)) == NULL)
		return -1;
	w->buf = np;
	memcpy(w->buf + w->n, data, len);
	w->n += len;
	while (off < w->n && (nl = memchr(w->buf + off, '\n', w->n - off)) !=
	    NULL) {
		size_t l = (size_t)(nl - (w->buf + off));
		if (l > 0 && kube_watch_line(w, w->buf + off, l) == -1)
			return -1;
		off += l + 1;
	}
	memmove(w->buf, w->buf + off, w->n - off);
	w->n -= off;
	return 0;
}

static size_t
kube_watch_write(char *data, size_t size, size_t nmemb, void *arg)
{
	return kube_watch_feed(arg, data, size * nmemb) == 0 ? size * nmemb : 0;
}

static int
kube_watch_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	const atomic_int *stop = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return stop != NULL && atomic_load(stop) ? 1 : 0;
}

/* The watch request's path: ?watch=1&resourceVersion=…&timeoutSeconds=…. */
static int
kube_watch_path(char *path, size_t len, enum kube_kind kind, const char *ns,
    const char *field_selector, const char *rv, int timeout_s)
{
	char query[700], *esc = NULL;
	int w;

	if (field_selector != NULL && field_selector[0] != '\0' &&
	    (esc = curl_easy_escape(NULL, field_selector, 0)) == NULL)
		return -1;
	w = snprintf(query, sizeof(query), "watch=1&allowWatchBookmarks=true&"
	    "timeoutSeconds=%d%s%s%s%s", timeout_s, rv[0] ? "&resourceVersion=" :
	    "", rv, esc ? "&fieldSelector=" : "", esc ? esc : "");
	curl_free(esc);
	if (w < 0 || (size_t)w >= sizeof(query))
		return -1;
	return kube_path(path, len, kind, ns, NULL, query);
}

int
kube_watch(struct kube *k, enum kube_kind kind, const char *ns,
    const char *field_selector, char *rv, size_t rvlen, int timeout_s,
    const atomic_int *stop, kube_watch_fn fn, void *arg, struct error *err)
{
	struct kube_watch_stream w = { .rv = rv, .rvlen = rvlen, .fn = fn,
	    .arg = arg };
	struct curl_slist *hdrs = NULL;
	char path[KUBE_PATH_MAX], url[KUBE_PATH_MAX + 600];
	long status = 0;
	CURLcode rc;
	CURL *h;

	if (timeout_s <= 0)
		timeout_s = 1;
	if (kube_watch_path(path, sizeof(path), kind, ns, field_selector, rv,
	    timeout_s) == -1) {
		error_set(err, "kube_invalid", "", "kube: invalid watch");
		return -1;
	}
	snprintf(url, sizeof(url), "%s%s", k->server, path);
	if ((h = kube_handle(k, url, &hdrs, NULL)) == NULL) {
		curl_slist_free_all(hdrs);
		error_set(err, "no_memory", "", "out of memory");
		return -1;
	}
	/* The server ends the watch at timeoutSeconds; this is the backstop. */
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)timeout_s + 10);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, kube_watch_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, kube_watch_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)(uintptr_t)stop);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	kube_watch_stream_clear(&w);
	if (w.stopped)
		return 1;
	if (w.gone || status == 410)
		return 2;
	if (stop != NULL && atomic_load(stop)) {
		error_set(err, "stopping", "", "the agent is stopping");
		return -1;
	}
	if (status != 0 && status != 200) {
		error_set(err, status == 403 ? "kube_forbidden" : "kube_refused", "",
		    "kube: watch %s: HTTP %ld", path, status);
		return -1;
	}
	if (w.bad) {
		error_set(err, "kube_refused", "", "kube: watch %s: not an event "
		    "stream", path);
		return -1;
	}
	if (status == 0) {
		error_set(err, "kube_unreachable", "", "kube_unreachable: watch "
		    "%s: %s", path, curl_easy_strerror(rc));
		return -1;
	}
	/* 200 and then an end, clean or not: resume from rv. */
	return 0;
}
