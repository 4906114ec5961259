/*
 * gateway_rt.c: the client of HAProxy's runtime API (stats socket) and
 * master CLI, both unix sockets. One command per connection: HAProxy
 * answers a non-interactive command and closes, so an answer is complete
 * at EOF. Every call has one deadline for connect, write and read, and the
 * answer is capped. HAProxy reports errors as text, so every command states
 * the answer that means success and anything else is a failure.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "buf.h"
#include "gateway.h"

#define GATEWAY_RT_POLL_MS      50
#define GATEWAY_RT_BUSY         "Server still has connections attached to it"
#define GATEWAY_RT_NO_SERVER    "No such server."

static void
gateway_rt_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Waits for events on fd until deadline: 1 ready, 0 timed out, -1 error. */
static int
gateway_rt_wait(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left;
	int rc;

	do {
		if ((left = deadline - clock_mono_ms()) <= 0)
			return 0;
		rc = poll(&p, 1, (int)left);
	} while (rc < 0 && errno == EINTR);
	return rc < 0 ? -1 : rc;
}

/*
 * Connects to path before deadline. A unix socket whose backlog is full
 * answers EAGAIN rather than EINPROGRESS, so that is retried.
 */
static int
gateway_rt_connect(const char *path, long long deadline, const char **why)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		*why = "path too long";
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			*why = strerror(errno);
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		*why = strerror(errno);
		close(fd);
		if (errno != EAGAIN || clock_mono_ms() >= deadline)
			return -1;
		gateway_rt_sleep_ms(10);
	}
}

/* Writes all of s before deadline; MSG_NOSIGNAL as HAProxy may close first. */
static int
gateway_rt_send(int fd, const char *s, size_t len, long long deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
		if (n > 0) {
			s += n;
			len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return -1;
		} else if (gateway_rt_wait(fd, POLLOUT, deadline) <= 0) {
			return -1;
		}
	}
	return 0;
}

/* Reads until EOF before deadline into *out (capped); -1 with *why. */
static int
gateway_rt_recv(int fd, long long deadline, char **out, size_t *len,
    const char **why)
{
	char chunk[4096];
	ssize_t n;

	for (;;) {
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n == 0)
			return 0;
		if (n > 0) {
			if (buf_append(out, len, GATEWAY_RT_ANSWER_MAX, chunk,
			    (size_t)n) < 0) {
				*why = "answer too long";
				return -1;
			}
			continue;
		}
		if (errno != EAGAIN && errno != EINTR) {
			*why = strerror(errno);
			return -1;
		}
		if (gateway_rt_wait(fd, POLLIN, deadline) <= 0) {
			*why = "timed out waiting for the answer";
			return -1;
		}
	}
}

int
gateway_rt_call(const char *socket_path, const char *cmd, int timeout_ms,
    char **answer, struct error *err)
{
	long long deadline = clock_mono_ms() + timeout_ms;
	const char *why = "";
	size_t len = 0;
	char line[GATEWAY_NAME_MAX + 256];
	int fd, rc = -1;

	*answer = NULL;
	if (strlen(cmd) + 2 > sizeof(line) || strpbrk(cmd, "\n;") != NULL) {
		/* HAProxy splits commands at ';' and ends them at '\n'. */
		why = "command too long or with ';' or a newline";
		goto out;
	}
	snprintf(line, sizeof(line), "%s\n", cmd);
	if ((fd = gateway_rt_connect(socket_path, deadline, &why)) < 0)
		goto out;
	/* The master CLI answers only once it sees the end of the input. */
	if (gateway_rt_send(fd, line, strlen(line), deadline) < 0 ||
	    shutdown(fd, SHUT_WR) < 0)
		why = "could not send the command";
	else if (buf_append(answer, &len, GATEWAY_RT_ANSWER_MAX, "", 0) == 0 &&
	    gateway_rt_recv(fd, deadline, answer, &len, &why) == 0)
		rc = 0;
	close(fd);
out:
	if (rc < 0) {
		error_set(err, GATEWAY_ERR, "", "gateway_failed: HAProxy socket "
		    "%.100s: %s: %s", socket_path, cmd, why);
		free(*answer);
		*answer = NULL;
	}
	return rc;
}

/* The answer without surrounding blanks and newlines, in place. */
static char *
gateway_rt_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' ||
	    s[n - 1] == '\r' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* Runs cmd; the trimmed answer is copied to got (may be NULL). */
static int
gateway_rt_ask(const char *socket_path, const char *cmd, char *got,
    size_t len, struct error *err)
{
	char *answer;

	if (gateway_rt_call(socket_path, cmd, GATEWAY_RT_TIMEOUT_MS, &answer,
	    err) < 0)
		return -1;
	if (got != NULL)
		snprintf(got, len, "%s", gateway_rt_trim(answer));
	free(answer);
	return 0;
}

