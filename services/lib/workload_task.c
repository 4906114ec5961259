/*
 * workload_task.c: a task's execution settings (workload.h): the schedule
 * and its zone, the concurrency policy and the two deadlines. component-svc
 * reads them from its API, deploy-svc and the agent from the bus, all
 * through these functions, so the three cannot disagree on what is valid.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "workload.h"

const char *const workload_policies[] = { "forbid", "allow", "replace", NULL };

/* Bits of workload_task.given, in the order of the API's fields. */
enum {
	TASK_GIVEN_SCHEDULE = 1u << 0,
	TASK_GIVEN_TIMEZONE = 1u << 1,
	TASK_GIVEN_POLICY = 1u << 2,
	TASK_GIVEN_STARTING = 1u << 3,
	TASK_GIVEN_ACTIVE = 1u << 4,
};

void
workload_task_defaults(struct workload_task *t)
{
	memset(t, 0, sizeof(*t));
	t->set = 1;
	snprintf(t->concurrency_policy, sizeof(t->concurrency_policy), "forbid");
	t->starting_deadline_s = WORKLOAD_STARTING_DEADLINE_DEFAULT;
	t->active_deadline_s = WORKLOAD_ACTIVE_DEADLINE_DEFAULT;
}

static int
workload_task_fail(int *status, int code, struct error *err,
    const char *ecode, const char *field, const char *msg)
{
	*status = code;
	error_set(err, ecode, field, "%s", msg);
	return -1;
}

/* The string member key when present: 0 absent, 1 present, -1 (400) wrong type. */
static int
workload_task_string(json_t *body, const char *key, const char **out,
    int *status, struct error *err)
{
	json_t *v = json_object_get(body, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		*status = 400;
		error_set(err, "invalid_field", key, "%s must be a string", key);
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

static int
workload_task_parse_schedule(json_t *body, struct workload_task *t,
    int *status, struct error *err)
{
	const char *s = NULL;
	struct cron c;
	int r;

	if ((r = workload_task_string(body, "schedule", &s, status, err)) <= 0)
		return r;
	if (cron_parse(s, &c, err) != 0) {
		*status = 422;
		return -1;
	}
	snprintf(t->schedule, sizeof(t->schedule), "%s", s);
	t->given |= TASK_GIVEN_SCHEDULE;
	return 0;
}

static int
workload_task_parse_timezone(json_t *body, struct workload_task *t,
    int *status, struct error *err)
{
	const char *s = NULL;
	struct tz *z;
	int r;

	if ((r = workload_task_string(body, "timezone", &s, status, err)) <= 0)
		return r;
	if ((z = tz_load(s, err)) == NULL)
		return workload_task_fail(status, 422, err, "invalid_timezone",
		    "timezone", "timezone must be an IANA time zone such as "
		    "\"UTC\" or \"Europe/Berlin\"");
	tz_free(z);
	snprintf(t->timezone, sizeof(t->timezone), "%s", s);
	t->given |= TASK_GIVEN_TIMEZONE;
	return 0;
}

static int
workload_task_parse_policy(json_t *body, struct workload_task *t,
    int *status, struct error *err)
{
	const char *s = NULL;
	int r;

	if ((r = workload_task_string(body, "concurrency_policy", &s, status,
	    err)) <= 0)
		return r;
	if (workload_choice(workload_policies, s) < 0)
		return workload_task_fail(status, 422, err,
		    "invalid_concurrency_policy", "concurrency_policy",
		    "concurrency_policy must be forbid, allow or replace");
	snprintf(t->concurrency_policy, sizeof(t->concurrency_policy), "%s", s);
	t->given |= TASK_GIVEN_POLICY;
	return 0;
}

/* A deadline in seconds: wrong JSON type 400, out of range 422. */
static int
workload_task_parse_deadline(json_t *body, const char *key, unsigned max,
    unsigned *out, unsigned bit, unsigned *given, int *status,
    struct error *err)
{
	json_t *v = json_object_get(body, key);
	json_int_t n;

	if (v == NULL)
		return 0;
	n = json_is_integer(v) ? json_integer_value(v) : 0;
	if (!json_is_integer(v) || n < 1 || n > (json_int_t)max) {
		*status = json_is_integer(v) ? 422 : 400;
		error_set(err, "invalid_field", key,
		    "%s must be an integer between 1 and %u (seconds)", key, max);
		return -1;
	}
	*out = (unsigned)n;
	*given |= bit;
	return 0;
}

int
workload_task_parse(json_t *body, struct workload_task *t, int *status,
    struct error *err)
{
	if (workload_task_parse_schedule(body, t, status, err) != 0 ||
	    workload_task_parse_timezone(body, t, status, err) != 0 ||
	    workload_task_parse_policy(body, t, status, err) != 0)
		return -1;
	if (workload_task_parse_deadline(body, "starting_deadline_s",
	    WORKLOAD_STARTING_DEADLINE_MAX, &t->starting_deadline_s,
	    TASK_GIVEN_STARTING, &t->given, status, err) != 0)
		return -1;
	return workload_task_parse_deadline(body, "active_deadline_s",
	    WORKLOAD_ACTIVE_DEADLINE_MAX, &t->active_deadline_s,
	    TASK_GIVEN_ACTIVE, &t->given, status, err);
}

/* The effective settings: a user sees the policy and deadlines that apply. */
void
workload_task_json(const struct workload_task *t, json_t *obj)
{
	if (!t->set)
		return;
	if (t->schedule[0] != '\0') {
		json_object_set_new(obj, "schedule", json_string(t->schedule));
		json_object_set_new(obj, "timezone", json_string(t->timezone));
	}
	json_object_set_new(obj, "concurrency_policy",
	    json_string(t->concurrency_policy));
	json_object_set_new(obj, "starting_deadline_s",
	    json_integer(t->starting_deadline_s));
	json_object_set_new(obj, "active_deadline_s",
	    json_integer(t->active_deadline_s));
}

/* A zone name as tz_load accepts it, without reading the database. */
static int
workload_task_zone_name_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > TZ_NAME_MAX || s[0] == '/' || strstr(s, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("/_+-", s[i]) != NULL))
			return 0;
	return 1;
}

