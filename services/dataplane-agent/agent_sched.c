/*
 * agent_sched.c: the scheduler of the ready scheduled tasks this agent
 * serves, on a thread of its own (never the consumer's).
 *
 * Per slot it keeps the parsed cron expression and time zone (rebuilt
 * only when the settings change) and the last minute it handled, on disk
 * (<state>/schedules/<component>@<environment>.json). At each UTC minute
 * boundary of the agent's clock (agent_clock.c) it asks cron_due whether
 * that minute is due in the task's zone, and starts an execution whose id
 * is derived from (component, environment, minute): a minute can never
 * get two different ids, so a duplicate is recognised as such by
 * agent_execs_submit, whoever makes it.
 *
 * Exactly once through restarts: the minute's execution record is written
 * first (fsync'd), then the last handled minute, then the execution is
 * queued. A crash between the two writes replays the minute with the same
 * id, which is recorded already and not run again; a crash after them
 * finds the minute handled. Minutes missed while the agent was down are
 * caught up by agent_sched_plan: the newest within starting_deadline_s
 * runs once, the others are reported skipped (at most
 * AGENT_SCHED_SKIP_MAX of them).
 *
 * concurrency_policy, when a run is due while one of the slot still runs:
 * forbid (the default) holds the new one back (as Kubernetes does) and
 * starts it late if the old one ends within starting_deadline_s; it is
 * skipped when the deadline passes or a later minute comes due first;
 * allow runs both; replace stops the old one (failed, "replaced by ...")
 * and then starts the new one. A held minute is kept on disk too.
 *
 * Only one agent may use a state directory (agent_journal_lock), so two
 * agents of one data plane never schedule the same slot.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "agent.h"
#include "cron.h"
#include "crypto.h"
#include "tz.h"

#define SCHED_SUB      "schedules"
#define SCHED_TICK_MS  1000    /* real time between looks, at most */
#define SCHED_SETTLE_MS 30000  /* waited for recovered runs, at most */

/* One scheduled slot. */
struct sched_slot {
	char component_id[AGENT_ID_MAX];
	char environment[AGENT_ID_MAX];
	struct workload_task task;
	struct cron cron;
	struct tz *tz;                  /* NULL: the zone did not load */
	struct agent_exec *tmpl;        /* what each run starts from */
	long long last;                 /* last minute handled (UTC s) */
	long long held;                 /* forbid: due, waiting; -1 none */
	struct sched_slot *next;
};

struct agent_sched {
	struct agent_ctx *ag;
	pthread_mutex_t lock;
	struct sched_slot *head;
	pthread_t thread;
	int running;
	int stuck;
};

/* --- pure parts ----------------------------------------------------------- */

/* now_s's minute (UTC s, floor). */
static long long
sched_minute(long long t)
{
	return t - ((t % 60) + 60) % 60;
}

void
agent_sched_plan(long long last, long long now_s,
    unsigned starting_deadline_s, int (*due)(void *arg, long long minute),
    void *arg, struct agent_sched_plan *p)
{
	long long now_min = sched_minute(now_s), first = sched_minute(last) + 60;
	long long newest[AGENT_SCHED_SKIP_MAX];
	enum agent_sched_skip why[AGENT_SCHED_SKIP_MAX];
	int n = 0;

	memset(p, 0, sizeof(*p));
	p->run = -1;
	if ((now_min - first) / 60 >= AGENT_SCHED_SCAN_MAX)
		first = now_min - (AGENT_SCHED_SCAN_MAX - 1) * 60LL;
	/* Newest first: the newest due minute within the deadline runs. */
	for (long long m = now_min; m >= first; m -= 60) {
		int late = now_s - m > (long long)starting_deadline_s;
		if (!due(arg, m))
			continue;
		if (p->run == -1 && !late) {
			p->run = m;
			continue;
		}
		if (n == AGENT_SCHED_SKIP_MAX) {
			p->dropped++;
			continue;
		}
		why[n] = late ? SCHED_SKIP_MISSED : SCHED_SKIP_SUPERSEDED;
		newest[n++] = m;
	}
	for (int i = 0; i < n; i++) {
		p->skipped[i] = newest[n - 1 - i];
		p->why[i] = why[n - 1 - i];
	}
	p->nskipped = n;
}

