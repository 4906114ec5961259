/*
 * test_cron.c: cron expressions, table-driven: what matches, what is
 * refused (with the exact field and position), and Vixie cron's behaviour
 * on the daylight-saving days of Europe/Berlin and America/New_York.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cron.h"

/* UTC Unix time of a civil date-time. */
static long long
utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (long long)timegm(&tm);
}

static struct tz *
zone(const char *name)
{
	struct error err;
	struct tz *z = tz_load(name, &err);

	if (z == NULL)
		fail_msg("%s: %s", name, err.msg);
	return z;
}

static void
parse_ok(const char *expr, struct cron *c)
{
	struct error err;

	if (cron_parse(expr, c, &err) != 0)
		fail_msg("\"%s\": %s", expr, err.msg);
}

struct due_case {
	const char *expr;
	int y, mo, d, h, mi;
	int due;
};

/* 2026-03-02 is a Monday, 03-08 a Sunday, 03-13 a Friday. */
static const struct due_case due_cases[] = {
	{ "* * * * *", 2026, 3, 2, 10, 7, 1 },
	{ "5 * * * *", 2026, 3, 2, 10, 5, 1 },
	{ "5 * * * *", 2026, 3, 2, 10, 6, 0 },
	{ "0,30 9-17 * * MON-FRI", 2026, 3, 2, 9, 30, 1 },
	{ "0,30 9-17 * * MON-FRI", 2026, 3, 2, 17, 30, 1 },
	{ "0,30 9-17 * * MON-FRI", 2026, 3, 2, 18, 0, 0 },
	{ "0,30 9-17 * * MON-FRI", 2026, 3, 2, 9, 15, 0 },
	{ "0,30 9-17 * * MON-FRI", 2026, 3, 7, 9, 30, 0 },
	{ "0,30 9-17 * * mon-fri", 2026, 3, 6, 12, 0, 1 },
	{ "*/15 * * * *", 2026, 3, 2, 10, 45, 1 },
	{ "*/15 * * * *", 2026, 3, 2, 10, 50, 0 },
	{ "10-50/20 * * * *", 2026, 3, 2, 1, 10, 1 },
	{ "10-50/20 * * * *", 2026, 3, 2, 1, 30, 1 },
	{ "10-50/20 * * * *", 2026, 3, 2, 1, 50, 1 },
	{ "10-50/20 * * * *", 2026, 3, 2, 1, 20, 0 },
	{ "10-50/20 * * * *", 2026, 3, 2, 1, 55, 0 },
	{ "5/20 * * * *", 2026, 3, 2, 1, 45, 1 },
	{ "5/20 * * * *", 2026, 3, 2, 1, 0, 0 },
	{ "0 */6 * * *", 2026, 3, 2, 18, 0, 1 },
	{ "0 */6 * * *", 2026, 3, 2, 19, 0, 0 },
	{ "1,2,3-5,59 * * * *", 2026, 3, 2, 1, 4, 1 },
	{ "1,2,3-5,59 * * * *", 2026, 3, 2, 1, 59, 1 },
	{ "1,2,3-5,59 * * * *", 2026, 3, 2, 1, 6, 0 },
	{ "0 0 1 JAN *", 2026, 1, 1, 0, 0, 1 },
	{ "0 0 1 JAN *", 2026, 2, 1, 0, 0, 0 },
	{ "0 12 * jun-AUG *", 2026, 7, 14, 12, 0, 1 },
	{ "0 12 * jun-AUG *", 2026, 9, 14, 12, 0, 0 },
	{ "0 12 * 6-8 *", 2026, 8, 31, 12, 0, 1 },
	{ "0 0 * * 7", 2026, 3, 8, 0, 0, 1 },
	{ "0 0 * * 0", 2026, 3, 8, 0, 0, 1 },
	{ "0 0 * * Sun", 2026, 3, 8, 0, 0, 1 },
	{ "0 0 * * 7", 2026, 3, 9, 0, 0, 0 },
	{ "0 0 * * 5-7", 2026, 3, 8, 0, 0, 1 },
	{ "0 0 * * 5-7", 2026, 3, 6, 0, 0, 1 },
	{ "0 0 * * 5-7", 2026, 3, 5, 0, 0, 0 },
	{ "0 0 * * 1-7", 2026, 3, 8, 0, 0, 1 },
	/* Both day fields restricted: either matches. */
	{ "0 0 13 * MON", 2026, 3, 2, 0, 0, 1 },
	{ "0 0 13 * MON", 2026, 3, 13, 0, 0, 1 },
	{ "0 0 13 * MON", 2026, 3, 14, 0, 0, 0 },
	/* Day-of-month starts with "*": both must match. */
	{ "0 0 */2 * MON", 2026, 3, 9, 0, 0, 1 },
	{ "0 0 */2 * MON", 2026, 3, 2, 0, 0, 0 },
	{ "0 0 */2 * MON", 2026, 3, 7, 0, 0, 0 },
	{ "0 0 13 * *", 2026, 3, 2, 0, 0, 0 },
	{ "0 0 * * MON", 2026, 3, 13, 0, 0, 0 },
	{ "59 23 31 12 *", 2026, 12, 31, 23, 59, 1 },
	{ "0 0 29 2 *", 2028, 2, 29, 0, 0, 1 },
	{ "  0\t0  * * *  ", 2026, 3, 2, 0, 0, 1 },
	{ "@yearly", 2026, 1, 1, 0, 0, 1 },
	{ "@yearly", 2026, 2, 1, 0, 0, 0 },
	{ "@annually", 2027, 1, 1, 0, 0, 1 },
	{ "@monthly", 2026, 2, 1, 0, 0, 1 },
	{ "@monthly", 2026, 2, 2, 0, 0, 0 },
	{ "@weekly", 2026, 3, 8, 0, 0, 1 },
	{ "@weekly", 2026, 3, 9, 0, 0, 0 },
	{ "@daily", 2026, 3, 9, 0, 0, 1 },
	{ "@daily", 2026, 3, 9, 0, 1, 0 },
	{ "@midnight", 2026, 3, 9, 0, 0, 1 },
	{ "@hourly", 2026, 3, 9, 13, 0, 1 },
	{ "@hourly", 2026, 3, 9, 13, 1, 0 },
	{ " @HOURLY ", 2026, 3, 9, 13, 0, 1 },
};

