/*
 * agent_execs.c: where executions run. Every execution the agent accepts
 * (a RunTask, a scheduled minute) is recorded (fsync'd) before anything
 * else happens to it, and its container is created only after that; the
 * record moves with it (running, final, acknowledged) so that an agent
 * killed at any point and started again knows what it promised:
 *
 *   - pending: started (again) by a starter: an execution container that
 *     exists already (created, running or exited) is adopted, never
 *     created twice;
 *   - running: watched again; a container gone meanwhile is reported
 *     failed ("lost");
 *   - final but not acknowledged: reported again;
 *   - final and acknowledged: done (the record stays a while, so that the
 *     same execution id is never run again, then goes).
 *
 * Starters (a few threads) pull and start containers, off the consumer's
 * thread. The watcher thread looks at every running execution four times
 * a second (a short run, or a test's fast clock, is seen ending at once):
 * on exit it records the exit code and the last 50 log lines, removes the
 * container and reports succeeded or failed; past the active
 * deadline it stops the container and reports timed_out; a run the
 * scheduler replaces (concurrency_policy replace) is stopped and reported
 * failed. A final report is only marked acknowledged (the execution
 * finished here) once the broker acknowledged it.
 *
 * Where a run runs is the runtime's (agent_runtime.c's exec ops): a
 * container of the engine (agent_exec_engine.c) or a Job on Kubernetes
 * (agent_kube_exec.c, whose sweep also brings in the Jobs a CronJob made);
 * the records, states and reports here are the same for both.
 *
 * One mutex guards the list and the busy/queued flags. A thread that works
 * on an execution holds it busy and touches it without the lock; nobody
 * else touches a busy one.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "agent.h"
#include "metrics.h"

#define EXECS_STARTERS   2
#define EXECS_WATCH_MS   250    /* a quick run is seen ending at once */
#define EXECS_BATCH      256    /* executions one watcher look handles */
#define EXECS_REPLACE_WAIT_MS 60000
#define EXECS_KEEP_MS    (7LL * 86400 * 1000)   /* acknowledged records */
#define EXECS_SUB        "executions"

struct agent_execs {
	struct agent_ctx *ag;
	pthread_mutex_t lock;
	pthread_cond_t work;         /* an execution was queued, or stop */
	struct agent_exec *head;     /* every execution not yet acknowledged */
	pthread_t starters[EXECS_STARTERS];
	int nstarters;
	pthread_t watcher;
	int watching;
	int stuck;                   /* a thread did not stop: free nothing */
};

struct agent_execs *
agent_execs_new(struct agent_ctx *ag)
{
	struct agent_execs *xs = calloc(1, sizeof(*xs));

	if (xs == NULL)
		return NULL;
	xs->ag = ag;
	pthread_mutex_init(&xs->lock, NULL);
	pthread_cond_init(&xs->work, NULL);
	return xs;
}

static int
execs_stopping(const struct agent_execs *xs)
{
	return atomic_load(&xs->ag->stopping);
}

/* Writes x's record (fsync'd); -1 logged. */
static int
execs_save(struct agent_execs *xs, const struct agent_exec *x)
{
	char *js = agent_exec_json(x);
	int rc = js != NULL ? agent_journal_put(xs->ag->journal, EXECS_SUB, x->id,
	    js, strlen(js)) : -1;

	if (rc == -1)
		log_warn("execution %s: cannot write its record", x->id);
	free(js);
	return rc;
}

/* Under the lock. */
static struct agent_exec *
execs_find(struct agent_execs *xs, const char *id)
{
	for (struct agent_exec *x = xs->head; x != NULL; x = x->next)
		if (strcmp(x->id, id) == 0)
			return x;
	return NULL;
}

/* Under the lock: adds x (newest first) and wakes a starter for it. */
static void
execs_add(struct agent_execs *xs, struct agent_exec *x)
{
	x->next = xs->head;
	xs->head = x;
	if (x->state == EXEC_PENDING) {
		x->queued = 1;
		pthread_cond_signal(&xs->work);
	}
}

