/*
 * metrics.h: process-wide counters and gauges, rendered in the Prometheus
 * text format at GET /metrics. Thread-safe (atomic adds).
 *
 * A metric is looked up by name plus one optional label set written as
 * Prometheus labels, e.g. metrics_inc("slipway_http_requests_total",
 * "code=\"202\""). The first call registers it; the name and labels are copied.
 */
#ifndef SLIPWAY_METRICS_H
#define SLIPWAY_METRICS_H

#include <stdint.h>

struct evbuffer;

void metrics_inc(const char *name, const char *labels);
void metrics_add(const char *name, const char *labels, int64_t delta);
void metrics_set(const char *name, const char *labels, int64_t value);
/* Observes a duration in milliseconds into a fixed-bucket histogram. */
void metrics_observe_ms(const char *name, const char *labels, double ms);
void metrics_render(struct evbuffer *out);

#endif