static void
test_due_table(void **state)
{
	struct tz *z = zone("UTC");
	struct cron c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(due_cases) / sizeof(due_cases[0]); i++) {
		const struct due_case *dc = &due_cases[i];
		long long t = utc(dc->y, dc->mo, dc->d, dc->h, dc->mi);

		parse_ok(dc->expr, &c);
		if (cron_due(&c, z, t) != dc->due)
			fail_msg("\"%s\" at %04d-%02d-%02d %02d:%02d: due %d, want %d",
			    dc->expr, dc->y, dc->mo, dc->d, dc->h, dc->mi, !dc->due,
			    dc->due);
	}
	tz_free(z);
}

static void
test_parsed_bits(void **state)
{
	struct cron c;

	(void)state;
	parse_ok("0 0 * * 7", &c);
	assert_int_equal(c.dow, 1);
	parse_ok("0 0 * * 0-7", &c);
	assert_int_equal(c.dow, 0x7f);
	parse_ok("0 0 * * */2", &c);
	assert_int_equal(c.dow, 0x55);
	parse_ok("*/20 1-3 * * *", &c);
	assert_true(c.minute == ((1ULL << 0) | (1ULL << 20) | (1ULL << 40)));
	assert_int_equal(c.hour, 0xe);
	assert_false(c.fixed_time);
	assert_true(c.dom_star && c.dow_star);
	parse_ok("30 2 1 * MON", &c);
	assert_true(c.fixed_time);
	assert_false(c.dom_star || c.dow_star);
	parse_ok("0-59 0-23 * * *", &c);
	assert_true(c.fixed_time);
	parse_ok("@hourly", &c);
	assert_false(c.fixed_time);
	parse_ok("@daily", &c);
	assert_true(c.fixed_time);
}

struct bad_case {
	const char *expr, *msg;
};

