/*
 * clock.h: the two clocks every service reads, in milliseconds.
 * clock_mono_ms() for deadlines and durations (never jumps);
 * clock_wall_ms() for timestamps other processes compare (Unix epoch).
 */
#ifndef SLIPWAY_CLOCK_H
#define SLIPWAY_CLOCK_H

long long clock_mono_ms(void);
long long clock_wall_ms(void);

#endif
