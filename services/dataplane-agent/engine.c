/*
 * engine.c: the Docker Engine API over a unix socket (libcurl), the runtime
 * of a Docker-host data plane. Only the calls the agent needs; it must not
 * care whether dockerd or `podman system service` answers.
 *
 * Answers are capped (4 MiB; the pull stream is scanned line by line instead
 * of being kept) and every call has a timeout. One curl handle per call, so
 * calls from different threads never share state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "buf.h"
#include "agent.h"

#define ENGINE_API       "http://engine/v1.41"
#define ENGINE_BODY_MAX  (4 * 1024 * 1024)
#define ENGINE_LINE_MAX  (64 * 1024)
#define ENGINE_PULL_TIMEOUT_S 600

struct engine {
	char *socket;
};

/* An answer: status and a capped body. */
struct engine_resp {
	long status;
	char *body;
	size_t len;
	char curlerr[CURL_ERROR_SIZE];
};

/* The pull progress stream, scanned line by line for errors. */
struct engine_pull {
	char line[ENGINE_LINE_MAX];
	size_t n;
	int overflow;
	char error[200];
};

struct engine *
engine_new(const char *socket_path)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (e == NULL || (e->socket = strdup(socket_path)) == NULL) {
		free(e);
		return NULL;
	}
	return e;
}

void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	free(e->socket);
	free(e);
}

static size_t
engine_body_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct engine_resp *r = arg;
	size_t len = size * n;

	/* Returning less than len makes curl stop with a write error. */
	return buf_append(&r->body, &r->len, ENGINE_BODY_MAX, buf, len) == 0 ?
	    len : 0;
}

/* Records the first error a complete pull-stream line reports. */
static void
engine_pull_line(struct engine_pull *p)
{
	json_t *root, *msg;

	if (p->error[0] != '\0' || p->n == 0)
		return;
	if ((root = json_loadb(p->line, p->n, 0, NULL)) == NULL)
		return;
	msg = json_object_get(json_object_get(root, "errorDetail"), "message");
	if (!json_is_string(msg))
		msg = json_object_get(root, "error");
	if (json_is_string(msg))
		snprintf(p->error, sizeof(p->error), "%s", json_string_value(msg));
	json_decref(root);
}

static size_t
engine_pull_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct engine_pull *p = arg;
	size_t len = size * n;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			if (!p->overflow)
				engine_pull_line(p);
			p->n = 0;
			p->overflow = 0;
		} else if (p->n + 1 < sizeof(p->line)) {
			p->line[p->n++] = buf[i];
		} else {
			p->overflow = 1;   /* a progress line this long is junk */
		}
	}
	return len;
}

/*
 * One API call. body (JSON text) may be NULL; sink/sinkarg replace the
 * default capped body buffer. 0 when an answer arrived, -1 on transport
 * failure.
 */
static int
engine_call(struct engine *e, const char *method, const char *path,
    const char *body, struct curl_slist *hdrs, long timeout_s,
    curl_write_callback sink, void *sinkarg, struct engine_resp *r)
{
	char url[2048];
	CURL *h;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", ENGINE_API, path);
	if ((h = curl_easy_init()) == NULL)
		return -1;
	if (body != NULL)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, e->socket);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curlerr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink ? sink : engine_body_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, sink ? sinkarg : (void *)r);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK && r->curlerr[0] == '\0')
		snprintf(r->curlerr, sizeof(r->curlerr), "%s",
		    curl_easy_strerror(rc));
	return rc == CURLE_OK ? 0 : -1;
}

/* The engine's {"message": ...} from an error answer, or a fallback. */
static const char *
engine_message(const struct engine_resp *r, char *buf, size_t len)
{
	json_t *root, *m;

	snprintf(buf, len, "engine answered HTTP %ld", r->status);
	if (r->body == NULL ||
	    (root = json_loadb(r->body, r->len, 0, NULL)) == NULL)
		return buf;
	m = json_object_get(root, "message");
	if (json_is_string(m))
		snprintf(buf, len, "%s", json_string_value(m));
	json_decref(root);
	return buf;
}