static int
workload_task_bad(struct error *err, const char *field, const char *what)
{
	error_set(err, "invalid_task", field, "task settings: %s", what);
	return -1;
}

int
workload_task_from_proto(const Slipway__V1__TaskSettings *p,
    struct workload_task *out, struct error *err)
{
	struct cron c;
	struct error cerr;

	workload_task_defaults(out);
	if (p == NULL)
		return 0;
	if (p->schedule != NULL && p->schedule[0] != '\0') {
		if (strlen(p->schedule) > CRON_EXPR_MAX ||
		    cron_parse(p->schedule, &c, &cerr) != 0)
			return workload_task_bad(err, "schedule", "bad schedule");
		if (p->timezone == NULL ||
		    !workload_task_zone_name_valid(p->timezone))
			return workload_task_bad(err, "timezone", "bad timezone");
		snprintf(out->schedule, sizeof(out->schedule), "%s", p->schedule);
		snprintf(out->timezone, sizeof(out->timezone), "%s", p->timezone);
	}
	if (p->concurrency_policy != NULL && p->concurrency_policy[0] != '\0') {
		if (workload_choice(workload_policies, p->concurrency_policy) < 0)
			return workload_task_bad(err, "concurrency_policy",
			    "unknown concurrency policy");
		snprintf(out->concurrency_policy,
		    sizeof(out->concurrency_policy), "%s", p->concurrency_policy);
	}
	if (p->starting_deadline_s > WORKLOAD_STARTING_DEADLINE_MAX ||
	    p->active_deadline_s > WORKLOAD_ACTIVE_DEADLINE_MAX)
		return workload_task_bad(err, "task", "deadline out of range");
	if (p->starting_deadline_s != 0)
		out->starting_deadline_s = p->starting_deadline_s;
	if (p->active_deadline_s != 0)
		out->active_deadline_s = p->active_deadline_s;
	return 0;
}

Slipway__V1__TaskSettings *
workload_task_to_proto(const struct workload_task *t,
    Slipway__V1__TaskSettings *p)
{
	if (!t->set)
		return NULL;
	slipway__v1__task_settings__init(p);
	/* protobuf-c never writes through these pointers when packing. */
	p->schedule = (char *)(uintptr_t)t->schedule;
	p->timezone = (char *)(uintptr_t)t->timezone;
	p->concurrency_policy = (char *)(uintptr_t)t->concurrency_policy;
	p->starting_deadline_s = t->starting_deadline_s;
	p->active_deadline_s = t->active_deadline_s;
	return p;
}