void
agent_sched_execution_id(const char *component_id, const char *environment,
    long long minute, char out[37])
{
	char in[256], hex[65];
	int n = snprintf(in, sizeof(in), "slipway.schedule/1\n%s\n%s\n%lld",
	    component_id, environment, minute);
	static const int groups[] = { 8, 4, 4, 4, 12 };
	int h = 0, o = 0;

	crypto_sha256_hex(in, n > 0 ? (size_t)n : 0, hex);
	/* RFC 9562: version 8 (a custom, here name-based, UUID), variant 10. */
	hex[12] = '8';
	hex[16] = "89ab"[(hex[16] >= 'a' ? hex[16] - 'a' + 10 : hex[16] - '0') & 3];
	for (int g = 0; g < 5; g++) {
		if (g > 0)
			out[o++] = '-';
		for (int k = 0; k < groups[g]; k++)
			out[o++] = hex[h++];
	}
	out[o] = '\0';
}

/* --- the slots' state ------------------------------------------------------ */

static void
sched_state_name(const struct sched_slot *sl, char *buf, size_t len)
{
	snprintf(buf, len, "%s@%s", sl->component_id, sl->environment);
}

/* Persists the last handled minute (fsync'd); -1 logged. */
static int
sched_save(struct agent_sched *s, const struct sched_slot *sl)
{
	char name[160], *js;
	json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "component_id",
	    sl->component_id, "environment", sl->environment, "last_minute",
	    (json_int_t)sl->last, "held_minute", (json_int_t)sl->held);
	int rc = -1;

	sched_state_name(sl, name, sizeof(name));
	if (o != NULL && (js = json_dumps(o, JSON_COMPACT)) != NULL) {
		rc = agent_journal_put(s->ag->journal, SCHED_SUB, name, js,
		    strlen(js));
		free(js);
	}
	json_decref(o);
	if (rc == -1)
		log_warn("schedule of %s: cannot write its last minute", name);
	return rc;
}

/* The last handled (and any held) minute on disk; -1 when none. */
static long long
sched_load_last(struct agent_sched *s, struct sched_slot *sl)
{
	char name[160];
	size_t len;
	char *text;
	json_t *o;
	long long last = -1;

	sched_state_name(sl, name, sizeof(name));
	if ((text = agent_journal_get(s->ag->journal, SCHED_SUB, name, &len))
	    == NULL)
		return -1;
	if ((o = json_loadb(text, len, 0, NULL)) != NULL &&
	    json_is_integer(json_object_get(o, "last_minute")))
		last = (long long)json_integer_value(json_object_get(o,
		    "last_minute"));
	if (last != -1 && json_is_integer(json_object_get(o, "held_minute")))
		sl->held = (long long)json_integer_value(json_object_get(o,
		    "held_minute"));
	json_decref(o);
	free(text);
	return last;
}

/* Under the lock. */
static struct sched_slot **
sched_find(struct agent_sched *s, const char *component_id,
    const char *environment)
{
	struct sched_slot **pp = &s->head;

	for (; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->component_id, component_id) == 0 &&
		    strcmp((*pp)->environment, environment) == 0)
			break;
	return pp;
}

static void
sched_slot_free(struct sched_slot *sl)
{
	tz_free(sl->tz);
	agent_exec_free(sl->tmpl);
	free(sl);
}