/* Fails err with code and the transport or API reason of r. */
static int
engine_fail(struct engine_resp *r, int transport, const char *code,
    const char *what, struct error *err)
{
	char msg[200];

	if (transport)
		error_set(err, code, "", "%s: %s: engine unreachable: %s", code,
		    what, r->curlerr);
	else
		error_set(err, code, "", "%s: %s: %s", code, what,
		    engine_message(r, msg, sizeof(msg)));
	free(r->body);
	return -1;
}

int
engine_ping(struct engine *e)
{
	struct engine_resp r;
	int ok;

	ok = engine_call(e, "GET", "/_ping", NULL, NULL, 2, NULL, NULL, &r) == 0
	    && r.status == 200;
	free(r.body);
	return ok;
}

/* X-Registry-Auth: base64url of {"username","password","serveraddress"}. */
static struct curl_slist *
engine_auth_header(const char *username, const char *password,
    const char *server)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "username", username,
	    "password", password ? password : "", "serveraddress", server);
	char *js = o ? json_dumps(o, JSON_COMPACT) : NULL;
	struct curl_slist *l = NULL;
	size_t b64len, jlen;
	char *line;

	json_decref(o);
	if (js == NULL)
		return NULL;
	jlen = strlen(js);
	b64len = sodium_base64_encoded_len(jlen, sodium_base64_VARIANT_URLSAFE);
	if ((line = malloc(b64len + 32)) != NULL) {
		memcpy(line, "X-Registry-Auth: ", 17);
		sodium_bin2base64(line + 17, b64len, (unsigned char *)js, jlen,
		    sodium_base64_VARIANT_URLSAFE);
		l = curl_slist_append(NULL, line);
		sodium_memzero(line, b64len + 17);
		free(line);
	}
	sodium_memzero(js, jlen);
	free(js);
	return l;
}

int
engine_pull(struct engine *e, const char *image, const char *username,
    const char *password, const char *server, struct error *err)
{
	struct engine_pull *p;
	struct engine_resp r;
	struct curl_slist *hdrs = NULL;
	char path[1024], *esc;
	int rc;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (esc = curl_easy_escape(NULL, image, 0)) == NULL) {
		free(p);
		error_set(err, "pull_failed", "", "pull_failed: out of memory");
		return -1;
	}
	snprintf(path, sizeof(path), "/images/create?fromImage=%s", esc);
	curl_free(esc);
	if (username != NULL && username[0] != '\0')
		hdrs = engine_auth_header(username, password, server);
	rc = engine_call(e, "POST", path, NULL, hdrs, ENGINE_PULL_TIMEOUT_S,
	    engine_pull_cb, p, &r);
	engine_pull_line(p);   /* a last line without a newline */
	if (rc == -1)
		error_set(err, "pull_failed", "", "pull_failed: %s: engine "
		    "unreachable: %s", image, r.curlerr);
	else if (p->error[0] != '\0')
		error_set(err, "pull_failed", "", "pull_failed: %s: %s", image,
		    p->error);
	else if (r.status != 200)
		error_set(err, "pull_failed", "", "pull_failed: %s: engine "
		    "answered HTTP %ld", image, r.status);
	rc = (rc == -1 || p->error[0] != '\0' || r.status != 200) ? -1 : 0;
	free(p);
	return rc;
}