static const struct bad_case bad_cases[] = {
	{ "61 * * * *", "minute: 61 is out of range 0-59 (position 1)" },
	{ "* * * *", "day-of-week: field missing" },
	{ "*/0 * * * *", "minute: step 0 is out of range 1-59 (position 3)" },
	{ "5-1 * * * *", "minute: range 5-1 is reversed (position 1)" },
	{ "* * * FOO *", "month: \"FOO\" is not a month name (position 7)" },
	{ "1,,2 * * * *", "minute: empty list item (position 3)" },
	{ "* * * * * *", "schedule: more than 5 fields (position 11)" },
	{ "", "minute: field missing" },
	{ "   ", "minute: field missing" },
	{ "* 24 * * *", "hour: 24 is out of range 0-23 (position 3)" },
	{ "* * 0 * *", "day-of-month: 0 is out of range 1-31 (position 5)" },
	{ "* * 32 * *", "day-of-month: 32 is out of range 1-31 (position 5)" },
	{ "* * * 13 *", "month: 13 is out of range 1-12 (position 7)" },
	{ "* * * 0 *", "month: 0 is out of range 1-12 (position 7)" },
	{ "* * * * 8", "day-of-week: 8 is out of range 0-7 (position 9)" },
	{ "* * * * MON-", "day-of-week: value missing (position 13)" },
	{ "* * * * FRI-MON", "day-of-week: range FRI-MON is reversed (position 9)" },
	{ "* * * * MONDAY", "day-of-week: \"MONDAY\" is not a weekday name (position 9)" },
	{ "* * * JANUARY *", "month: \"JANUARY\" is not a month name (position 7)" },
	{ "* * * * JAN", "day-of-week: \"JAN\" is not a weekday name (position 9)" },
	{ "* * MON * *", "day-of-month: unexpected character 'M' (position 5)" },
	{ "1, * * * *", "minute: empty list item (position 3)" },
	{ ",1 * * * *", "minute: empty list item (position 1)" },
	{ "*/ * * * *", "minute: value missing (position 3)" },
	{ "*/x * * * *", "minute: unexpected character 'x' (position 3)" },
	{ "*-5 * * * *", "minute: unexpected character '-' (position 2)" },
	{ "1-2-3 * * * *", "minute: unexpected character '-' (position 4)" },
	{ "1/2/3 * * * *", "minute: unexpected character '/' (position 4)" },
	{ "a * * * *", "minute: unexpected character 'a' (position 1)" },
	{ "*/60 * * * *", "minute: step 60 is out of range 1-59 (position 3)" },
	{ "0 */24 * * *", "hour: step 24 is out of range 1-23 (position 5)" },
	{ "99999999999999999999 * * * *",
	  "minute: 9999999999999999 is out of range 0-59 (position 1)" },
	{ "* * * * *\n", "day-of-week: unexpected byte 0x0a (position 10)" },
	{ "*,? * * * *", "minute: unexpected character '?' (position 3)" },
	{ "0 0 * * 1,,", "day-of-week: empty list item (position 11)" },
	{ "@reboot", "schedule: unknown shorthand \"@reboot\"" },
	{ "@", "schedule: unknown shorthand \"@\"" },
	{ "@daily x", "schedule: nothing may follow a shorthand (position 8)" },
	{ " 0 0 * * @", "day-of-week: unexpected character '@' (position 10)" },
};

static void
test_invalid(void **state)
{
	char long_expr[CRON_EXPR_MAX + 2];
	struct error err;
	struct cron c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (cron_parse(bad_cases[i].expr, &c, &err) == 0)
			fail_msg("\"%s\": parsed but should fail", bad_cases[i].expr);
		assert_string_equal(err.code, "invalid_schedule");
		assert_string_equal(err.field, "schedule");
		if (strncmp(err.msg, bad_cases[i].msg, strlen(bad_cases[i].msg)) != 0)
			fail_msg("\"%s\": \"%s\", want \"%s\"", bad_cases[i].expr,
			    err.msg, bad_cases[i].msg);
	}
	/* A missing field is reported just past the end. */
	assert_int_equal(cron_parse("* * * *", &c, &err), -1);
	assert_non_null(strstr(err.msg, "(position 8)"));
	assert_int_equal(cron_parse("", &c, &err), -1);
	assert_non_null(strstr(err.msg, "(position 1)"));
	memset(long_expr, ' ', sizeof(long_expr) - 1);
	memcpy(long_expr, "* * * * *", 9);
	long_expr[sizeof(long_expr) - 1] = '\0';
	assert_int_equal(cron_parse(long_expr, &c, &err), -1);
	assert_string_equal(err.msg,
	    "schedule: longer than 128 characters (position 129)");
	long_expr[sizeof(long_expr) - 2] = '\0';
	assert_int_equal(cron_parse(long_expr, &c, &err), 0);
	assert_int_equal(cron_parse(NULL, &c, &err), -1);
}

/*
 * Counts the runs in [from, to) minute by minute, and checks that walking
 * with cron_next finds the same runs. first gets the first run.
 */
