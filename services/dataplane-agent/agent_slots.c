/*
 * agent_slots.c: where the agent's work runs, off the consumer's loop.
 *
 * A slot is one component in one environment. Its jobs (apply, remove,
 * restart) run one at a time and in order, on a bounded pool of worker
 * threads (ag->workers), so a long pull of one component never delays
 * another, and two cutovers of the same component never interleave.
 *
 * A watcher thread inspects the containers every AGENT_WATCH_MS: a slot
 * whose serving container stopped running gets a restart job (with a
 * backoff between failed restarts), which reports it crashed and running
 * again once healthy.
 *
 * The workers take no job before the watcher has loaded the gateway with
 * what serves (agent_reconcile_gateway): an apply before it would reload
 * HAProxy with its own component alone. Until then /readyz says why.
 *
 * One mutex guards the slot list, the queues and the busy flags.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "agent.h"
#include "metrics.h"

#define AGENT_WORKERS_MAX 64
#define AGENT_WATCH_MS    1000

struct agent_job {
	enum agent_job_kind kind;
	char deployment_id[AGENT_ID_MAX];
	void *cmd;
	size_t len;
	char journal[128];
	struct agent_job *next;
};

struct agent_slots {
	struct agent_ctx *ag;
	pthread_mutex_t lock;
	pthread_cond_t work;       /* a job was queued, a slot freed, or stop */
	struct agent_slot *head;
	pthread_t threads[AGENT_WORKERS_MAX];
	int nthreads;
	pthread_t watcher;
	int watching;
	int queued;                /* jobs queued or running */
	int ready;                 /* the gateway is loaded: jobs may run */
};

struct agent_slots *
agent_slots_new(struct agent_ctx *ag)
{
	struct agent_slots *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->ag = ag;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work, NULL);
	return s;
}

static struct agent_slot *
slots_find(struct agent_slots *s, const char *component_id,
    const char *environment)
{
	for (struct agent_slot *sl = s->head; sl != NULL; sl = sl->next)
		if (strcmp(sl->component_id, component_id) == 0 &&
		    strcmp(sl->environment, environment) == 0)
			return sl;
	return NULL;
}

/* Under the lock. */
static struct agent_slot *
slots_get_locked(struct agent_slots *s, const char *component_id,
    const char *environment)
{
	struct agent_slot *sl = slots_find(s, component_id, environment);

	if (sl != NULL || (sl = calloc(1, sizeof(*sl))) == NULL)
		return sl;
	snprintf(sl->component_id, sizeof(sl->component_id), "%s", component_id);
	snprintf(sl->environment, sizeof(sl->environment), "%s", environment);
	snprintf(sl->rec.component_id, sizeof(sl->rec.component_id), "%s",
	    component_id);
	snprintf(sl->rec.environment, sizeof(sl->rec.environment), "%s",
	    environment);
	sl->next = s->head;
	s->head = sl;
	return sl;
}

struct agent_slot *
agent_slots_get(struct agent_slots *s, const char *component_id,
    const char *environment)
{
	struct agent_slot *sl;

	pthread_mutex_lock(&s->lock);
	sl = slots_get_locked(s, component_id, environment);
	pthread_mutex_unlock(&s->lock);
	return sl;
}

void
agent_slots_each(struct agent_slots *s,
    void (*fn)(void *arg, struct agent_slot *slot), void *arg)
{
	pthread_mutex_lock(&s->lock);
	for (struct agent_slot *sl = s->head; sl != NULL; sl = sl->next)
		fn(arg, sl);
	pthread_mutex_unlock(&s->lock);
}

/* 1 when the deployment is queued or running on sl. */
static int
slots_has(const struct agent_slot *sl, const char *deployment_id)
{
	if (deployment_id[0] == '\0')
		return 0;
	if (strcmp(sl->running_dep, deployment_id) == 0)
		return 1;
	for (const struct agent_job *j = sl->head; j != NULL; j = j->next)
		if (strcmp(j->deployment_id, deployment_id) == 0)
			return 1;
	return 0;
}

/* Under the lock: appends j to sl's queue. */
static void
slots_push(struct agent_slots *s, struct agent_slot *sl, struct agent_job *j)
{
	if (sl->tail != NULL)
		sl->tail->next = j;
	else
		sl->head = j;
	sl->tail = j;
	s->queued++;
	metrics_set("slipway_agent_jobs", NULL, s->queued);
	pthread_cond_signal(&s->work);
}

