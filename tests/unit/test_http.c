/*
 * test_http.c: the evhttp server end to end, over raw sockets on an
 * ephemeral 127.0.0.1 port: routing and params, admin auth, error shapes,
 * body and media-type checks, request ids, deferred replies (also after the
 * client went away), probes and metrics; and who may call what: the
 * operator key everywhere, an org key on its own org's routes by role
 * (another org's resource 404, a weaker role 403, a bad key 401), the
 * route's org from {org} or org_of, and the route-table checks at start.
 * Every test runs twice: handlers on the server's loop, and with io_thread
 * (connections on their own thread), where a handler that blocks the
 * service's loop must not stop probes, refusals or the queue bound, and a
 * stop answers what the loop never took.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "lib/apikey.h"
#include "lib/crypto.h"
#include "lib/envelope.h"
#include "lib/http.h"
#include "lib/log.h"

#define ADMIN "s3cret-admin-token"
#define ORG_MAX_PLUS_ONE \
    "a123456789012345678901234567890123456789012345678901234567890123"

/* The org keys of the table the server authenticates with. */
enum { K_VIEWER, K_DEPLOYER, K_ADMIN, K_GLOBEX, K_REVOKED, K_UNISSUED, NKEYS };
static const struct {
	const char *id, *org, *role;
} key_defs[NKEYS] = {
	{ "6f1d3b0e-1111-4a6b-8c9d-000000000001", "acme", "viewer" },
	{ "6f1d3b0e-1111-4a6b-8c9d-000000000002", "acme", "deployer" },
	{ "6f1d3b0e-1111-4a6b-8c9d-000000000003", "acme", "admin" },
	{ "6f1d3b0e-1111-4a6b-8c9d-000000000004", "globex", "admin" },
	{ "6f1d3b0e-1111-4a6b-8c9d-000000000005", "acme", "admin" },
	{ "6f1d3b0e-1111-4a6b-8c9d-000000000006", "acme", "admin" },
};
static char keys_plain[NKEYS][APIKEY_LEN + 1];
static char keys_authz[NKEYS][APIKEY_LEN + 32];
static struct apikeys *keys;

static struct event_base *base;
static struct http_server *srv;
static pthread_t loop_thread;
static int port;
static int is_ready = 1;
static atomic_int deferred_done;
static int io_thread;          /* the group running: 1 = io_thread */
#define IO_QUEUE_MAX 2

/* /v1/block: the handler holds the loop until the test writes block_pipe. */
static int block_pipe[2] = { -1, -1 };
static atomic_int blocked;

struct reply {
	int status;
	char head[4096];
	char body[65536];   /* /metrics runs long */
};

/* ---- handlers ------------------------------------------------------- */

static void
h_thing(struct http_request *req, void *ctx)
{
	const char *q = http_request_query(req, "q");

	(void)ctx;
	http_reply_json(req, 200, json_pack("{s:s, s:s?, s:s?}", "id",
	    http_request_param(req, "id"), "item", http_request_param(req, "item"),
	    "q", q));
}

static void
h_create(struct http_request *req, void *ctx)
{
	json_t *body = http_request_json(req);

	(void)ctx;
	if (body == NULL)
		return;
	http_add_header(req, "Location", "/v1/things/1");
	http_reply_json(req, 201, json_pack("{s:O?}", "name",
	    json_object_get(body, "name")));
}

static void
h_admin(struct http_request *req, void *ctx)
{
	(void)ctx;
	http_reply_json(req, 200, json_pack("{s:b}", "admin", 1));
}

static void
deferred_fire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_reply_json(arg, 202, json_pack("{s:s}", "status", "later"));
	deferred_done++;
}

static void
h_deferred(struct http_request *req, void *ctx)
{
	struct timeval tv = { 0, 150 * 1000 };

	(void)ctx;
	event_base_once(base, -1, EV_TIMEOUT, deferred_fire, req, &tv);
}

/* Blocks the loop it runs on (as a stalled libpq call would). */
static void
h_block(struct http_request *req, void *ctx)
{
	char c;

	(void)ctx;
	atomic_store(&blocked, 1);
	while (read(block_pipe[0], &c, 1) == -1)
		;
	atomic_store(&blocked, 0);
	http_reply_json(req, 200, json_pack("{s:s}", "status", "unblocked"));
	if (c == 'q')   /* and then stops that loop (test_stop_answers_queued) */
		event_base_loopbreak(ctx);
}

/* Echoes the body as raw bytes, with the request's media type. */
static void
h_upload(struct http_request *req, void *ctx)
{
	const unsigned char *body;
	char type[64];
	size_t len;

	(void)ctx;
	body = http_request_body(req, &len);
	if (http_request_media_type(req, type, sizeof(type)) < 0 ||
	    type[0] == '\0') {
		http_reply_error(req, 415, "unsupported_media_type", NULL, "no type");
		return;
	}
	http_reply_bytes(req, 200, type, body, len);
}

