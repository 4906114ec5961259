/*
 * cron.h: 5-field cron expressions and when they are due, as Vixie cron
 * runs them.
 *
 *   minute hour day-of-month month day-of-week
 *
 * Each field is "*" or a comma list of values and ranges ("a-b"), each with
 * an optional step ("*" "/" n, "a-b/n", "a/n" = a to the field's end);
 * months take JAN-DEC and weekdays SUN-SAT (0 and 7 are both Sunday), case-
 * insensitive. When both day fields are restricted (neither starts with
 * "*"), a day matches when EITHER matches (the classic OR rule). The
 * @yearly @annually @monthly @weekly @daily @midnight @hourly shorthands are
 * accepted.
 *
 * Daylight saving time, as Vixie cron does it: a job whose minute and hour
 * fields are both fixed (neither starts with "*") runs once when its time
 * was skipped by a spring change (at the first minute after the gap) and
 * once, at the first occurrence, when the autumn change repeats its time;
 * a job with a wildcard minute or hour simply follows the wall clock.
 */
#ifndef SLIPWAY_CRON_H
#define SLIPWAY_CRON_H

#include <stdint.h>
#include "error.h"
#include "tz.h"

#define CRON_EXPR_MAX 128

struct cron {
	uint64_t minute;      /* bit n: minute n (0-59) */
	uint32_t hour;        /* 0-23 */
	uint32_t dom;         /* 1-31 */
	uint16_t month;       /* 1-12 */
	uint8_t dow;          /* 0-6, Sunday = 0 */
	int dom_star;         /* day-of-month field started with "*" */
	int dow_star;
	int fixed_time;       /* minute and hour fields both without "*" */
};

/*
 * Parses expr. err: code invalid_schedule, field "schedule", and a message
 * naming the cron field and the 1-based character position, e.g.
 * "minute: 61 is out of range 0-59 (position 1)".
 */
int cron_parse(const char *expr, struct cron *out, struct error *err);
/* 1 when wall-clock time lt (its minute) matches c, ignoring DST rules. */
int cron_matches(const struct cron *c, const struct tz_civil *lt);
/* 1 when a run is due at UTC minute t (a multiple of 60) in zone z. */
int cron_due(const struct cron *c, const struct tz *z, long long t);
/*
 * The first due minute strictly after `after` (UTC seconds), looking at
 * most horizon_s ahead; -1 when none.
 */
long long cron_next(const struct cron *c, const struct tz *z,
    long long after, long long horizon_s);

#endif
