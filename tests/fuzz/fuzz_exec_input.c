// uses: services/deploy-svc/deploy_exec_input.c
// uses: services/deploy-svc/deploy_exec_state.c
/*
 * fuzz_exec_input.c: libFuzzer target for the two outside inputs of
 * deploy-svc's executions: the bytes are parsed as a POST .../executions
 * JSON body and unpacked as an ExecutionStatus, and go through
 * deploy_exec_input_parse and deploy_exec_input_report. Nothing may crash
 * or leak, and whatever is accepted is within its caps and valid UTF-8.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deploy-svc/deploy.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_body_check(const struct deploy_exec_request *rq)
{
	if (rq->environment == NULL || rq->n_args > DEPLOY_EXEC_ARGS_MAX ||
	    rq->n_env > DEPLOY_EXEC_ENV_MAX)
		abort();
	for (size_t i = 0; i < rq->n_args; i++)
		if (!json_utf8_valid(rq->args[i], DEPLOY_EXEC_ARG_MAX))
			abort();
	for (size_t i = 0; i < rq->n_env; i++)
		if (rq->env_names[i][0] == '\0' ||
		    strlen(rq->env_names[i]) > DEPLOY_EXEC_ENV_NAME_MAX ||
		    !json_utf8_valid(rq->env_values[i], DEPLOY_EXEC_ENV_VALUE_MAX))
			abort();
}

static void
fuzz_body(const uint8_t *data, size_t size)
{
	struct deploy_exec_request *rq = calloc(1, sizeof(*rq));
	json_t *body = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
	struct error err;
	int status;

	if (rq != NULL && body != NULL) {
		if (deploy_exec_input_parse(body, rq, &status, &err) == 0)
			fuzz_body_check(rq);
		else if (status != 400 || err.code[0] == '\0')
			abort();
	}
	json_decref(body);
	free(rq);
}

static void
fuzz_report(const uint8_t *data, size_t size)
{
	Slipway__V1__ExecutionStatus *es;
	struct deploy_exec_report r;
	struct error err;

	es = slipway__v1__execution_status__unpack(NULL, size, data);
	if (es == NULL)
		return;
	if (deploy_exec_input_report(es, &r, &err) == 0) {
		if (!json_utf8_valid(es->reason, DEPLOY_REASON_MAX) ||
		    !json_utf8_valid(es->log_tail, DEPLOY_EXEC_LOG_TAIL_MAX) ||
		    (int)r.to < 0 || r.to >= DEPLOY_EXEC_STATUS_COUNT ||
		    es->started_at_ms < 0 || es->observed_at_ms > DEPLOY_EXEC_MS_MAX)
			abort();
	} else if (strcmp(err.code, "bad_message") != 0) {
		abort();
	}
	slipway__v1__execution_status__free_unpacked(es, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_body(data, size);
	fuzz_report(data, size);
	return 0;
}
