/*
 * agent_report.c: DeploymentStatus reports, sent from the apply workers.
 *
 * librdkafka's produce call is thread-safe; the delivery callback runs on
 * the main loop's thread (the producer's queue is wired to the loop), so a
 * worker waits for it on a condition variable. Reports of one deployment
 * share its key and so its partition, and the producer is idempotent: they
 * arrive in the order sent. The progress states (resolving, pulling,
 * starting) are therefore not waited for, saving a broker round trip per
 * step; a final state (running, failed, crashed) is, so the job that sent
 * it only ends, and its journal entry only goes, once it is acknowledged.
 * A lost progress report costs nothing: deploy-svc's state machine accepts
 * forward skips.
 *
 * ExecutionStatus reports (key = execution id) follow the same rule:
 * pending and running are not waited for, a final state is, and the
 * execution is only marked finished in its record once acknowledged.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "agent.h"
#include "topics.h"

#define REPORT_TIMEOUT_MS 15000

/* Delivery outcome of one report, waited for by the worker that sent it. */
struct report_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	int ok;
};

static const Slipway__V1__DeploymentState report_states[] = {
	[REPORT_RESOLVING] = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_RESOLVING,
	[REPORT_PULLING] = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_PULLING,
	[REPORT_STARTING] = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_STARTING,
	[REPORT_RUNNING] = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_RUNNING,
	[REPORT_FAILED] = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_FAILED,
	[REPORT_CRASHED] = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_CRASHED,
	[REPORT_READY] = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_READY,
};
static const Slipway__V1__ExecutionState exec_states[] = {
	[EXEC_PENDING] = SLIPWAY__V1__EXECUTION_STATE__EXECUTION_STATE_PENDING,
	[EXEC_RUNNING] = SLIPWAY__V1__EXECUTION_STATE__EXECUTION_STATE_RUNNING,
	[EXEC_SUCCEEDED] = SLIPWAY__V1__EXECUTION_STATE__EXECUTION_STATE_SUCCEEDED,
	[EXEC_FAILED] = SLIPWAY__V1__EXECUTION_STATE__EXECUTION_STATE_FAILED,
	[EXEC_TIMED_OUT] = SLIPWAY__V1__EXECUTION_STATE__EXECUTION_STATE_TIMED_OUT,
	[EXEC_SKIPPED] = SLIPWAY__V1__EXECUTION_STATE__EXECUTION_STATE_SKIPPED,
};
static const char *const report_names[] = {
	[REPORT_RESOLVING] = "resolving", [REPORT_PULLING] = "pulling",
	[REPORT_STARTING] = "starting", [REPORT_RUNNING] = "running",
	[REPORT_FAILED] = "failed", [REPORT_CRASHED] = "crashed",
	[REPORT_READY] = "ready",
};

/* protobuf-c messages hold char * even when only read while packing. */
static char *
report_str(const char *s)
{
	return (char *)(uintptr_t)(s != NULL ? s : "");
}

/* 1 for the states a deployment passes through on its way to a final one. */
static int
report_progress(enum agent_report_state s)
{
	return s == REPORT_RESOLVING || s == REPORT_PULLING ||
	    s == REPORT_STARTING;
}

static void
report_delivered(int ok, const char *errstr, void *arg)
{
	struct report_wait *w = arg;

	if (!ok)
		log_warnx("status report not delivered: %s", errstr ? errstr : "?");
	pthread_mutex_lock(&w->lock);
	w->done = 1;
	w->ok = ok;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/*
 * Waits for the delivery callback. When it never comes (the loop is gone:
 * shutdown), the wait object must outlive the message: it is leaked rather
 * than freed under a callback that may still run.
 */
static int
report_wait_ack(struct report_wait *w)
{
	struct timespec until;
	int ok, done;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += REPORT_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&w->lock);
	while (!w->done && pthread_cond_timedwait(&w->cond, &w->lock,
	    &until) == 0)
		;
	done = w->done;
	ok = w->ok;
	pthread_mutex_unlock(&w->lock);
	if (!done) {
		log_warnx("status report not acknowledged within %d ms",
		    REPORT_TIMEOUT_MS);
		return -1;
	}
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return ok ? 0 : -1;
}

