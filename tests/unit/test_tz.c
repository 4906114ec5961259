/*
 * test_tz.c: the TZif reader and POSIX rule evaluator, with glibc's
 * localtime_r as the oracle (this test is single-threaded, so setting TZ
 * is fine here), plus hand-built TZif buffers for the edge cases and
 * truncated or corrupted buffers that must be refused cleanly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tz.h"

#define T_1901   (-2147483648LL)
#define T_2100   4102444800LL
#define SWEEP_S  (7 * 3600 + 17)

static const char *const oracle_zones[] = {
	"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata",
	"Australia/Lord_Howe", "America/Sao_Paulo", "Pacific/Apia",
	"Asia/Tehran",
};

/*
 * Footer rules glibc evaluates itself when TZ holds them. Not here:
 * "EST5EDT,0/0,J365/25" (daylight time all year), where glibc, working from
 * the UTC year, shows standard time for the hours between New Year in UTC
 * and New Year locally (likewise for a start on J1 east of Greenwich);
 * test_footer_by_hand checks them.
 */
static const char *const oracle_rules[] = {
	"CET-1CEST,M3.5.0,M10.5.0/3",
	"EST5EDT,M3.2.0,M11.1.0",
	"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
	"<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
	"IST-1GMT0,M10.5.0,M3.5.0/1",
	"<+0330>-3:30",
	"<-0330>3:30<-0230>,J60/26,J300/-2",
	"ABC-5DEF,100/3,250/167",
	"ABC-5DEF-6:30:15,J2/0:00:01,J364/23:59:59",
	"<+13>-13<+14>,M9.5.0/3,M4.1.0/4",
	"AAA+4BBB+3,M1.2.1/-20,M12.1.6/100",
};

/* Sets TZ for the oracle. */
static void
oracle_set(const char *tzval)
{
	assert_int_equal(setenv("TZ", tzval, 1), 0);
	tzset();
}

/* Compares tz_local with localtime_r at t; returns 0 when they agree. */
static int
oracle_check(const struct tz *z, const char *what, long long t)
{
	struct tz_civil c;
	struct tm tm;
	time_t tt = (time_t)t;

	assert_non_null(localtime_r(&tt, &tm));
	tz_local(z, t, &c);
	if (c.year == tm.tm_year + 1900 && c.month == tm.tm_mon + 1 &&
	    c.day == tm.tm_mday && c.hour == tm.tm_hour &&
	    c.minute == tm.tm_min && c.second == tm.tm_sec &&
	    c.wday == tm.tm_wday && c.utoff_s == tm.tm_gmtoff &&
	    c.isdst == (tm.tm_isdst > 0))
		return 0;
	print_error("%s at %lld: got %04d-%02d-%02d %02d:%02d:%02d wday %d "
	    "off %d dst %d, glibc %04d-%02d-%02d %02d:%02d:%02d wday %d off %ld "
	    "dst %d\n", what, t, c.year, c.month, c.day, c.hour, c.minute,
	    c.second, c.wday, c.utoff_s, c.isdst, tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    tm.tm_wday, tm.tm_gmtoff, tm.tm_isdst);
	return -1;
}

/* glibc's (offset, isdst) at t, as one number for change detection. */
static long
oracle_state(long long t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	assert_non_null(localtime_r(&tt, &tm));
	return tm.tm_gmtoff * 2 + (tm.tm_isdst > 0);
}