static int
count_runs(const char *expr, const struct tz *z, long long from, long long to,
    long long *first)
{
	struct cron c;
	long long t, n;
	int runs = 0, walked = 0;

	parse_ok(expr, &c);
	*first = -1;
	for (t = from; t < to; t += 60) {
		if (!cron_due(&c, z, t))
			continue;
		if (runs++ == 0)
			*first = t;
	}
	for (n = cron_next(&c, z, from - 1, to - from); n != -1 && n < to;
	    n = cron_next(&c, z, n, to - n)) {
		if (!cron_due(&c, z, n))
			fail_msg("\"%s\": cron_next gave %lld, not due", expr, n);
		walked++;
	}
	if (walked != runs)
		fail_msg("\"%s\": cron_next walked %d runs, minutes %d", expr,
		    walked, runs);
	return runs;
}

struct dst_case {
	const char *zone, *expr;
	long long from, to;     /* the local day, in UTC */
	int runs;
	long long first;        /* UTC of the first run, or 0 for "any" */
};

static void
test_dst_days(void **state)
{
	/* Berlin 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00 UTC.
	 * Berlin 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00 UTC.
	 * New York 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00 UTC.
	 * New York 2026-11-01: 02:00 EDT -> 01:00 EST at 06:00 UTC. */
	const long long bs = utc(2026, 3, 28, 23, 0), be = utc(2026, 3, 29, 22, 0);
	const long long as = utc(2026, 10, 24, 22, 0), ae = utc(2026, 10, 25, 23, 0);
	const long long ns = utc(2026, 3, 8, 5, 0), ne = utc(2026, 3, 9, 4, 0);
	const long long ms = utc(2026, 11, 1, 4, 0), me = utc(2026, 11, 2, 5, 0);
	const struct dst_case cases[] = {
		{ "Europe/Berlin", "30 2 * * *", bs, be, 1, utc(2026, 3, 29, 1, 0) },
		{ "Europe/Berlin", "0 2 * * *", bs, be, 1, utc(2026, 3, 29, 1, 0) },
		{ "Europe/Berlin", "0,30 2 * * *", bs, be, 1, utc(2026, 3, 29, 1, 0) },
		{ "Europe/Berlin", "30 3 * * *", bs, be, 1, utc(2026, 3, 29, 1, 30) },
		{ "Europe/Berlin", "59 1 * * *", bs, be, 1, utc(2026, 3, 29, 0, 59) },
		{ "Europe/Berlin", "*/15 * * * *", bs, be, 92, bs },
		{ "Europe/Berlin", "0 * * * *", bs, be, 23, bs },
		{ "Europe/Berlin", "30 * * * *", bs, be, 23, bs + 1800 },
		{ "Europe/Berlin", "30 2 * * *", as, ae, 1, utc(2026, 10, 25, 0, 30) },
		{ "Europe/Berlin", "0 2 * * *", as, ae, 1, utc(2026, 10, 25, 0, 0) },
		{ "Europe/Berlin", "59 2 * * *", as, ae, 1, utc(2026, 10, 25, 0, 59) },
		{ "Europe/Berlin", "0 3 * * *", as, ae, 1, utc(2026, 10, 25, 2, 0) },
		{ "Europe/Berlin", "*/15 * * * *", as, ae, 100, as },
		{ "Europe/Berlin", "0 * * * *", as, ae, 25, as },
		{ "Europe/Berlin", "* 2 * * *", as, ae, 120, utc(2026, 10, 25, 0, 0) },
		{ "America/New_York", "30 2 * * *", ns, ne, 1, utc(2026, 3, 8, 7, 0) },
		{ "America/New_York", "*/15 * * * *", ns, ne, 92, ns },
		{ "America/New_York", "0 * * * *", ns, ne, 23, ns },
		{ "America/New_York", "30 2 * * *", ms, me, 1, utc(2026, 11, 1, 7, 30) },
		{ "America/New_York", "30 1 * * *", ms, me, 1, utc(2026, 11, 1, 5, 30) },
		{ "America/New_York", "*/15 * * * *", ms, me, 100, ms },
		{ "America/New_York", "0 * * * *", ms, me, 25, ms },
		/* Lord Howe moves by half an hour: 02:00 -> 02:30 on 2026-10-04
		 * (15:30 UTC the day before), 02:00 -> 01:30 on 2026-04-05. */
		{ "Australia/Lord_Howe", "15 2 * * *", utc(2026, 10, 3, 13, 30),
		  utc(2026, 10, 4, 13, 0), 1, utc(2026, 10, 3, 15, 30) },
		{ "Australia/Lord_Howe", "45 1 * * *", utc(2026, 4, 4, 13, 0),
		  utc(2026, 4, 5, 13, 30), 1, utc(2026, 4, 4, 14, 45) },
		{ "Australia/Lord_Howe", "*/15 * * * *", utc(2026, 4, 4, 13, 0),
		  utc(2026, 4, 5, 13, 30), 98, 0 },
	};
	long long first;
	struct tz *z;
	size_t i;
	int runs;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		z = zone(cases[i].zone);
		runs = count_runs(cases[i].expr, z, cases[i].from, cases[i].to,
		    &first);
		if (runs != cases[i].runs ||
		    (cases[i].first != 0 && first != cases[i].first))
			fail_msg("%s \"%s\": %d runs first %lld, want %d first %lld",
			    cases[i].zone, cases[i].expr, runs, first, cases[i].runs,
			    cases[i].first);
		tz_free(z);
	}
}