static void
report_fill(Slipway__V1__DeploymentStatus *st, Slipway__V1__EndpointAddress
    *addr, Slipway__V1__EndpointAddress **addrp, const char *dataplane,
    const struct agent_report *r)
{
	const struct agent_spec *s = r->spec;

	st->deployment_id = report_str(s->deployment_id);
	st->component_id = report_str(s->component_id);
	st->environment = report_str(s->environment);
	st->dataplane = report_str(dataplane);
	st->state = report_states[r->state];
	st->digest = report_str(r->digest);
	st->reason = report_str(r->reason);
	st->observed_at_ms = clock_wall_ms();
	if (r->ev != NULL) {
		st->exited = r->ev->exited ? 1 : 0;
		st->exit_code = r->ev->exit_code;
		st->log_tail = report_str(r->ev->log_tail);
		st->probe = report_str(r->ev->probe);
	}
	for (size_t i = 0; i < r->naddr && i < AGENT_ENDPOINTS_MAX; i++) {
		slipway__v1__endpoint_address__init(&addr[i]);
		addr[i].name = report_str(r->addr[i].name);
		addr[i].type = report_str(r->addr[i].type);
		addr[i].visibility = report_str(r->addr[i].visibility);
		addr[i].url = report_str(r->addr[i].url);
		addrp[i] = &addr[i];
	}
	st->n_endpoints = r->naddr < AGENT_ENDPOINTS_MAX ? r->naddr :
	    AGENT_ENDPOINTS_MAX;
	st->endpoints = st->n_endpoints > 0 ? addrp : NULL;
}

/*
 * Produces env under key on the status topic; when wait, blocks until the
 * broker acknowledged it. 0 queued (and acknowledged when waited for).
 */
static int
report_produce(struct agent_ctx *ag, const char *key, const Envelope *env,
    int wait)
{
	struct report_wait *w = NULL;
	struct error err;

	if (wait && (w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	if (w != NULL) {
		pthread_mutex_init(&w->lock, NULL);
		pthread_cond_init(&w->cond, NULL);
	}
	if (envelope_produce(ag->producer, TOPIC_DATAPLANE_STATUS, key, env,
	    w ? report_delivered : NULL, w, &err) == -1) {
		log_warnx("status report not queued: %s", err.msg);
		if (w != NULL) {
			pthread_cond_destroy(&w->cond);
			pthread_mutex_destroy(&w->lock);
			free(w);
		}
		return -1;
	}
	return w != NULL ? report_wait_ack(w) : 0;
}

int
agent_report_send(struct agent_ctx *ag, const struct agent_report *r)
{
	Slipway__V1__DeploymentStatus st;
	Slipway__V1__EndpointAddress addr[AGENT_ENDPOINTS_MAX];
	Slipway__V1__EndpointAddress *addrp[AGENT_ENDPOINTS_MAX];
	Envelope env;
	char eid[37];

	slipway__v1__deployment_status__init(&st);
	report_fill(&st, addr, addrp, ag->dataplane, r);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_DEPLOYMENT_STATUS, eid,
	    r->spec->org, r->spec->trace_id[0] ? r->spec->trace_id : NULL);
	env.deployment_status = &st;
	log_info("reporting %s%s%s", report_names[r->state],
	    r->reason && r->reason[0] ? ": " : "", r->reason ? r->reason : "");
	return report_produce(ag, r->spec->deployment_id, &env,
	    !report_progress(r->state));
}

int
agent_report_execution(struct agent_ctx *ag, const struct agent_exec *x)
{
	Slipway__V1__ExecutionStatus st;
	Envelope env;
	char eid[37];
	int final = agent_exec_final(x->state);

	slipway__v1__execution_status__init(&st);
	st.execution_id = report_str(x->id);
	st.component_id = report_str(x->component_id);
	st.environment = report_str(x->environment);
	st.deployment_id = report_str(x->deployment_id);
	st.dataplane = report_str(ag->dataplane);
	st.state = exec_states[x->state];
	st.trigger = report_str(x->trigger);
	st.scheduled_for_ms = x->scheduled_for_ms;
	st.started_at_ms = x->started_at_ms;
	st.finished_at_ms = x->finished_at_ms;
	st.exit_code = x->exit_code;
	st.exited = x->exited ? 1 : 0;
	st.reason = report_str(x->reason);
	st.log_tail = report_str(x->log_tail);
	st.observed_at_ms = agent_clock_ms();
	st.digest = report_str(x->digest);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_EXECUTION_STATUS, eid,
	    x->org, x->trace_id[0] ? x->trace_id : NULL);
	env.execution_status = &st;
	log_info("execution %s: reporting %s%s%s", x->id,
	    agent_exec_state_name(x->state), x->reason[0] ? ": " : "", x->reason);
	return report_produce(ag, x->id, &env, final);
}

enum agent_report_state
agent_report_state_of(enum agent_apply_state s)
{
	static const enum agent_report_state map[] = {
		[APPLY_RESOLVING] = REPORT_RESOLVING, [APPLY_PULLING] = REPORT_PULLING,
		[APPLY_STARTING] = REPORT_STARTING, [APPLY_RUNNING] = REPORT_RUNNING,
		[APPLY_FAILED] = REPORT_FAILED, [APPLY_READY] = REPORT_READY,
	};

	return map[s];
}
