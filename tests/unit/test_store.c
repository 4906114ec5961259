/*
 * test_store.c: the blocking store's bounds (lib store.c) against a fake
 * Postgres speaking just enough of the protocol (startup, simple and
 * extended queries) that can be told to stop answering: a statement gets
 * "unavailable" within its deadline, a cancel request goes out, the
 * process backs off, the reconnect is bounded too, the prepared statements
 * are prepared again on the new connection, and a transaction that lost its
 * connection fails until it is rolled back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "clock.h"
#include "store.h"

#define TIMEOUT_MS 300
#define SLACK_MS   250
#define CLIENTS    8
#define CANCEL_CODE  80877102
#define PROTO_3      196608

struct client {
	int fd;
	int started;      /* startup answered */
	char tx;          /* 'I' or 'T' */
	unsigned char buf[8192];
	size_t len;
};

struct fake {
	int lfd;
	int port;
	pthread_t thread;
	atomic_int frozen;    /* read everything, answer nothing */
	atomic_int stop;
	atomic_int sessions;  /* startups answered */
	atomic_int parses;
	atomic_int cancels;
	struct client c[CLIENTS];
};

static struct fake fake;

static void
put32(unsigned char *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t
get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/* Sends one backend message: type, length, body. */
static void
reply(struct client *c, char type, const void *body, size_t n)
{
	unsigned char m[512];

	m[0] = (unsigned char)type;
	put32(m + 1, (uint32_t)(n + 4));
	memcpy(m + 5, body, n);
	(void)!write(c->fd, m, n + 5);
}

static void
reply_param(struct client *c, const char *k, const char *v)
{
	char b[128];
	size_t n = (size_t)snprintf(b, sizeof(b), "%s%c%s", k, 0, v) + 1;

	reply(c, 'S', b, n);
}

static void
reply_ready(struct client *c)
{
	reply(c, 'Z', &c->tx, 1);
}

static void
reply_complete(struct client *c, const char *tag)
{
	reply(c, 'C', tag, strlen(tag) + 1);
}

static void
answer_startup(struct client *c)
{
	unsigned char ok[4] = { 0 }, key[8];

	put32(key, 4242);
	put32(key + 4, 7);
	reply(c, 'R', ok, 4);
	reply_param(c, "server_version", "15.0");
	reply_param(c, "client_encoding", "UTF8");
	reply_param(c, "standard_conforming_strings", "on");
	reply(c, 'K', key, 8);
	c->tx = 'I';
	reply_ready(c);
	c->started = 1;
	atomic_fetch_add(&fake.sessions, 1);
}

/* A simple query: one CommandComplete per statement, then ReadyForQuery. */
static void
answer_query(struct client *c, const char *sql)
{
	char stmt[256], tag[32];
	const char *p = sql, *semi;

	while (*p != '\0') {
		size_t n;

		semi = strchr(p, ';');
		n = semi ? (size_t)(semi - p) : strlen(p);
		snprintf(stmt, sizeof(stmt), "%.*s", (int)n, p);
		if (sscanf(stmt, " %31s", tag) == 1) {
			if (strcmp(tag, "BEGIN") == 0)
				c->tx = 'T';
			else if (strcmp(tag, "COMMIT") == 0 ||
			    strcmp(tag, "ROLLBACK") == 0)
				c->tx = 'I';
			reply_complete(c, tag);
		}
		p += n + (semi != NULL);
	}
	reply_ready(c);
}

/* One frontend message of a started session. */
static void
answer_message(struct client *c, char type, const unsigned char *body)
{
	if (type == 'Q')
		answer_query(c, (const char *)body);
	else if (type == 'P') {
		atomic_fetch_add(&fake.parses, 1);
		reply(c, '1', "", 0);
	} else if (type == 'B')
		reply(c, '2', "", 0);
	else if (type == 'D')
		reply(c, 'n', "", 0);
	else if (type == 'E')
		reply_complete(c, "SELECT 0");
	else if (type == 'S')
		reply_ready(c);
}

/* Handles the complete messages in c->buf; 0 when c must be closed. */
static int
client_process(struct client *c)
{
	size_t off = 0;
	int keep = 1;

	while (keep) {
		size_t hdr = c->started ? 1 : 0, len;

		if (c->len - off < hdr + 4)
			break;
		len = get32(c->buf + off + hdr);
		if (c->len - off < hdr + len)
			break;
		if (!c->started) {
			uint32_t code = get32(c->buf + off + 4);

			if (code == CANCEL_CODE) {
				atomic_fetch_add(&fake.cancels, 1);
				keep = 0;
			} else if (code == PROTO_3 && !atomic_load(&fake.frozen))
				answer_startup(c);
			else if (code != PROTO_3)
				(void)!write(c->fd, "N", 1);   /* no SSL, no GSS */
		} else if (c->buf[off] == 'X')
			keep = 0;
		else if (!atomic_load(&fake.frozen))
			answer_message(c, (char)c->buf[off], c->buf + off + 5);
		off += hdr + len;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return keep;
}

static void
client_read(struct client *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

	if (n > 0) {
		c->len += (size_t)n;
		if (client_process(c))
			return;
	}
	close(c->fd);
	c->fd = -1;
}

static void
fake_accept(void)
{
	int fd = accept(fake.lfd, NULL, NULL);

	for (int i = 0; fd >= 0 && i < CLIENTS; i++)
		if (fake.c[i].fd < 0) {
			memset(&fake.c[i], 0, sizeof(fake.c[i]));
			fake.c[i].fd = fd;
			return;
		}
	if (fd >= 0)
		close(fd);
}

static void *
fake_run(void *arg)
{
	struct pollfd p[CLIENTS + 1];

	(void)arg;
	while (!atomic_load(&fake.stop)) {
		p[0] = (struct pollfd){ .fd = fake.lfd, .events = POLLIN };
		for (int i = 0; i < CLIENTS; i++)
			p[i + 1] = (struct pollfd){ .fd = fake.c[i].fd,
			    .events = POLLIN };
		if (poll(p, CLIENTS + 1, 20) <= 0)
			continue;
		for (int i = 0; i < CLIENTS; i++)
			if (fake.c[i].fd >= 0 && p[i + 1].revents != 0)
				client_read(&fake.c[i]);
		if (p[0].revents & POLLIN)
			fake_accept();
	}
	return NULL;
}

static int
fake_start(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	(void)state;
	memset(&fake, 0, sizeof(fake));
	for (int i = 0; i < CLIENTS; i++)
		fake.c[i].fd = -1;
	fake.lfd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fake.lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fake.lfd, 8), 0);
	assert_int_equal(getsockname(fake.lfd, (struct sockaddr *)&sin, &len), 0);
	fake.port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&fake.thread, NULL, fake_run, NULL), 0);
	return 0;
}

