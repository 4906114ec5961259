/*
 * engine.c: the Docker Engine API over a unix socket (libcurl), the runtime
 * of a Docker-host data plane. Only the calls the agent needs; it must not
 * care whether dockerd or `podman system service` answers.
 *
 * Answers are capped (4 MiB; the pull stream is scanned line by line instead
 * of being kept) and every call has a timeout. One curl handle per call, so
 * calls from different threads never share state.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "buf.h"
#include "agent.h"
#include "regauth.h"

#define ENGINE_API       "http://engine/v1.41"
#define ENGINE_BODY_MAX  (4 * 1024 * 1024)
#define ENGINE_LINE_MAX  (64 * 1024)
#define ENGINE_PULL_TIMEOUT_S 600

struct engine {
	char *socket;
	atomic_int abort;    /* engine_abort: every transfer ends now */
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

void
engine_abort(struct engine *e)
{
	atomic_store(&e->abort, 1);
}

/* curl's progress callback: non-zero aborts the transfer (shutdown). */
static int
engine_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct engine *e = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(&e->abort) ? 1 : 0;
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
	/*
	 * No socket (the kubernetes runtime): never let curl resolve "engine"
	 * over TCP instead.
	 */
	if (e->socket[0] == '\0') {
		snprintf(r->curlerr, sizeof(r->curlerr), "no engine socket");
		curl_slist_free_all(hdrs);
		return -1;
	}
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
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, engine_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, e);
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

/*
 * X-Registry-Auth: base64url of {"username","password","serveraddress"},
 * or {"identitytoken","serveraddress"} for an identity token.
 */
