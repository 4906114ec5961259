/*
 * agent_health.c: is the new container serving? Polls 127.0.0.1:<port>
 * every 100 ms (host networking: the container's port is the host's) while
 * checking through the engine that the container has not exited.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "agent.h"

#define HEALTH_POLL_MS 100

static long long
health_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms for fd to become ready for events; 1 ready, 0 not. */
static int
health_wait_fd(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, ms) == 1 && (p.revents & events);
}

/* Connects to 127.0.0.1:port within ms; the fd or -1. */
static int
health_connect(int port, int ms)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	int fd, soerr = 0;
	socklen_t slen = sizeof(soerr);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		return fd;
	if (errno == EINPROGRESS && health_wait_fd(fd, POLLOUT, ms) &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == 0 &&
	    soerr == 0)
		return fd;
	close(fd);
	return -1;
}

/* Sends GET / and reads the start of the answer: 1 on "HTTP/". */
static int
health_http(int fd, int ms)
{
	static const char req[] =
	    "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: slipway-agent\r\n\r\n";
	char buf[8];
	size_t got = 0;
	ssize_t n;
	long long deadline = health_now_ms() + ms;

	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
		return 0;
	while (got < 5 && health_now_ms() < deadline) {
		if (!health_wait_fd(fd, POLLIN, (int)(deadline - health_now_ms())))
			return 0;
		if ((n = recv(fd, buf + got, sizeof(buf) - got, 0)) <= 0)
			return 0;
		got += (size_t)n;
	}
	return got >= 5 && memcmp(buf, "HTTP/", 5) == 0;
}

/* One probe of the port: 1 when it answers as required. */
static int
health_probe(int port, int http)
{
	int fd, ok;

	if ((fd = health_connect(port, HEALTH_POLL_MS)) == -1)
		return 0;
	ok = http ? health_http(fd, 1000) : 1;
	close(fd);
	return ok;
}

/* 0 while the container runs; -1 with the reason once it exited. */
static int
health_container(struct engine *e, const char *name, struct error *err)
{
	int running = 0, code = 0;

	if (engine_inspect(e, name, &running, &code, err) == -1)
		return -1;
	if (!running) {
		error_set(err, "unhealthy", "", "unhealthy: container exited with "
		    "code %d", code);
		return -1;
	}
	return 0;
}

int
agent_health_wait(struct engine *e, const char *name, int port, int http,
    int timeout_s, struct error *err)
{
	long long deadline = health_now_ms() + (long long)timeout_s * 1000;

	if (port <= 0)
		return health_container(e, name, err);
	for (;;) {
		if (health_container(e, name, err) == -1)
			return -1;
		if (health_probe(port, http))
			return 0;
		if (health_now_ms() >= deadline)
			break;
		usleep(HEALTH_POLL_MS * 1000);
	}
	error_set(err, "unhealthy", "", "unhealthy: port %d did not answer "
	    "within %d s", port, timeout_s);
	return -1;
}