int
agent_execs_submit(struct agent_execs *xs, struct agent_exec *x)
{
	struct agent_exec *copy = NULL;

	pthread_mutex_lock(&xs->lock);
	if (execs_find(xs, x->id) != NULL ||
	    agent_journal_exists(xs->ag->journal, EXECS_SUB, x->id)) {
		pthread_mutex_unlock(&xs->lock);
		agent_exec_free(x);
		return 1;
	}
	if (execs_save(xs, x) == -1) {
		pthread_mutex_unlock(&xs->lock);
		agent_exec_free(x);
		return -1;
	}
	/* A copy to report from: a starter may take x at once. */
	if (x->state == EXEC_PENDING && (copy = malloc(sizeof(*copy))) != NULL)
		*copy = *x;
	execs_add(xs, x);
	pthread_mutex_unlock(&xs->lock);
	if (copy != NULL) {
		agent_report_execution(xs->ag, copy);
		free(copy);
	}
	return 0;
}

int
agent_execs_active(struct agent_execs *xs, const char *component_id,
    const char *environment, char *id, size_t idlen)
{
	int n = 0;

	pthread_mutex_lock(&xs->lock);
	for (struct agent_exec *x = xs->head; x != NULL; x = x->next)
		if (!agent_exec_final(x->state) &&
		    strcmp(x->component_id, component_id) == 0 &&
		    strcmp(x->environment, environment) == 0 && n++ == 0 &&
		    id != NULL)
			snprintf(id, idlen, "%s", x->id);
	pthread_mutex_unlock(&xs->lock);
	return n;
}

int
agent_execs_cancel(struct agent_execs *xs, const char *component_id,
    const char *environment, const char *reason)
{
	int n = 0;

	if (xs == NULL)
		return 0;
	pthread_mutex_lock(&xs->lock);
	for (struct agent_exec *x = xs->head; x != NULL; x = x->next)
		if (!agent_exec_final(x->state) &&
		    strcmp(x->component_id, component_id) == 0 &&
		    strcmp(x->environment, environment) == 0) {
			snprintf(x->stop_reason, sizeof(x->stop_reason), "%s",
			    reason);
			n++;
		}
	pthread_mutex_unlock(&xs->lock);
	return n;
}

int
agent_execs_owns(const struct engine_summary *c)
{
	return c->execution[0] != '\0';
}

/* --- starting ------------------------------------------------------------ */

/* Final state next with reason, recorded (the watcher reports it). */
static void
execs_finish(struct agent_execs *xs, struct agent_exec *x,
    enum agent_exec_state next, const char *reason)
{
	if (agent_exec_transition(x, next) == -1)
		return;
	x->finished_at_ms = agent_clock_ms();
	snprintf(x->reason, sizeof(x->reason), "%s", reason);
	execs_save(xs, x);
	metrics_inc("slipway_agent_executions_total", next == EXEC_SUCCEEDED ?
	    "result=\"succeeded\"" : next == EXEC_TIMED_OUT ?
	    "result=\"timed_out\"" : next == EXEC_SKIPPED ? "result=\"skipped\"" :
	    "result=\"failed\"");
}

/* The runtime's exec ops: containers of the engine, or Jobs. */
static const struct agent_exec_ops *
execs_ops(const struct agent_execs *xs)
{
	return agent_runtime_of(xs->ag)->exec;
}

/* replace: the run x replaces is stopped, and final, before x starts. */
static void
execs_replace(struct agent_execs *xs, const struct agent_exec *x)
{
	long long deadline = clock_mono_ms() + EXECS_REPLACE_WAIT_MS;
	struct agent_exec *old;
	int active = 1;

	pthread_mutex_lock(&xs->lock);
	if ((old = execs_find(xs, x->replaces)) != NULL &&
	    !agent_exec_final(old->state))
		snprintf(old->stop_reason, sizeof(old->stop_reason), "%s",
		    x->replace_reason);
	pthread_mutex_unlock(&xs->lock);
	while (active && !execs_stopping(xs) && clock_mono_ms() < deadline) {
		usleep(100 * 1000);
		pthread_mutex_lock(&xs->lock);
		old = execs_find(xs, x->replaces);
		active = old != NULL && !agent_exec_final(old->state);
		pthread_mutex_unlock(&xs->lock);
	}
}

