/*
 * workload.h: how a component's containers run and are reached, as ONE
 * contract for every service: the health check that decides a new version
 * is healthy, the resource limits, and the vocabulary and sizes of an
 * endpoint. component-svc checks its HTTP input with it, deploy-svc checks
 * its local copy from slipway.component.events with the same ranges, so
 * the two sides cannot drift.
 *
 * The JSON shape (management API, deploy-svc's jsonb columns):
 *   "health":    {"path","port","timeout_s","period_s","success_threshold"}
 *   "resources": {"memory_mb","cpu_millicores","pids","read_only_rootfs"}
 * every key optional; the proto messages are HealthCheck and Resources in
 * proto/slipway/v1/component.proto, where zero means "the agent's default".
 */
#ifndef SLIPWAY_WORKLOAD_H
#define SLIPWAY_WORKLOAD_H

#include <stddef.h>
#include <jansson.h>
#include "error.h"
#include "slipway/v1/component.pb-c.h"
#include "cron.h"
#include "tz.h"

#define WORKLOAD_PATH_MAX 256            /* health.path */
#define WORKLOAD_ENDPOINTS_MAX 20        /* endpoints of one component */
#define WORKLOAD_ENDPOINT_NAME_MAX 100
#define WORKLOAD_ENDPOINT_CONTEXT_MAX 255
#define WORKLOAD_ENDPOINT_PATH_MAX 255   /* schema_file_path */

/* NULL-terminated: REST GraphQL GRPC TCP UDP WS, and Public Organization Project. */
extern const char *const workload_endpoint_types[];
extern const char *const workload_visibilities[];
/* The index of s in a NULL-terminated list (exact match), or -1. */
int workload_choice(const char *const *list, const char *s);

/*
 * A component's health check. set: the component has one ({} = every
 * default); given: bit i set when field i of the table (path, port,
 * timeout_s, period_s, success_threshold) was given, so a reply shows
 * exactly what was asked for. Values not given are 0 / "".
 */
struct workload_health {
	int set;
	unsigned given;
	char path[WORKLOAD_PATH_MAX + 1];
	unsigned port, timeout_s, period_s, success_threshold;
};

/* Limits of every container of a component; fields memory_mb, cpu_millicores, pids, read_only_rootfs. */
struct workload_resources {
	int set;
	unsigned given;
	unsigned memory_mb, cpu_millicores, pids;
	int read_only_rootfs;
};

/* '/' then at most WORKLOAD_PATH_MAX - 1 printable ASCII characters, no spaces. */
int workload_path_valid(const char *s);

/*
 * Parses the JSON object of "health" / "resources" (the caller handles
 * absent and null). On failure -1 with *status 400 (not an object, a value
 * of the wrong JSON type, code "invalid_health" / "invalid_resources"; an
 * unknown key, code "unknown_field") or 422 (a value out of range), and
 * err->field naming the key ("health.timeout_s").
 */
int workload_health_parse(json_t *obj, struct workload_health *out,
    int *status, struct error *err);
int workload_resources_parse(json_t *obj, struct workload_resources *out,
    int *status, struct error *err);

/* The JSON object of the given keys, or JSON null when !set. New reference. */
json_t *workload_health_json(const struct workload_health *h);
json_t *workload_resources_json(const struct workload_resources *r);

/*
 * From the bus: p may be NULL (none). Zero values are "not given"; the
 * others must be in range, else -1 with err code "invalid_health" /
 * "invalid_resources".
 */
int workload_health_from_proto(const Slipway__V1__HealthCheck *p,
    struct workload_health *out, struct error *err);
int workload_resources_from_proto(const Slipway__V1__Resources *p,
    struct workload_resources *out, struct error *err);

/*
 * Fills the caller's message from h and returns it, or NULL when !set (the
 * field stays absent). p->path borrows h->path: h must outlive p.
 */
Slipway__V1__HealthCheck *workload_health_to_proto(
    const struct workload_health *h, Slipway__V1__HealthCheck *p);
Slipway__V1__Resources *workload_resources_to_proto(
    const struct workload_resources *r, Slipway__V1__Resources *p);

/*
 * How a task's executions run: the top-level component fields "schedule",
 * "timezone" (scheduled-task only, both required there), "concurrency_policy"
 * (forbid | allow | replace), "starting_deadline_s" (1-86400) and
 * "active_deadline_s" (1-604800), the last three for both task types.
 * Fields not given hold their defaults here; given says which were given
 * (bits in the order above), so a reply shows what was asked for.
 */
#define WORKLOAD_POLICY_MAX 8
#define WORKLOAD_STARTING_DEADLINE_DEFAULT 300
#define WORKLOAD_ACTIVE_DEADLINE_DEFAULT 3600
#define WORKLOAD_STARTING_DEADLINE_MAX 86400
#define WORKLOAD_ACTIVE_DEADLINE_MAX 604800
extern const char *const workload_policies[];   /* forbid allow replace */
struct workload_task {
	int set;                  /* the component is a task */
	unsigned given;
	char schedule[CRON_EXPR_MAX + 1];   /* "" for manual tasks */
	char timezone[TZ_NAME_MAX + 1];
	char concurrency_policy[WORKLOAD_POLICY_MAX];
	unsigned starting_deadline_s, active_deadline_s;
};
/* Defaults for a task of type: t->set, policy forbid, deadlines 300 / 3600. */
void workload_task_defaults(struct workload_task *t);
/*
 * Reads the task fields of a component body (absent keys stay as they are,
 * so a PATCH can start from the stored values). -1 with *status 400 (wrong
 * JSON type) or 422 (invalid_schedule with the cron field and position,
 * invalid_timezone, a policy or deadline out of range) and err->field.
 */
int workload_task_parse(json_t *body, struct workload_task *t, int *status,
    struct error *err);
/* Adds the task fields to obj (nothing when !t->set). */
void workload_task_json(const struct workload_task *t, json_t *obj);
/* From the bus (p NULL: no task); checks as _parse does; err invalid_task. */
int workload_task_from_proto(const Slipway__V1__TaskSettings *p,
    struct workload_task *out, struct error *err);
/* Fills p from t (borrowing its strings) and returns it; NULL when !set. */
Slipway__V1__TaskSettings *workload_task_to_proto(
    const struct workload_task *t, Slipway__V1__TaskSettings *p);

#endif