/* Who called, as the handler sees it. */
static void
h_whoami(struct http_request *req, void *ctx)
{
	const struct apikey *k = http_request_key(req);

	(void)ctx;
	if (k == NULL) {
		http_reply_json(req, 200, json_pack("{s:b}", "operator", 1));
		return;
	}
	http_reply_json(req, 200, json_pack("{s:s, s:s, s:s}", "key_id", k->id,
	    "org", k->org, "role", apikey_role_name(k->role)));
}

/* A resource handler: answers its own 404 for an app that does not exist. */
static void
h_app(struct http_request *req, void *ctx)
{
	const char *id = http_request_param(req, "id");

	if (strcmp(id, "missing") == 0) {
		http_reply_error(req, 404, "not_found", NULL, "no app %s", id);
		return;
	}
	h_whoami(req, ctx);
}

/* Apps: a1 belongs to acme, g1 to globex; "down" cannot be told now. */
static int
app_org(struct http_request *req, void *ctx, char org[HTTP_ORG_MAX + 1])
{
	const char *id = http_request_param(req, "id");

	(void)ctx;
	if (strcmp(id, "a1") == 0)
		snprintf(org, HTTP_ORG_MAX + 1, "acme");
	else if (strcmp(id, "g1") == 0)
		snprintf(org, HTTP_ORG_MAX + 1, "globex");
	else if (strcmp(id, "down") == 0)
		return -1;
	else
		return 1;
	return 0;
}

static int
ready_fn(void *ctx, char *why, size_t len)
{
	(void)ctx;
	if (!is_ready)
		snprintf(why, len, "kafka down");
	return is_ready;
}

static const struct http_route routes[] = {
	{ HTTP_GET, "/v1/things/{id}", h_thing, HTTP_AUTH_NONE, NULL, 0 },
	{ HTTP_GET, "/v1/things/{id}/items/{item}", h_thing, HTTP_AUTH_NONE, NULL, 0 },
	{ HTTP_POST, "/v1/things", h_create, HTTP_AUTH_NONE, NULL, 0 },
	{ HTTP_GET, "/v1/admin", h_admin, HTTP_AUTH_ADMIN, NULL, 0 },
	{ HTTP_POST, "/v1/deferred", h_deferred, HTTP_AUTH_NONE, NULL, 0 },
	{ HTTP_GET, "/v1/orgs/{org}/things", h_whoami, HTTP_AUTH_VIEWER, NULL, 0 },
	{ HTTP_POST, "/v1/orgs/{org}/deploy", h_whoami, HTTP_AUTH_DEPLOYER, NULL, 0 },
	{ HTTP_DELETE, "/v1/orgs/{org}", h_whoami, HTTP_AUTH_ORG_ADMIN, NULL, 0 },
	{ HTTP_GET, "/v1/apps/{id}", h_app, HTTP_AUTH_VIEWER, app_org, 0 },
	{ HTTP_POST, "/v1/apps/{id}/deploy", h_app, HTTP_AUTH_DEPLOYER, app_org, 0 },
	/* Its own body cap, above the server's 1024 bytes. */
	{ HTTP_POST, "/v1/uploads", h_upload, HTTP_AUTH_NONE, NULL, 4096 },
	{ HTTP_POST, "/v1/block", h_block, HTTP_AUTH_NONE, NULL, 0 },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- client --------------------------------------------------------- */

static int
client_connect(void)
{
	struct sockaddr_in sin;
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static void
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;  /* the server may close early (413) */
		buf += n;
		len -= (size_t)n;
	}
}

/* Reads the whole answer on fd (Connection: close) and closes it. */
static void
read_reply(struct reply *r, int fd)
{
	static char buf[65536];
	size_t got = 0;
	ssize_t n;
	char *sep;

	while (got < sizeof(buf) - 1 &&
	    (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	memset(r, 0, sizeof(*r));
	assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &r->status), 1);
	sep = strstr(buf, "\r\n\r\n");
	assert_non_null(sep);
	snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - buf), buf);
	snprintf(r->body, sizeof(r->body), "%s", sep + 4);
}

/* Sends raw bytes and reads the whole answer. */
static void
raw(struct reply *r, const char *req, size_t len)
{
	int fd = client_connect();

	send_all(fd, req, len);
	read_reply(r, fd);
}

static void
request(struct reply *r, const char *method, const char *path,
    const char *headers, const char *body)
{
	char buf[32768];
	int n;

	n = snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n%sContent-Length: %zu\r\n\r\n%s", method, path,
	    headers != NULL ? headers : "", body != NULL ? strlen(body) : 0,
	    body != NULL ? body : "");
	raw(r, buf, (size_t)n);
}

