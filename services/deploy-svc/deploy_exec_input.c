/*
 * deploy_exec_input.c: the two inputs of executions from outside, checked
 * before anything is stored: the body of POST /v1/components/{id}/executions
 * and an agent's ExecutionStatus report. Every size is capped, every string
 * must be UTF-8 without NUL, and unknown keys or enum values are refused, so
 * nothing malformed is half-applied (and a RunTask never carries more than
 * a Kafka message holds: the HTTP body cap of 64 KiB bounds the rest).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "deploy.h"
#include "crypto.h"
#include "json.h"
#include "topics.h"

/* 400 invalid_field with the field and one sentence. */
static int LOG_PRINTF(4, 5)
deploy_exec_input_bad(int *status, struct error *err, const char *field,
    const char *fmt, ...)
{
	va_list ap;

	*status = 400;
	error_clear(err);
	snprintf(err->code, sizeof(err->code), "invalid_field");
	snprintf(err->field, sizeof(err->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* A JSON string of at most max bytes, UTF-8, no NUL inside; or NULL. */
static const char *
deploy_exec_input_text(json_t *v, size_t max)
{
	const char *s;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v) || !json_utf8_valid(s, max))
		return NULL;
	return s;
}

/* POSIX environment variable names: [A-Za-z_][A-Za-z0-9_]*, n bytes. */
static int
deploy_exec_input_env_name_valid(const char *s, size_t n)
{
	if (strlen(s) != n || n == 0 || n > DEPLOY_EXEC_ENV_NAME_MAX ||
	    !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') ||
	    s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int
deploy_exec_input_args(json_t *body, struct deploy_exec_request *out,
    int *status, struct error *err)
{
	json_t *arr = json_object_get(body, "args"), *v;
	size_t i;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return deploy_exec_input_bad(status, err, "args",
		    "args must be an array of strings");
	if (json_array_size(arr) > DEPLOY_EXEC_ARGS_MAX)
		return deploy_exec_input_bad(status, err, "args",
		    "at most %d args", DEPLOY_EXEC_ARGS_MAX);
	json_array_foreach(arr, i, v) {
		if ((out->args[i] = deploy_exec_input_text(v,
		    DEPLOY_EXEC_ARG_MAX)) == NULL)
			return deploy_exec_input_bad(status, err, "args", "args[%zu] "
			    "must be a UTF-8 string of at most %d bytes", i,
			    DEPLOY_EXEC_ARG_MAX);
	}
	out->n_args = json_array_size(arr);
	return 0;
}

static int
deploy_exec_input_env(json_t *body, struct deploy_exec_request *out,
    int *status, struct error *err)
{
	json_t *obj = json_object_get(body, "env"), *v;
	const char *name;
	size_t len;

	if (obj == NULL)
		return 0;
	if (!json_is_object(obj))
		return deploy_exec_input_bad(status, err, "env",
		    "env must be an object of NAME: \"value\"");
	if (json_object_size(obj) > DEPLOY_EXEC_ENV_MAX)
		return deploy_exec_input_bad(status, err, "env",
		    "at most %d env variables", DEPLOY_EXEC_ENV_MAX);
	json_object_keylen_foreach(obj, name, len, v) {
		/* The length too: a key with a NUL inside ("\u0000") is no name. */
		if (!deploy_exec_input_env_name_valid(name, len))
			return deploy_exec_input_bad(status, err, "env", "env names "
			    "are [A-Za-z_][A-Za-z0-9_]*, at most %d bytes",
			    DEPLOY_EXEC_ENV_NAME_MAX);
		if ((out->env_values[out->n_env] = deploy_exec_input_text(v,
		    DEPLOY_EXEC_ENV_VALUE_MAX)) == NULL)
			return deploy_exec_input_bad(status, err, "env", "env.%.64s "
			    "must be a UTF-8 string of at most %d bytes", name,
			    DEPLOY_EXEC_ENV_VALUE_MAX);
		out->env_names[out->n_env++] = name;
	}
	return 0;
}

int
deploy_exec_input_parse(json_t *body, struct deploy_exec_request *out,
    int *status, struct error *err)
{
	static const char *const keys[] = { "environment", "args", "env", NULL };

	memset(out, 0, sizeof(*out));
	error_clear(err);
	*status = 400;
	if (!json_is_object(body))
		return deploy_exec_input_bad(status, err, "",
		    "the body must be a JSON object");
	if (json_only_keys(body, keys, err) == -1 ||
	    (out->environment = json_get_string(body, "environment",
	    DEPLOY_NAME_MAX, 1, err)) == NULL)
		return -1;
	if (deploy_exec_input_args(body, out, status, err) == -1)
		return -1;
	return deploy_exec_input_env(body, out, status, err);
}

/* A report no retry can fix: deploy_consume.c dead-letters it. */
static int
deploy_exec_input_reject(struct error *err, const char *what)
{
	error_set(err, "bad_message", "", "execution status: %s", what);
	return -1;
}

/* The ids and names, which key every row the report touches. */
static int
deploy_exec_input_ids(const Slipway__V1__ExecutionStatus *es, struct error *err)
{
	if (!crypto_uuid_valid(es->execution_id))
		return deploy_exec_input_reject(err, "execution_id is not a UUID");
	if (!crypto_uuid_valid(es->component_id))
		return deploy_exec_input_reject(err, "component_id is not a UUID");
	if (!crypto_uuid_valid(es->deployment_id))
		return deploy_exec_input_reject(err, "deployment_id is not a UUID");
	if (es->environment == NULL || es->environment[0] == '\0' ||
	    !json_utf8_valid(es->environment, DEPLOY_NAME_MAX))
		return deploy_exec_input_reject(err, "bad environment");
	if (!dataplane_name_valid(es->dataplane))
		return deploy_exec_input_reject(err, "bad dataplane");
	return 0;
}

/* Times are milliseconds since the epoch, 0 = not known. */
static int
deploy_exec_input_ms_ok(int64_t ms)
{
	return ms >= 0 && ms <= DEPLOY_EXEC_MS_MAX;
}

static int
deploy_exec_input_fields(const Slipway__V1__ExecutionStatus *es,
    struct error *err)
{
	if (!deploy_exec_input_ms_ok(es->scheduled_for_ms) ||
	    !deploy_exec_input_ms_ok(es->started_at_ms) ||
	    !deploy_exec_input_ms_ok(es->finished_at_ms) ||
	    !deploy_exec_input_ms_ok(es->observed_at_ms))
		return deploy_exec_input_reject(err, "time out of range");
	if (es->reason == NULL || !json_utf8_valid(es->reason, DEPLOY_REASON_MAX))
		return deploy_exec_input_reject(err, "reason too long or not UTF-8");
	if (es->log_tail == NULL ||
	    !json_utf8_valid(es->log_tail, DEPLOY_EXEC_LOG_TAIL_MAX))
		return deploy_exec_input_reject(err,
		    "log_tail too long or not UTF-8");
	if (es->digest == NULL ||
	    (es->digest[0] != '\0' && !image_ref_digest_valid(es->digest)))
		return deploy_exec_input_reject(err, "invalid digest");
	return 0;
}

int
deploy_exec_input_report(const Slipway__V1__ExecutionStatus *es,
    struct deploy_exec_report *out, struct error *err)
{
	memset(out, 0, sizeof(*out));
	if (es == NULL)
		return deploy_exec_input_reject(err, "no payload");
	if (deploy_exec_input_ids(es, err) == -1 ||
	    deploy_exec_input_fields(es, err) == -1)
		return -1;
	if (deploy_exec_state_from_proto((int)es->state, &out->to) == -1)
		return deploy_exec_input_reject(err, "unknown execution state");
	if (es->trigger == NULL || (strcmp(es->trigger, "schedule") != 0 &&
	    strcmp(es->trigger, "manual") != 0))
		return deploy_exec_input_reject(err,
		    "trigger is neither schedule nor manual");
	out->manual = strcmp(es->trigger, "manual") == 0;
	out->es = es;
	return 0;
}
