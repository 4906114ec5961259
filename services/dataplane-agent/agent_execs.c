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
#define EXECS_STOP_S     5      /* SIGTERM -> SIGKILL for a stopped run */
#define EXECS_BATCH      256    /* executions one watcher look handles */
#define EXECS_REPLACE_WAIT_MS 60000
#define EXECS_KEEP_MS    (7LL * 86400 * 1000)   /* acknowledged records */
#define EXECS_SUB        "executions"
#define EXECS_SWEEP_EVERY 240   /* watcher looks between orphan sweeps */

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

/* Pulls x's pinned image when the engine lacks it (as services do). */
static int
execs_pull(struct agent_execs *xs, const struct agent_exec *x,
    const char *image, const struct image_ref *ref, struct error *err)
{
	struct agent_cred cr;
	int have, rc;

	if (engine_image_present(xs->ag->engine, image))
		return 0;
	have = agent_cutover_cred(xs->ag, x->registry_id, ref->domain, &cr) == 0;
	rc = engine_pull(xs->ag->engine, image, have ? cr.username : NULL,
	    have ? cr.password : NULL, ref->domain, err);
	if (have)
		agent_cred_wipe(&cr);
	return rc;
}

/* Creates x's container: a service's isolation and limits, no ports. */
static int
execs_create(struct agent_execs *xs, const struct agent_exec *x,
    const char *name, const char *image, struct error *err)
{
	char sched[32];
	const char *labels[] = { "slipway.managed", "true", "slipway.component",
	    x->component_id, "slipway.environment", x->environment,
	    "slipway.deployment", x->deployment_id, "slipway.execution", x->id,
	    "slipway.trigger", x->trigger, "slipway.scheduled_for", sched,
	    "slipway.digest", x->digest, "slipway.dataplane",
	    xs->ag->dataplane, NULL };
	struct engine_container ec = { name, image,
	    (const char *const *)x->env, labels, xs->ag->network, NULL, 0, 0, 0,
	    0, 0, (const char *const *)x->args };

	snprintf(sched, sizeof(sched), "%lld", x->scheduled_for_ms);
	agent_cutover_limits(xs->ag, &x->res, &ec);
	return engine_create(xs->ag->engine, &ec, err);
}

/*
 * Gets x's container running: adopts one that exists (a restart after a
 * crash between create and the running record), else pulls and creates.
 * 1 when the container had exited already (it ran: the watcher reads it).
 */