/* Runs x (pending, held busy) to running, or to failed when it cannot. */
static void
execs_start(struct agent_execs *xs, struct agent_exec *x)
{
	const struct agent_exec_ops *ops = execs_ops(xs);
	struct error err, rerr;
	int rc;

	error_clear(&err);
	if (x->stop_reason[0] != '\0') {
		execs_finish(xs, x, EXEC_FAILED, x->stop_reason);
		return;
	}
	if (x->replaces[0] != '\0')
		execs_replace(xs, x);
	if ((rc = ops->launch(xs->ag, x, &err)) == -1) {
		if (execs_stopping(xs))
			return;   /* still pending: the next start tries again */
		log_warnx("execution %s: %s", x->id, err.msg);
		ops->remove(xs->ag, x, &rerr);
		execs_finish(xs, x, EXEC_FAILED, err.msg[0] ? err.msg :
		    "start_failed");
		return;
	}
	agent_exec_transition(x, EXEC_RUNNING);
	x->started_at_ms = agent_clock_ms();
	execs_save(xs, x);
	log_info("execution %s %s", x->id, rc == 1 ? "had run already" :
	    "started");
	agent_report_execution(xs->ag, x);
}

/* Under the lock: the oldest execution waiting for a starter, or NULL. */
static struct agent_exec *
execs_next(struct agent_execs *xs)
{
	struct agent_exec *next = NULL;

	for (struct agent_exec *x = xs->head; x != NULL; x = x->next)
		if (x->queued && !x->busy)
			next = x;   /* the list is newest first */
	return next;
}

static void *
execs_starter(void *arg)
{
	struct agent_execs *xs = arg;
	struct agent_exec *x;

	pthread_mutex_lock(&xs->lock);
	while (!execs_stopping(xs)) {
		if ((x = execs_next(xs)) == NULL) {
			pthread_cond_wait(&xs->work, &xs->lock);
			continue;
		}
		x->queued = 0;
		x->busy = 1;
		pthread_mutex_unlock(&xs->lock);
		log_ctx_set("execution_id", x->id);
		execs_start(xs, x);
		log_ctx_clear();
		pthread_mutex_lock(&xs->lock);
		x->busy = 0;
	}
	pthread_mutex_unlock(&xs->lock);
	return NULL;
}

/* --- watching ------------------------------------------------------------ */

/*
 * Ends x (its workload stopped or exited): exit code and log tail into
 * the record first, then the workload goes. stopped_as/why override the
 * outcome when the agent stopped it.
 */
static void
execs_end(struct agent_execs *xs, struct agent_exec *x,
    enum agent_exec_state stopped_as, const char *why)
{
	const struct agent_exec_ops *ops = execs_ops(xs);
	struct agent_exec_seen seen;
	struct error err;

	if (ops->inspect(xs->ag, x, &seen, &err) == -1)
		return;   /* the runtime does not answer: next look */
	snprintf(x->log_tail, sizeof(x->log_tail), "%s", seen.log_tail);
	x->exited = seen.exited;
	x->exit_code = seen.exit_code;
	if (why != NULL) {
		seen.outcome = stopped_as;
		snprintf(seen.reason, sizeof(seen.reason), "%s", why);
	}
	execs_finish(xs, x, seen.outcome, seen.reason);
	if (ops->remove(xs->ag, x, &err) == -1)
		log_warnx("execution %s: %s", x->id, err.msg);
}