/* Parses the schedule and loads the zone when they changed. */
static void
sched_settings(struct sched_slot *sl, const struct workload_task *t)
{
	struct error err;
	int same = sl->tz != NULL && strcmp(sl->task.schedule, t->schedule) == 0
	    && strcmp(sl->task.timezone, t->timezone) == 0;

	sl->task = *t;
	if (same)
		return;
	tz_free(sl->tz);
	sl->tz = NULL;
	if (cron_parse(t->schedule, &sl->cron, &err) == -1 ||
	    (sl->tz = tz_load(t->timezone, &err)) == NULL)
		log_warnx("schedule of %s in %s (\"%s\", %s) unusable: %s: not "
		    "scheduled", sl->component_id, sl->environment, t->schedule,
		    t->timezone, err.msg);
}

/* A new slot, scheduled from its stored minute or from now on. */
static struct sched_slot *
sched_slot_new(struct agent_sched *s, const struct agent_spec *spec)
{
	struct sched_slot *sl = calloc(1, sizeof(*sl));

	if (sl == NULL)
		return NULL;
	snprintf(sl->component_id, sizeof(sl->component_id), "%s",
	    spec->component_id);
	snprintf(sl->environment, sizeof(sl->environment), "%s",
	    spec->environment);
	sl->held = -1;
	if ((sl->last = sched_load_last(s, sl)) == -1) {
		/* First deployed now: history is not caught up. */
		sl->last = sched_minute(agent_clock_ms() / 1000);
		sched_save(s, sl);
	}
	return sl;
}

