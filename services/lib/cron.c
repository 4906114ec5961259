/*
 * cron.c: 5-field cron expressions, and when a job is due in a time zone,
 * with Vixie cron's daylight-saving behaviour (see cron.h).
 *
 * The expression comes from users, so every error names the cron field and
 * the 1-based character position, and nothing is accepted loosely: empty
 * list items, reversed ranges, zero steps and stray characters are refused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cron.h"

#define CRON_ERR       "invalid_schedule"
#define CRON_FIELD     "schedule"
#define CRON_NFIELDS   5
/* Vixie cron treats a clock jump larger than 3 hours as a reset, not DST. */
#define CRON_DST_MAX_S (3 * 3600)
#define CRON_T_LIMIT   (1LL << 55)     /* tz_local's range, minus headroom */

/* What one cron field accepts. */
struct cron_field {
	const char        *name;       /* as errors show it */
	int                min, max;
	const char *const *names;      /* three-letter names for min..., or NULL */
	const char        *name_kind;  /* "month", "weekday" */
};

static const char *const cron_month_names[] = {
	"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
	"JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL
};
static const char *const cron_day_names[] = {
	"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL
};

/* Day-of-week accepts 7 as a second Sunday, folded into bit 0. */
static const struct cron_field cron_fields[CRON_NFIELDS] = {
	{ .name = "minute", .min = 0, .max = 59 },
	{ .name = "hour", .min = 0, .max = 23 },
	{ .name = "day-of-month", .min = 1, .max = 31 },
	{ .name = "month", .min = 1, .max = 12, .names = cron_month_names,
	  .name_kind = "month" },
	{ .name = "day-of-week", .min = 0, .max = 7, .names = cron_day_names,
	  .name_kind = "weekday" },
};