/* One look at a running x (held busy). */
static void
execs_watch(struct agent_execs *xs, struct agent_exec *x)
{
	const struct agent_exec_ops *ops = execs_ops(xs);
	char why[AGENT_REASON_MAX];
	struct agent_exec_seen seen;
	struct error err;
	long long deadline = x->started_at_ms + (long long)x->active_deadline_s *
	    1000;

	if (ops->inspect(xs->ag, x, &seen, &err) == -1)
		return;
	x->recovered = 0;   /* seen: what it is now is what the runtime says */
	if (!seen.exists) {
		execs_finish(xs, x, EXEC_FAILED, "lost: its container is gone "
		    "(removed while the agent was not watching it)");
		return;
	}
	if (!seen.running) {
		execs_end(xs, x, EXEC_FAILED, x->stop_reason[0] ?
		    x->stop_reason : NULL);
		return;
	}
	if (x->stop_reason[0] != '\0') {
		ops->stop(xs->ag, x);
		execs_end(xs, x, EXEC_FAILED, x->stop_reason);
	} else if (x->active_deadline_s > 0 && agent_clock_ms() >= deadline) {
		snprintf(why, sizeof(why), "timed out: ran longer than its "
		    "active_deadline_s of %u s", x->active_deadline_s);
		ops->stop(xs->ag, x);
		execs_end(xs, x, EXEC_TIMED_OUT, why);
	}
}

/* Reports a final x; acknowledged: recorded so, and done here. */
static void
execs_settle(struct agent_execs *xs, struct agent_exec *x)
{
	if (agent_report_execution(xs->ag, x) == -1)
		return;   /* next look */
	x->acked = 1;
	execs_save(xs, x);
}

/* Under the lock: claims up to max executions the watcher has work on. */
static size_t
execs_claim(struct agent_execs *xs, struct agent_exec **v, size_t max)
{
	size_t n = 0;

	for (struct agent_exec *x = xs->head; x != NULL && n < max; x = x->next)
		if (!x->busy && !x->queued && !x->acked &&
		    x->state != EXEC_PENDING) {
			x->busy = 1;
			v[n++] = x;
		}
	return n;
}

/* Under the lock: frees the acknowledged ones nobody holds. */
static void
execs_reap(struct agent_execs *xs)
{
	struct agent_exec **pp = &xs->head, *x;

	while ((x = *pp) != NULL) {
		if (x->acked && !x->busy) {
			*pp = x->next;
			agent_exec_free(x);
		} else {
			pp = &x->next;
		}
	}
}

static void
execs_watch_once(struct agent_execs *xs, struct agent_exec **v)
{
	size_t n;

	pthread_mutex_lock(&xs->lock);
	n = execs_claim(xs, v, EXECS_BATCH);
	pthread_mutex_unlock(&xs->lock);
	for (size_t i = 0; i < n && !execs_stopping(xs); i++) {
		log_ctx_set("execution_id", v[i]->id);
		if (v[i]->state == EXEC_RUNNING)
			execs_watch(xs, v[i]);
		if (agent_exec_final(v[i]->state))
			execs_settle(xs, v[i]);
		log_ctx_clear();
	}
	pthread_mutex_lock(&xs->lock);
	for (size_t i = 0; i < n; i++)
		v[i]->busy = 0;
	execs_reap(xs);
	pthread_mutex_unlock(&xs->lock);
}

int
agent_execs_known(struct agent_execs *xs, const char *id)
{
	int known;

	pthread_mutex_lock(&xs->lock);
	known = execs_find(xs, id) != NULL;
	pthread_mutex_unlock(&xs->lock);
	return known;
}

static void *
execs_watcher(void *arg)
{
	struct agent_execs *xs = arg;
	struct agent_exec **v = calloc(EXECS_BATCH, sizeof(*v));
	const struct agent_exec_ops *ops = execs_ops(xs);
	int looks = 0;

	while (v != NULL && !execs_stopping(xs)) {
		execs_watch_once(xs, v);
		/* At start-up until the runtime answers, then now and then. */
		if (looks++ % ops->sweep_every == 0 &&
		    ops->sweep(xs->ag, xs) == -1)
			looks = 0;
		for (int ms = 0; ms < EXECS_WATCH_MS && !execs_stopping(xs);
		    ms += 50)
			usleep(50 * 1000);
	}
	free(v);
	return NULL;
}

/* --- start and stop ------------------------------------------------------ */