int
agent_slots_submit(struct agent_slots *s, enum agent_job_kind kind,
    const char *component_id, const char *environment,
    const char *deployment_id, const void *cmd, size_t len,
    const char *journal_name)
{
	struct agent_job *j = calloc(1, sizeof(*j));
	struct agent_slot *sl;

	if (j == NULL || (len > 0 && (j->cmd = malloc(len)) == NULL)) {
		free(j);
		return -1;
	}
	j->kind = kind;
	if (len > 0)
		memcpy(j->cmd, cmd, len);
	j->len = len;
	snprintf(j->deployment_id, sizeof(j->deployment_id), "%s",
	    deployment_id ? deployment_id : "");
	snprintf(j->journal, sizeof(j->journal), "%s",
	    journal_name ? journal_name : "");
	pthread_mutex_lock(&s->lock);
	sl = slots_get_locked(s, component_id, environment);
	if (sl == NULL || slots_has(sl, j->deployment_id)) {
		pthread_mutex_unlock(&s->lock);
		free(j->cmd);
		free(j);
		return sl == NULL ? -1 : 1;
	}
	slots_push(s, sl, j);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Under the lock: an idle slot with work, or NULL. */
static struct agent_slot *
slots_next(struct agent_slots *s)
{
	for (struct agent_slot *sl = s->head; sl != NULL; sl = sl->next)
		if (!sl->busy && sl->head != NULL)
			return sl;
	return NULL;
}

/* Runs one job; a job that must stay journaled keeps its file. */
static void
slots_run(struct agent_slots *s, struct agent_slot *sl, struct agent_job *j)
{
	struct agent_ctx *ag = s->ag;

	log_ctx_set("component_id", sl->component_id);
	if (j->deployment_id[0])
		log_ctx_set("deployment_id", j->deployment_id);
	if (agent_runtime_of(ag)->job(ag, sl, j->kind, j->cmd, j->len) == 0 &&
	    j->journal[0] != '\0' && agent_journal_done(ag->journal,
	    j->journal) == -1)
		log_warn("journal: cannot remove %s", j->journal);
	log_ctx_clear();
}

static void *
slots_worker(void *arg)
{
	struct agent_slots *s = arg;
	struct agent_slot *sl;
	struct agent_job *j;

	pthread_mutex_lock(&s->lock);
	while (!atomic_load(&s->ag->stopping)) {
		if (!s->ready || (sl = slots_next(s)) == NULL) {
			pthread_cond_wait(&s->work, &s->lock);
			continue;
		}
		j = sl->head;
		if ((sl->head = j->next) == NULL)
			sl->tail = NULL;
		sl->busy = 1;
		snprintf(sl->running_dep, sizeof(sl->running_dep), "%s",
		    j->deployment_id);
		pthread_mutex_unlock(&s->lock);
		slots_run(s, sl, j);
		free(j->cmd);
		free(j);
		pthread_mutex_lock(&s->lock);
		sl->busy = 0;
		sl->running_dep[0] = '\0';
		sl->generation++;
		s->queued--;
		metrics_set("slipway_agent_jobs", NULL, s->queued);
		/* Another job of this slot may be waiting for it. */
		pthread_cond_broadcast(&s->work);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Under the lock: the idle slots that serve something, up to max. */
static size_t
slots_watch_snapshot(struct agent_slots *s, struct agent_watch_item *v,
    size_t max)
{
	size_t n = 0;

	for (struct agent_slot *sl = s->head; sl != NULL && n < max; sl = sl->next)
		if (!sl->busy && sl->head == NULL && sl->rec.serving[0] != '\0' &&
		    sl->container[0] != '\0') {
			v[n] = (struct agent_watch_item){ .slot = sl,
			    .generation = sl->generation, .crashed = sl->crashed };
			snprintf(v[n].container, sizeof(v[n].container), "%s",
			    sl->container);
			snprintf(v[n].component_id, sizeof(v[n].component_id), "%s",
			    sl->component_id);
			snprintf(v[n].environment, sizeof(v[n].environment), "%s",
			    sl->environment);
			snprintf(v[n].deployment_id, sizeof(v[n].deployment_id), "%s",
			    sl->rec.serving);
			n++;
		}
	return n;
}

/*
 * One look: a serving slot the runtime says needs a job (an engine's
 * container that is not running) gets a restart job, unless its slot moved
 * on since the snapshot or the backoff after a failed restart has not
 * passed.
 */
static void
slots_watch_once(struct agent_slots *s, struct agent_watch_item *v,
    size_t max)
{
	size_t n;
	long long now = clock_mono_ms();

	pthread_mutex_lock(&s->lock);
	n = slots_watch_snapshot(s, v, max);
	pthread_mutex_unlock(&s->lock);
	if (n == 0 || agent_runtime_of(s->ag)->look(s->ag, v, n) == -1)
		return;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		struct agent_slot *sl = v[i].slot;
		struct agent_job *j;
		if (!v[i].act || sl->busy || sl->head != NULL || sl->generation !=
		    v[i].generation || now < sl->next_restart_ms ||
		    (j = calloc(1, sizeof(*j))) == NULL)
			continue;
		j->kind = JOB_RESTART;
		slots_push(s, sl, j);
	}
	pthread_mutex_unlock(&s->lock);
}

/* Loads the gateway, retrying every second, then lets the workers run. */
static void
slots_load_gateway(struct agent_slots *s)
{
	struct error err;
	int logged = 0;

	while (!atomic_load(&s->ag->stopping)) {
		if (agent_reconcile_gateway(s->ag, &err) == 0)
			break;
		if (!logged++)
			log_warnx("gateway: %s: applies wait until it loads", err.msg);
		for (int ms = 0; ms < 1000 && !atomic_load(&s->ag->stopping);
		    ms += 50)
			usleep(50 * 1000);
	}
	pthread_mutex_lock(&s->lock);
	s->ready = 1;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
}

int
agent_slots_ready(struct agent_slots *s)
{
	int ready;

	pthread_mutex_lock(&s->lock);
	ready = s->ready;
	pthread_mutex_unlock(&s->lock);
	return ready;
}

static void *
slots_watcher(void *arg)
{
	struct agent_slots *s = arg;
	struct agent_watch_item *v = calloc(1024, sizeof(*v));

	slots_load_gateway(s);
	while (v != NULL && !atomic_load(&s->ag->stopping)) {
		slots_watch_once(s, v, 1024);
		for (int ms = 0; ms < AGENT_WATCH_MS &&
		    !atomic_load(&s->ag->stopping); ms += 50)
			usleep(50 * 1000);
	}
	free(v);
	return NULL;
}

int
agent_slots_start(struct agent_slots *s, struct error *err)
{
	int n = s->ag->workers > 0 ? s->ag->workers : 4, rc;

	if (n > AGENT_WORKERS_MAX)
		n = AGENT_WORKERS_MAX;
	for (s->nthreads = 0; s->nthreads < n; s->nthreads++)
		if ((rc = pthread_create(&s->threads[s->nthreads], NULL,
		    slots_worker, s)) != 0) {
			error_set(err, "internal", "", "cannot start a worker: %s",
			    strerror(rc));
			return -1;
		}
	if ((rc = pthread_create(&s->watcher, NULL, slots_watcher, s)) != 0) {
		error_set(err, "internal", "", "cannot start the watcher: %s",
		    strerror(rc));
		return -1;
	}
	s->watching = 1;
	return 0;
}

/*
 * Joins t, serving the producer's delivery callbacks meanwhile (a worker
 * may wait for one, and the loop that serves them has stopped). 0 joined.
 */
int
agent_slots_join(struct agent_ctx *ag, pthread_t t, long long deadline)
{
	struct timespec ts;

	for (;;) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_timedjoin_np(t, NULL, &ts) == 0)
			return 0;
		if (ag->producer != NULL)
			bus_producer_poll(ag->producer, 0);
		if (clock_mono_ms() >= deadline)
			return -1;
	}
}

