/*
 * tz.c: TZif zones (RFC 8536) and the POSIX TZ rule in their footer, read
 * into an immutable struct so that conversions need no process-wide state.
 *
 * Everything in a TZif file is untrusted (zones may come from a container
 * image or a fuzzer): every count is checked against the bytes present, the
 * whole buffer must be consumed, and unknown versions are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tz.h"

#define TZ_ERR          "invalid_timezone"
#define TZ_FIELD        "timezone"
#define TZ_HDR_LEN      44
#define TZ_TYPES_MAX    256            /* a transition names its type in one byte */
#define TZ_UTOFF_MAX    (26 * 3600)    /* RFC 8536 §3.2 allows -24:59:59..25:59:59 */
#define TZ_FOOTER_MAX   255
#define TZ_OFFSET_HOURS 24             /* POSIX: an offset's hours are 0-24 */
#define TZ_TIME_HOURS   167            /* RFC 8536 §3.3.1: a rule time's hours */
#define TZ_T_LIMIT      (1LL << 55)    /* keeps every year within an int */
#define TZ_DEFAULT_DIR  "/usr/share/zoneinfo"

/* One local time type: offset from UTC and whether it is daylight time. */
struct tz_type {
	int32_t utoff;
	int     isdst;
};

enum tz_date_kind {
	TZ_DATE_JULIAN1,        /* Jn: 1-365, February 29 never counted */
	TZ_DATE_JULIAN0,        /* n: 0-365, February 29 counted */
	TZ_DATE_MONTH,          /* Mm.w.d: weekday d of week w (5 = last) of month m */
};

/* One end of daylight time in a POSIX rule. */
struct tz_date {
	enum tz_date_kind kind;
	int  n, month, week, wday;
	long time;              /* seconds after local midnight, may be <0 or >24h */
};

/* A POSIX TZ rule: "std offset [dst [offset] [,start[/time],end[/time]]]". */
struct tz_rule {
	int32_t std_utoff, dst_utoff;
	int     has_dst;
	struct tz_date start, end;
};

struct tz {
	char           name[TZ_NAME_MAX];
	struct tz_type types[TZ_TYPES_MAX];
	size_t         ntypes;
	size_t         first_std;   /* the type used before the first transition */
	int            has_rule;
	struct tz_rule rule;
	size_t         ntrans;
	unsigned char *idx;         /* ntrans type indexes, stored after trans */
	int64_t        trans[];     /* ntrans transition instants, ascending */
};

/* The six counts of a TZif header, in file order. */
struct tz_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

struct tz_hdr {
	int              version;
	struct tz_counts n;
};

