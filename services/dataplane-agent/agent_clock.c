/*
 * agent_clock.c: the one clock the scheduler and the executions read (due
 * minutes, started/finished timestamps, active deadlines).
 *
 * Real time by default. A test may speed it up with SLIPWAY_TEST_CLOCK
 * "<anchor_epoch_s>:<scale>": now = anchor + (real_now - anchor) * scale.
 * The anchor is a fixed instant, not the agent's start, so an agent killed
 * and started again with the same setting lands on the same accelerated
 * timeline: its records and last handled minute stay in the past, never in
 * the future. With scale 60, one scheduled minute passes every real second.
 *
 * Set once at start-up, before any thread runs; read-only afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "agent.h"

static long long clock_anchor_s;
static int clock_scale = 1;

long long
agent_clock_map(long long real_ms, long long anchor_s, int scale)
{
	long long anchor_ms = anchor_s * 1000;

	if (scale <= 1)
		return real_ms;
	return anchor_ms + (real_ms - anchor_ms) * scale;
}

int
agent_clock_configure(const char *spec, struct error *err)
{
	long long anchor;
	int scale, used = 0;

	clock_anchor_s = 0;
	clock_scale = 1;
	if (spec == NULL || spec[0] == '\0')
		return 0;
	if (sscanf(spec, "%lld:%d%n", &anchor, &scale, &used) != 2 ||
	    spec[used] != '\0' || anchor < 0 || scale < 1 ||
	    scale > AGENT_CLOCK_SCALE_MAX) {
		error_set(err, "invalid_config", "SLIPWAY_TEST_CLOCK",
		    "SLIPWAY_TEST_CLOCK must be <anchor_epoch_s>:<scale> with "
		    "scale 1-%d", AGENT_CLOCK_SCALE_MAX);
		return -1;
	}
	clock_anchor_s = anchor;
	clock_scale = scale;
	if (scale > 1)
		log_warnx("SLIPWAY_TEST_CLOCK: the scheduler's clock runs %d times "
		    "real time from %lld (a test setting)", scale, anchor);
	return 0;
}

long long
agent_clock_ms(void)
{
	return agent_clock_map(clock_wall_ms(), clock_anchor_s, clock_scale);
}

long long
agent_clock_real_ms(long long clock_ms)
{
	return clock_scale > 1 ? clock_ms / clock_scale : clock_ms;
}