static int
execs_launch(struct agent_execs *xs, const struct agent_exec *x,
    const char *name, struct error *err)
{
	struct engine *e = xs->ag->engine;
	struct engine_state st;
	struct image_ref ref;
	char image[700];

	if (engine_inspect(e, name, &st, err) == -1)
		return -1;
	if (st.exists && st.running)
		return 0;
	if (st.exists && !st.created)
		return 1;
	if (!st.exists) {
		if (image_ref_parse(x->image, &ref, err) == -1)
			return -1;
		snprintf(image, sizeof(image), "%s/%s@%s", ref.domain, ref.path,
		    x->digest);
		if (execs_pull(xs, x, image, &ref, err) == -1 ||
		    execs_create(xs, x, name, image, err) == -1)
			return -1;
	}
	return engine_start(e, name, err);
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
	char name[AGENT_NAME_MAX];
	struct error err, rerr;
	int rc;

	error_clear(&err);
	if (x->stop_reason[0] != '\0') {
		execs_finish(xs, x, EXEC_FAILED, x->stop_reason);
		return;
	}
	if (x->replaces[0] != '\0')
		execs_replace(xs, x);
	if (agent_exec_container_name(x, name, sizeof(name)) == -1) {
		execs_finish(xs, x, EXEC_FAILED, "start_failed: invalid names");
		return;
	}
	if ((rc = execs_launch(xs, x, name, &err)) == -1) {
		if (execs_stopping(xs))
			return;   /* still pending: the next start tries again */
		log_warnx("execution %s: %s", x->id, err.msg);
		engine_remove(xs->ag->engine, name, &rerr);
		execs_finish(xs, x, EXEC_FAILED, err.msg[0] ? err.msg :
		    "start_failed");
		return;
	}
	agent_exec_transition(x, EXEC_RUNNING);
	x->started_at_ms = agent_clock_ms();
	execs_save(xs, x);
	log_info("execution %s %s in %s", x->id, rc == 1 ? "had run already" :
	    "started", name);
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

/* The exit, as a final state and reason. */
static enum agent_exec_state
execs_outcome(const struct engine_state *st, char *reason, size_t len)
{
	if (st->exit_code == 0) {
		reason[0] = '\0';
		return EXEC_SUCCEEDED;
	}
	snprintf(reason, len, "exited with code %d%s", st->exit_code,
	    st->oom_killed ? " (out of memory)" : "");
	return EXEC_FAILED;
}

/*
 * Ends x (its container stopped or exited): exit code and log tail into
 * the record first, then the container goes. stopped_as/why override the
 * outcome when the agent stopped it.
 */
static void
execs_end(struct agent_execs *xs, struct agent_exec *x, const char *name,
    enum agent_exec_state stopped_as, const char *why)
{
	struct engine *e = xs->ag->engine;
	struct engine_state st;
	struct error err;
	char reason[AGENT_REASON_MAX];
	enum agent_exec_state next;

	if (engine_inspect(e, name, &st, &err) == -1)
		return;   /* the engine does not answer: next look */
	engine_logs_tail(e, name, AGENT_EXEC_LOG_LINES, x->log_tail,
	    sizeof(x->log_tail), &err);
	x->exited = st.exists;
	x->exit_code = st.exit_code;
	next = execs_outcome(&st, reason, sizeof(reason));
	if (why != NULL) {
		next = stopped_as;
		snprintf(reason, sizeof(reason), "%s", why);
	}
	execs_finish(xs, x, next, reason);
	if (engine_remove(e, name, &err) == -1)
		log_warnx("execution %s: %s", x->id, err.msg);
}

/* One look at a running x (held busy). */
static void
execs_watch(struct agent_execs *xs, struct agent_exec *x)
{
	struct engine *e = xs->ag->engine;
	char name[AGENT_NAME_MAX], why[AGENT_REASON_MAX];
	struct engine_state st;
	struct error err;
	long long deadline = x->started_at_ms + (long long)x->active_deadline_s *
	    1000;

	if (agent_exec_container_name(x, name, sizeof(name)) == -1 ||
	    engine_inspect(e, name, &st, &err) == -1)
		return;
	x->recovered = 0;   /* seen: what it is now is what the engine says */
	if (!st.exists) {
		execs_finish(xs, x, EXEC_FAILED, "lost: its container is gone "
		    "(removed while the agent was not watching it)");
		return;
	}
	if (!st.running) {
		execs_end(xs, x, name, EXEC_FAILED, x->stop_reason[0] ?
		    x->stop_reason : NULL);
		return;
	}
	if (x->stop_reason[0] != '\0') {
		engine_stop(e, name, EXECS_STOP_S);
		execs_end(xs, x, name, EXEC_FAILED, x->stop_reason);
	} else if (x->active_deadline_s > 0 && agent_clock_ms() >= deadline) {
		snprintf(why, sizeof(why), "timed out: ran longer than its "
		    "active_deadline_s of %u s", x->active_deadline_s);
		engine_stop(e, name, EXECS_STOP_S);
		execs_end(xs, x, name, EXEC_TIMED_OUT, why);
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

/*
 * Removes execution containers no unfinished execution owns: leftovers of
 * a finished one whose removal failed, or of a record that is gone. An
 * execution is in the list from before its container is created until
 * after it was removed, so a live one is never taken.
 */
static int
execs_sweep(struct agent_execs *xs)
{
	struct engine_summary *c;
	struct error err;
	size_t n;
	int known;

	if (engine_list(xs->ag->engine, &c, &n, &err) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		/* Another data plane's agent may share the engine. */
		if (!agent_execs_owns(&c[i]) ||
		    strcmp(c[i].dataplane, xs->ag->dataplane) != 0)
			continue;
		pthread_mutex_lock(&xs->lock);
		known = execs_find(xs, c[i].execution) != NULL;
		pthread_mutex_unlock(&xs->lock);
		if (known)
			continue;
		log_info("removing container %s: its execution is finished",
		    c[i].name);
		if (engine_remove(xs->ag->engine, c[i].name, &err) == -1)
			log_warnx("%s", err.msg);
	}
	free(c);
	return 0;
}

static void *
execs_watcher(void *arg)
{
	struct agent_execs *xs = arg;
	struct agent_exec **v = calloc(EXECS_BATCH, sizeof(*v));
	int looks = 0;

	while (v != NULL && !execs_stopping(xs)) {
		execs_watch_once(xs, v);
		/* At start-up until the engine answers, then now and then. */
		if (looks++ % EXECS_SWEEP_EVERY == 0 && execs_sweep(xs) == -1)
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