/* One record at start-up: kept when unfinished, pruned when long done. */
static void
execs_recover_one(struct agent_execs *xs, const char *name)
{
	struct agent_exec *x;
	size_t len;
	char *text = agent_journal_get(xs->ag->journal, EXECS_SUB, name, &len);

	if (text == NULL || (x = agent_exec_parse(text, len)) == NULL ||
	    strcmp(x->id, name) != 0) {
		log_warnx("execution record %s unreadable: left alone", name);
		free(text);
		return;
	}
	free(text);
	if (x->acked) {
		if (agent_clock_ms() - x->finished_at_ms > EXECS_KEEP_MS)
			agent_journal_unlink(xs->ag->journal, EXECS_SUB, name);
		agent_exec_free(x);
		return;
	}
	log_info("execution %s of %s in %s: %s%s", x->id, x->component_id,
	    x->environment, agent_exec_state_name(x->state),
	    x->state == EXEC_RUNNING ? ", watching it again" :
	    x->state == EXEC_PENDING ? ", starting it" : ", reporting it");
	x->recovered = !agent_exec_final(x->state);
	pthread_mutex_lock(&xs->lock);
	execs_add(xs, x);
	pthread_mutex_unlock(&xs->lock);
}

int
agent_execs_settled(struct agent_execs *xs)
{
	int settled = 1;

	pthread_mutex_lock(&xs->lock);
	for (struct agent_exec *x = xs->head; x != NULL && settled; x = x->next)
		if (x->recovered && !agent_exec_final(x->state))
			settled = 0;
	pthread_mutex_unlock(&xs->lock);
	return settled;
}

int
agent_execs_recover(struct agent_execs *xs, struct error *err)
{
	char **names;
	size_t n = agent_journal_names(xs->ag->journal, EXECS_SUB, &names);

	(void)err;
	for (size_t i = 0; i < n; i++) {
		execs_recover_one(xs, names[i]);
		free(names[i]);
	}
	free(names);
	return 0;
}

int
agent_execs_start(struct agent_execs *xs, struct error *err)
{
	int rc;

	for (xs->nstarters = 0; xs->nstarters < EXECS_STARTERS; xs->nstarters++)
		if ((rc = pthread_create(&xs->starters[xs->nstarters], NULL,
		    execs_starter, xs)) != 0) {
			error_set(err, "internal", "", "cannot start an execution "
			    "starter: %s", strerror(rc));
			return -1;
		}
	if ((rc = pthread_create(&xs->watcher, NULL, execs_watcher, xs)) != 0) {
		error_set(err, "internal", "", "cannot start the execution "
		    "watcher: %s", strerror(rc));
		return -1;
	}
	xs->watching = 1;
	return 0;
}

void
agent_execs_stop(struct agent_execs *xs, long long deadline)
{
	if (xs == NULL)
		return;
	pthread_mutex_lock(&xs->lock);
	pthread_cond_broadcast(&xs->work);
	pthread_mutex_unlock(&xs->lock);
	/* Running containers keep running: the next start adopts them. */
	for (int i = 0; i < xs->nstarters; i++)
		if (agent_slots_join(xs->ag, xs->starters[i], deadline) == -1) {
			pthread_detach(xs->starters[i]);
			xs->stuck++;
		}
	if (xs->watching && agent_slots_join(xs->ag, xs->watcher, deadline)
	    == -1) {
		pthread_detach(xs->watcher);
		xs->stuck++;
	}
	xs->nstarters = 0;
	xs->watching = 0;
}

int
agent_execs_busy(const struct agent_execs *xs)
{
	return xs != NULL && xs->stuck > 0;
}

void
agent_execs_free(struct agent_execs *xs)
{
	if (xs == NULL || xs->stuck > 0)
		return;
	for (struct agent_exec *x = xs->head, *n; x != NULL; x = n) {
		n = x->next;
		agent_exec_free(x);
	}
	pthread_cond_destroy(&xs->work);
	pthread_mutex_destroy(&xs->lock);
	free(xs);
}