/* "/containers/<escaped name><suffix>" into buf. */
static int
engine_container_path(const char *name, const char *suffix, char *buf,
    size_t len)
{
	char *esc = curl_easy_escape(NULL, name, 0);
	int n;

	if (esc == NULL)
		return -1;
	n = snprintf(buf, len, "/containers/%s%s", esc, suffix);
	curl_free(esc);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
engine_remove(struct engine *e, const char *name, struct error *err)
{
	struct engine_resp r;
	char path[512];
	int t;

	if (engine_container_path(name, "?force=true", path, sizeof(path)) == -1)
		return engine_fail(&(struct engine_resp){ 0 }, 0, "start_failed",
		    "bad container name", err);
	t = engine_call(e, "DELETE", path, NULL, NULL, 30, NULL, NULL, &r);
	if (t == 0 && (r.status == 204 || r.status == 200 || r.status == 404)) {
		free(r.body);
		return 0;
	}
	return engine_fail(&r, t == -1, "start_failed", "remove old container",
	    err);
}

/* The containers/create body. */
static char *
engine_create_body(const struct engine_container *c)
{
	json_t *o, *env = json_array(), *labels = json_object();
	char *s;

	for (size_t i = 0; c->env != NULL && c->env[i] != NULL; i++)
		json_array_append_new(env, json_string(c->env[i]));
	for (size_t i = 0; c->labels != NULL && c->labels[i] != NULL &&
	    c->labels[i + 1] != NULL; i += 2)
		json_object_set_new(labels, c->labels[i],
		    json_string(c->labels[i + 1]));
	o = json_pack("{s:s, s:o, s:o, s:{s:s, s:b}}", "Image", c->image,
	    "Env", env, "Labels", labels, "HostConfig", "NetworkMode", "host",
	    "Init", 1);
	s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

int
engine_create(struct engine *e, const struct engine_container *c,
    struct error *err)
{
	struct engine_resp r;
	char path[512], *esc, *body;
	int t;

	if ((body = engine_create_body(c)) == NULL ||
	    (esc = curl_easy_escape(NULL, c->name, 0)) == NULL) {
		free(body);
		error_set(err, "start_failed", "", "start_failed: out of memory");
		return -1;
	}
	snprintf(path, sizeof(path), "/containers/create?name=%s", esc);
	curl_free(esc);
	t = engine_call(e, "POST", path, body, NULL, 60, NULL, NULL, &r);
	free(body);
	if (t == 0 && r.status == 201) {
		free(r.body);
		return 0;
	}
	return engine_fail(&r, t == -1, "start_failed", "create container", err);
}

int
engine_start(struct engine *e, const char *name, struct error *err)
{
	struct engine_resp r;
	char path[512];
	int t;

	if (engine_container_path(name, "/start", path, sizeof(path)) == -1)
		return engine_fail(&(struct engine_resp){ 0 }, 0, "start_failed",
		    "bad container name", err);
	t = engine_call(e, "POST", path, NULL, NULL, 60, NULL, NULL, &r);
	if (t == 0 && (r.status == 204 || r.status == 304)) {
		free(r.body);
		return 0;
	}
	return engine_fail(&r, t == -1, "start_failed", "start container", err);
}

int
engine_inspect(struct engine *e, const char *name, int *running,
    int *exit_code, struct error *err)
{
	struct engine_resp r;
	json_t *root, *state;
	char path[512];
	int t;

	if (engine_container_path(name, "/json", path, sizeof(path)) == -1)
		return engine_fail(&(struct engine_resp){ 0 }, 0, "unhealthy",
		    "bad container name", err);
	t = engine_call(e, "GET", path, NULL, NULL, 10, NULL, NULL, &r);
	if (t == -1 || r.status != 200)
		return engine_fail(&r, t == -1, "unhealthy", "inspect container",
		    err);
	root = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
	free(r.body);
	state = json_object_get(root, "State");
	if (!json_is_boolean(json_object_get(state, "Running"))) {
		json_decref(root);
		error_set(err, "unhealthy", "", "unhealthy: engine gave no "
		    "container state");
		return -1;
	}
	*running = json_is_true(json_object_get(state, "Running"));
	*exit_code = (int)json_integer_value(json_object_get(state, "ExitCode"));
	json_decref(root);
	return 0;
}
