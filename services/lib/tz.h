/*
 * tz.h: IANA time zones read from the system's compiled tz database
 * (TZif files under /usr/share/zoneinfo, or $TZDIR), without touching the
 * process-wide TZ: a loaded zone is immutable, so any number of threads
 * may convert with it at once (glibc's localtime_r knows only one zone per
 * process).
 *
 * A TZif file (RFC 8536) holds the zone's transitions; instants after the
 * last one follow the POSIX TZ rule in its footer ("CET-1CEST,M3.5.0,M10.5.0/3").
 */
#ifndef SLIPWAY_TZ_H
#define SLIPWAY_TZ_H

#include <stddef.h>
#include "error.h"

#define TZ_NAME_MAX 64
#define TZ_FILE_MAX (512 * 1024)    /* the largest zone is ~4 KiB */

/* The wall-clock reading of one instant in one zone. */
struct tz_civil {
	int year;          /* e.g. 2026 */
	int month;         /* 1-12 */
	int day;           /* 1-31 */
	int hour, minute, second;
	int wday;          /* 0 = Sunday */
	int utoff_s;       /* local = UTC + utoff_s */
	int isdst;
};

struct tz;
/*
 * Loads zone name ("UTC", "Europe/Berlin"): a name of letters, digits and
 * "/_+-", no "..", no leading "/". err code invalid_timezone (unknown or
 * unreadable zone, with the reason).
 */
struct tz *tz_load(const char *name, struct error *err);
/* Parses TZif bytes (versions 1-4); err code invalid_timezone. */
struct tz *tz_parse(const void *buf, size_t len, struct error *err);
void tz_free(struct tz *z);
/* The zone's name as loaded ("" for tz_parse). */
const char *tz_name(const struct tz *z);
/* Converts UTC instant t (Unix seconds) to wall-clock time in z. */
void tz_local(const struct tz *z, long long t, struct tz_civil *out);

#endif
