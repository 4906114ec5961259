/*
 * log.h: one JSON object per line on stdout.
 *
 * Every line carries ts, level, service, msg, and the ids set with
 * log_ctx_set() on the calling thread (request_id, event_id, deployment_id...),
 * so a line can always be traced back to the request or event that caused it.
 * Never pass a secret to these functions.
 */
#ifndef SLIPWAY_LOG_H
#define SLIPWAY_LOG_H

#include <stdarg.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_init(const char *service);
void log_set_debug(int on);

void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
/* fatal: start-up errors and broken invariants only; exits with status 1. */
void fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

/*
 * Per-thread context fields added to every line until cleared. The key must
 * be a string literal; the value is copied (truncated at 127 bytes).
 * At most 4 keys; setting an existing key replaces its value.
 */
void log_ctx_set(const char *key, const char *value);
/* Removes one key set with log_ctx_set(), leaving the others. */
void log_ctx_unset(const char *key);
void log_ctx_clear(void);

#endif
