/*
 * metrics.c: a process-wide registry of counters, gauges and histograms,
 * rendered in the Prometheus text format.
 *
 * Registration (the first use of a name + label set) takes a mutex; updates
 * are atomic adds on the registered entry, so hot paths from any thread stay
 * cheap. Entries are never removed: label sets must stay bounded (route
 * patterns, status codes), never request data.
 */
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"

#define METRICS_MAX     1024
#define METRICS_NAME    96
#define METRICS_LABELS  256
#define METRICS_BUCKETS 12

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

static const char *const metric_kind_names[] = {
	[METRIC_COUNTER] = "counter",
	[METRIC_GAUGE] = "gauge",
	[METRIC_HISTOGRAM] = "histogram",
};

/* Upper bounds in milliseconds; +Inf is implied by count. */
static const double metric_bounds[METRICS_BUCKETS] = {
	1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
};

struct metric {
	char name[METRICS_NAME];
	char labels[METRICS_LABELS];
	enum metric_kind kind;
	_Atomic int64_t value;                      /* counter, gauge */
	_Atomic uint64_t buckets[METRICS_BUCKETS];  /* histogram, not cumulative */
	_Atomic uint64_t count;
	_Atomic uint64_t sum_us;                    /* microseconds, for precision */
};

static struct metric metrics_table[METRICS_MAX];
static _Atomic size_t metrics_count;
static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;

static struct metric *
metrics_find(const char *name, const char *labels, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(metrics_table[i].name, name) == 0 &&
		    strcmp(metrics_table[i].labels, labels) == 0)
			return &metrics_table[i];
	return NULL;
}

/*
 * Returns the entry for name + labels, registering it with kind when new.
 * Entries are published by bumping metrics_count after they are filled, so
 * the lock-free lookup only ever sees complete entries.
 */
static struct metric *
metrics_get(const char *name, const char *labels, enum metric_kind kind)
{
	struct metric *m;
	size_t n;

	if (name == NULL)
		return NULL;
	if (labels == NULL)
		labels = "";
	if ((m = metrics_find(name, labels, atomic_load(&metrics_count))) != NULL)
		return m;
	pthread_mutex_lock(&metrics_lock);
	n = atomic_load(&metrics_count);
	m = metrics_find(name, labels, n);
	if (m == NULL && n < METRICS_MAX && strlen(name) < METRICS_NAME &&
	    strlen(labels) < METRICS_LABELS) {
		m = &metrics_table[n];
		snprintf(m->name, sizeof(m->name), "%s", name);
		snprintf(m->labels, sizeof(m->labels), "%s", labels);
		m->kind = kind;
		atomic_store(&metrics_count, n + 1);
	}
	pthread_mutex_unlock(&metrics_lock);
	return m;
}

void
metrics_inc(const char *name, const char *labels)
{
	metrics_add(name, labels, 1);
}

void
metrics_add(const char *name, const char *labels, int64_t delta)
{
	struct metric *m = metrics_get(name, labels, METRIC_COUNTER);

	if (m != NULL)
		atomic_fetch_add(&m->value, delta);
}

void
metrics_set(const char *name, const char *labels, int64_t value)
{
	struct metric *m = metrics_get(name, labels, METRIC_GAUGE);

	if (m != NULL)
		atomic_store(&m->value, value);
}

void
metrics_observe_ms(const char *name, const char *labels, double ms)
{
	struct metric *m = metrics_get(name, labels, METRIC_HISTOGRAM);
	size_t i;

	if (m == NULL || m->kind != METRIC_HISTOGRAM)
		return;
	if (!(ms >= 0))
		ms = 0;  /* also catches NaN */
	for (i = 0; i < METRICS_BUCKETS; i++) {
		if (ms <= metric_bounds[i]) {
			atomic_fetch_add(&m->buckets[i], 1);
			break;
		}
	}
	atomic_fetch_add(&m->sum_us, (uint64_t)(ms * 1000.0));
	atomic_fetch_add(&m->count, 1);
}

/* Writes `name{labels,extra}` (braces only when there is a label). */
static void
metrics_series(struct evbuffer *out, const char *name, const char *suffix,
    const char *labels, const char *extra)
{
	int both = labels[0] != '\0' && extra != NULL;

	evbuffer_add_printf(out, "%s%s", name, suffix);
	if (labels[0] != '\0' || extra != NULL)
		evbuffer_add_printf(out, "{%s%s%s}", labels, both ? "," : "",
		    extra != NULL ? extra : "");
}

static void
metrics_render_histogram(struct evbuffer *out, struct metric *m)
{
	char le[48];
	uint64_t cum = 0, count = atomic_load(&m->count);
	size_t i;

	for (i = 0; i < METRICS_BUCKETS; i++) {
		cum += atomic_load(&m->buckets[i]);
		snprintf(le, sizeof(le), "le=\"%g\"", metric_bounds[i]);
		metrics_series(out, m->name, "_bucket", m->labels, le);
		evbuffer_add_printf(out, " %llu\n", (unsigned long long)cum);
	}
	metrics_series(out, m->name, "_bucket", m->labels, "le=\"+Inf\"");
	evbuffer_add_printf(out, " %llu\n", (unsigned long long)count);
	metrics_series(out, m->name, "_sum", m->labels, NULL);
	evbuffer_add_printf(out, " %.3f\n", (double)atomic_load(&m->sum_us) / 1000.0);
	metrics_series(out, m->name, "_count", m->labels, NULL);
	evbuffer_add_printf(out, " %llu\n", (unsigned long long)count);
}

static void
metrics_render_one(struct evbuffer *out, struct metric *m)
{
	if (m->kind == METRIC_HISTOGRAM) {
		metrics_render_histogram(out, m);
		return;
	}
	metrics_series(out, m->name, "", m->labels, NULL);
	evbuffer_add_printf(out, " %lld\n", (long long)atomic_load(&m->value));
}

/* Every series of a name is grouped under one # TYPE line. */
void
metrics_render(struct evbuffer *out)
{
	size_t n = atomic_load(&metrics_count), i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(metrics_table[j].name, metrics_table[i].name) == 0)
				break;
		if (j < i)
			continue;  /* already rendered with its first series */
		evbuffer_add_printf(out, "# TYPE %s %s\n", metrics_table[i].name,
		    metric_kind_names[metrics_table[i].kind]);
		for (j = i; j < n; j++)
			if (strcmp(metrics_table[j].name, metrics_table[i].name) == 0)
				metrics_render_one(out, &metrics_table[j]);
	}
}
