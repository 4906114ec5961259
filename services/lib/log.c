/*
 * log.c: one JSON object per line on stdout.
 *
 * Each line is formatted into a private buffer and written with a single
 * write(2), so lines from different threads never interleave and nothing is
 * lost in a stdio buffer when the process dies.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 8192
#define LOG_MSG_MAX  4096
#define LOG_CTX_MAX  4
#define LOG_CTX_VAL  128

struct log_ctx_field {
	const char *key;          /* a string literal, or NULL when free */
	char value[LOG_CTX_VAL];
};

struct log_line {
	char buf[LOG_LINE_MAX];
	size_t len;
};

static char log_service[64] = "unknown";
static int log_debug_on;
static _Thread_local struct log_ctx_field log_ctx[LOG_CTX_MAX];

void
log_init(const char *service)
{
	const char *dbg = getenv("SLIPWAY_LOG_DEBUG");

	if (service != NULL)
		snprintf(log_service, sizeof(log_service), "%s", service);
	if (dbg != NULL && strcmp(dbg, "1") == 0)
		log_debug_on = 1;
}

void
log_set_debug(int on)
{
	log_debug_on = on;
}

/* Appends raw bytes, silently truncating: a log line must never fail. */
static void
line_raw(struct log_line *l, const char *s, size_t n)
{
	/* keep room for the closing "}\n" */
	size_t room = sizeof(l->buf) - 2 - l->len;

	if (n > room)
		n = room;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/*
 * Copies one UTF-8 sequence starting at p, or writes U+FFFD for an invalid
 * byte, so every line stays valid JSON whatever a message quotes.
 * Returns the number of input bytes consumed.
 */
static size_t
line_utf8(struct log_line *l, const unsigned char *p)
{
	size_t n, i;

	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4;
	else
		n = 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			n = 0;
	if (n == 0) {
		line_raw(l, "\\ufffd", 6);
		return 1;
	}
	line_raw(l, (const char *)p, n);
	return n;
}

/* Appends s as the contents of a JSON string, escaping what must be. */
static void
line_escaped(struct log_line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6];
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		size_t run = 0;

		/* Plain printable ASCII, the usual case, is copied a run at once. */
		while (p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' &&
		    p[run] != '\\')
			run++;
		if (run > 0) {
			line_raw(l, (const char *)p, run);
			p += run - 1;
			continue;
		}
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			line_raw(l, esc, 2);
		} else if (*p == '\n') {
			line_raw(l, "\\n", 2);
		} else if (*p == '\r') {
			line_raw(l, "\\r", 2);
		} else if (*p == '\t') {
			line_raw(l, "\\t", 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xf];
			line_raw(l, esc, 6);
		} else {
			p += line_utf8(l, p) - 1;
		}
	}
}

static void
line_field(struct log_line *l, const char *key, const char *value)
{
	if (l->len > 1)
		line_raw(l, ",", 1);
	line_raw(l, "\"", 1);
	line_escaped(l, key);
	line_raw(l, "\":\"", 3);
	line_escaped(l, value);
	line_raw(l, "\"", 1);
}

/*
 * "2026-12-02T08:04:46.123Z". The seconds part is formatted once per second
 * and thread: a busy service writes thousands of lines a second.
 */
static void
log_timestamp(char *out, size_t len)
{
	static _Thread_local time_t last = (time_t)-1;
	static _Thread_local char sec[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != last) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
		last = ts.tv_sec;
	}
	snprintf(out, len, "%s.%03ldZ", sec, ts.tv_nsec / 1000000L);
}

/* Formats and writes one line; the message may be cut to fit. */
static void
log_emit(const char *level, const char *msg)
{
	struct log_line l;
	char ts[48];
	size_t off = 0;
	ssize_t n;
	int i;

	l.len = 0;
	line_raw(&l, "{", 1);
	log_timestamp(ts, sizeof(ts));
	line_field(&l, "ts", ts);
	line_field(&l, "level", level);
	line_field(&l, "service", log_service);
	for (i = 0; i < LOG_CTX_MAX; i++)
		if (log_ctx[i].key != NULL)
			line_field(&l, log_ctx[i].key, log_ctx[i].value);
	line_field(&l, "msg", msg);
	memcpy(l.buf + l.len, "}\n", 2);
	l.len += 2;
	while (off < l.len) {
		n = write(STDOUT_FILENO, l.buf + off, l.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

static void
log_vemit(const char *level, const char *suffix, const char *fmt, va_list ap)
{
	char msg[LOG_MSG_MAX];
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(unformattable log message)");
	if (suffix != NULL) {
		size_t used = strlen(msg);
		snprintf(msg + used, sizeof(msg) - used, ": %s", suffix);
	}
	log_emit(level, msg);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_vemit("debug", NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("info", NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	char ebuf[128];
	const char *e;
	int saved = errno;
	va_list ap;

	e = strerror_r(saved, ebuf, sizeof(ebuf));
	va_start(ap, fmt);
	log_vemit("warn", e, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("warn", NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("fatal", NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_ctx_set(const char *key, const char *value)
{
	int i, slot = -1;

	if (key == NULL)
		return;
	for (i = 0; i < LOG_CTX_MAX; i++) {
		if (log_ctx[i].key != NULL && strcmp(log_ctx[i].key, key) == 0) {
			slot = i;
			break;
		}
		if (log_ctx[i].key == NULL && slot < 0)
			slot = i;
	}
	if (slot < 0)
		return;  /* full: context is best effort, never an error */
	log_ctx[slot].key = key;
	snprintf(log_ctx[slot].value, LOG_CTX_VAL, "%s", value != NULL ? value : "");
}

void
log_ctx_unset(const char *key)
{
	int i;

	for (i = 0; i < LOG_CTX_MAX; i++)
		if (log_ctx[i].key != NULL && strcmp(log_ctx[i].key, key) == 0)
			log_ctx[i].key = NULL;
}

void
log_ctx_clear(void)
{
	int i;

	for (i = 0; i < LOG_CTX_MAX; i++)
		log_ctx[i].key = NULL;
}