/* The first second in (lo, hi] where glibc's state differs from lo's. */
static long long
oracle_transition(long long lo, long long hi)
{
	long s = oracle_state(lo);
	long long mid;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (oracle_state(mid) == s)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/*
 * Sweeps [from, to] every SWEEP_S seconds, and checks each transition the
 * sweep crosses at -1, 0 and +1 second. Returns the transitions seen.
 */
static int
oracle_sweep(const struct tz *z, const char *what, long long from,
    long long to, int *bad)
{
	long long t, x;
	long prev = 0;
	int transitions = 0, d;

	for (t = from; t <= to; t += SWEEP_S) {
		*bad += oracle_check(z, what, t) != 0;
		if (t != from && oracle_state(t) != prev) {
			x = oracle_transition(t - SWEEP_S, t);
			for (d = -1; d <= 1; d++)
				*bad += oracle_check(z, what, x + d) != 0;
			transitions++;
		}
		prev = oracle_state(t);
		if (*bad > 10)
			fail_msg("%s: too many mismatches", what);
	}
	return transitions;
}

static void
test_zones_vs_glibc(void **state)
{
	struct error err;
	struct tz *z;
	size_t i;
	int bad = 0, n;

	(void)state;
	for (i = 0; i < sizeof(oracle_zones) / sizeof(oracle_zones[0]); i++) {
		oracle_set(oracle_zones[i]);
		z = tz_load(oracle_zones[i], &err);
		if (z == NULL)
			fail_msg("%s: %s", oracle_zones[i], err.msg);
		assert_string_equal(tz_name(z), oracle_zones[i]);
		n = oracle_sweep(z, oracle_zones[i], T_1901, T_2100, &bad);
		/* Before the first transition: the zone's first standard type. */
		bad += oracle_check(z, oracle_zones[i], -5000000000LL) != 0;
		bad += oracle_check(z, oracle_zones[i], -30000000000LL) != 0;
		if (strcmp(oracle_zones[i], "Europe/Berlin") == 0)
			assert_true(n > 200);
		tz_free(z);
	}
	assert_int_equal(bad, 0);
	unsetenv("TZ");
}

/* --- hand-built TZif buffers ------------------------------------------------ */

struct tt {
	int32_t utoff;
	uint8_t isdst;
};

struct tzif {
	uint8_t buf[8192];
	size_t  len;
};

static void
put32(struct tzif *f, uint32_t v)
{
	f->buf[f->len++] = (uint8_t)(v >> 24);
	f->buf[f->len++] = (uint8_t)(v >> 16);
	f->buf[f->len++] = (uint8_t)(v >> 8);
	f->buf[f->len++] = (uint8_t)v;
}

static void
put_hdr(struct tzif *f, uint8_t version, uint32_t nt, uint32_t ntypes,
    uint32_t nchars)
{
	memcpy(f->buf + f->len, "TZif", 4);
	f->buf[f->len + 4] = version;
	memset(f->buf + f->len + 5, 0, 15);
	f->len += 20;
	put32(f, 0);            /* isutcnt */
	put32(f, 0);            /* isstdcnt */
	put32(f, 0);            /* leapcnt */
	put32(f, nt);
	put32(f, ntypes);
	put32(f, nchars);
}

/* One data block; times are 4 or 8 bytes. */
static void
put_block(struct tzif *f, int timesize, const int64_t *trans,
    const uint8_t *idx, uint32_t nt, const struct tt *types, uint32_t ntypes)
{
	uint32_t i;

	for (i = 0; i < nt; i++) {
		if (timesize == 8)
			put32(f, (uint32_t)((uint64_t)trans[i] >> 32));
		put32(f, (uint32_t)trans[i]);
	}
	for (i = 0; i < nt; i++)
		f->buf[f->len++] = idx[i];
	for (i = 0; i < ntypes; i++) {
		put32(f, (uint32_t)types[i].utoff);
		f->buf[f->len++] = types[i].isdst;
		f->buf[f->len++] = 0;
	}
	memcpy(f->buf + f->len, "ABC", 4);
	f->len += 4;
}

/* A version 2 file: an empty version 1 block, the real block, the footer. */
static void
build_v2(struct tzif *f, const int64_t *trans, const uint8_t *idx, uint32_t nt,
    const struct tt *types, uint32_t ntypes, const char *footer)
{
	static const struct tt utc = { 0, 0 };

	f->len = 0;
	put_hdr(f, '2', 0, 1, 4);
	put_block(f, 4, NULL, NULL, 0, &utc, 1);
	put_hdr(f, '2', nt, ntypes, 4);
	put_block(f, 8, trans, idx, nt, types, ntypes);
	f->len += (size_t)snprintf((char *)f->buf + f->len,
	    sizeof(f->buf) - f->len, "\n%s\n", footer);
}

static struct tz *
parse_ok(const struct tzif *f)
{
	struct error err;
	struct tz *z = tz_parse(f->buf, f->len, &err);

	if (z == NULL)
		fail_msg("parse failed: %s", err.msg);
	assert_string_equal(tz_name(z), "");
	return z;
}

static void
parse_bad(const struct tzif *f, const char *what)
{
	struct error err;
	struct tz *z;

	memset(&err, 0, sizeof(err));
	z = tz_parse(f->buf, f->len, &err);
	if (z != NULL)
		fail_msg("%s: accepted", what);
	assert_string_equal(err.code, "invalid_timezone");
	assert_true(err.msg[0] != '\0');
}

static void
test_footer_rules_vs_glibc(void **state)
{
	static const struct tt std = { 0, 0 };
	struct tzif f;
	struct tz *z;
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof(oracle_rules) / sizeof(oracle_rules[0]); i++) {
		build_v2(&f, NULL, NULL, 0, &std, 1, oracle_rules[i]);
		z = parse_ok(&f);
		oracle_set(oracle_rules[i]);
		oracle_sweep(z, oracle_rules[i], 0, T_2100, &bad);
		tz_free(z);
	}
	assert_int_equal(bad, 0);
	unsetenv("TZ");
}