static long long
tz_floor_div(long long a, long long b)
{
	long long q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long long
tz_days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of tz_days_from_civil. */
static void
tz_civil_from_days(long long days, long long *y, int *m, int *d)
{
	long long era, doe, yoe, doy, mp;

	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
tz_is_leap(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
tz_month_days(long long y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return days[m - 1] + (m == 2 && tz_is_leap(y));
}

/* --- the POSIX TZ rule of the footer --------------------------------------- */

/* Reads 1 to maxdigits decimal digits as a number in [0, max]. */
static int
tz_rule_num(const char **sp, int maxdigits, int max, int *out)
{
	const char *s = *sp;
	int n = 0, i;

	for (i = 0; i < maxdigits && s[i] >= '0' && s[i] <= '9'; i++)
		n = n * 10 + (s[i] - '0');
	if (i == 0 || n > max)
		return -1;
	*out = n;
	*sp = s + i;
	return 0;
}

/* A zone abbreviation: three or more letters, or "<" [A-Za-z0-9+-]{3,} ">". */
static int
tz_rule_name(const char **sp)
{
	const char *s = *sp, *start;

	if (*s == '<') {
		start = ++s;
		while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '+' || *s == '-')
			s++;
		if (*s != '>' || s - start < 3)
			return -1;
		*sp = s + 1;
		return 0;
	}
	start = s;
	while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
		s++;
	if (s - start < 3)
		return -1;
	*sp = s;
	return 0;
}

/* "[+-]hh[:mm[:ss]]" with hours up to hmax, as signed seconds. */
static int
tz_rule_hms(const char **sp, int hmax, long *out)
{
	const char *s = *sp;
	int sign = 1, h, m = 0, sec = 0;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (tz_rule_num(&s, 3, hmax, &h) != 0)
		return -1;
	if (*s == ':') {
		s++;
		if (tz_rule_num(&s, 2, 59, &m) != 0)
			return -1;
		if (*s == ':') {
			s++;
			if (tz_rule_num(&s, 2, 59, &sec) != 0)
				return -1;
		}
	}
	*out = sign * ((long)h * 3600 + m * 60 + sec);
	*sp = s;
	return 0;
}

/* "Jn", "n" or "Mm.w.d", then an optional "/time" (default 02:00). */
static int
tz_rule_date(const char **sp, struct tz_date *d)
{
	const char *s = *sp;

	memset(d, 0, sizeof(*d));
	if (*s == 'J') {
		s++;
		d->kind = TZ_DATE_JULIAN1;
		if (tz_rule_num(&s, 3, 365, &d->n) != 0 || d->n < 1)
			return -1;
	} else if (*s == 'M') {
		s++;
		d->kind = TZ_DATE_MONTH;
		if (tz_rule_num(&s, 2, 12, &d->month) != 0 || d->month < 1 ||
		    *s++ != '.' || tz_rule_num(&s, 1, 5, &d->week) != 0 ||
		    d->week < 1 || *s++ != '.' || tz_rule_num(&s, 1, 6, &d->wday) != 0)
			return -1;
	} else {
		d->kind = TZ_DATE_JULIAN0;
		if (tz_rule_num(&s, 3, 365, &d->n) != 0)
			return -1;
	}
	d->time = 2 * 3600;
	if (*s == '/') {
		s++;
		if (tz_rule_hms(&s, TZ_TIME_HOURS, &d->time) != 0)
			return -1;
	}
	*sp = s;
	return 0;
}

/* The daylight part after the dst name: "[offset][,start[/time],end[/time]]". */
static int
tz_rule_dst(const char *s, struct tz_rule *r)
{
	long off;

	r->has_dst = 1;
	r->dst_utoff = r->std_utoff + 3600;
	if (*s != ',' && *s != '\0') {
		if (tz_rule_hms(&s, TZ_OFFSET_HOURS, &off) != 0)
			return -1;
		r->dst_utoff = (int32_t)-off;
	}
	if (*s == '\0') {
		/* No dates: POSIX leaves them to the implementation; glibc
		 * and tzcode use the US rules. */
		s = ",M3.2.0,M11.1.0";
	}
	if (*s++ != ',' || tz_rule_date(&s, &r->start) != 0 || *s++ != ',' ||
	    tz_rule_date(&s, &r->end) != 0)
		return -1;
	return *s == '\0' ? 0 : -1;
}

/* Parses a whole POSIX TZ rule string. */
static int
tz_rule_parse(const char *s, struct tz_rule *r)
{
	long off;

	memset(r, 0, sizeof(*r));
	if (tz_rule_name(&s) != 0 || tz_rule_hms(&s, TZ_OFFSET_HOURS, &off) != 0)
		return -1;
	/* POSIX offsets count west of Greenwich: "CET-1" is UTC+1. */
	r->std_utoff = (int32_t)-off;
	r->dst_utoff = r->std_utoff;
	if (*s == '\0')
		return 0;
	if (tz_rule_name(&s) != 0)
		return -1;
	return tz_rule_dst(s, r);
}

/* The day (since the epoch) that a rule date names in year y. */
static long long
tz_date_day(const struct tz_date *d, long long y)
{
	long long jan1 = tz_days_from_civil(y, 1, 1), first;
	int wday, day;

	switch (d->kind) {
	case TZ_DATE_JULIAN1:
		return jan1 + d->n - 1 + (tz_is_leap(y) && d->n >= 60);
	case TZ_DATE_JULIAN0:
		return jan1 + d->n;
	case TZ_DATE_MONTH:
		break;
	}
	first = tz_days_from_civil(y, d->month, 1);
	wday = (int)(((first + 4) % 7 + 7) % 7);
	day = 1 + (d->wday - wday + 7) % 7 + (d->week - 1) * 7;
	while (day > tz_month_days(y, d->month))
		day -= 7;
	return first + day - 1;
}

/*
 * The type a rule gives instant t. The changes of the years around t are
 * listed in order (year, then start before end) and the latest one at or
 * before t wins; ties go to the later entry, so a rule like "0/0,J365/25"
 * (daylight time all year) stays in daylight time across New Year. Looking
 * at neighbouring years covers rule times that reach into another year.
 */
static void
tz_rule_at(const struct tz_rule *r, long long t, struct tz_type *out)
{
	long long y, at, best_at = 0;
	int m, d, i, best = -1, isdst;

	out->utoff = r->std_utoff;
	out->isdst = 0;
	if (!r->has_dst)
		return;
	tz_civil_from_days(tz_floor_div(t + r->std_utoff, 86400), &y, &m, &d);
	for (i = 0; i < 8; i++) {
		isdst = i % 2 == 0;
		at = tz_date_day(isdst ? &r->start : &r->end, y - 2 + i / 2) *
		    86400 + (isdst ? r->start.time - r->std_utoff :
		    r->end.time - r->dst_utoff);
		if (at <= t && (best < 0 || at >= best_at)) {
			best = i;
			best_at = at;
		}
	}
	if (best >= 0 && best % 2 == 0) {
		out->utoff = r->dst_utoff;
		out->isdst = 1;
	}
}

/* --- the TZif binary -------------------------------------------------------- */

static uint32_t
tz_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int32_t
tz_be32s(const unsigned char *p)
{
	uint32_t u = tz_be32(p);

	return u >> 31 ? (int32_t)-(int64_t)(~u) - 1 : (int32_t)u;
}

static int64_t
tz_be64s(const unsigned char *p)
{
	uint64_t u = (uint64_t)tz_be32(p) << 32 | tz_be32(p + 4);

	return u >> 63 ? -(int64_t)(~u) - 1 : (int64_t)u;
}

/* Reads the header at p (len bytes available). */
static int
tz_hdr_read(const unsigned char *p, size_t len, struct tz_hdr *h,
    struct error *err)
{
	if (len < TZ_HDR_LEN) {
		error_set(err, TZ_ERR, TZ_FIELD, "TZif header truncated");
		return -1;
	}
	if (memcmp(p, "TZif", 4) != 0) {
		error_set(err, TZ_ERR, TZ_FIELD, "not a TZif file");
		return -1;
	}
	if (p[4] == 0)
		h->version = 1;
	else if (p[4] >= '2' && p[4] <= '4')
		h->version = p[4] - '0';
	else {
		error_set(err, TZ_ERR, TZ_FIELD, "unsupported TZif version 0x%02x",
		    p[4]);
		return -1;
	}
	h->n.isut = tz_be32(p + 20);
	h->n.isstd = tz_be32(p + 24);
	h->n.leap = tz_be32(p + 28);
	h->n.time = tz_be32(p + 32);
	h->n.type = tz_be32(p + 36);
	h->n.chars = tz_be32(p + 40);
	return 0;
}

/* The length of a data block; 64 bits cannot overflow with 32-bit counts. */
static uint64_t
tz_block_len(const struct tz_counts *n, unsigned timesize)
{
	return (uint64_t)n->time * (timesize + 1) + (uint64_t)n->type * 6 +
	    n->chars + (uint64_t)n->leap * (timesize + 4) + n->isstd + n->isut;
}

/* The RFC 8536 §3.1 constraints on the counts of the block we decode. */
static int
tz_counts_check(const struct tz_counts *n, struct error *err)
{
	if (n->type == 0 || n->type > TZ_TYPES_MAX) {
		error_set(err, TZ_ERR, TZ_FIELD, "%u time types, expected 1-%d",
		    n->type, TZ_TYPES_MAX);
		return -1;
	}
	if ((n->isut != 0 && n->isut != n->type) ||
	    (n->isstd != 0 && n->isstd != n->type)) {
		error_set(err, TZ_ERR, TZ_FIELD, "indicator counts do not match "
		    "the %u time types", n->type);
		return -1;
	}
	if (n->chars == 0) {
		error_set(err, TZ_ERR, TZ_FIELD, "no abbreviation characters");
		return -1;
	}
	/* Leap-second ("right/") zones count TAI-like seconds; converting
	 * them correctly is not worth it, and silently ignoring the
	 * records would be 27 seconds wrong. */
	if (n->leap != 0) {
		error_set(err, TZ_ERR, TZ_FIELD, "leap-second zones are not supported");
		return -1;
	}
	return 0;
}

/* Decodes the transitions and their type indexes. */
static int
tz_trans_read(struct tz *z, const unsigned char *p, unsigned timesize,
    struct error *err)
{
	const unsigned char *idx = p + z->ntrans * timesize;
	size_t i;

	for (i = 0; i < z->ntrans; i++) {
		z->trans[i] = timesize == 8 ? tz_be64s(p + i * 8) :
		    tz_be32s(p + i * 4);
		if (i > 0 && z->trans[i] <= z->trans[i - 1]) {
			error_set(err, TZ_ERR, TZ_FIELD, "transition %zu is not "
			    "after the one before", i);
			return -1;
		}
		if (idx[i] >= z->ntypes) {
			error_set(err, TZ_ERR, TZ_FIELD, "transition %zu names "
			    "type %u of %zu", i, idx[i], z->ntypes);
			return -1;
		}
		z->idx[i] = idx[i];
	}
	return 0;
}

/* Decodes the ttinfo records, checking them against the abbreviations. */
static int
tz_types_read(struct tz *z, const unsigned char *p, const unsigned char *chars,
    uint32_t nchars, struct error *err)
{
	size_t i;

	if (chars[nchars - 1] != '\0') {
		error_set(err, TZ_ERR, TZ_FIELD, "abbreviations not NUL-terminated");
		return -1;
	}
	for (i = 0; i < z->ntypes; i++, p += 6) {
		z->types[i].utoff = tz_be32s(p);
		z->types[i].isdst = p[4];
		if (z->types[i].utoff < -TZ_UTOFF_MAX ||
		    z->types[i].utoff > TZ_UTOFF_MAX || p[4] > 1 || p[5] >= nchars) {
			error_set(err, TZ_ERR, TZ_FIELD, "time type %zu is invalid", i);
			return -1;
		}
	}
	return 0;
}

/* The standard/wall and UT/local indicators: each must be 0 or 1. */
static int
tz_indicators_check(const unsigned char *p, size_t len, struct error *err)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] > 1) {
			error_set(err, TZ_ERR, TZ_FIELD, "indicator %zu is %u", i, p[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * The type for instants before the first transition: the first standard
 * type, as glibc and tzcode choose it (zic makes it type 0, which is what
 * RFC 8536 §3.2 names, so both agree on files zic wrote).
 */
static size_t
tz_first_std(const struct tz *z)
{
	size_t i;

	for (i = 0; i < z->ntypes; i++)
		if (!z->types[i].isdst)
			return i;
	return 0;
}

/* Builds a zone from one data block whose length was already checked. */
static struct tz *
tz_block_decode(const unsigned char *p, const struct tz_counts *n,
    unsigned timesize, struct error *err)
{
	const unsigned char *types = p + (size_t)n->time * (timesize + 1);
	const unsigned char *chars = types + (size_t)n->type * 6;
	const unsigned char *ind = chars + n->chars;
	struct tz *z;

	if (tz_counts_check(n, err) != 0)
		return NULL;
	z = calloc(1, sizeof(*z) + (size_t)n->time * (sizeof(int64_t) + 1));
	if (z == NULL) {
		error_set(err, TZ_ERR, TZ_FIELD, "out of memory");
		return NULL;
	}
	z->ntrans = n->time;
	z->ntypes = n->type;
	z->idx = (unsigned char *)(z->trans + z->ntrans);
	if (tz_types_read(z, types, chars, n->chars, err) != 0 ||
	    tz_trans_read(z, p, timesize, err) != 0 ||
	    tz_indicators_check(ind, (size_t)n->isstd + n->isut, err) != 0) {
		free(z);
		return NULL;
	}
	z->first_std = tz_first_std(z);
	return z;
}

/* The footer: "\n" rule "\n", ending the buffer exactly. */
static int
tz_footer_read(struct tz *z, const unsigned char *p, size_t len,
    struct error *err)
{
	char rule[TZ_FOOTER_MAX + 1];
	size_t slen;

	if (len < 2 || p[0] != '\n' || p[len - 1] != '\n') {
		error_set(err, TZ_ERR, TZ_FIELD, "TZif footer missing or truncated");
		return -1;
	}
	slen = len - 2;
	if (slen > TZ_FOOTER_MAX || memchr(p + 1, '\n', slen) != NULL ||
	    memchr(p + 1, '\0', slen) != NULL) {
		error_set(err, TZ_ERR, TZ_FIELD, "TZif footer malformed");
		return -1;
	}
	if (slen == 0)
		return 0;
	memcpy(rule, p + 1, slen);
	rule[slen] = '\0';
	if (tz_rule_parse(rule, &z->rule) != 0) {
		error_set(err, TZ_ERR, TZ_FIELD, "bad TZ rule \"%s\" in footer", rule);
		return -1;
	}
	z->has_rule = 1;
	return 0;
}

/* The version 2+ part after the version 1 block: header, data, footer. */
static struct tz *
tz_parse_v2(const unsigned char *p, size_t len, int version, struct error *err)
{
	struct tz_hdr h;
	uint64_t blen;
	struct tz *z;

	if (tz_hdr_read(p, len, &h, err) != 0)
		return NULL;
	if (h.version != version) {
		error_set(err, TZ_ERR, TZ_FIELD, "TZif headers disagree on version");
		return NULL;
	}
	blen = tz_block_len(&h.n, 8);
	if (blen > len - TZ_HDR_LEN) {
		error_set(err, TZ_ERR, TZ_FIELD, "TZif data truncated");
		return NULL;
	}
	if ((z = tz_block_decode(p + TZ_HDR_LEN, &h.n, 8, err)) == NULL)
		return NULL;
	if (tz_footer_read(z, p + TZ_HDR_LEN + blen,
	    len - TZ_HDR_LEN - (size_t)blen, err) != 0) {
		free(z);
		return NULL;
	}
	return z;
}

struct tz *
tz_parse(const void *buf, size_t len, struct error *err)
{
	const unsigned char *p = buf;
	struct tz_hdr h;
	uint64_t v1len;

	if (buf == NULL || len > TZ_FILE_MAX) {
		error_set(err, TZ_ERR, TZ_FIELD, "TZif data missing or larger "
		    "than %d bytes", TZ_FILE_MAX);
		return NULL;
	}
	if (tz_hdr_read(p, len, &h, err) != 0)
		return NULL;
	v1len = tz_block_len(&h.n, 4);
	if (v1len > len - TZ_HDR_LEN) {
		error_set(err, TZ_ERR, TZ_FIELD, "TZif data truncated");
		return NULL;
	}
	/* A version 2+ reader skips the 32-bit block (RFC 8536 §4). */
	if (h.version >= 2)
		return tz_parse_v2(p + TZ_HDR_LEN + v1len,
		    len - TZ_HDR_LEN - (size_t)v1len, h.version, err);
	if (v1len != len - TZ_HDR_LEN) {
		error_set(err, TZ_ERR, TZ_FIELD, "trailing bytes after TZif data");
		return NULL;
	}
	return tz_block_decode(p + TZ_HDR_LEN, &h.n, 4, err);
}

/* --- loading by name -------------------------------------------------------- */

/* Letters, digits and "/_+-", no leading "/" and no empty component. */
static int
tz_name_check(const char *name, struct error *err)
{
	size_t len, i;
	char ch;

	if (name == NULL || (len = strnlen(name, TZ_NAME_MAX)) == 0 ||
	    len >= TZ_NAME_MAX) {
		error_set(err, TZ_ERR, TZ_FIELD, "time zone name empty or longer "
		    "than %d characters", TZ_NAME_MAX - 1);
		return -1;
	}
	for (i = 0; i < len; i++) {
		ch = name[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("/_+-", ch) != NULL)) {
			error_set(err, TZ_ERR, TZ_FIELD, "time zone name has a "
			    "character outside letters, digits and \"/_+-\"");
			return -1;
		}
		/* Since "." is refused, ".." cannot occur; a leading or
		 * doubled "/" would escape or confuse the directory. */
		if (ch == '/' && (i == 0 || i == len - 1 || name[i + 1] == '/')) {
			error_set(err, TZ_ERR, TZ_FIELD, "time zone name has an "
			    "empty path component");
			return -1;
		}
	}
	return 0;
}

/* Reads a whole regular file of at most TZ_FILE_MAX bytes. */
static int
tz_file_read(const char *path, unsigned char **bufp, size_t *lenp,
    struct error *err)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t cap, len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		error_set(err, TZ_ERR, TZ_FIELD, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > TZ_FILE_MAX) {
		error_set(err, TZ_ERR, TZ_FIELD, "%s: not a regular file of at "
		    "most %d bytes", path, TZ_FILE_MAX);
		goto fail;
	}
	/* One byte more than expected shows a file that grew meanwhile. */
	cap = (size_t)st.st_size + 1;
	if ((buf = malloc(cap)) == NULL) {
		error_set(err, TZ_ERR, TZ_FIELD, "out of memory");
		goto fail;
	}
	while (len < cap) {
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			error_set(err, TZ_ERR, TZ_FIELD, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == cap) {
		error_set(err, TZ_ERR, TZ_FIELD, "%s: changed while read", path);
		goto fail;
	}
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

/* The zone used for "UTC" when the system has no file for it. */
static struct tz *
tz_utc(void)
{
	struct tz *z = calloc(1, sizeof(*z));

	if (z != NULL)
		z->ntypes = 1;
	return z;
}

struct tz *
tz_load(const char *name, struct error *err)
{
	char path[4096];
	const char *dir = getenv("TZDIR");
	unsigned char *buf;
	struct error why;
	struct tz *z = NULL;
	size_t len;

	if (tz_name_check(name, err) != 0)
		return NULL;
	if (dir == NULL || dir[0] == '\0')
		dir = TZ_DEFAULT_DIR;
	error_clear(&why);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		error_set(&why, TZ_ERR, TZ_FIELD, "time zone path too long");
	else if (tz_file_read(path, &buf, &len, &why) == 0) {
		z = tz_parse(buf, len, &why);
		free(buf);
	}
	/* UTC needs no data; a container without tzdata still has it. */
	if (z == NULL && strcmp(name, "UTC") == 0)
		z = tz_utc();
	if (z == NULL) {
		error_set(err, TZ_ERR, TZ_FIELD, "time zone %s: %s", name, why.msg);
		return NULL;
	}
	snprintf(z->name, sizeof(z->name), "%s", name);
	return z;
}

void
tz_free(struct tz *z)
{
	free(z);
}

const char *
tz_name(const struct tz *z)
{
	return z != NULL ? z->name : "";
}

/* --- conversion ------------------------------------------------------------- */

/* The local time type in effect at t. */
static void
tz_type_at(const struct tz *z, long long t, struct tz_type *out)
{
	size_t lo, hi, mid;

	if (z->ntrans == 0 || t >= z->trans[z->ntrans - 1]) {
		if (z->has_rule)
			tz_rule_at(&z->rule, t, out);
		else
			*out = z->types[z->ntrans == 0 ? z->first_std :
			    z->idx[z->ntrans - 1]];
		return;
	}
	if (t < z->trans[0]) {
		*out = z->types[z->first_std];
		return;
	}
	/* The last transition at or before t: trans[lo] <= t < trans[hi]. */
	lo = 0;
	hi = z->ntrans - 1;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	*out = z->types[z->idx[lo]];
}

void
tz_local(const struct tz *z, long long t, struct tz_civil *out)
{
	struct tz_type type = { 0, 0 };
	long long local, days, secs, y;

	/* Far instants are clamped so that the year fits an int. */
	if (t > TZ_T_LIMIT)
		t = TZ_T_LIMIT;
	if (t < -TZ_T_LIMIT)
		t = -TZ_T_LIMIT;
	if (z != NULL)
		tz_type_at(z, t, &type);
	local = t + type.utoff;
	days = tz_floor_div(local, 86400);
	secs = local - days * 86400;
	tz_civil_from_days(days, &y, &out->month, &out->day);
	out->year = (int)y;
	out->hour = (int)(secs / 3600);
	out->minute = (int)(secs / 60 % 60);
	out->second = (int)(secs % 60);
	out->wday = (int)(((days + 4) % 7 + 7) % 7);
	out->utoff_s = type.utoff;
	out->isdst = type.isdst;
}
