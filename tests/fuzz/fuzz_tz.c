/*
 * fuzz_tz.c: libFuzzer target for the TZif reader. Beyond "never crashes",
 * it checks that every accepted zone converts any instant into a valid
 * wall-clock reading that maps back to the same instant, and that every
 * refusal says why.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tz.h"

/* Aborts unless c is a valid reading of t. */
static void
check_civil(long long t, const struct tz_civil *c)
{
	struct tm tm;

	if (c->month < 1 || c->month > 12 || c->day < 1 || c->day > 31 ||
	    c->hour < 0 || c->hour > 23 || c->minute < 0 || c->minute > 59 ||
	    c->second < 0 || c->second > 59 || c->wday < 0 || c->wday > 6 ||
	    c->utoff_s < -26 * 3600 || c->utoff_s > 26 * 3600 ||
	    (c->isdst != 0 && c->isdst != 1))
		abort();
	/* Within a few thousand years, the reading must map back exactly. */
	if (t < -(1LL << 40) || t > (1LL << 40))
		return;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = c->year - 1900;
	tm.tm_mon = c->month - 1;
	tm.tm_mday = c->day;
	tm.tm_hour = c->hour;
	tm.tm_min = c->minute;
	tm.tm_sec = c->second;
	if ((long long)timegm(&tm) - c->utoff_s != t || tm.tm_wday != c->wday)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long long fixed[] = { LLONG_MIN, -(1LL << 40), -2147483649LL,
		-1, 0, 1, 1774746000LL, 1792890000LL, 2147483648LL, 4102444800LL,
		(1LL << 40), LLONG_MAX };
	struct tz_civil c;
	struct error err;
	struct tz *z;
	uint64_t u = 0;
	size_t i;

	memset(&err, 0, sizeof(err));
	if ((z = tz_parse(data, size, &err)) == NULL) {
		if (strcmp(err.code, "invalid_timezone") != 0 || err.msg[0] == '\0')
			abort();
		return 0;
	}
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		tz_local(z, fixed[i], &c);
		check_civil(fixed[i], &c);
	}
	/* One instant from the input's last bytes, scaled to the check range. */
	for (i = 0; i < 8 && i < size; i++)
		u = u << 8 | data[size - 1 - i];
	tz_local(z, (long long)(u % (1ULL << 41)) - (1LL << 40), &c);
	check_civil((long long)(u % (1ULL << 41)) - (1LL << 40), &c);
	if (tz_name(z)[0] != '\0')
		abort();
	tz_free(z);
	return 0;
}