static int
has(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static void
assert_json_error(struct reply *r, int status, const char *code)
{
	char want[96];

	snprintf(want, sizeof(want), "\"code\":\"%s\"", code);
	assert_int_equal(r->status, status);
	assert_true(has(r->head, "Content-Type: application/json"));
	assert_true(has(r->body, "{\"error\":{"));
	if (!has(r->body, want))
		fail_msg("body %s lacks %s", r->body, want);
}

/* ---- tests ---------------------------------------------------------- */

static void
test_healthz(void **state)
{
	struct reply r;

	(void)state;
	request(&r, "GET", "/healthz", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_true(has(r.body, "{\"status\":\"ok\"}"));
	assert_true(has(r.head, "Content-Type: application/json"));
	assert_true(has(r.head, "X-Request-Id: "));
}

static void
test_readyz(void **state)
{
	struct reply r;

	(void)state;
	request(&r, "GET", "/readyz", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_true(has(r.body, "\"ready\""));
	is_ready = 0;
	request(&r, "GET", "/readyz", NULL, NULL);
	is_ready = 1;
	assert_int_equal(r.status, 503);
	assert_true(has(r.body, "\"status\":\"not_ready\""));
	assert_true(has(r.body, "\"reason\":\"kafka down\""));
}

static void
test_not_found_and_method(void **state)
{
	struct reply r;

	(void)state;
	request(&r, "GET", "/v1/nothing", NULL, NULL);
	assert_json_error(&r, 404, "not_found");
	request(&r, "GET", "/v1/things/a/b", NULL, NULL);
	assert_json_error(&r, 404, "not_found");
	request(&r, "GET", "/v1/things/", NULL, NULL);
	assert_json_error(&r, 404, "not_found");
	request(&r, "DELETE", "/v1/things/abc", NULL, NULL);
	assert_json_error(&r, 405, "method_not_allowed");
	request(&r, "POST", "/healthz", NULL, NULL);
	assert_json_error(&r, 405, "method_not_allowed");
	request(&r, "OPTIONS", "/v1/things", NULL, NULL);
	assert_json_error(&r, 405, "method_not_allowed");
}

static void
test_params_and_query(void **state)
{
	struct reply r;

	(void)state;
	request(&r, "GET", "/v1/things/abc?q=x%20y&z=1", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_true(has(r.body, "\"id\":\"abc\""));
	assert_true(has(r.body, "\"q\":\"x y\""));
	request(&r, "GET", "/v1/things/hello%20world/items/42", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_true(has(r.body, "\"id\":\"hello world\""));
	assert_true(has(r.body, "\"item\":\"42\""));
	/* a decoded slash or NUL never reaches a handler as a param */
	request(&r, "GET", "/v1/things/a%2Fb", NULL, NULL);
	assert_true(r.status == 404 || r.status == 405);
	request(&r, "GET", "/v1/things/a%00b", NULL, NULL);
	assert_true(r.status == 404 || r.status == 405);
	request(&r, "HEAD", "/v1/things/abc", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "");
}

static void
test_admin_auth(void **state)
{
	struct reply r;

	(void)state;
	request(&r, "GET", "/v1/admin", NULL, NULL);
	assert_json_error(&r, 401, "unauthorized");
	assert_true(has(r.head, "WWW-Authenticate: Bearer"));
	request(&r, "GET", "/v1/admin", "Authorization: Bearer wrong\r\n", NULL);
	assert_json_error(&r, 401, "unauthorized");
	request(&r, "GET", "/v1/admin", "Authorization: Basic " ADMIN "\r\n", NULL);
	assert_json_error(&r, 401, "unauthorized");
	request(&r, "GET", "/v1/admin", "Authorization: Bearer " ADMIN "x\r\n", NULL);
	assert_json_error(&r, 401, "unauthorized");
	request(&r, "GET", "/v1/admin", "Authorization: Bearer " ADMIN "\r\n", NULL);
	assert_int_equal(r.status, 200);
	assert_true(has(r.body, "\"admin\":true"));
}

static void
test_json_body(void **state)
{
	struct reply r;
	const char *json = "Content-Type: application/json\r\n";

	(void)state;
	request(&r, "POST", "/v1/things",
	    "Content-Type: application/json; charset=utf-8\r\n", "{\"name\":\"n1\"}");
	assert_int_equal(r.status, 201);
	assert_true(has(r.body, "{\"name\":\"n1\"}"));
	assert_true(has(r.head, "Location: /v1/things/1"));
	request(&r, "POST", "/v1/things", "Content-Type: text/plain\r\n", "{}");
	assert_json_error(&r, 415, "unsupported_media_type");
	request(&r, "POST", "/v1/things", "Content-Type: application/jsonx\r\n", "{}");
	assert_json_error(&r, 415, "unsupported_media_type");
	request(&r, "POST", "/v1/things", NULL, "{}");
	assert_json_error(&r, 415, "unsupported_media_type");
	request(&r, "POST", "/v1/things", json, "{\"name\": ");
	assert_json_error(&r, 400, "malformed_json");
	assert_true(has(r.body, "position"));
	request(&r, "POST", "/v1/things", json, "[1,2]");
	assert_json_error(&r, 400, "malformed_json");
	request(&r, "POST", "/v1/things", json, "");
	assert_json_error(&r, 400, "malformed_json");
	request(&r, "POST", "/v1/things", json, "{\"a\":1,\"a\":2}");
	assert_json_error(&r, 400, "malformed_json");
}

static void
test_body_too_large(void **state)
{
	static char big[16384 + 1];
	struct reply r;
	char buf[256];
	int n;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	request(&r, "POST", "/v1/things", "Content-Type: application/json\r\n", big);
	assert_json_error(&r, 413, "body_too_large");
	/* declared far beyond any limit: refused without reading it */
	n = snprintf(buf, sizeof(buf), "POST /v1/things HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{");
	raw(&r, buf, (size_t)n);
	assert_int_equal(r.status, 413);
}

/* A route's own cap replaces the server's, for that route only. */
static void
test_route_body_cap(void **state)
{
	static char body[3000 + 1], big[4096 + 2];
	struct reply r;

	(void)state;
	memset(body, 'x', sizeof(body) - 1);
	memset(big, 'y', sizeof(big) - 1);
	request(&r, "POST", "/v1/uploads",
	    "Content-Type: Text/Plain; charset=utf-8\r\n", body);
	assert_int_equal(r.status, 200);
	assert_true(has(r.head, "Content-Type: text/plain"));
	assert_true(has(r.body, "xxxxxxxx"));
	request(&r, "POST", "/v1/uploads", "Content-Type: text/plain\r\n", big);
	assert_json_error(&r, 413, "body_too_large");
	assert_true(has(r.body, "4096 bytes"));
	request(&r, "POST", "/v1/uploads", "", "abc");
	assert_json_error(&r, 415, "unsupported_media_type");
	request(&r, "POST", "/v1/things", "Content-Type: application/json\r\n",
	    body);
	assert_json_error(&r, 413, "body_too_large");
}

static void
test_chunked(void **state)
{
	static char req[40000];
	struct reply r;
	const char *hdr = "POST /v1/things HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
	size_t len;
	int i;

	(void)state;
	len = (size_t)snprintf(req, sizeof(req), "%s5\r\n{\"nam\r\n9\r\ne\":\"ck\"}\r\n0\r\n\r\n", hdr);
	raw(&r, req, len);
	assert_int_equal(r.status, 201);
	assert_true(has(r.body, "\"ck\""));
	len = (size_t)snprintf(req, sizeof(req), "%s", hdr);
	for (i = 0; i < 8; i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len, "1000\r\n%4096d\r\n", 0);
	len += (size_t)snprintf(req + len, sizeof(req) - len, "0\r\n\r\n");
	raw(&r, req, len);
	assert_json_error(&r, 413, "body_too_large");
}

static void
test_request_id(void **state)
{
	struct reply r;
	const char *p;

	(void)state;
	request(&r, "GET", "/healthz", "X-Request-Id: abc-123_x.y\r\n", NULL);
	assert_true(has(r.head, "X-Request-Id: abc-123_x.y"));
	request(&r, "GET", "/healthz", "X-Request-Id: bad id!\r\n", NULL);
	p = strstr(r.head, "X-Request-Id: ");
	assert_non_null(p);
	p += strlen("X-Request-Id: ");
	assert_int_equal(strcspn(p, "\r\n"), 36);
	assert_int_equal(p[14], '4');
}

static void
test_deferred(void **state)
{
	struct reply r;
	int fd, i;
	const char *req = "POST /v1/deferred HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 0\r\n\r\n";

	(void)state;
	atomic_store(&deferred_done, 0);
	request(&r, "POST", "/v1/deferred", NULL, NULL);
	assert_int_equal(r.status, 202);
	assert_true(has(r.body, "\"later\""));
	/* the client leaves before the reply: the reply must stay safe */
	fd = client_connect();
	send_all(fd, req, strlen(req));
	usleep(20 * 1000);
	close(fd);
	for (i = 0; i < 100 && deferred_done < 2; i++)
		usleep(10 * 1000);
	assert_int_equal(deferred_done, 2);
	request(&r, "GET", "/healthz", NULL, NULL);
	assert_int_equal(r.status, 200);
}

static void
test_metrics(void **state)
{
	struct reply r;

	(void)state;
	request(&r, "GET", "/metrics", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_true(has(r.head, "Content-Type: text/plain"));
	assert_true(has(r.body, "# TYPE slipway_http_requests_total counter"));
	assert_true(has(r.body, "route=\"/v1/things/{id}\",method=\"GET\",code=\"200\""));
	assert_true(has(r.body, "# TYPE slipway_http_request_duration_ms histogram"));
	assert_true(has(r.body, "le=\"+Inf\""));
}

/* ---- io_thread ------------------------------------------------------ */

/* Sends a request on a connection of its own and leaves it to be read. */
static int
send_async(const char *method, const char *path)
{
	char buf[512];
	int fd = client_connect();
	int n = snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\nContent-Length: 0\r\n\r\n", method, path);

	send_all(fd, buf, (size_t)n);
	return fd;
}

static void
wait_blocked(void)
{
	int i;

	for (i = 0; i < 500 && !atomic_load(&blocked); i++)
		usleep(10 * 1000);
	assert_true(atomic_load(&blocked));
}

/*
 * Of the requests on fds, the first to be answered (within 5 s): its
 * index, with the reply read and its fd set to -1.
 */
static int
first_answer(struct reply *r, int *fds, int n)
{
	struct pollfd p[8];
	int i;

	assert_true(n <= 8);
	for (i = 0; i < n; i++) {
		p[i].fd = fds[i];
		p[i].events = POLLIN;
	}
	assert_true(poll(p, (nfds_t)n, 5000) > 0);
	for (i = 0; i < n; i++)
		if (p[i].revents != 0)
			break;
	assert_true(i < n);
	read_reply(r, fds[i]);
	fds[i] = -1;
	return i;
}

/*
 * A handler holds the service's loop: the I/O thread still answers the
 * probe, the metrics and every refusal it makes itself, queues up to
 * queue_max requests for the loop and refuses one more with 503; once
 * the handler returns, the queued ones are answered.
 */
static void
test_blocked_loop(void **state)
{
	static const char *const paths[IO_QUEUE_MAX + 1] = {
		"/v1/things/q0", "/v1/things/q1", "/v1/things/q2",
	};
	char big[2048];
	struct reply r;
	int fd_block, fds[IO_QUEUE_MAX + 1], i, refused;

	(void)state;
	fd_block = send_async("POST", "/v1/block");
	wait_blocked();
	request(&r, "GET", "/healthz", NULL, NULL);
	assert_int_equal(r.status, 200);
	request(&r, "GET", "/metrics", NULL, NULL);
	assert_int_equal(r.status, 200);
	request(&r, "GET", "/nope", NULL, NULL);
	assert_json_error(&r, 404, "not_found");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	request(&r, "POST", "/v1/things", "Content-Type: application/json\r\n",
	    big);
	assert_json_error(&r, 413, "body_too_large");
	/* One more than the queue holds: whichever is read last is refused. */
	for (i = 0; i <= IO_QUEUE_MAX; i++)
		fds[i] = send_async("GET", paths[i]);
	refused = first_answer(&r, fds, IO_QUEUE_MAX + 1);
	assert_json_error(&r, 503, "unavailable");
	assert_true(has(r.head, "Retry-After: 1"));
	assert_true(has(r.body, "busy"));
	assert_true(atomic_load(&blocked));
	assert_int_equal(write(block_pipe[1], "g", 1), 1);
	read_reply(&r, fd_block);
	assert_int_equal(r.status, 200);
	assert_true(has(r.body, "unblocked"));
	for (i = 0; i <= IO_QUEUE_MAX; i++) {
		char want[64];

		if (i == refused)
			continue;
		read_reply(&r, fds[i]);
		assert_int_equal(r.status, 200);
		snprintf(want, sizeof(want), "\"id\":\"q%d\"", i);
		assert_true(has(r.body, want));
	}
	request(&r, "GET", "/metrics", NULL, NULL);
	assert_true(has(r.body, "slipway_http_busy_total"));
}

static void *
loop2_main(void *arg)
{
	event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/*
 * A server stopped while a request waits for its loop answers it 503
 * (and sends the reply the loop made last) before it closes.
 */
static void
test_stop_answers_queued(void **state)
{
	struct http_server_config cfg = { .service = "test2", .port = 0,
	    .io_thread = 1, .queue_max = 1 };
	struct event_base *base2 = event_base_new();
	struct http_server *srv2;
	struct reply r;
	struct error err;
	pthread_t t;
	int saved = port, fd_block, fds[2], first;

	(void)state;
	assert_non_null(base2);
	srv2 = http_server_new(base2, &cfg, routes, NROUTES, base2, &err);
	if (srv2 == NULL)
		fail_msg("http_server_new: %s", err.msg);
	port = http_server_port(srv2);
	assert_int_equal(pthread_create(&t, NULL, loop2_main, base2), 0);
	fd_block = send_async("POST", "/v1/block");
	wait_blocked();
	/* The queue holds one: the other is refused, so then one waits. */
	fds[0] = send_async("GET", "/v1/things/a");
	fds[1] = send_async("GET", "/v1/things/b");
	first = first_answer(&r, fds, 2);
	assert_json_error(&r, 503, "unavailable");
	assert_true(has(r.body, "busy"));
	/* The handler replies, then stops its loop with the other queued. */
	assert_int_equal(write(block_pipe[1], "q", 1), 1);
	pthread_join(t, NULL);
	http_server_free(srv2);
	event_base_free(base2);
	port = saved;
	read_reply(&r, fd_block);
	assert_int_equal(r.status, 200);
	read_reply(&r, fds[1 - first]);
	assert_json_error(&r, 503, "unavailable");
	assert_true(has(r.body, "stopping"));
}

/* ---- org keys ------------------------------------------------------- */

static void
call(struct reply *r, const char *method, const char *path, int key)
{
	request(r, method, path, key >= 0 ? keys_authz[key] : NULL, NULL);
}

static void
call_admin(struct reply *r, const char *method, const char *path)
{
	request(r, method, path, "Authorization: Bearer " ADMIN "\r\n", NULL);
}

static void
assert_message(const struct reply *r, const char *msg)
{
	char want[256];

	snprintf(want, sizeof(want), "\"message\":\"%s\"", msg);
	if (!has(r->body, want))
		fail_msg("body %s lacks %s", r->body, want);
}

static void
test_operator_everywhere(void **state)
{
	static const struct {
		const char *method, *path;
	} all[] = {
		{ "GET", "/v1/admin" }, { "GET", "/v1/orgs/acme/things" },
		{ "POST", "/v1/orgs/globex/deploy" }, { "DELETE", "/v1/orgs/acme" },
		{ "GET", "/v1/apps/a1" }, { "POST", "/v1/apps/g1/deploy" },
	};
	struct reply r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		call_admin(&r, all[i].method, all[i].path);
		if (r.status != 200)
			fail_msg("%s %s: %d", all[i].method, all[i].path, r.status);
		if (i > 0)
			assert_true(has(r.body, "\"operator\":true"));
	}
	/* The operator key never asks org_of: the handler decides. */
	call_admin(&r, "GET", "/v1/apps/down");
	assert_int_equal(r.status, 200);
	call_admin(&r, "GET", "/v1/apps/missing");
	assert_json_error(&r, 404, "not_found");
}

static void
test_org_key_roles(void **state)
{
	struct reply r;

	(void)state;
	call(&r, "GET", "/v1/orgs/acme/things", K_VIEWER);
	assert_int_equal(r.status, 200);
	assert_true(has(r.body, key_defs[K_VIEWER].id));
	assert_true(has(r.body, "\"role\":\"viewer\""));
	call(&r, "GET", "/v1/apps/a1", K_VIEWER);
	assert_int_equal(r.status, 200);
	call(&r, "POST", "/v1/orgs/acme/deploy", K_VIEWER);
	assert_json_error(&r, 403, "forbidden");
	assert_message(&r, "this route needs the deployer role or higher; the "
	    "key's role is viewer");
	call(&r, "POST", "/v1/apps/a1/deploy", K_VIEWER);
	assert_json_error(&r, 403, "forbidden");
	call(&r, "POST", "/v1/orgs/acme/deploy", K_DEPLOYER);
	assert_int_equal(r.status, 200);
	call(&r, "POST", "/v1/apps/a1/deploy", K_DEPLOYER);
	assert_int_equal(r.status, 200);
	call(&r, "DELETE", "/v1/orgs/acme", K_DEPLOYER);
	assert_json_error(&r, 403, "forbidden");
	assert_message(&r, "this route needs the admin role or higher; the "
	    "key's role is deployer");
	call(&r, "DELETE", "/v1/orgs/acme", K_ADMIN);
	assert_int_equal(r.status, 200);
	call(&r, "GET", "/v1/orgs/acme/things", K_ADMIN);
	assert_int_equal(r.status, 200);
}

/* Another org's resources look exactly like missing ones. */
static void
test_org_key_other_org(void **state)
{
	struct reply r;

	(void)state;
	call(&r, "GET", "/v1/orgs/globex/things", K_ADMIN);
	assert_json_error(&r, 404, "not_found");
	assert_message(&r, "no such resource");
	call(&r, "GET", "/v1/apps/g1", K_ADMIN);
	assert_json_error(&r, 404, "not_found");
	assert_message(&r, "no such resource");
	/* Not 403: the role is not even looked at for another org. */
	call(&r, "POST", "/v1/apps/g1/deploy", K_VIEWER);
	assert_json_error(&r, 404, "not_found");
	call(&r, "DELETE", "/v1/orgs/globex", K_VIEWER);
	assert_json_error(&r, 404, "not_found");
	call(&r, "GET", "/v1/apps/a1", K_GLOBEX);
	assert_json_error(&r, 404, "not_found");
	call(&r, "GET", "/v1/apps/g1", K_GLOBEX);
	assert_int_equal(r.status, 200);
	/* An org name too long never matches, even truncated. */
	call(&r, "GET", "/v1/orgs/" ORG_MAX_PLUS_ONE "/things", K_ADMIN);
	assert_json_error(&r, 404, "not_found");
	call(&r, "GET", "/v1/orgs/ACME/things", K_ADMIN);
	assert_json_error(&r, 404, "not_found");
}

static void
test_org_of(void **state)
{
	struct reply r;

	(void)state;
	/*
	 * No such app: with a role the route allows, the handler runs and
	 * answers its own 404; with a weaker one the server answers the 404
	 * of another org's resource, and the handler never runs for it.
	 */
	call(&r, "GET", "/v1/apps/missing", K_VIEWER);
	assert_json_error(&r, 404, "not_found");
	assert_true(has(r.body, "no app missing"));
	call(&r, "POST", "/v1/apps/missing/deploy", K_VIEWER);
	assert_json_error(&r, 404, "not_found");
	assert_true(has(r.body, "no such resource"));
	call(&r, "POST", "/v1/apps/missing/deploy", K_DEPLOYER);
	assert_json_error(&r, 404, "not_found");
	assert_true(has(r.body, "no app missing"));
	call(&r, "GET", "/v1/apps/down", K_VIEWER);
	assert_json_error(&r, 503, "unavailable");
	assert_true(has(r.head, "Retry-After: 1"));
}

static void
test_bad_keys(void **state)
{
	static const char *const bad[] = {
		NULL,
		"Authorization: Bearer\r\n",
		"Authorization: Bearer slk_garbage\r\n",
		"Authorization: Bearer " ADMIN "x\r\n",
		"Authorization: Basic dXNlcjpwYXNz\r\n",
	};
	static const char *const paths[] = {
		"/v1/orgs/acme/things", "/v1/apps/a1", "/v1/apps/missing", "/v1/admin",
	};
	struct reply r;
	size_t i, j;

	(void)state;
	for (j = 0; j < sizeof(paths) / sizeof(paths[0]); j++) {
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			request(&r, "GET", paths[j], bad[i], NULL);
			assert_json_error(&r, 401, "unauthorized");
			assert_true(has(r.head, "WWW-Authenticate: Bearer"));
			assert_message(&r, "a valid operator key or org key is required");
		}
		/* Well-formed but never issued, and revoked. */
		call(&r, "GET", paths[j], K_UNISSUED);
		assert_json_error(&r, 401, "unauthorized");
		call(&r, "GET", paths[j], K_REVOKED);
		assert_json_error(&r, 401, "unauthorized");
	}
}

static void
test_org_key_on_operator_route(void **state)
{
	struct reply r;

	(void)state;
	call(&r, "GET", "/v1/admin", K_ADMIN);
	assert_json_error(&r, 403, "forbidden");
	assert_message(&r, "this route needs the operator key");
	call(&r, "GET", "/v1/admin", K_GLOBEX);
	assert_json_error(&r, 403, "forbidden");
}

/* The access log names the key by id, never by its value. */
static void
test_key_not_logged(void **state)
{
	char path[] = "/tmp/test_http_log_XXXXXX", buf[65536];
	struct reply r;
	int fd, saved;
	ssize_t n;

	(void)state;
	fflush(stdout);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	call(&r, "GET", "/v1/orgs/acme/things", K_VIEWER);
	call(&r, "POST", "/v1/orgs/acme/deploy", K_VIEWER);
	call(&r, "GET", "/v1/admin", K_ADMIN);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_false(has(buf, keys_plain[K_VIEWER]));
	assert_false(has(buf, keys_plain[K_ADMIN]));
	assert_false(has(buf, "slk_"));
	assert_true(has(buf, key_defs[K_VIEWER].id));
}

/* A table the server could not enforce stops the start. */
static void
test_route_table_checked(void **state)
{
	static const struct http_route no_org[] = {
		{ HTTP_GET, "/v1/things/{id}", h_thing, HTTP_AUTH_VIEWER, NULL, 0 },
	};
	static const struct http_route org_prefix[] = {
		{ HTTP_GET, "/v1/x/{orgs}/y", h_thing, HTTP_AUTH_ORG_ADMIN, NULL, 0 },
	};
	static const struct http_route bad_level[] = {
		{ HTTP_GET, "/v1/orgs/{org}", h_thing, 7, NULL, 0 },
	};
	struct http_server_config cfg = { .service = "t", .port = 0,
	    .admin_token = ADMIN, .keys = keys };
	struct error err;

	(void)state;
	error_clear(&err);
	assert_null(http_server_new(base, &cfg, no_org, 1, NULL, &err));
	assert_true(has(err.msg, "/v1/things/{id}"));
	assert_true(has(err.msg, "org_of"));
	assert_null(http_server_new(base, &cfg, org_prefix, 1, NULL, &err));
	assert_true(has(err.msg, "/v1/x/{orgs}/y"));
	assert_null(http_server_new(base, &cfg, bad_level, 1, NULL, &err));
	assert_true(has(err.msg, "auth level 7"));
}

/* ---- fixture -------------------------------------------------------- */

/* Publishes (as deploy-svc would) the record of key i, revoked or not. */
static void
key_publish(int i, int revoked)
{
	Slipway__V1__OrgKey ok;
	Envelope env;
	struct error err;
	char eid[37], hash[65], prefix[APIKEY_SHOWN_PREFIX_LEN + 1];
	unsigned char *buf;
	size_t len;

	crypto_sha256_hex(keys_plain[i], strlen(keys_plain[i]), hash);
	snprintf(prefix, sizeof(prefix), "%.*s", APIKEY_SHOWN_PREFIX_LEN,
	    keys_plain[i]);
	slipway__v1__org_key__init(&ok);
	ok.key_id = (char *)(uintptr_t)key_defs[i].id;
	ok.org = (char *)(uintptr_t)key_defs[i].org;
	ok.role = (char *)(uintptr_t)key_defs[i].role;
	ok.key_hash = hash;
	ok.prefix = prefix;
	ok.revoked = revoked;
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_ORG_KEY, eid,
	    key_defs[i].org, NULL);
	env.org_key = &ok;
	buf = envelope_pack(&env, &len);
	assert_non_null(buf);
	if (apikeys_apply(keys, key_defs[i].id, buf, len, "OrgKey", &err) != 0)
		fail_msg("apikeys_apply: %s", err.msg);
	free(buf);
}

static void
keys_setup(void)
{
	int i;

	keys = apikeys_new();
	assert_non_null(keys);
	for (i = 0; i < NKEYS; i++) {
		apikey_generate(keys_plain[i]);
		snprintf(keys_authz[i], sizeof(keys_authz[i]),
		    "Authorization: Bearer %.*s\r\n", APIKEY_LEN, keys_plain[i]);
		if (i != K_UNISSUED)
			key_publish(i, 0);
	}
	key_publish(K_REVOKED, 1);
	assert_int_equal(apikeys_count(keys), NKEYS - 2);
}

static void *
loop_main(void *arg)
{
	(void)arg;
	event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static int
setup(void **state)
{
	struct http_server_config cfg = {
		.service = "test", .addr = "127.0.0.1", .port = 0,
		.admin_token = ADMIN, .max_body = 1024, .timeout_s = 5,
		.ready = ready_fn, .io_thread = io_thread,
		.queue_max = IO_QUEUE_MAX,
	};
	struct error err;

	(void)state;
	if (block_pipe[0] == -1)
		assert_int_equal(pipe(block_pipe), 0);
	log_init("test-http");
	crypto_init();
	keys_setup();
	cfg.keys = keys;
	evthread_use_pthreads();
	base = event_base_new();
	assert_non_null(base);
	srv = http_server_new(base, &cfg, routes, NROUTES, base, &err);
	if (srv == NULL)
		fail_msg("http_server_new: %s", err.msg);
	port = http_server_port(srv);
	assert_true(port > 0);
	assert_int_equal(pthread_create(&loop_thread, NULL, loop_main, NULL), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	event_base_loopexit(base, NULL);
	pthread_join(loop_thread, NULL);
	http_server_free(srv);
	event_base_free(base);
	apikeys_free(keys);
	return 0;
}

#define HTTP_TESTS \
		cmocka_unit_test(test_healthz), \
		cmocka_unit_test(test_readyz), \
		cmocka_unit_test(test_not_found_and_method), \
		cmocka_unit_test(test_params_and_query), \
		cmocka_unit_test(test_admin_auth), \
		cmocka_unit_test(test_json_body), \
		cmocka_unit_test(test_body_too_large), \
		cmocka_unit_test(test_route_body_cap), \
		cmocka_unit_test(test_chunked), \
		cmocka_unit_test(test_request_id), \
		cmocka_unit_test(test_deferred), \
		cmocka_unit_test(test_metrics), \
		cmocka_unit_test(test_operator_everywhere), \
		cmocka_unit_test(test_org_key_roles), \
		cmocka_unit_test(test_org_key_other_org), \
		cmocka_unit_test(test_org_of), \
		cmocka_unit_test(test_bad_keys), \
		cmocka_unit_test(test_org_key_on_operator_route), \
		cmocka_unit_test(test_key_not_logged), \
		cmocka_unit_test(test_route_table_checked)

int
main(void)
{
	const struct CMUnitTest inline_tests[] = { HTTP_TESTS };
	const struct CMUnitTest io_tests[] = {
		HTTP_TESTS,
		cmocka_unit_test(test_blocked_loop),
		cmocka_unit_test(test_stop_answers_queued),
	};
	int failed;

	failed = cmocka_run_group_tests_name("handlers on the server's loop",
	    inline_tests, setup, teardown);
	io_thread = 1;
	failed += cmocka_run_group_tests_name("io_thread", io_tests, setup,
	    teardown);
	return failed;
}