static const struct {
	const char *name, *expr;
} cron_shorthands[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* Parser state: the whole expression is kept for error positions. */
struct cron_parser {
	const char              *expr;
	const char              *p, *end;   /* cursor, end of the current field */
	const struct cron_field *f;
	uint64_t                 bits;
	struct error            *err;
};

/* Fills err as "<field>: <reason> (position N)" and returns -1. */
static int cron_fail(struct error *err, const char *field, size_t pos,
    const char *fmt, ...) LOG_PRINTF(4, 5);

static int
cron_fail(struct error *err, const char *field, size_t pos, const char *fmt,
    ...)
{
	char reason[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	error_set(err, CRON_ERR, CRON_FIELD, "%s: %s (position %zu)", field,
	    reason, pos);
	return -1;
}

/* 1-based position of s in the expression. */
static size_t
cron_pos(const struct cron_parser *ps, const char *s)
{
	return (size_t)(s - ps->expr) + 1;
}

/* Reports the character at s as unexpected, printable or not. */
static int
cron_fail_char(const struct cron_parser *ps, const char *s)
{
	unsigned char ch = (unsigned char)*s;

	if (s == ps->end)
		return cron_fail(ps->err, ps->f->name, cron_pos(ps, s),
		    "value missing");
	if (ch > 0x20 && ch < 0x7f)
		return cron_fail(ps->err, ps->f->name, cron_pos(ps, s),
		    "unexpected character '%c'", ch);
	return cron_fail(ps->err, ps->f->name, cron_pos(ps, s),
	    "unexpected byte 0x%02x", ch);
}

static int
cron_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int
cron_is_alpha(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static int
cron_is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Reads decimal digits, saturating so that long runs cannot overflow. */
static int
cron_digits(struct cron_parser *ps)
{
	int n = 0;

	while (ps->p < ps->end && cron_is_digit(*ps->p)) {
		if (n < 100000)
			n = n * 10 + (*ps->p - '0');
		ps->p++;
	}
	return n;
}

/* A three-letter name of the field's table, as its value. */
static int
cron_name(struct cron_parser *ps, int *v)
{
	const char *s = ps->p;
	size_t len, i;

	while (ps->p < ps->end && cron_is_alpha(*ps->p))
		ps->p++;
	len = (size_t)(ps->p - s);
	for (i = 0; len == 3 && ps->f->names[i] != NULL; i++) {
		if (strncasecmp(s, ps->f->names[i], 3) == 0) {
			*v = ps->f->min + (int)i;
			return 0;
		}
	}
	return cron_fail(ps->err, ps->f->name, cron_pos(ps, s),
	    "\"%.*s\" is not a %s name", (int)(len > 16 ? 16 : len), s,
	    ps->f->name_kind);
}

/* One value: a number in the field's range or, where allowed, a name. */
static int
cron_value(struct cron_parser *ps, int *v)
{
	const char *s = ps->p;

	if (ps->p < ps->end && cron_is_alpha(*s) && ps->f->names != NULL)
		return cron_name(ps, v);
	if (ps->p == ps->end || !cron_is_digit(*s))
		return cron_fail_char(ps, s);
	*v = cron_digits(ps);
	if (*v < ps->f->min || *v > ps->f->max)
		return cron_fail(ps->err, ps->f->name, cron_pos(ps, s),
		    "%.*s is out of range %d-%d",
		    (int)(ps->p - s > 16 ? 16 : ps->p - s), s, ps->f->min,
		    ps->f->max);
	return 0;
}

/* The "/n" after an item: 1 up to the field's maximum. */
static int
cron_step(struct cron_parser *ps, int *step)
{
	const char *s = ps->p;

	if (ps->p == ps->end || !cron_is_digit(*s))
		return cron_fail_char(ps, s);
	*step = cron_digits(ps);
	if (*step < 1 || *step > ps->f->max)
		return cron_fail(ps->err, ps->f->name, cron_pos(ps, s),
		    "step %.*s is out of range 1-%d",
		    (int)(ps->p - s > 16 ? 16 : ps->p - s), s, ps->f->max);
	return 0;
}

/* The first value of an item: "*", "a" or "a-b", into lo..hi. */
static int
cron_range(struct cron_parser *ps, int *lo, int *hi, int *single)
{
	const char *start = ps->p;

	*single = 0;
	if (*ps->p == '*') {
		ps->p++;
		*lo = ps->f->min;
		*hi = ps->f->max;
		return 0;
	}
	if (cron_value(ps, lo) != 0)
		return -1;
	*hi = *lo;
	if (ps->p == ps->end || *ps->p != '-') {
		*single = 1;
		return 0;
	}
	ps->p++;
	if (cron_value(ps, hi) != 0)
		return -1;
	if (*lo > *hi)
		return cron_fail(ps->err, ps->f->name, cron_pos(ps, start),
		    "range %.*s is reversed", (int)(ps->p - start), start);
	return 0;
}

/* One list item: range [ "/" step ], ended by "," or the field's end. */
static int
cron_item(struct cron_parser *ps)
{
	int lo, hi, step = 1, single, v;

	if (ps->p == ps->end || *ps->p == ',')
		return cron_fail(ps->err, ps->f->name, cron_pos(ps, ps->p),
		    "empty list item");
	if (cron_range(ps, &lo, &hi, &single) != 0)
		return -1;
	if (ps->p < ps->end && *ps->p == '/') {
		ps->p++;
		if (cron_step(ps, &step) != 0)
			return -1;
		/* "a/n" runs from a to the field's end. */
		if (single)
			hi = ps->f->max;
	}
	if (ps->p < ps->end && *ps->p != ',')
		return cron_fail_char(ps, ps->p);
	for (v = lo; v <= hi; v += step)
		ps->bits |= (uint64_t)1 << v;
	return 0;
}

/* One whole field, [p, end), as a bit set. */
static int
cron_field_parse(struct cron_parser *ps)
{
	ps->bits = 0;
	for (;;) {
		if (cron_item(ps) != 0)
			return -1;
		if (ps->p == ps->end)
			break;
		ps->p++;        /* the ',' cron_item stopped at */
	}
	if (ps->f == &cron_fields[4] && (ps->bits & (1u << 7)))
		ps->bits = (ps->bits | 1) & 0x7f;
	return 0;
}

/* Expands an "@name" shorthand (s has no surrounding blanks left). */
static int
cron_shorthand(const char *expr, const char *s, struct cron *out,
    struct error *err)
{
	size_t len = 0, i;

	while (s[len] != '\0' && !cron_is_space(s[len]))
		len++;
	for (i = len; s[i] != '\0'; i++)
		if (!cron_is_space(s[i]))
			return cron_fail(err, CRON_FIELD, (size_t)(s + i - expr) + 1,
			    "nothing may follow a shorthand");
	for (i = 0; i < sizeof(cron_shorthands) / sizeof(cron_shorthands[0]); i++)
		if (strlen(cron_shorthands[i].name) == len &&
		    strncasecmp(s, cron_shorthands[i].name, len) == 0)
			return cron_parse(cron_shorthands[i].expr, out, err);
	return cron_fail(err, CRON_FIELD, (size_t)(s - expr) + 1,
	    "unknown shorthand \"%.*s\" (known: @yearly @annually @monthly "
	    "@weekly @daily @midnight @hourly)", (int)(len > 16 ? 16 : len), s);
}

/* Stores a parsed field's bits and its "*" flag. */
static void
cron_store(struct cron *c, int i, uint64_t bits, int star)
{
	switch (i) {
	case 0: c->minute = bits; break;
	case 1: c->hour = (uint32_t)bits; break;
	case 2: c->dom = (uint32_t)bits; c->dom_star = star; break;
	case 3: c->month = (uint16_t)bits; break;
	default: c->dow = (uint8_t)bits; c->dow_star = star; break;
	}
}

/* The five fields of a non-shorthand expression. */
static int
cron_fields_parse(struct cron_parser *ps, const char *s, struct cron *c,
    int *stars)
{
	int i;

	for (i = 0; i < CRON_NFIELDS; i++) {
		while (cron_is_space(*s))
			s++;
		ps->f = &cron_fields[i];
		if (*s == '\0')
			return cron_fail(ps->err, ps->f->name, cron_pos(ps, s),
			    "field missing (5 fields: minute hour day-of-month "
			    "month day-of-week)");
		ps->p = s;
		for (ps->end = s; *ps->end != '\0' && !cron_is_space(*ps->end);)
			ps->end++;
		stars[i] = *s == '*';
		if (cron_field_parse(ps) != 0)
			return -1;
		cron_store(c, i, ps->bits, stars[i]);
		s = ps->end;
	}
	while (cron_is_space(*s))
		s++;
	if (*s != '\0')
		return cron_fail(ps->err, CRON_FIELD, cron_pos(ps, s),
		    "more than 5 fields");
	return 0;
}

int
cron_parse(const char *expr, struct cron *out, struct error *err)
{
	struct cron_parser ps;
	struct cron c;
	int stars[CRON_NFIELDS];
	const char *s;
	size_t len;

	if (expr == NULL)
		return cron_fail(err, CRON_FIELD, 1, "schedule missing");
	if ((len = strnlen(expr, CRON_EXPR_MAX + 1)) > CRON_EXPR_MAX)
		return cron_fail(err, CRON_FIELD, CRON_EXPR_MAX + 1,
		    "longer than %d characters", CRON_EXPR_MAX);
	for (s = expr; cron_is_space(*s); s++)
		;
	if (*s == '@')
		return cron_shorthand(expr, s, out, err);
	memset(&c, 0, sizeof(c));
	memset(&ps, 0, sizeof(ps));
	ps.expr = expr;
	ps.err = err;
	if (cron_fields_parse(&ps, s, &c, stars) != 0)
		return -1;
	c.fixed_time = !stars[0] && !stars[1];
	*out = c;
	return 0;
}

/* The day rule: both day fields must match unless both are restricted. */
static int
cron_day_matches(const struct cron *c, const struct tz_civil *lt)
{
	int dom, dow;

	if (lt->month < 1 || lt->month > 12 || lt->day < 1 || lt->day > 31 ||
	    lt->wday < 0 || lt->wday > 6 || !(c->month >> lt->month & 1))
		return 0;
	dom = c->dom >> lt->day & 1;
	dow = c->dow >> lt->wday & 1;
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

int
cron_matches(const struct cron *c, const struct tz_civil *lt)
{
	if (lt->minute < 0 || lt->minute > 59 || lt->hour < 0 || lt->hour > 23)
		return 0;
	return (c->minute >> lt->minute & 1) && (c->hour >> lt->hour & 1) &&
	    cron_day_matches(c, lt);
}

static long long
cron_floor_div(long long a, long long b)
{
	long long q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Civil fields of a wall-clock reading given as seconds (no zone). */
static int
cron_wall_civil(long long wall, struct tz_civil *out)
{
	struct tm tm;
	time_t tt = (time_t)wall;

	if (gmtime_r(&tt, &tm) == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	out->year = tm.tm_year + 1900;
	out->month = tm.tm_mon + 1;
	out->day = tm.tm_mday;
	out->hour = tm.tm_hour;
	out->minute = tm.tm_min;
	out->second = tm.tm_sec;
	out->wday = tm.tm_wday;
	return 0;
}

/*
 * 1 when t's wall-clock time was already shown by an earlier instant: the
 * offset dropped (an autumn change) less than CRON_DST_MAX_S ago, and the
 * instant t - (old - new) still had the old offset. The old offset is
 * found by sampling the last few hours every quarter of an hour, which
 * every real offset period outlasts.
 */
static int
cron_repeated(const struct tz *z, long long t, const struct tz_civil *lt)
{
	struct tz_civil back, earlier;
	long long s;
	int drop, seen = lt->utoff_s;

	for (s = 900; s <= CRON_DST_MAX_S; s += 900) {
		tz_local(z, t - s, &back);
		drop = back.utoff_s - lt->utoff_s;
		if (back.utoff_s == seen || drop <= 0 || drop > CRON_DST_MAX_S)
			continue;
		seen = back.utoff_s;
		tz_local(z, t - drop, &earlier);
		if (earlier.utoff_s == back.utoff_s)
			return 1;
	}
	return 0;
}

/*
 * 1 when the wall clock jumped forward into t (a spring change) and one of
 * the skipped wall minutes matches: the job runs at the first minute after
 * the gap instead.
 */
static int
cron_gap_matches(const struct cron *c, const struct tz *z, long long t,
    const struct tz_civil *lt)
{
	struct tz_civil prev, wall;
	long long from, to, m;

	tz_local(z, t - 60, &prev);
	from = cron_floor_div(t - 60 + prev.utoff_s, 60) + 1;
	to = cron_floor_div(t + lt->utoff_s, 60);
	if (to <= from || (to - from) * 60 > CRON_DST_MAX_S)
		return 0;
	for (m = from; m < to; m++)
		if (cron_wall_civil(m * 60, &wall) == 0 && cron_matches(c, &wall))
			return 1;
	return 0;
}

int
cron_due(const struct cron *c, const struct tz *z, long long t)
{
	struct tz_civil lt;

	if (t > CRON_T_LIMIT || t < -CRON_T_LIMIT)
		return 0;
	t = cron_floor_div(t, 60) * 60;
	tz_local(z, t, &lt);
	if (!c->fixed_time)
		return cron_matches(c, &lt);
	if (cron_matches(c, &lt))
		return !cron_repeated(z, t, &lt);
	return cron_gap_matches(c, z, t, &lt);
}

/*
 * How far cron_next may jump from a minute t that was not due. When t's
 * wall day (or hour) cannot match, it moves half-way, or to four hours
 * before, the wall day's (hour's) end: with the offset unchanged over the
 * jump, every skipped minute lies on the same non-matching day (hour) and
 * shows no gap; when the offset changed, it steps one minute.
 */
static long long
cron_skip(const struct cron *c, const struct tz *z, long long t)
{
	struct tz_civil lt, there;
	long long rest, step;

	tz_local(z, t, &lt);
	if (!cron_day_matches(c, &lt))
		rest = 86400 - (lt.hour * 3600 + lt.minute * 60 + lt.second);
	else if (!(c->hour >> lt.hour & 1))
		rest = 3600 - (lt.minute * 60 + lt.second);
	else
		return 60;
	step = rest > 8 * 3600 ? rest - 4 * 3600 : rest / 2;
	step = step / 60 * 60;
	if (step <= 60)
		return 60;
	tz_local(z, t + step, &there);
	return there.utoff_s == lt.utoff_s ? step : 60;
}

long long
cron_next(const struct cron *c, const struct tz *z, long long after,
    long long horizon_s)
{
	long long t, end;

	if (horizon_s < 0 || after >= CRON_T_LIMIT || after < -CRON_T_LIMIT)
		return -1;
	if (horizon_s > CRON_T_LIMIT)
		horizon_s = CRON_T_LIMIT;
	end = after + horizon_s;
	if (end > CRON_T_LIMIT)
		end = CRON_T_LIMIT;
	for (t = cron_floor_div(after, 60) * 60 + 60; t <= end;
	    t += cron_skip(c, z, t))
		if (cron_due(c, z, t))
			return t;
	return -1;
}