static int
fake_stop(void **state)
{
	(void)state;
	atomic_store(&fake.stop, 1);
	pthread_join(fake.thread, NULL);
	for (int i = 0; i < CLIENTS; i++)
		if (fake.c[i].fd >= 0)
			close(fake.c[i].fd);
	close(fake.lfd);
	return 0;
}

static struct store *
fake_store(void)
{
	char conninfo[160];
	struct error err;
	struct store *s;

	snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=t "
	    "dbname=t sslmode=disable gssencmode=disable", fake.port);
	s = store_new(conninfo, "test", &err);
	assert_non_null(s);
	return s;
}

static const char *const one[] = { "x" };

/* Runs SELECT $1; returns its rc, the time it took in *ms, the code. */
static int
select_one(struct store *s, long long *ms, struct error *err)
{
	long long t0 = clock_mono_ms();
	int rc;

	error_clear(err);
	rc = store_exec(s, NULL, "SELECT $1", 1, one, NULL, err);
	*ms = clock_mono_ms() - t0;
	return rc;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits up to a second for the fake to have seen n cancel requests. */
static int
cancels_reach(int n)
{
	for (int i = 0; i < 100 && atomic_load(&fake.cancels) < n; i++)
		sleep_ms(10);
	return atomic_load(&fake.cancels);
}

static void
test_unanswered_statement(void **state)
{
	struct store *s;
	struct error err;
	long long ms;

	(void)state;
	s = fake_store();
	assert_int_equal(select_one(s, &ms, &err), 0);
	assert_int_equal(select_one(s, &ms, &err), 0);
	assert_int_equal(atomic_load(&fake.parses), 1);   /* prepared once */

	atomic_store(&fake.frozen, 1);
	assert_int_equal(select_one(s, &ms, &err), -1);
	assert_string_equal(err.code, "unavailable");
	assert_in_range(ms, TIMEOUT_MS, TIMEOUT_MS + SLACK_MS);
	assert_int_equal(cancels_reach(1), 1);

	/* Backing off: refused at once, no connection attempt. */
	assert_int_equal(select_one(s, &ms, &err), -1);
	assert_string_equal(err.code, "unavailable");
	assert_in_range(ms, 0, 50);
	assert_int_equal(atomic_load(&fake.sessions), 1);

	/* After the back-off (as long as the wait was) the reconnect is
	 * bounded by the deadline too. */
	sleep_ms(TIMEOUT_MS + 50);
	assert_int_equal(select_one(s, &ms, &err), -1);
	assert_string_equal(err.code, "unavailable");
	assert_in_range(ms, TIMEOUT_MS, TIMEOUT_MS + SLACK_MS);
	assert_int_equal(atomic_load(&fake.sessions), 1);

	/* Answering again: a new session, the statement prepared anew (the
	 * back-off doubled to 400 ms). */
	atomic_store(&fake.frozen, 0);
	sleep_ms(450);
	assert_int_equal(select_one(s, &ms, &err), 0);
	assert_int_equal(atomic_load(&fake.sessions), 2);
	assert_int_equal(atomic_load(&fake.parses), 2);
	assert_int_equal(select_one(s, &ms, &err), 0);
	assert_int_equal(atomic_load(&fake.parses), 2);
	store_free(s);
}

static void
test_transaction_lost(void **state)
{
	struct store *s;
	struct error err;
	long long ms;

	(void)state;
	s = fake_store();
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(select_one(s, &ms, &err), 0);
	atomic_store(&fake.frozen, 1);
	assert_int_equal(select_one(s, &ms, &err), -1);
	assert_string_equal(err.code, "unavailable");
	assert_true(store_in_tx(s));
	atomic_store(&fake.frozen, 0);
	sleep_ms(TIMEOUT_MS + 50);

	/* The server answers again, but the transaction is gone for good. */
	assert_int_equal(select_one(s, &ms, &err), -1);
	assert_string_equal(err.code, "unavailable");
	assert_true(store_in_tx(s));
	assert_int_equal(store_commit(s, &err), -1);
	assert_string_equal(err.code, "unavailable");
	store_rollback(s);
	assert_false(store_in_tx(s));

	/* Outside the transaction the next statement reconnects. */
	assert_int_equal(select_one(s, &ms, &err), 0);
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_commit(s, &err), 0);
	assert_false(store_in_tx(s));
	store_free(s);
}

static void
test_timeout_range(void **state)
{
	(void)state;
	assert_int_equal(store_set_query_timeout(STORE_QUERY_TIMEOUT_MIN_MS - 1),
	    -1);
	assert_int_equal(store_set_query_timeout(STORE_QUERY_TIMEOUT_MAX_MS + 1),
	    -1);
	assert_int_equal(store_set_query_timeout(TIMEOUT_MS), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout_range),
		cmocka_unit_test_setup_teardown(test_unanswered_statement,
		    fake_start, fake_stop),
		cmocka_unit_test_setup_teardown(test_transaction_lost,
		    fake_start, fake_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