/* Expects wall time y-m-d h:mi and the offset at t. */
static void
expect_local(const struct tz *z, long long t, int y, int m, int d, int h,
    int mi, int off, int isdst)
{
	struct tz_civil c;

	tz_local(z, t, &c);
	if (c.year != y || c.month != m || c.day != d || c.hour != h ||
	    c.minute != mi || c.utoff_s != off || c.isdst != isdst)
		fail_msg("at %lld: %04d-%02d-%02d %02d:%02d off %d dst %d", t,
		    c.year, c.month, c.day, c.hour, c.minute, c.utoff_s, c.isdst);
}

static void
test_footer_by_hand(void **state)
{
	static const struct tt std = { 0, 0 };
	struct tzif f;
	struct tz *z;

	(void)state;
	/* A rule time of -1:00 on the last Sunday of March 2026 (the 29th)
	 * means Saturday 23:00 standard time = 2026-03-29 01:00 UTC. */
	build_v2(&f, NULL, NULL, 0, &std, 1, "<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
	z = parse_ok(&f);
	expect_local(z, 1774745999LL, 2026, 3, 28, 22, 59, -7200, 0);
	expect_local(z, 1774746000LL, 2026, 3, 29, 0, 0, -3600, 1);
	tz_free(z);
	/* Daylight time all year, also across New Year. */
	build_v2(&f, NULL, NULL, 0, &std, 1, "EST5EDT,0/0,J365/25");
	z = parse_ok(&f);
	expect_local(z, 1798761600LL, 2026, 12, 31, 20, 0, -14400, 1);
	expect_local(z, 1798761600LL + 5 * 3600, 2027, 1, 1, 1, 0, -14400, 1);
	tz_free(z);
	/* The rule reaches into the next year: start at day 365 + 48h. */
	build_v2(&f, NULL, NULL, 0, &std, 1, "AAA0BBB,365/48,J31");
	z = parse_ok(&f);
	expect_local(z, 1798761600LL + 47 * 3600, 2027, 1, 2, 23, 0, 0, 0);
	expect_local(z, 1798761600LL + 48 * 3600, 2027, 1, 3, 1, 0, 3600, 1);
	tz_free(z);
	/* <+0330> with a signed offset, no daylight time. */
	build_v2(&f, NULL, NULL, 0, &std, 1, "<+0330>-03:30");
	z = parse_ok(&f);
	expect_local(z, 0, 1970, 1, 1, 3, 30, 12600, 0);
	tz_free(z);
}

static void
test_transitions_then_footer(void **state)
{
	static const struct tt types[] = { { 3600, 1 }, { 1800, 0 }, { 7200, 0 } };
	static const int64_t trans[] = { -100000, 0, 1000000 };
	static const uint8_t idx[] = { 1, 2, 1 };
	struct tzif f;
	struct tz *z;

	(void)state;
	build_v2(&f, trans, idx, 3, types, 3, "AAA-1");
	z = parse_ok(&f);
	/* Before the first transition: the first standard type (1), not 0. */
	expect_local(z, -100001, 1969, 12, 30, 20, 43, 1800, 0);
	expect_local(z, -1, 1970, 1, 1, 0, 29, 1800, 0);
	expect_local(z, 0, 1970, 1, 1, 2, 0, 7200, 0);
	expect_local(z, 999999, 1970, 1, 12, 15, 46, 7200, 0);
	/* At and after the last transition the footer rules. */
	expect_local(z, 1000000, 1970, 1, 12, 14, 46, 3600, 0);
	tz_free(z);
	/* An empty footer: the last transition's type stays. */
	build_v2(&f, trans, idx, 3, types, 3, "");
	z = parse_ok(&f);
	expect_local(z, 2000000000LL, 2033, 5, 18, 4, 3, 1800, 0);
	tz_free(z);
}

static void
test_version1(void **state)
{
	static const struct tt types[] = { { -18000, 0 }, { -14400, 1 } };
	static const int64_t trans[] = { 100, 200 };
	static const uint8_t idx[] = { 1, 0 };
	struct tzif f;
	struct tz *z;

	(void)state;
	f.len = 0;
	put_hdr(&f, 0, 2, 2, 4);
	put_block(&f, 4, trans, idx, 2, types, 2);
	z = parse_ok(&f);
	expect_local(z, 99, 1969, 12, 31, 19, 1, -18000, 0);
	expect_local(z, 150, 1969, 12, 31, 20, 2, -14400, 1);
	expect_local(z, 5000000000LL, 2128, 6, 11, 3, 53, -18000, 0);
	tz_free(z);
	f.buf[f.len++] = '\n';
	parse_bad(&f, "v1 with trailing bytes");
}

/* Every proper prefix of a real zone file must be refused. */
static void
test_truncated_files(void **state)
{
	static const char *const files[] = {
		"/usr/share/zoneinfo/Europe/Berlin",
		"/usr/share/zoneinfo/America/New_York",
	};
	static struct tzif f;
	struct error err;
	struct tz *z;
	size_t i, n;
	FILE *fp;

	(void)state;
	for (i = 0; i < 2; i++) {
		fp = fopen(files[i], "rb");
		assert_non_null(fp);
		f.len = fread(f.buf, 1, sizeof(f.buf), fp);
		fclose(fp);
		assert_true(f.len > 1000 && f.len < sizeof(f.buf));
		z = tz_parse(f.buf, f.len, &err);
		assert_non_null(z);
		tz_free(z);
		for (n = 0; n < f.len; n++) {
			z = tz_parse(f.buf, n, &err);
			if (z != NULL)
				fail_msg("%s: prefix of %zu bytes accepted", files[i], n);
			assert_string_equal(err.code, "invalid_timezone");
		}
	}
}

/* Sets the 4-byte count k (0 = isut .. 5 = chars) of the header at off. */
static void
set_count(struct tzif *f, size_t off, int k, uint32_t v)
{
	size_t p = off + 20 + (size_t)k * 4;

	f->buf[p] = (uint8_t)(v >> 24);
	f->buf[p + 1] = (uint8_t)(v >> 16);
	f->buf[p + 2] = (uint8_t)(v >> 8);
	f->buf[p + 3] = (uint8_t)v;
}

static void
test_corrupt_buffers(void **state)
{
	static const struct tt types[] = { { 3600, 0 }, { 7200, 1 } };
	static const int64_t trans[] = { 0, 1000 };
	static const uint8_t idx[] = { 0, 1 };
	static const int64_t desc[] = { 1000, 0 };
	static const uint8_t bad_idx[] = { 0, 2 };
	static const struct tt bad_dst[] = { { 3600, 0 }, { 7200, 2 } };
	static const struct tt bad_off[] = { { 3600, 0 }, { 100 * 3600, 0 } };
	static const char *const bad_footers[] = {
		"junk", "CET", "CET-1CEST,M3.5.0", "CET-1CEST,M13.5.0,M10.5.0",
		"CET-1CEST,M3.6.0,M10.5.0", "CET-1CEST,M3.5.7,M10.5.0",
		"CET-1CEST,J0,J100", "CET-1CEST,366,J100", "CET-25",
		"CET-1CEST,M3.5.0/168,M10.5.0", "<+3>-3", "<+03-3", "CE-1",
		"CET-1CEST,M3.5.0,M10.5.0x", "CET-1:60", "CET-1CEST,M3.5.0,,",
	};
	const size_t v2hdr = 44 + 6 + 4;   /* after the empty v1 block */
	struct tzif f;
	size_t i;

	(void)state;
	build_v2(&f, trans, idx, 2, types, 2, "CET-1CEST,M3.5.0,M10.5.0/3");
	tz_free(parse_ok(&f));
	f.buf[0] = 'X';
	parse_bad(&f, "magic");
	build_v2(&f, trans, idx, 2, types, 2, "CET-1");
	f.buf[4] = '5';
	parse_bad(&f, "version 5");
	build_v2(&f, trans, idx, 2, types, 2, "CET-1");
	f.buf[v2hdr + 4] = '3';
	parse_bad(&f, "versions disagree");
	build_v2(&f, desc, idx, 2, types, 2, "CET-1");
	parse_bad(&f, "descending transitions");
	build_v2(&f, trans, bad_idx, 2, types, 2, "CET-1");
	parse_bad(&f, "type index out of range");
	build_v2(&f, trans, idx, 2, bad_dst, 2, "CET-1");
	parse_bad(&f, "isdst 2");
	build_v2(&f, trans, idx, 2, bad_off, 2, "CET-1");
	parse_bad(&f, "offset 100h");
	for (i = 0; i < 6; i++) {
		build_v2(&f, trans, idx, 2, types, 2, "CET-1");
		set_count(&f, v2hdr, (int)i, 0xffffffffu);
		parse_bad(&f, "huge count");
		build_v2(&f, trans, idx, 2, types, 2, "CET-1");
		set_count(&f, 0, (int)i, 0xffffffffu);
		parse_bad(&f, "huge v1 count");
	}
	build_v2(&f, trans, idx, 2, types, 2, "CET-1");
	set_count(&f, v2hdr, 4, 0);
	parse_bad(&f, "no types");
	build_v2(&f, trans, idx, 2, types, 2, "CET-1");
	f.buf[f.len - 1] = 'x';
	parse_bad(&f, "footer without final newline");
	build_v2(&f, trans, idx, 2, types, 2, "CET-1");
	f.buf[f.len++] = 'x';
	parse_bad(&f, "bytes after the footer");
	build_v2(&f, trans, idx, 2, types, 2, "CET-1");
	f.buf[f.len - 3] = '\0';
	parse_bad(&f, "NUL in footer");
	for (i = 0; i < sizeof(bad_footers) / sizeof(bad_footers[0]); i++) {
		build_v2(&f, trans, idx, 2, types, 2, bad_footers[i]);
		parse_bad(&f, bad_footers[i]);
	}
	assert_null(tz_parse(NULL, 0, NULL));
	assert_null(tz_parse(f.buf, TZ_FILE_MAX + 1, NULL));
}

static void
test_load_names(void **state)
{
	static const char *const bad[] = {
		"", "/etc/passwd", "../etc/passwd", "Europe/../Berlin",
		"Europe//Berlin", "Europe/", "Europe/Berlin\n", "Europe/Ber lin",
		"Europe/Berlin.tz", "No/Such_Zone",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct error err;
	struct tz_civil c;
	struct tz *z;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		if ((z = tz_load(bad[i], &err)) != NULL)
			fail_msg("\"%s\" loaded", bad[i]);
		assert_string_equal(err.code, "invalid_timezone");
	}
	assert_null(tz_load(NULL, &err));
	/* A directory is not a zone. */
	assert_null(tz_load("Europe", &err));
	z = tz_load("Etc/GMT+5", &err);
	assert_non_null(z);
	tz_local(z, 0, &c);
	assert_int_equal(c.utoff_s, -5 * 3600);
	tz_free(z);
	/* Without any zone files, UTC still works. */
	assert_int_equal(setenv("TZDIR", "/nonexistent-zoneinfo", 1), 0);
	assert_null(tz_load("Europe/Berlin", &err));
	assert_string_equal(err.code, "invalid_timezone");
	z = tz_load("UTC", &err);
	assert_non_null(z);
	assert_string_equal(tz_name(z), "UTC");
	tz_local(z, 1798761600LL, &c);
	assert_int_equal(c.year, 2027);
	assert_int_equal(c.utoff_s, 0);
	tz_free(z);
	unsetenv("TZDIR");
}

/* The civil arithmetic against gmtime_r far outside 1970-2100. */
static void
test_civil_vs_gmtime(void **state)
{
	struct error err;
	struct tz *z = tz_load("UTC", &err);
	long long t;
	int bad = 0;

	(void)state;
	assert_non_null(z);
	oracle_set("UTC");
	for (t = -62167219200LL * 2; t < 62167219200LL * 3; t += 86400LL * 97 + 3607)
		bad += oracle_check(z, "UTC", t) != 0;
	assert_int_equal(bad, 0);
	tz_free(z);
	unsetenv("TZ");
}

static void
test_extreme_instants(void **state)
{
	static const long long ts[] = { LLONG_MIN, LLONG_MIN + 1, -(1LL << 60),
		(1LL << 60), LLONG_MAX - 1, LLONG_MAX };
	struct error err;
	struct tz_civil c;
	struct tz *z = tz_load("Europe/Berlin", &err);
	size_t i;

	(void)state;
	assert_non_null(z);
	for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		tz_local(z, ts[i], &c);
		assert_in_range(c.month, 1, 12);
		assert_in_range(c.day, 1, 31);
		assert_in_range(c.hour, 0, 23);
		assert_in_range(c.wday, 0, 6);
	}
	tz_free(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zones_vs_glibc),
		cmocka_unit_test(test_footer_rules_vs_glibc),
		cmocka_unit_test(test_footer_by_hand),
		cmocka_unit_test(test_transitions_then_footer),
		cmocka_unit_test(test_version1),
		cmocka_unit_test(test_truncated_files),
		cmocka_unit_test(test_corrupt_buffers),
		cmocka_unit_test(test_load_names),
		cmocka_unit_test(test_civil_vs_gmtime),
		cmocka_unit_test(test_extreme_instants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