void
agent_sched_serve(struct agent_sched *s, const struct agent_spec *spec,
    const char *digest, const struct workload_task *t)
{
	struct sched_slot **pp, *sl;
	struct agent_exec *tmpl = NULL;

	if (s == NULL)
		return;
	if (t != NULL && t->set && t->schedule[0] != '\0' &&
	    (tmpl = agent_exec_from_spec(spec, digest, t->active_deadline_s))
	    == NULL)
		log_warnx("schedule of %s: out of memory", spec->component_id);
	pthread_mutex_lock(&s->lock);
	pp = sched_find(s, spec->component_id, spec->environment);
	if (tmpl == NULL) {
		/* Not a scheduled task (any more): off the schedule. */
		if ((sl = *pp) != NULL) {
			*pp = sl->next;
			sched_slot_free(sl);
		}
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if ((sl = *pp) == NULL && (sl = *pp = sched_slot_new(s, spec)) == NULL) {
		pthread_mutex_unlock(&s->lock);
		agent_exec_free(tmpl);
		return;
	}
	agent_exec_free(sl->tmpl);
	sl->tmpl = tmpl;
	sched_settings(sl, t);
	pthread_mutex_unlock(&s->lock);
	log_info("scheduling %s in %s: \"%s\" (%s), %s", spec->component_id,
	    spec->environment, t->schedule, t->timezone, t->concurrency_policy);
}

void
agent_sched_forget(struct agent_sched *s, const char *component_id,
    const char *environment)
{
	struct sched_slot **pp, *sl;
	char name[160];

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	pp = sched_find(s, component_id, environment);
	if ((sl = *pp) != NULL) {
		*pp = sl->next;
		sched_slot_free(sl);
	}
	pthread_mutex_unlock(&s->lock);
	snprintf(name, sizeof(name), "%s@%s", component_id, environment);
	agent_journal_unlink(s->ag->journal, SCHED_SUB, name);
}

/* --- running ---------------------------------------------------------------- */

/* "2026-12-01T22:47:00Z" */
static void
sched_time(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
sched_due(void *arg, long long minute)
{
	const struct sched_slot *sl = arg;

	return cron_due(&sl->cron, sl->tz, minute);
}

/* The run of sl at minute (pending), or NULL. */
static struct agent_exec *
sched_exec(const struct sched_slot *sl, long long minute)
{
	struct agent_exec *x = agent_exec_clone(sl->tmpl);

	if (x == NULL)
		return NULL;
	agent_sched_execution_id(sl->component_id, sl->environment, minute, x->id);
	snprintf(x->trigger, sizeof(x->trigger), "schedule");
	x->scheduled_for_ms = minute * 1000;
	return x;
}

/* Records minute of sl as skipped, with why. */
static void
sched_skip(struct agent_sched *s, const struct sched_slot *sl,
    long long minute, const char *why)
{
	struct agent_exec *x = sched_exec(sl, minute);

	if (x == NULL)
		return;
	agent_exec_transition(x, EXEC_SKIPPED);
	x->finished_at_ms = agent_clock_ms();
	snprintf(x->reason, sizeof(x->reason), "%s", why);
	agent_execs_submit(s->ag->execs, x);
}

static void
sched_skip_planned(struct agent_sched *s, const struct sched_slot *sl,
    const struct agent_sched_plan *p)
{
	char why[AGENT_REASON_MAX], at[32];

	for (int i = 0; i < p->nskipped; i++) {
		if (p->why[i] == SCHED_SKIP_MISSED)
			snprintf(why, sizeof(why), "missed by more than "
			    "starting_deadline_s (%u s) while the agent was not "
			    "running", sl->task.starting_deadline_s);
		else {
			sched_time(p->run, at, sizeof(at));
			snprintf(why, sizeof(why), "superseded by a later catch-up "
			    "run (scheduled for %s) after the agent was not running",
			    at);
		}
		sched_skip(s, sl, p->skipped[i], why);
	}
	if (p->dropped > 0)
		log_warnx("schedule of %s in %s: %lld more missed runs not reported",
		    sl->component_id, sl->environment, p->dropped);
}

/* forbid: the held minute did not start; skipped with the reason. */
static void
sched_skip_held(struct agent_sched *s, struct sched_slot *sl)
{
	char active[AGENT_ID_MAX] = "", why[AGENT_REASON_MAX];

	agent_execs_active(s->ag->execs, sl->component_id, sl->environment,
	    active, sizeof(active));
	if (active[0] != '\0')
		snprintf(why, sizeof(why), "the previous run %s is still running "
		    "(concurrency_policy forbid)", active);
	else
		snprintf(why, sizeof(why), "the previous run was still running "
		    "past starting_deadline_s (concurrency_policy forbid)");
	sched_skip(s, sl, sl->held, why);
	sl->held = -1;
}

/*
 * The due run at minute, under the concurrency policy; 1 when forbid
 * holds it back (the previous run still runs).
 */
static int
sched_run(struct agent_sched *s, const struct sched_slot *sl,
    long long minute)
{
	char active[AGENT_ID_MAX], at[32];
	struct agent_exec *x;
	const char *policy = sl->task.concurrency_policy;

	if (agent_execs_active(s->ag->execs, sl->component_id, sl->environment,
	    active, sizeof(active)) > 0 && strcmp(policy, "allow") != 0) {
		if (strcmp(policy, "replace") != 0)
			return 1;
		if ((x = sched_exec(sl, minute)) == NULL)
			return 0;
		sched_time(minute, at, sizeof(at));
		snprintf(x->replaces, sizeof(x->replaces), "%s", active);
		snprintf(x->replace_reason, sizeof(x->replace_reason), "replaced by "
		    "the run scheduled for %s", at);
		agent_execs_submit(s->ag->execs, x);
		return 0;
	}
	if ((x = sched_exec(sl, minute)) != NULL)
		agent_execs_submit(s->ag->execs, x);
	return 0;
}

/* A held minute: started once the previous run ended, or skipped. */
static int
sched_held(struct agent_sched *s, struct sched_slot *sl, long long now_s)
{
	if (sl->held < 0)
		return 0;
	if (now_s - sl->held > (long long)sl->task.starting_deadline_s)
		sched_skip_held(s, sl);
	else if (sched_run(s, sl, sl->held) == 0)
		sl->held = -1;
	return sl->held < 0;
}

/* One slot at now_s: the minutes since its last one. */
static void
sched_slot_tick(struct agent_sched *s, struct sched_slot *sl, long long now_s)
{
	struct agent_sched_plan *p;
	long long now_min = sched_minute(now_s);

	if (sl->tz == NULL)
		return;
	log_ctx_set("component_id", sl->component_id);
	if (now_min <= sl->last || (p = malloc(sizeof(*p))) == NULL) {
		if (sched_held(s, sl, now_s))
			sched_save(s, sl);
		log_ctx_clear();
		return;
	}
	agent_sched_plan(sl->last, now_s, sl->task.starting_deadline_s,
	    sched_due, sl, p);
	sched_skip_planned(s, sl, p);
	/* A later minute is due: the one held back does not run any more. */
	if (sl->held >= 0 && p->run >= 0)
		sched_skip_held(s, sl);
	sched_held(s, sl, now_s);
	/* The records first, then the minute: a replay finds them recorded. */
	if (p->run >= 0 && sched_run(s, sl, p->run) == 1)
		sl->held = p->run;
	sl->last = now_min;
	sched_save(s, sl);
	log_ctx_clear();
	free(p);
}

/* Real ms until the agent clock's next minute, within [10, SCHED_TICK_MS]. */
static int
sched_wait_ms(long long now_ms)
{
	long long next = (sched_minute(now_ms / 1000) + 60) * 1000;
	long long real = agent_clock_real_ms(next - now_ms) + 5;

	return real < 10 ? 10 : real > SCHED_TICK_MS ? SCHED_TICK_MS : (int)real;
}

void
agent_sched_tick(struct agent_sched *s, long long now_s)
{
	pthread_mutex_lock(&s->lock);
	for (struct sched_slot *sl = s->head; sl != NULL; sl = sl->next)
		sched_slot_tick(s, sl, now_s);
	pthread_mutex_unlock(&s->lock);
}

static void *
sched_main(void *arg)
{
	struct agent_sched *s = arg;

	/*
	 * A run that ended while the agent was down still looks active until
	 * the watcher saw it: forbid would skip the catch-up run over it.
	 */
	for (int ms = 0; ms < SCHED_SETTLE_MS && !agent_execs_settled(
	    s->ag->execs) && !atomic_load(&s->ag->stopping); ms += 50)
		usleep(50 * 1000);
	while (!atomic_load(&s->ag->stopping)) {
		agent_sched_tick(s, agent_clock_ms() / 1000);
		for (int ms = sched_wait_ms(agent_clock_ms()); ms > 0 &&
		    !atomic_load(&s->ag->stopping); ms -= 10)
			usleep((useconds_t)(ms < 10 ? ms : 10) * 1000);
	}
	return NULL;
}

struct agent_sched *
agent_sched_new(struct agent_ctx *ag)
{
	struct agent_sched *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->ag = ag;
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

int
agent_sched_start(struct agent_sched *s, struct error *err)
{
	int rc = pthread_create(&s->thread, NULL, sched_main, s);

	if (rc != 0) {
		error_set(err, "internal", "", "cannot start the scheduler: %s",
		    strerror(rc));
		return -1;
	}
	s->running = 1;
	return 0;
}

void
agent_sched_stop(struct agent_sched *s, long long deadline)
{
	if (s == NULL || !s->running)
		return;
	if (agent_slots_join(s->ag, s->thread, deadline) == -1) {
		pthread_detach(s->thread);
		s->stuck = 1;
	}
	s->running = 0;
}

int
agent_sched_busy(const struct agent_sched *s)
{
	return s != NULL && s->stuck;
}

void
agent_sched_free(struct agent_sched *s)
{
	if (s == NULL || s->stuck)
		return;
	for (struct sched_slot *sl = s->head, *n; sl != NULL; sl = n) {
		n = sl->next;
		sched_slot_free(sl);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}