static struct curl_slist *
engine_auth_header(const char *username, const char *password,
    const char *server)
{
	/* Docker's AuthConfig carries an identity token on its own. */
	json_t *o = regauth_identity(username) ?
	    json_pack("{s:s, s:s}", "identitytoken", password ? password : "",
	    "serveraddress", server) :
	    json_pack("{s:s, s:s, s:s}", "username", username,
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

/*
 * One pull through path (the compat or the libpod endpoint); both stream
 * progress lines and report a failure inside the stream. *transport is set
 * when the engine itself could not be reached.
 */
static int
engine_pull_once(struct engine *e, const char *path, const char *image,
    const char *username, const char *password, const char *server,
    int *transport, struct error *err)
{
	struct engine_pull *p;
	struct engine_resp r;
	struct curl_slist *hdrs = NULL;
	int rc;

	*transport = 0;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		error_set(err, "pull_failed", "", "pull_failed: out of memory");
		return -1;
	}
	if (username != NULL && username[0] != '\0')
		hdrs = engine_auth_header(username, password, server);
	rc = engine_call(e, "POST", path, NULL, hdrs, ENGINE_PULL_TIMEOUT_S,
	    engine_pull_cb, p, &r);
	engine_pull_line(p);   /* a last line without a newline */
	*transport = rc == -1;
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

/* 1 when image ("host/path@digest") lives on a loopback registry. */
static int
engine_image_loopback(const char *image)
{
	char host[256];
	size_t n = strcspn(image, "/");

	if (image[n] != '/' || n >= sizeof(host))
		return 0;
	memcpy(host, image, n);
	host[n] = '\0';
	return regauth_host_loopback(host);
}

/* 1 when GET /version names podman among the engine's components. */
static int
engine_is_podman(struct engine *e)
{
	struct engine_resp r;
	json_t *root, *c;
	const char *name;
	size_t i;
	int podman = 0;

	if (engine_call(e, "GET", "/version", NULL, NULL, 10, NULL, NULL,
	    &r) == 0 && r.status == 200 && (root = json_loadb(r.body ?
	    r.body : "", r.len, 0, NULL)) != NULL) {
		json_array_foreach(json_object_get(root, "Components"), i, c) {
			name = json_string_value(json_object_get(c, "Name"));
			if (name != NULL && strcmp(name, "Podman Engine") == 0)
				podman = 1;
		}
		json_decref(root);
	}
	free(r.body);
	return podman;
}

/*
 * dockerd reaches a loopback registry (127.0.0.0/8, ::1, localhost) over
 * plain HTTP when it has no TLS; podman's compat endpoint leaves TLS to its
 * registries.conf, which cannot say "any port of 127.0.0.0/8", and has no
 * parameter for it. So a loopback pull that podman refused is tried once
 * more through podman's own endpoint with tlsVerify=false: HTTPS without
 * certificate checks, then HTTP, which is Docker's rule for these hosts.
 * dockerd never sees the libpod call; other registries never get it.
 */
int
engine_pull(struct engine *e, const char *image, const char *username,
    const char *password, const char *server, struct error *err)
{
	char path[2048], *esc;
	int rc, transport;

	if ((esc = curl_easy_escape(NULL, image, 0)) == NULL) {
		error_set(err, "pull_failed", "", "pull_failed: out of memory");
		return -1;
	}
	/* Room for either endpoint's path and ENGINE_API in engine_call. */
	if (strlen(esc) > sizeof(path) - 128) {
		curl_free(esc);
		error_set(err, "pull_failed", "",
		    "pull_failed: image reference too long");
		return -1;
	}
	snprintf(path, sizeof(path), "/images/create?fromImage=%s", esc);
	rc = engine_pull_once(e, path, image, username, password, server,
	    &transport, err);
	if (rc == -1 && !transport && engine_image_loopback(image) &&
	    engine_is_podman(e)) {
		log_info("pull of %s refused (%s); a loopback registry on "
		    "podman, so again with tlsVerify=false", image, err->msg);
		/* podman serves /v<any version>/libpod/, so ENGINE_API will do. */
		snprintf(path, sizeof(path), "/libpod/images/pull?reference=%s"
		    "&tlsVerify=false", esc);
		rc = engine_pull_once(e, path, image, username, password,
		    server, &transport, err);
		if (rc == 0)
			error_clear(err);
	}
	curl_free(esc);
	return rc;
}

int
engine_image_present(struct engine *e, const char *image)
{
	struct engine_resp r;
	char path[1024], *esc = curl_easy_escape(NULL, image, 0);
	int t;

	if (esc == NULL)
		return 0;
	snprintf(path, sizeof(path), "/images/%s/json", esc);
	curl_free(esc);
	t = engine_call(e, "GET", path, NULL, NULL, 10, NULL, NULL, &r);
	free(r.body);
	return t == 0 && r.status == 200;
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

/* "9090/tcp" */
static void
engine_port_key(const struct engine_port *p, char *buf, size_t len)
{
	snprintf(buf, len, "%d/%s", p->container_port, p->udp ? "udp" : "tcp");
}

/*
 * Ports published on 127.0.0.1 only, each on a free host port the engine
 * picks (read back with engine_inspect): versions side by side never
 * collide, and nothing is reachable from outside the host but through the
 * gateway.
 */
static void
engine_create_ports(const struct engine_container *c, json_t *exposed,
    json_t *bindings)
{
	char key[32];

	for (size_t i = 0; i < c->nports; i++) {
		engine_port_key(&c->ports[i], key, sizeof(key));
		json_object_set_new(exposed, key, json_object());
		json_object_set_new(bindings, key, json_pack("[{s:s, s:s}]",
		    "HostIp", "127.0.0.1", "HostPort", ""));
	}
}

/*
 * The hardening every tenant container gets: its own network namespace
 * (never the host's), no privilege gain through setuid binaries, the
 * capabilities dockerd grants beyond podman's minimal set dropped, an init
 * so SIGTERM works, and the limits.
 */
static json_t *
engine_host_config(const struct engine_container *c, json_t *bindings)
{
	json_t *hc = json_pack("{s:s, s:b, s:o, s:[s], s:[s,s,s], s:b, s:{s:s}}",
	    "NetworkMode", c->network != NULL && c->network[0] ? c->network :
	    "slirp4netns", "Init", 1, "PortBindings", bindings, "SecurityOpt",
	    "no-new-privileges", "CapDrop", "NET_RAW", "MKNOD", "AUDIT_WRITE",
	    "ReadonlyRootfs", c->read_only_rootfs ? 1 : 0, "RestartPolicy",
	    "Name", "no");

	if (hc == NULL)
		return NULL;
	if (c->memory_bytes > 0)
		json_object_set_new(hc, "Memory", json_integer(c->memory_bytes));
	if (c->nano_cpus > 0)
		json_object_set_new(hc, "NanoCpus", json_integer(c->nano_cpus));
	if (c->pids > 0)
		json_object_set_new(hc, "PidsLimit", json_integer(c->pids));
	return hc;
}

/* The containers/create body. */
static char *
engine_create_body(const struct engine_container *c)
{
	json_t *o, *env = json_array(), *labels = json_object(),
	    *exposed = json_object(), *bindings = json_object(), *hc;
	char *s;

	for (size_t i = 0; c->env != NULL && c->env[i] != NULL; i++)
		json_array_append_new(env, json_string(c->env[i]));
	for (size_t i = 0; c->labels != NULL && c->labels[i] != NULL &&
	    c->labels[i + 1] != NULL; i += 2)
		json_object_set_new(labels, c->labels[i],
		    json_string(c->labels[i + 1]));
	engine_create_ports(c, exposed, bindings);
	hc = engine_host_config(c, bindings);
	o = json_pack("{s:s, s:o, s:o, s:o, s:o*}", "Image", c->image, "Env", env,
	    "Labels", labels, "ExposedPorts", exposed, "HostConfig", hc);
	/* An execution's arguments replace the image's command. */
	if (o != NULL && c->cmd != NULL && c->cmd[0] != NULL) {
		json_t *cmd = json_array();
		for (size_t i = 0; c->cmd[i] != NULL; i++)
			json_array_append_new(cmd, json_string(c->cmd[i]));
		json_object_set_new(o, "Cmd", cmd);
	}
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

/* Reads NetworkSettings.Ports: {"9090/tcp":[{"HostIp","HostPort":"34839"}]}. */
static void
engine_inspect_ports(json_t *root, struct engine_state *st)
{
	json_t *ports = json_object_get(json_object_get(root, "NetworkSettings"),
	    "Ports"), *v;
	const char *key;
	char proto[8];
	int cport;

	json_object_foreach(ports, key, v) {
		json_t *b = json_array_get(v, 0);
		const char *hp = json_string_value(json_object_get(b, "HostPort"));
		if (st->nports >= AGENT_ENDPOINTS_MAX || hp == NULL ||
		    sscanf(key, "%d/%7s", &cport, proto) != 2)
			continue;
		st->ports[st->nports++] = (struct engine_port){ cport,
		    strcmp(proto, "udp") == 0, atoi(hp) };
	}
}

/* GET /containers/<name>/json; its parsed body, NULL when absent or failed. */
static json_t *
engine_inspect_json(struct engine *e, const char *name, int *absent,
    struct error *err)
{
	struct engine_resp r;
	json_t *root;
	char path[512];
	int t;

	*absent = 0;
	if (engine_container_path(name, "/json", path, sizeof(path)) == -1) {
		error_set(err, "engine_failed", "", "bad container name");
		return NULL;
	}
	t = engine_call(e, "GET", path, NULL, NULL, 10, NULL, NULL, &r);
	if (t == 0 && r.status == 404) {
		free(r.body);
		*absent = 1;
		return NULL;
	}
	if (t == -1 || r.status != 200) {
		engine_fail(&r, t == -1, "engine_failed", "inspect container", err);
		return NULL;
	}
	root = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
	free(r.body);
	if (root == NULL)
		error_set(err, "engine_failed", "", "engine_failed: inspect answer "
		    "is not JSON");
	return root;
}

int
engine_inspect(struct engine *e, const char *name, struct engine_state *st,
    struct error *err)
{
	json_t *root, *state;
	int absent;

	memset(st, 0, sizeof(*st));
	if ((root = engine_inspect_json(e, name, &absent, err)) == NULL)
		return absent ? 0 : -1;
	state = json_object_get(root, "State");
	if (!json_is_boolean(json_object_get(state, "Running"))) {
		json_decref(root);
		error_set(err, "engine_failed", "", "engine_failed: engine gave no "
		    "container state");
		return -1;
	}
	st->exists = 1;
	st->running = json_is_true(json_object_get(state, "Running"));
	st->created = json_is_string(json_object_get(state, "Status")) &&
	    strcmp(json_string_value(json_object_get(state, "Status")),
	    "created") == 0;
	st->exit_code = (int)json_integer_value(json_object_get(state, "ExitCode"));
	st->oom_killed = json_is_true(json_object_get(state, "OOMKilled"));
	engine_inspect_ports(root, st);
	json_decref(root);
	return 0;
}

char *
engine_label(struct engine *e, const char *name, const char *key,
    struct error *err)
{
	json_t *root, *v;
	char *out = NULL;
	int absent;

	if ((root = engine_inspect_json(e, name, &absent, err)) == NULL)
		return NULL;
	v = json_object_get(json_object_get(json_object_get(root, "Config"),
	    "Labels"), key);
	if (json_is_string(v))
		out = strdup(json_string_value(v));
	json_decref(root);
	return out;
}

int
engine_stop(struct engine *e, const char *name, int timeout_s)
{
	struct engine_resp r;
	char path[512], suffix[32];
	int t;

	snprintf(suffix, sizeof(suffix), "/stop?t=%d", timeout_s);
	if (engine_container_path(name, suffix, path, sizeof(path)) == -1)
		return -1;
	/* 304: already stopped; 404: already gone. */
	t = engine_call(e, "POST", path, NULL, NULL, timeout_s + 10, NULL, NULL,
	    &r);
	free(r.body);
	if (t == -1)
		log_warnx("stop %s: %s", name, r.curlerr);
	return t == 0 && (r.status == 204 || r.status == 304 ||
	    r.status == 404) ? 0 : -1;
}

int
engine_retire(struct engine *e, const char *name, int timeout_s,
    struct error *err)
{
	engine_stop(e, name, timeout_s);   /* failed or not: remove next */
	return engine_remove(e, name, err);
}

/*
 * Demultiplexes the log stream (8-byte frame headers: stream, 0, 0, 0,
 * big-endian length) into text; a TTY container's raw stream passes as is.
 */
static size_t
engine_logs_demux(const char *in, size_t n, char *out, size_t len)
{
	size_t o = 0, i = 0;

	if (n < 8 || (in[0] != 1 && in[0] != 2) || in[1] || in[2] || in[3]) {
		o = n < len - 1 ? n : len - 1;
		memcpy(out, in, o);
		return o;
	}
	/* Frames: 1 = stdout, 2 = stderr, then a 4-byte big-endian length. */
	while (i + 8 <= n) {
		size_t f = ((size_t)(unsigned char)in[i + 4] << 24) |
		    ((size_t)(unsigned char)in[i + 5] << 16) |
		    ((size_t)(unsigned char)in[i + 6] << 8) |
		    (size_t)(unsigned char)in[i + 7];
		i += 8;
		if (f > n - i)
			f = n - i;
		for (size_t k = 0; k < f && o + 1 < len; k++)
			out[o++] = in[i + k];
		i += f;
	}
	return o;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t
engine_utf8_len(const unsigned char *s, size_t n)
{
	size_t want = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 :
	    (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;

	if (want == 0 || want > n || (want == 2 && s[0] < 0xc2))
		return 0;
	for (size_t i = 1; i < want; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return want;
}

/*
 * Makes a tenant's log text safe to report: the last `lines` lines, at most
 * len - 1 bytes of them (the newest), invalid UTF-8 and control bytes
 * replaced by '?', so deploy-svc never refuses the report over its bytes.
 */
static void
engine_logs_clean(char *s, size_t n, int lines, char *out, size_t len)
{
	size_t start = n, o = 0;
	int seen = 0;

	if (n > 0 && s[n - 1] == '\n')
		n--, start = n;
	while (start > 0 && seen < lines)
		if (s[--start] == '\n' && ++seen == lines)
			start++;
	if (n - start > len - 1)
		start = n - (len - 1);
	for (size_t i = start; i < n && o + 1 < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t k = engine_utf8_len((const unsigned char *)s + i, n - i);
		if (k == 0 || (k == 1 && c < 0x20 && c != '\n' && c != '\t')) {
			out[o++] = '?';
			i++;
		} else if (o + k < len) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			break;
		}
	}
	out[o] = '\0';
}

int
engine_logs_tail(struct engine *e, const char *name, int lines, char *out,
    size_t len, struct error *err)
{
	struct engine_resp r;
	char path[512], suffix[64], *text;
	size_t n;
	int t;

	out[0] = '\0';
	snprintf(suffix, sizeof(suffix), "/logs?stdout=1&stderr=1&tail=%d", lines);
	if (engine_container_path(name, suffix, path, sizeof(path)) == -1)
		return engine_fail(&(struct engine_resp){ 0 }, 0, "engine_failed",
		    "bad container name", err);
	t = engine_call(e, "GET", path, NULL, NULL, 10, NULL, NULL, &r);
	if (t == -1 || r.status != 200)
		return engine_fail(&r, t == -1, "engine_failed", "container logs",
		    err);
	if ((text = malloc(r.len + 1)) != NULL) {
		n = engine_logs_demux(r.body ? r.body : "", r.len, text, r.len + 1);
		engine_logs_clean(text, n, lines, out, len);
		free(text);
	}
	free(r.body);
	return 0;
}

/* One entry of GET /containers/json into out; 0, or -1 to skip it. */
static int
engine_list_entry(json_t *c, struct engine_summary *out)
{
	json_t *labels = json_object_get(c, "Labels");
	const char *name = json_string_value(json_array_get(json_object_get(c,
	    "Names"), 0));
	const char *comp = json_string_value(json_object_get(labels,
	    "slipway.component"));
	const char *env = json_string_value(json_object_get(labels,
	    "slipway.environment"));
	const char *dep = json_string_value(json_object_get(labels,
	    "slipway.deployment"));
	const char *state = json_string_value(json_object_get(c, "State"));
	const char *exec = json_string_value(json_object_get(labels,
	    "slipway.execution"));
	const char *dp = json_string_value(json_object_get(labels,
	    "slipway.dataplane"));

	if (name == NULL || comp == NULL || env == NULL || dep == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name[0] == '/' ? name + 1 :
	    name);
	snprintf(out->component, sizeof(out->component), "%s", comp);
	snprintf(out->environment, sizeof(out->environment), "%s", env);
	snprintf(out->deployment, sizeof(out->deployment), "%s", dep);
	snprintf(out->execution, sizeof(out->execution), "%s", exec ? exec : "");
	snprintf(out->dataplane, sizeof(out->dataplane), "%s", dp ? dp : "");
	out->running = state != NULL && strcmp(state, "running") == 0;
	out->created = (long long)json_integer_value(json_object_get(c, "Created"));
	return 0;
}

int
engine_list(struct engine *e, struct engine_summary **out, size_t *n,
    struct error *err)
{
	static const char path[] = "/containers/json?all=1&filters="
	    "%7B%22label%22%3A%5B%22slipway.managed%3Dtrue%22%5D%7D";
	struct engine_resp r;
	json_t *root;
	size_t cap;
	int t;

	*out = NULL;
	*n = 0;
	t = engine_call(e, "GET", path, NULL, NULL, 10, NULL, NULL, &r);
	if (t == -1 || r.status != 200)
		return engine_fail(&r, t == -1, "engine_failed", "list containers",
		    err);
	root = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
	free(r.body);
	cap = json_array_size(root);
	if (!json_is_array(root) || (cap > 0 &&
	    (*out = calloc(cap, sizeof(**out))) == NULL)) {
		json_decref(root);
		error_set(err, "engine_failed", "", "engine_failed: container list "
		    "unreadable");
		return -1;
	}
	for (size_t i = 0; i < cap; i++)
		if (engine_list_entry(json_array_get(root, i), &(*out)[*n]) == 0)
			(*n)++;
	json_decref(root);
	return 0;
}
