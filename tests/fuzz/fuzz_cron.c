/*
 * fuzz_cron.c: libFuzzer target for the cron parser and cron_next. Beyond
 * "never crashes", it checks that parsed bit sets stay inside their
 * fields, that refusals carry the schedule error with a position, and that
 * what cron_next returns is after the start, within the horizon, on a
 * minute, and due.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

#define START   1774000000LL          /* 2026-03-20, a week before Berlin's DST change */
#define HORIZON (400LL * 86400)

/* Aborts unless cron_next(c, z) returns a sound answer. */
static void
check_next(const struct cron *c, const struct tz *z, long long horizon)
{
	long long n = cron_next(c, z, START, horizon);

	if (n == -1)
		return;
	if (n <= START || n > START + horizon || n % 60 != 0 ||
	    !cron_due(c, z, n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tz *utc, *berlin;
	char in[CRON_EXPR_MAX + 32];
	struct error err;
	struct cron c;

	if (utc == NULL && (utc = tz_load("UTC", &err)) == NULL)
		abort();
	if (berlin == NULL)
		berlin = tz_load("Europe/Berlin", &err);
	/* A little over the cap, so the length check is exercised too. */
	if (size > sizeof(in) - 1)
		size = sizeof(in) - 1;
	memcpy(in, data, size);
	in[size] = '\0';
	memset(&err, 0, sizeof(err));
	if (cron_parse(in, &c, &err) != 0) {
		if (strcmp(err.code, "invalid_schedule") != 0 ||
		    strcmp(err.field, "schedule") != 0 ||
		    strstr(err.msg, "(position ") == NULL)
			abort();
		return 0;
	}
	if (c.minute >> 60 || c.hour >> 24 || (c.dom & 1) ||
	    (c.month & 1) || c.month >> 13 || c.dow >> 7 ||
	    c.minute == 0 || c.hour == 0 || c.dom == 0 || c.month == 0 ||
	    c.dow == 0)
		abort();
	check_next(&c, utc, HORIZON);
	if (berlin != NULL)
		check_next(&c, berlin, 40 * 86400);
	return 0;
}
