/*
 * agent_apply.c: the apply state machine of one ApplyDeployment,
 *
 *   resolving -> pulling -> starting -> running
 *        \          \  \        \
 *         \          \  +-> ready (a task)
 *          +----------+----------+--> failed
 *
 * driven through a table of steps: resolve, pull, start (the new version
 * beside the old one), health, route (the gateway moves to it: the commit
 * point). A failure before route discards the new version and leaves the
 * old one serving; after running is reported, retire drains and removes the
 * old one. The steps come in as function pointers so the machine is tested
 * with fakes; agent_cutover.c wires the real ones. Every state entered is
 * reported, and the machine only moves on once the report was acknowledged,
 * so deploy-svc sees the states in order and none is lost.
 *
 * A task (scheduled-task, manual-task) has no container of its own: its
 * apply resolves and pulls, then pins the digest in the slot's record (the
 * pin step, its commit point) and is ready; its executions start from that
 * pinned image later (agent_exec.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

static const char *const apply_state_names[] = {
	[APPLY_RESOLVING] = "resolving",
	[APPLY_PULLING] = "pulling",
	[APPLY_STARTING] = "starting",
	[APPLY_RUNNING] = "running",
	[APPLY_FAILED] = "failed",
	[APPLY_READY] = "ready",
};

/*
 * Legal moves: forward one step, or to failed from any live state. From
 * pulling, a service goes on to starting and a task to ready, never the
 * other way round.
 */
static const enum agent_apply_state apply_next[APPLY_STARTING + 1] = {
	[APPLY_RESOLVING] = APPLY_PULLING,
	[APPLY_PULLING] = APPLY_STARTING,
	[APPLY_STARTING] = APPLY_RUNNING,
};
static const enum agent_apply_state apply_task_next[APPLY_STARTING + 1] = {
	[APPLY_RESOLVING] = APPLY_PULLING,
	[APPLY_PULLING] = APPLY_READY,
};

/* The steps, in order: each runs in `in` and on success moves to `next`. */
struct apply_step {
	enum agent_apply_state in;
	size_t op;                      /* offset of the op in agent_apply_ops */
	enum agent_apply_state next;
};
#define APPLY_OP(f) offsetof(struct agent_apply_ops, f)
static const struct apply_step apply_steps[] = {
	{ APPLY_RESOLVING, APPLY_OP(resolve), APPLY_PULLING },
	{ APPLY_PULLING, APPLY_OP(pull), APPLY_STARTING },
	{ APPLY_STARTING, APPLY_OP(start), APPLY_STARTING },
	{ APPLY_STARTING, APPLY_OP(health), APPLY_STARTING },
	{ APPLY_STARTING, APPLY_OP(route), APPLY_RUNNING },
};
static const struct apply_step apply_task_steps[] = {
	{ APPLY_RESOLVING, APPLY_OP(resolve), APPLY_PULLING },
	{ APPLY_PULLING, APPLY_OP(pull), APPLY_PULLING },
	{ APPLY_PULLING, APPLY_OP(pin), APPLY_READY },
};

typedef int (*apply_op)(void *, struct agent_apply *, struct error *);

const char *
agent_apply_state_name(enum agent_apply_state s)
{
	if ((unsigned)s > APPLY_READY)
		return "unknown";
	return apply_state_names[s];
}

static int
apply_terminal(enum agent_apply_state s)
{
	return s == APPLY_RUNNING || s == APPLY_FAILED || s == APPLY_READY;
}

static int
apply_is_task(const struct agent_apply *a)
{
	return a->spec != NULL && agent_spec_is_task(a->spec);
}

int
agent_apply_transition(struct agent_apply *a, enum agent_apply_state next)
{
	const enum agent_apply_state *tab = apply_is_task(a) ? apply_task_next :
	    apply_next;

	if ((unsigned)a->state > APPLY_READY || (unsigned)next > APPLY_READY ||
	    apply_terminal(a->state))
		return -1;
	/* The tables leave unlisted states 0 (resolving): never a target. */
	if (next != APPLY_FAILED && (a->state > APPLY_STARTING ||
	    tab[a->state] != next || next == APPLY_RESOLVING))
		return -1;
	a->state = next;
	return 0;
}

/*
 * Parses the image, pins the digest when the command carries one, and names
 * the container. Deterministic from the command, so a re-run after a crash
 * finds and replaces the same container.
 */
static int
apply_prepare(struct agent_apply *a, struct error *err)
{
	const struct agent_spec *s = a->spec;

	if (agent_spec_container_name(s, a->container, sizeof(a->container))
	    == -1) {
		error_set(err, "start_failed", "", "start_failed: invalid "
		    "component id, environment or deployment id");
		return -1;
	}
	if (image_ref_parse(s->image, &a->ref, err) == -1) {
		error_set(err, "manifest_unknown", "", "manifest_unknown: invalid "
		    "image reference");
		return -1;
	}
	if (s->pinned_digest[0] != '\0')
		snprintf(a->ref.digest, sizeof(a->ref.digest), "%s",
		    s->pinned_digest);
	return 0;
}

/* Enters next and reports it; -1 only when the report was not delivered. */
static int
apply_enter(struct agent_apply *a, const struct agent_apply_ops *ops,
    enum agent_apply_state next)
{
	if (next == a->state)
		return 0;
	if (agent_apply_transition(a, next) == -1)
		return -1;
	return ops->report(ops->ctx, a) == 0 ? 0 : -1;
}

static int
apply_fail(struct agent_apply *a, const struct agent_apply_ops *ops,
    const struct error *err)
{
	if (a->container[0] != '\0')
		ops->discard(ops->ctx, a);
	/* Stopping is no failure: the journaled command runs again. */
	if (strcmp(err->code, "stopping") == 0)
		return -1;
	snprintf(a->reason, sizeof(a->reason), "%s", err->msg);
	if (agent_apply_transition(a, APPLY_FAILED) == -1)
		return -1;
	return ops->report(ops->ctx, a) == 0 ? 0 : -1;
}

int
agent_apply_run(struct agent_apply *a, const struct agent_apply_ops *ops)
{
	struct error err;
	apply_op op;

	const struct apply_step *steps = apply_is_task(a) ? apply_task_steps :
	    apply_steps;
	size_t nsteps = apply_is_task(a) ? sizeof(apply_task_steps) /
	    sizeof(apply_task_steps[0]) : sizeof(apply_steps) /
	    sizeof(apply_steps[0]);

	error_clear(&err);
	a->state = APPLY_RESOLVING;
	a->digest[0] = a->reason[0] = '\0';
	if (ops->report(ops->ctx, a) == -1)
		return -1;
	if (apply_prepare(a, &err) == -1)
		return apply_fail(a, ops, &err);
	for (size_t i = 0; i < nsteps; i++) {
		if (steps[i].in != a->state)
			return -1;   /* broken table: never happens */
		memcpy(&op, (const char *)ops + steps[i].op, sizeof(op));
		error_clear(&err);
		if (op(ops->ctx, a, &err) == -1) {
			if (err.msg[0] == '\0')
				error_set(&err, "start_failed", "", "start_failed: "
				    "%s step failed", agent_apply_state_name(a->state));
			return apply_fail(a, ops, &err);
		}
		if (apply_enter(a, ops, steps[i].next) == -1)
			return -1;
	}
	/* A ready task replaced the previous one's pin: nothing to retire. */
	if (!apply_is_task(a))
		ops->retire(ops->ctx, a);
	return 0;
}
