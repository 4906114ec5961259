/*
 * agent_health.c: is a new container serving? Probes its published port on
 * 127.0.0.1 while checking through the engine that it has not exited.
 *
 * The published port is a forwarder into the container's own network
 * namespace (slirp4netns, or a bridge's proxy): it accepts a connection even
 * when nothing listens inside, and closes it a moment later. So a TCP probe
 * counts only when the connection stays open for a short while (or the
 * server speaks first), and an HTTP probe only when a status line comes back.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "clock.h"
#include "agent.h"

#define HEALTH_CONNECT_MS 500
#define HEALTH_ANSWER_MS  2000
#define HEALTH_TCP_HOLD_MS 300   /* a forwarder with no listener closes sooner */

/* Waits up to ms for fd to become ready for events; 1 ready, 0 not. */
static int
health_wait_fd(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, ms > 0 ? ms : 0) == 1 &&
	    (p.revents & (events | POLLHUP | POLLERR));
}

/* Connects to 127.0.0.1:port within ms; the fd or -1 (what says why). */
static int
health_connect(int port, int ms, char *what, size_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	int fd, soerr = 0;
	socklen_t slen = sizeof(soerr);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(what, len, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		return fd;
	if (errno == EINPROGRESS && health_wait_fd(fd, POLLOUT, ms) &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == 0 &&
	    soerr == 0)
		return fd;
	snprintf(what, len, "connect to port %d: %s", port,
	    soerr ? strerror(soerr) : errno == EINPROGRESS ? "timed out" :
	    strerror(errno));
	close(fd);
	return -1;
}

/* Reads what arrives within ms into buf (NUL-terminated); bytes or -1. */
static ssize_t
health_read(int fd, char *buf, size_t cap, int ms)
{
	long long deadline = clock_mono_ms() + ms;
	size_t got = 0;
	ssize_t n;

	while (got + 1 < cap && memchr(buf, '\n', got) == NULL) {
		if (!health_wait_fd(fd, POLLIN, (int)(deadline - clock_mono_ms())))
			break;
		if ((n = recv(fd, buf + got, cap - 1 - got, 0)) < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

/* GET path: healthy on any status below 500 (the app answers at all). */
static int
health_http(int fd, const char *path, char *what, size_t len)
{
	char req[512], buf[256];
	int n, status;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
	    "User-Agent: slipway-agent\r\n\r\n", path);
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(what, len, "GET %s: cannot send", path);
		return 0;
	}
	if (health_read(fd, buf, sizeof(buf), HEALTH_ANSWER_MS) <= 0) {
		snprintf(what, len, "GET %s: no answer (nothing listening on the "
		    "port inside the container?)", path);
		return 0;
	}
	if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
		snprintf(what, len, "GET %s: not an HTTP answer", path);
		return 0;
	}
	snprintf(what, len, "GET %s: HTTP %d", path, status);
	return status >= 100 && status < 500;
}

/* TCP: the connection must stay open (or carry data) for a moment. */
static int
health_tcp(int fd, int port, char *what, size_t len)
{
	char buf[64];
	ssize_t n = health_read(fd, buf, sizeof(buf), HEALTH_TCP_HOLD_MS);

	if (n == 0 && health_wait_fd(fd, POLLIN, 0)) {
		snprintf(what, len, "port %d: connection closed at once (nothing "
		    "listening inside the container?)", port);
		return 0;
	}
	if (n < 0) {
		snprintf(what, len, "port %d: %s", port, strerror(errno));
		return 0;
	}
	snprintf(what, len, "port %d: connection accepted", port);
	return 1;
}

int
agent_health_probe(const struct agent_probe *p, char *what, size_t len)
{
	int fd, ok;

	if ((fd = health_connect(p->host_port, HEALTH_CONNECT_MS, what,
	    len)) == -1)
		return 0;
	ok = p->http ? health_http(fd, p->path, what, len) :
	    health_tcp(fd, p->host_port, what, len);
	close(fd);
	return ok;
}

void
agent_health_evidence(struct engine *e, const char *container,
    struct agent_evidence *ev)
{
	struct engine_state st;
	struct error err;

	if (engine_inspect(e, container, &st, &err) == 0 && st.exists &&
	    !st.running) {
		ev->exited = 1;
		ev->exit_code = st.exit_code;
	}
	if (engine_logs_tail(e, container, AGENT_LOG_TAIL_LINES, ev->log_tail,
	    sizeof(ev->log_tail), &err) == -1)
		ev->log_tail[0] = '\0';
}

/* 0 while the container runs; -1 with the reason once it exited. */
static int
health_container(struct engine *e, const char *name, struct error *err)
{
	struct engine_state st;

	if (engine_inspect(e, name, &st, err) == -1)
		return -1;
	if (!st.exists) {
		error_set(err, "unhealthy", "", "unhealthy: the container is gone");
		return -1;
	}
	if (!st.running) {
		error_set(err, "unhealthy", "", "unhealthy: container exited with "
		    "code %d%s", st.exit_code, st.oom_killed ?
		    " (out of memory)" : "");
		return -1;
	}
	return 0;
}

/* Sleeps ms in small steps; 1 when stopping was set meanwhile. */
static int
health_sleep(int ms, const atomic_int *stopping)
{
	for (; ms > 0; ms -= 50) {
		if (stopping != NULL && atomic_load(stopping))
			return 1;
		usleep((useconds_t)(ms < 50 ? ms : 50) * 1000);
	}
	return stopping != NULL && atomic_load(stopping);
}

int
agent_health_wait(struct engine *e, const char *container,
    const struct agent_probe *p, const atomic_int *stopping,
    struct agent_evidence *ev, struct error *err)
{
	long long t0 = clock_mono_ms(), deadline = t0 +
	    (long long)p->timeout_s * 1000;
	int good = 0, threshold = p->threshold > 0 ? p->threshold : 1;

	for (;;) {
		if (health_container(e, container, err) == -1)
			return -1;
		if (p->host_port <= 0) {
			/* Nothing to probe: it must at least keep running. */
			if (clock_mono_ms() - t0 >= p->stable_ms)
				return 0;
		} else if (agent_health_probe(p, ev->probe, sizeof(ev->probe))) {
			if (++good >= threshold)
				return health_container(e, container, err);
		} else {
			good = 0;
		}
		if (clock_mono_ms() >= deadline)
			break;
		if (health_sleep(p->period_ms > 0 ? p->period_ms : AGENT_PROBE_MS,
		    stopping)) {
			error_set(err, "unhealthy", "", "unhealthy: the agent is "
			    "stopping");
			return -1;
		}
	}
	error_set(err, "unhealthy", "", "unhealthy: not healthy within %d s "
	    "(last probe: %s)", p->timeout_s, ev->probe[0] ? ev->probe : "none");
	return -1;
}