int
gateway_rt_command(const char *socket_path, const struct gateway_cmd *cmd,
    struct error *err)
{
	char got[256];

	if (gateway_rt_ask(socket_path, cmd->text, got, sizeof(got), err) < 0)
		return -1;
	if (strcmp(got, cmd->expect) != 0) {
		got[strcspn(got, "\n")] = '\0';
		error_set(err, GATEWAY_ERR, "", "gateway_failed: HAProxy "
		    "refused \"%.120s\": %.100s", cmd->text,
		    got[0] != '\0' ? got : "(empty answer)");
		log_warnx("gateway: %s", err->msg);
		return -1;
	}
	log_debug("gateway: %s", cmd->text);
	return 0;
}

/*
 * Deletes a server already in maintenance. In-flight requests get
 * GATEWAY_REMOVE_GRACE_MS to end (HAProxy refuses to delete a server with
 * sessions); then they are shut down. A server already gone is success.
 */
static int
gateway_rt_delete(const char *socket_path, const struct gateway_cmd *del,
    const struct gateway_op *op, struct error *err)
{
	long long grace = clock_mono_ms() + GATEWAY_REMOVE_GRACE_MS;
	/* Bounded in time, not tries: the caller holds the gateway's lock. */
	long long deadline = grace + GATEWAY_RT_TIMEOUT_MS;
	char got[256] = "", cmd[GATEWAY_NAME_MAX + 96];
	int shut = 0;

	while (clock_mono_ms() < deadline) {
		if (gateway_rt_ask(socket_path, del->text, got, sizeof(got),
		    err) < 0)
			return -1;
		if (strcmp(got, del->expect) == 0 ||
		    strcmp(got, GATEWAY_RT_NO_SERVER) == 0)
			return 0;
		if (strncmp(got, GATEWAY_RT_BUSY, strlen(GATEWAY_RT_BUSY)) != 0)
			break;
		if (!shut && clock_mono_ms() >= grace) {
			log_info("gateway: %s/%s still has sessions after %d ms, "
			    "shutting them", op->backend, op->server,
			    GATEWAY_REMOVE_GRACE_MS);
			snprintf(cmd, sizeof(cmd), "shutdown sessions server "
			    "%s/%s", op->backend, op->server);
			if (gateway_rt_ask(socket_path, cmd, NULL, 0, err) < 0)
				return -1;
			shut = 1;
		}
		gateway_rt_sleep_ms(GATEWAY_RT_POLL_MS);
	}
	error_set(err, GATEWAY_ERR, "", "gateway_failed: HAProxy refused "
	    "\"%.120s\": %.100s", del->text, got);
	return -1;
}

int
gateway_rt_op(const char *socket_path, const struct gateway_op *op,
    struct error *err)
{
	struct gateway_cmd cmd[GATEWAY_CMDS_MAX];
	int n = gateway_plan_commands(op, cmd);

	if (op->kind == GATEWAY_OP_DELETE) {
		/* Maintenance of a server already gone fails: still success. */
		char got[256];
		if (gateway_rt_ask(socket_path, cmd[0].text, got, sizeof(got),
		    err) < 0)
			return -1;
		if (strcmp(got, "") != 0 && strcmp(got, GATEWAY_RT_NO_SERVER) != 0) {
			error_set(err, GATEWAY_ERR, "", "gateway_failed: HAProxy "
			    "refused \"%.120s\": %.100s", cmd[0].text, got);
			return -1;
		}
		return gateway_rt_delete(socket_path, &cmd[1], op, err);
	}
	for (int i = 0; i < n; i++)
		if (gateway_rt_command(socket_path, &cmd[i], err) < 0)
			return -1;
	return 0;
}

/* One "show proc" line in section sec (0 master, 1 workers, 2 other). */
static void
gateway_rt_proc_line(const char *line, int sec, struct gateway_proc *p)
{
	int pid, reloads, failed;

	if (sec == 0 && sscanf(line, "%d master %d [failed: %d]", &pid,
	    &reloads, &failed) == 3) {
		p->master_reloads = reloads;
		p->master_failed = failed;
	} else if (sec == 1 && sscanf(line, "%d worker %d", &pid,
	    &reloads) == 2) {
		/* The newest worker has survived the fewest reloads. */
		if (p->worker_pid == 0 || reloads < p->worker_reloads) {
			p->worker_pid = pid;
			p->worker_reloads = reloads;
		}
	}
}