static void
test_next(void **state)
{
	struct tz *utcz = zone("UTC"), *berlin = zone("Europe/Berlin");
	const long long day = 86400, year = 366 * day;
	struct cron c;

	(void)state;
	parse_ok("0 0 29 2 *", &c);
	assert_true(cron_next(&c, utcz, utc(2026, 1, 1, 0, 0), 5 * year) ==
	    utc(2028, 2, 29, 0, 0));
	assert_true(cron_next(&c, berlin, utc(2026, 1, 1, 0, 0), 5 * year) ==
	    utc(2028, 2, 28, 23, 0));
	assert_true(cron_next(&c, utcz, utc(2026, 1, 1, 0, 0), year) == -1);
	parse_ok("0 0 30 2 *", &c);
	assert_true(cron_next(&c, berlin, utc(2026, 1, 1, 0, 0), 10 * year) == -1);
	parse_ok("30 2 * * *", &c);
	assert_true(cron_next(&c, berlin, utc(2026, 3, 28, 12, 0), 7 * day) ==
	    utc(2026, 3, 29, 1, 0));
	/* Strictly after: a due minute itself is not returned. */
	parse_ok("* * * * *", &c);
	assert_true(cron_next(&c, utcz, 120, day) == 180);
	assert_true(cron_next(&c, utcz, 121, day) == 180);
	assert_true(cron_next(&c, utcz, -121, day) == -120);
	assert_true(cron_next(&c, utcz, 120, 59) == -1);
	assert_true(cron_next(&c, utcz, 120, -1) == -1);
	assert_true(cron_next(&c, utcz, 0x7fffffffffffffffLL, day) == -1);
	tz_free(utcz);
	tz_free(berlin);
}

/* cron_next's jumps against a minute-by-minute search, around a year. */
static void
test_next_vs_brute_force(void **state)
{
	static const char *const exprs[] = {
		"30 2 * * *", "0 0 13 * FRI", "15 */5 * * 1-5", "0 0 */3 * *",
		"45 1 * * SUN", "0 12 1 * *", "*/7 3 * * *", "59 23 * * SAT",
	};
	static const char *const zones[] = {
		"Europe/Berlin", "Australia/Lord_Howe", "America/New_York",
	};
	const long long horizon = 35 * 86400;
	long long after, t, want, got;
	struct cron c;
	struct tz *z;
	size_t i, j;

	(void)state;
	for (j = 0; j < 3; j++) {
		z = zone(zones[j]);
		for (i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
			parse_ok(exprs[i], &c);
			for (after = utc(2026, 1, 1, 0, 0) + 97; after <
			    utc(2027, 1, 1, 0, 0); after += 13 * 86400 + 3671) {
				want = -1;
				for (t = (after / 60 + 1) * 60; t <= after + horizon;
				    t += 60)
					if (cron_due(&c, z, t)) {
						want = t;
						break;
					}
				got = cron_next(&c, z, after, horizon);
				if (got != want)
					fail_msg("%s \"%s\" after %lld: %lld, want %lld",
					    zones[j], exprs[i], after, got, want);
			}
		}
		tz_free(z);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due_table),
		cmocka_unit_test(test_parsed_bits),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_dst_days),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_next_vs_brute_force),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