void
agent_slots_stop(struct agent_slots *s, int timeout_ms)
{
	long long deadline = clock_mono_ms() + timeout_ms;
	int stuck = 0;

	atomic_store(&s->ag->stopping, 1);
	engine_abort(s->ag->engine);
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < s->nthreads; i++)
		if (agent_slots_join(s->ag, s->threads[i], deadline) == -1) {
			pthread_detach(s->threads[i]);
			stuck++;
		}
	if (s->watching && agent_slots_join(s->ag, s->watcher, deadline) == -1) {
		pthread_detach(s->watcher);
		stuck++;
	}
	s->nthreads = 0;
	s->watching = 0;
	if (stuck > 0) {
		log_warnx("%d agent thread(s) still busy after %d ms: their jobs "
		    "stay journaled and run again at the next start", stuck,
		    timeout_ms);
		s->nthreads = -1;   /* agent_slots_free must not free under them */
	}
}

int
agent_slots_waiting(struct agent_slots *s, const struct agent_slot *slot)
{
	int waiting;

	pthread_mutex_lock(&s->lock);
	waiting = slot->head != NULL;
	pthread_mutex_unlock(&s->lock);
	return waiting;
}

int
agent_slots_busy(const struct agent_slots *s)
{
	return s != NULL && s->nthreads == -1;
}

static void
slots_free_slot(struct agent_slot *sl)
{
	for (struct agent_job *j = sl->head, *n; j != NULL; j = n) {
		n = j->next;
		free(j->cmd);
		free(j);
	}
	agent_spec_clear(&sl->serving);
	free(sl->serving_cmd);
	free(sl);
}

void
agent_slots_free(struct agent_slots *s)
{
	if (s == NULL || s->nthreads == -1)
		return;
	for (struct agent_slot *sl = s->head, *n; sl != NULL; sl = n) {
		n = sl->next;
		slots_free_slot(sl);
	}
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
