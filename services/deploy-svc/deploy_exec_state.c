/*
 * deploy_exec_state.c: the lifecycle of one execution of a task, as an
 * explicit state machine in the manner of deploy_state.c.
 *
 *   pending -> running -> succeeded | failed | timed_out
 *      \--> succeeded | failed | timed_out | skipped
 *
 * A run may be reported final without ever having been reported running
 * (the agent sent running, but that report is late or lost, or the run was
 * over before a report went out), hence the direct moves from pending.
 * skipped means it never ran (a forbid policy, a missed starting deadline),
 * so it comes only from pending. The four final states are terminal.
 *
 * Reports travel through Kafka and can arrive twice or late. A report is
 * IGNORED when its state lies on some path from pending to the current
 * state (the machine has already gone past it: a duplicate, or running
 * arriving after succeeded). Any other move that is not ALLOWED is ILLEGAL
 * (succeeded -> failed, skipped -> running, ...). Every move is forward, so
 * unlike a deployment's running <-> crashed cycle no move needs the clock.
 */
#include <string.h>

#include "deploy.h"

#define BIT(s) (1u << (s))
#define FINAL_AFTER_RUN \
	(BIT(DEPLOY_EXEC_SUCCEEDED) | BIT(DEPLOY_EXEC_FAILED) | \
	 BIT(DEPLOY_EXEC_TIMED_OUT))
#define RAN (BIT(DEPLOY_EXEC_PENDING) | BIT(DEPLOY_EXEC_RUNNING))

struct deploy_exec_state_entry {
	const char *name;
	int proto;              /* ExecutionState value in deploy.proto */
	unsigned allowed;       /* states this one may move to */
	unsigned passed;        /* states on some path to this one, itself included */
};

static const struct deploy_exec_state_entry
    deploy_exec_states[DEPLOY_EXEC_STATUS_COUNT] = {
	[DEPLOY_EXEC_PENDING] = {
		.name = "pending", .proto = 1,
		.allowed = BIT(DEPLOY_EXEC_RUNNING) | FINAL_AFTER_RUN |
		    BIT(DEPLOY_EXEC_SKIPPED),
		.passed = BIT(DEPLOY_EXEC_PENDING),
	},
	[DEPLOY_EXEC_RUNNING] = {
		.name = "running", .proto = 2,
		.allowed = FINAL_AFTER_RUN,
		.passed = RAN,
	},
	[DEPLOY_EXEC_SUCCEEDED] = {
		.name = "succeeded", .proto = 3,
		.passed = RAN | BIT(DEPLOY_EXEC_SUCCEEDED),
	},
	[DEPLOY_EXEC_FAILED] = {
		.name = "failed", .proto = 4,
		.passed = RAN | BIT(DEPLOY_EXEC_FAILED),
	},
	[DEPLOY_EXEC_TIMED_OUT] = {
		.name = "timed_out", .proto = 5,
		.passed = RAN | BIT(DEPLOY_EXEC_TIMED_OUT),
	},
	/* Never ran: a late running report for it is no ordering of honest ones. */
	[DEPLOY_EXEC_SKIPPED] = {
		.name = "skipped", .proto = 6,
		.passed = BIT(DEPLOY_EXEC_PENDING) | BIT(DEPLOY_EXEC_SKIPPED),
	},
};

static int
deploy_exec_state_valid(enum deploy_exec_status s)
{
	return (int)s >= 0 && s < DEPLOY_EXEC_STATUS_COUNT;
}

/* The status as stored in deploy.executions.status and shown by the API. */
const char *
deploy_exec_state_name(enum deploy_exec_status s)
{
	return deploy_exec_state_valid(s) ? deploy_exec_states[s].name :
	    "unknown";
}

int
deploy_exec_state_parse(const char *name, enum deploy_exec_status *out)
{
	for (int i = 0; i < DEPLOY_EXEC_STATUS_COUNT; i++) {
		if (name != NULL && strcmp(name, deploy_exec_states[i].name) == 0) {
			*out = (enum deploy_exec_status)i;
			return 0;
		}
	}
	return -1;
}

/* Maps the proto's ExecutionState; UNSPECIFIED and unknown values fail. */
int
deploy_exec_state_from_proto(int proto_state, enum deploy_exec_status *out)
{
	for (int i = 0; i < DEPLOY_EXEC_STATUS_COUNT; i++) {
		if (deploy_exec_states[i].proto == proto_state) {
			*out = (enum deploy_exec_status)i;
			return 0;
		}
	}
	return -1;
}

int
deploy_exec_state_to_proto(enum deploy_exec_status s)
{
	return deploy_exec_state_valid(s) ? deploy_exec_states[s].proto : 0;
}

int
deploy_exec_state_terminal(enum deploy_exec_status s)
{
	return deploy_exec_state_valid(s) && deploy_exec_states[s].allowed == 0;
}

/* Decides what a report of `to` does to an execution that is `from`. */
enum deploy_move
deploy_exec_state_transition(enum deploy_exec_status from,
    enum deploy_exec_status to)
{
	if (!deploy_exec_state_valid(from) || !deploy_exec_state_valid(to))
		return DEPLOY_MOVE_ILLEGAL;
	if (deploy_exec_states[from].passed & BIT(to))
		return DEPLOY_MOVE_IGNORED;
	if (deploy_exec_states[from].allowed & BIT(to))
		return DEPLOY_MOVE_ALLOWED;
	return DEPLOY_MOVE_ILLEGAL;
}