int
gateway_rt_parse_proc(const char *answer, struct gateway_proc *out)
{
	const char *line = answer;
	int sec = 0, master = 0;

	memset(out, 0, sizeof(*out));
	out->master_reloads = -1;
	while (*line != '\0') {
		const char *nl = strchr(line, '\n');
		char buf[256];
		size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		snprintf(buf, sizeof(buf), "%.*s", (int)(n < 255 ? n : 255),
		    line);
		if (strncmp(buf, "# workers", 9) == 0)
			sec = 1;
		else if (buf[0] == '#' && buf[1] == ' ')
			sec = 2;
		else
			gateway_rt_proc_line(buf, sec, out);
		line += n + (nl != NULL);
	}
	master = out->master_reloads >= 0;
	return master ? 0 : -1;
}

int
gateway_rt_parse_pid(const char *answer)
{
	const char *p = strncmp(answer, "Pid: ", 5) == 0 ? answer :
	    strstr(answer, "\nPid: ");
	int pid;

	if (p == NULL)
		return -1;
	p += *p == '\n' ? 6 : 5;
	if (sscanf(p, "%d", &pid) != 1 || pid <= 0)
		return -1;
	return pid;
}

static int
gateway_rt_proc(const char *master, struct gateway_proc *p, struct error *err)
{
	char *answer;
	int rc;

	if (gateway_rt_call(master, "show proc", GATEWAY_RT_TIMEOUT_MS, &answer,
	    err) < 0)
		return -1;
	rc = gateway_rt_parse_proc(answer, p);
	free(answer);
	if (rc < 0)
		error_set(err, GATEWAY_ERR, "", "gateway_failed: the master CLI "
		    "answered \"show proc\" with no master line");
	return rc;
}

/* The pid of the worker answering on the runtime socket, or -1. */
static int
gateway_rt_worker(const char *runtime)
{
	struct error ignored;
	char *answer;
	int pid;

	if (gateway_rt_call(runtime, "show info", GATEWAY_RT_TIMEOUT_MS,
	    &answer, &ignored) < 0)
		return -1;
	pid = gateway_rt_parse_pid(answer);
	free(answer);
	return pid;
}

/*
 * Polls the master until it counts the reload: a new worker, or a failure
 * (HAProxy keeps the old worker when the new configuration is refused).
 * The master CLI does not answer while the master re-executes itself.
 */
static int
gateway_rt_new_worker(const char *master, const struct gateway_proc *before,
    long long deadline, struct error *err)
{
	struct gateway_proc now;
	struct error ignored;

	while (clock_mono_ms() < deadline) {
		gateway_rt_sleep_ms(GATEWAY_RT_POLL_MS);
		if (gateway_rt_proc(master, &now, &ignored) < 0 ||
		    now.master_reloads <= before->master_reloads)
			continue;
		/* [failed: N] counts every refused reload since HAProxy started. */
		if (now.master_failed > before->master_failed) {
			error_set(err, GATEWAY_ERR, "", "gateway_failed: HAProxy "
			    "refused the new configuration (its log says why); "
			    "the previous one goes on serving");
			return -1;
		}
		if (now.worker_pid != 0 && now.worker_pid != before->worker_pid &&
		    now.worker_reloads == 0)
			return now.worker_pid;
	}
	error_set(err, GATEWAY_ERR, "", "gateway_failed: no new HAProxy worker "
	    "%d ms after the reload", GATEWAY_RELOAD_TIMEOUT_MS);
	return -1;
}

int
gateway_rt_reload(const char *master_socket, const char *runtime_socket,
    struct error *err)
{
	long long t0 = clock_mono_ms();
	long long deadline = t0 + GATEWAY_RELOAD_TIMEOUT_MS;
	struct gateway_proc before;
	char *answer;
	int pid;

	if (gateway_rt_proc(master_socket, &before, err) < 0)
		return -1;
	/* The master closes the connection as it re-executes: no answer. */
	if (gateway_rt_call(master_socket, "reload", GATEWAY_RT_TIMEOUT_MS,
	    &answer, err) < 0)
		return -1;
	free(answer);
	if ((pid = gateway_rt_new_worker(master_socket, &before, deadline,
	    err)) < 0)
		return -1;
	/* The old worker may still take a runtime connection for a moment. */
	while (gateway_rt_worker(runtime_socket) != pid) {
		if (clock_mono_ms() >= deadline) {
			error_set(err, GATEWAY_ERR, "", "gateway_failed: the new "
			    "HAProxy worker %d does not answer on %.100s", pid,
			    runtime_socket);
			return -1;
		}
		gateway_rt_sleep_ms(GATEWAY_RT_POLL_MS / 5);
	}
	log_info("gateway: HAProxy reloaded in %lld ms (worker %d)",
	    clock_mono_ms() - t0, pid);
	return 0;
}
