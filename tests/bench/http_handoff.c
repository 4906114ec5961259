/*
 * http_handoff.c: what lib http's io_thread costs one request (make bench).
 *
 * registry-, component- and deploy-svc serve their connections on an I/O
 * thread and run handlers on the service's loop (lib http.h); each request
 * crosses twice through a mailbox. This measures that crossing against its
 * anchor, the same server with handlers inline: one server per mode on
 * 127.0.0.1, a client on this thread sending N sequential keep-alive GETs
 * to a handler that answers at once, rounds alternating the modes.
 *
 * Usage: http_handoff ROUNDS N. One line per round and mode on stdout,
 * "<inline|io_thread> <p50_us> <p99_us>", among the JSON log lines.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "crypto.h"
#include "http.h"
#include "log.h"
#include "service.h"

#define ANSWER_END "\"ok\"}\n"

static void
answer(struct http_request *req, void *ctx)
{
	(void)ctx;
	http_request_quiet(req);
	http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static const struct http_route routes[] = {
	{ HTTP_GET, "/v1/answer", answer, HTTP_AUTH_NONE, NULL, 0 },
};

static void *
loop_main(void *base)
{
	event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
client_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		fatal("connect 127.0.0.1:%d failed", port);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* One GET and its whole answer (the body ends the reply). */
static void
one_call(int fd)
{
	static const char req[] = "GET /v1/answer HTTP/1.1\r\nHost: b\r\n\r\n";
	char buf[2048];
	size_t got = 0;
	ssize_t n;

	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != sizeof(req) - 1)
		fatal("send failed");
	buf[0] = '\0';
	while (strstr(buf, ANSWER_END) == NULL) {
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0 || (size_t)n >= sizeof(buf) - 1 - got)
			fatal("recv failed");
		got += (size_t)n;
		buf[got] = '\0';
	}
}

static void
round_run(int io_thread, int n, double *lat)
{
	struct http_server_config cfg = { .service = "bench", .port = 0,
	    .io_thread = io_thread };
	struct event_base *base = service_base_new();
	struct http_server *srv;
	struct error err;
	pthread_t t;
	int fd, i;

	if (base == NULL ||
	    (srv = http_server_new(base, &cfg, routes, 1, NULL, &err)) == NULL)
		fatal("server: %s", base == NULL ? "no base" : err.msg);
	if (pthread_create(&t, NULL, loop_main, base) != 0)
		fatal("pthread_create failed");
	fd = client_connect(http_server_port(srv));
	for (i = 0; i < n / 10 + 1; i++)   /* warm the connection and caches */
		one_call(fd);
	for (i = 0; i < n; i++) {
		double t0 = now_us();

		one_call(fd);
		lat[i] = now_us() - t0;
	}
	close(fd);
	event_base_loopbreak(base);   /* safe across threads: evthread */
	pthread_join(t, NULL);
	http_server_free(srv);
	event_base_free(base);
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("%s %.1f %.1f\n", io_thread ? "io_thread" : "inline",
	    lat[n / 2], lat[(n * 99) / 100]);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3;
	int n = argc > 2 ? atoi(argv[2]) : 5000;
	double *lat;

	if (rounds < 1 || n < 100) {
		fprintf(stderr, "usage: http_handoff ROUNDS N (N >= 100)\n");
		return 2;
	}
	log_init("http-handoff");
	crypto_init();
	evthread_use_pthreads();
	if ((lat = malloc(sizeof(*lat) * (size_t)n)) == NULL)
		fatal("out of memory");
	for (int r = 0; r < rounds; r++) {
		round_run(0, n, lat);
		round_run(1, n, lat);
	}
	free(lat);
	return 0;
}
