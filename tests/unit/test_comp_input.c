// uses: services/component-svc/comp_input.c
// uses: services/component-svc/endpoints.c
/*
 * test_comp_input.c: component-svc's create request, table-driven: names,
 * the 5-field cron grammar and time zones as a task's settings take them
 * (lib workload_task.c over cron.c and tz.c), the whole body through
 * comp_input_parse (the entry point comp_http.c calls), and the health and
 * resources objects (lib workload.c) with what a reply echoes of them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "component-svc/component.h"
#include "imageref.h"

struct str_case {
	const char *s;
	int ok;
};

static const struct str_case slug_cases[] = {
	{ "api", 1 }, { "a", 1 }, { "0", 1 }, { "9lives", 1 }, { "my-api-2", 1 },
	{ "a-", 1 }, { "a--b", 1 },
	{ "", 0 }, { "-a", 0 }, { "Api", 0 }, { "aPi", 0 }, { "a_b", 0 },
	{ "a.b", 0 }, { "a b", 0 }, { " a", 0 }, { "a/b", 0 }, { "a\n", 0 },
	{ "caf\xc3\xa9", 0 }, { "\xc3\xa9", 0 },
};

static const struct str_case cron_cases[] = {
	{ "* * * * *", 1 }, { "0 0 * * *", 1 }, { "59 23 31 12 7", 1 },
	{ "0 0 1 1 0", 1 }, { "*/5 * * * *", 1 }, { "*/59 */23 */31 */12 */7", 1 },
	{ "0-59/15 * * * *", 1 }, { "5/15 * * * *", 1 }, { "1,2,3 * * * *", 1 },
	{ "1-5,10-15/2,30 * * * *", 1 }, { "0 9-17 * * mon-fri", 1 },
	{ "0 0 * jan,jul *", 1 }, { "0 0 * JAN-Dec SUN", 1 }, { "0 0 * * sun-sat", 1 },
	{ "0 0 * * 1,mon", 1 }, { "007 * * * *", 1 }, { "\t*\t*  * * *  ", 1 },
	{ " * * * * *", 1 },
	/* Field count. */
	{ "", 0 }, { "   ", 0 }, { "* * * *", 0 }, { "* * * * * *", 0 },
	{ "* * * * * 2024", 0 }, { "@daily", 1 }, { "@every 5m", 0 },
	{ "@hourly", 1 }, { "@HOURLY", 1 }, { "@daily *", 0 },
	/* Ranges per field. */
	{ "60 * * * *", 0 }, { "* 24 * * *", 0 }, { "* * 0 * *", 0 },
	{ "* * 32 * *", 0 }, { "* * * 0 *", 0 }, { "* * * 13 *", 0 },
	{ "* * * * 8", 0 }, { "-1 * * * *", 0 }, { "0000 * * * *", 1 },
	{ "1000 * * * *", 0 },
	/* Names only where they belong, whole. */
	{ "jan * * * *", 0 }, { "* * * mon *", 0 }, { "* * * * jan", 0 },
	{ "* * * * monday", 0 }, { "* * * janu *", 0 }, { "* * * ja *", 0 },
	/* Ranges and steps. */
	{ "5-1 * * * *", 0 }, { "* * * * mon-sun", 0 }, { "5- * * * *", 0 },
	{ "-5 * * * *", 0 }, { "*-5 * * * *", 0 }, { "1-2-3 * * * *", 0 },
	{ "*/0 * * * *", 0 }, { "*/60 * * * *", 0 }, { "*/ * * * *", 0 },
	{ "*/x * * * *", 0 }, { "*/-1 * * * *", 0 }, { "*/1/2 * * * *", 0 },
	{ "*/99999999999 * * * *", 0 }, { "* * * * */8", 0 },
	/* Lists. */
	{ ",5 * * * *", 0 }, { "5, * * * *", 0 }, { "5,,6 * * * *", 0 },
	{ "* ,5 * * *", 0 }, { ", * * * *", 0 }, { "5 * * * *,", 0 },
	/* Separators and other characters. */
	{ "5* * * * *", 0 }, { "* * * * *\n", 0 }, { "*\n* * * *", 0 },
	{ "? * * * *", 0 }, { "L * * * *", 0 }, { "* * 1W * *", 0 },
	{ "* * * * 5#3", 0 }, { "\xc2\xa0* * * * *", 0 },
};

static void
test_slug(void **state)
{
	(void)state;
	char s[80];

	for (size_t i = 0; i < sizeof(slug_cases) / sizeof(slug_cases[0]); i++)
		if (comp_input_slug_valid(slug_cases[i].s) != slug_cases[i].ok)
			fail_msg("slug \"%s\": want %d", slug_cases[i].s,
			    slug_cases[i].ok);
	assert_false(comp_input_slug_valid(NULL));
	memset(s, 'a', 63);
	s[63] = '\0';
	assert_true(comp_input_slug_valid(s));
	strcpy(s + 63, "a");
	assert_false(comp_input_slug_valid(s));
}

/* 1 when a task's settings accept key = value (422 otherwise). */
static int
task_accepts(const char *key, const char *value)
{
	struct workload_task t;
	struct error err;
	json_t *body = json_pack("{s:s}", key, value);
	int status = 0, rc;

	workload_task_defaults(&t);
	rc = workload_task_parse(body, &t, &status, &err);
	json_decref(body);
	if (rc != 0 && (status != 422 || strcmp(err.field, key) != 0))
		fail_msg("%s \"%s\": status %d field %s", key, value, status,
		    err.field);
	return rc == 0;
}

static void
test_cron(void **state)
{
	(void)state;
	char s[200];

	for (size_t i = 0; i < sizeof(cron_cases) / sizeof(cron_cases[0]); i++)
		if (task_accepts("schedule", cron_cases[i].s) != cron_cases[i].ok)
			fail_msg("cron \"%s\": want %d", cron_cases[i].s,
			    cron_cases[i].ok);
	/* 128 bytes at most: padding with blanks counts. */
	memset(s, ' ', sizeof(s));
	memcpy(s, "* * * * *", 9);
	s[128] = '\0';
	assert_true(task_accepts("schedule", s));
	s[128] = ' ';
	s[129] = '\0';
	assert_false(task_accepts("schedule", s));
}

/* Names shaped like a zone; existence is checked separately. */
static const struct str_case tz_shape_cases[] = {
	{ "", 0 }, { "/etc/passwd", 0 }, { "/UTC", 0 }, { "../UTC", 0 },
	{ "Europe/../UTC", 0 }, { "Europe/..", 0 }, { "..", 0 }, { "UTC ", 0 },
	{ " UTC", 0 }, { "Europe\\Berlin", 0 }, { "Europe/Berlin\n", 0 },
	{ "zone.tab", 0 }, { "tzdata.zi", 0 }, { "UTC;rm", 0 }, { "Europe/*", 0 },
	{ "Europe/Z\xc3\xbcrich", 0 },
};

static const struct str_case tz_db_cases[] = {
	{ "UTC", 1 }, { "Etc/UTC", 1 }, { "Europe/Berlin", 1 },
	{ "America/Argentina/Buenos_Aires", 1 }, { "Etc/GMT+5", 1 },
	{ "Etc/GMT-14", 1 }, { "America/Port-au-Prince", 1 }, { "GMT0", 1 },
	{ "Europe/Nowhere", 0 }, { "utc", 0 }, { "Europe", 0 }, { "Europe/", 0 },
	{ "Etc/GMT+99", 0 },
	/* Files in the zoneinfo folder that are not zones. */
	{ "leapseconds", 0 }, { "posix", 0 },
};

static void
test_timezone(void **state)
{
	(void)state;
	struct stat st;
	char s[80];

	for (size_t i = 0; i < sizeof(tz_shape_cases) / sizeof(tz_shape_cases[0]); i++)
		if (task_accepts("timezone", tz_shape_cases[i].s))
			fail_msg("timezone \"%s\": accepted", tz_shape_cases[i].s);
	memset(s, 'A', 65);
	s[65] = '\0';
	assert_false(task_accepts("timezone", s));
	/* The zone must exist: the scheduler converts with it. */
	assert_int_equal(stat("/usr/share/zoneinfo/UTC", &st), 0);
	for (size_t i = 0; i < sizeof(tz_db_cases) / sizeof(tz_db_cases[0]); i++)
		if (task_accepts("timezone", tz_db_cases[i].s) != tz_db_cases[i].ok)
			fail_msg("timezone \"%s\": want %d", tz_db_cases[i].s,
			    tz_db_cases[i].ok);
}

/* --- the whole request -------------------------------------------------- */

#define RID "6f1c2d3e-0000-4000-8000-000000000001"
#define BASE "\"name\":\"api\",\"registry_id\":\"" RID "\",\"image\":\"ghcr.io/acme/api:1.0\""
#define SVC(extra) "{" BASE ",\"type\":\"service\"" extra "}"
#define TASK(extra) "{" BASE ",\"type\":\"scheduled-task\"" extra "}"
#define EP_OK "version: 0.1\\nendpoints:\\n- name: g\\n  port: 8080\\n  context: /g\\n"

struct req_case {
	const char *body;
	int status;          /* 0 = accepted */
	const char *code;
	const char *field;   /* checked when not NULL */
	/* Accepted: */
	const char *image, *repository, *host;
	size_t endpoints;
};

static const struct req_case req_cases[] = {
	{ SVC(""), 0, NULL, NULL, "ghcr.io/acme/api:1.0", "ghcr.io/acme/api",
	    "ghcr.io", 0 },
	{ "{\"name\":\"w\",\"type\":\"web-app\",\"registry_id\":\"" RID "\","
	    "\"image\":\"nginx\",\"description\":\"the site\"}", 0, NULL, NULL,
	    "docker.io/library/nginx:latest", "docker.io/library/nginx",
	    "docker.io", 1 },
	{ "{\"name\":\"w\",\"type\":\"web-app\",\"registry_id\":\"" RID "\","
	    "\"image\":\"nginx\",\"port\":9000}", 0, NULL, NULL,
	    "docker.io/library/nginx:latest", "docker.io/library/nginx",
	    "docker.io", 1 },
	{ "{\"name\":\"m\",\"type\":\"manual-task\",\"registry_id\":\"" RID "\","
	    "\"image\":\"a/b\",\"concurrency_policy\":\"allow\","
	    "\"active_deadline_s\":60}", 0, NULL, NULL, "docker.io/a/b:latest",
	    "docker.io/a/b", "docker.io", 0 },
	{ "{\"name\":\"m\",\"type\":\"manual-task\",\"registry_id\":\"" RID "\","
	    "\"image\":\"127.0.0.1:5000/demo/job@sha256:0123456789abcdef0123456789"
	    "abcdef0123456789abcdef0123456789abcdef\"}", 0, NULL, NULL,
	    "127.0.0.1:5000/demo/job@sha256:0123456789abcdef0123456789abcdef0123"
	    "456789abcdef0123456789abcdef", "127.0.0.1:5000/demo/job",
	    "127.0.0.1:5000", 0 },
	{ TASK(",\"schedule\":\"*/5 * * * *\",\"timezone\":\"UTC\""), 0, NULL,
	    NULL, "ghcr.io/acme/api:1.0", "ghcr.io/acme/api", "ghcr.io", 0 },
	{ SVC(",\"endpoints\":\"" EP_OK "\""), 0, NULL, NULL,
	    "ghcr.io/acme/api:1.0", "ghcr.io/acme/api", "ghcr.io", 1 },
	{ SVC(",\"endpoints\":null"), 0, NULL, NULL, "ghcr.io/acme/api:1.0",
	    "ghcr.io/acme/api", "ghcr.io", 0 },
	{ TASK(",\"schedule\":\"0 0 * * *\",\"timezone\":\"UTC\",\"endpoints\":null"),
	    0, NULL, NULL, "ghcr.io/acme/api:1.0", "ghcr.io/acme/api", "ghcr.io", 0 },

	/* Shape: 400. */
	{ SVC(",\"replicas\":2"), 400, "unknown_field", "replicas", NULL, NULL, NULL, 0 },
	{ SVC(",\"endpoints\":[]"), 400, "invalid_field", "endpoints", NULL, NULL,
	    NULL, 0 },
	{ SVC(",\"endpoints\":{\"version\":\"0.1\"}"), 400, "invalid_field",
	    "endpoints", NULL, NULL, NULL, 0 },

	/* Required fields. */
	{ "{\"type\":\"service\",\"registry_id\":\"" RID "\",\"image\":\"a/b\"}",
	    422, "missing_field", "name", NULL, NULL, NULL, 0 },
	{ "{" BASE "}", 422, "missing_field", "type", NULL, NULL, NULL, 0 },
	{ "{\"name\":\"a\",\"type\":\"service\",\"image\":\"a/b\"}", 422,
	    "missing_field", "registry_id", NULL, NULL, NULL, 0 },
	{ "{\"name\":\"a\",\"type\":\"service\",\"registry_id\":\"" RID "\"}", 422,
	    "missing_field", "image", NULL, NULL, NULL, 0 },
	{ "{\"name\":\"\",\"type\":\"service\",\"registry_id\":\"" RID "\","
	    "\"image\":\"a/b\"}", 422, "invalid_field", "name", NULL, NULL, NULL, 0 },
	{ "{\"name\":1,\"type\":\"service\",\"registry_id\":\"" RID "\","
	    "\"image\":\"a/b\"}", 422, "invalid_field", "name", NULL, NULL, NULL, 0 },

	/* Values. */
	{ "{\"name\":\"My API\",\"type\":\"service\",\"registry_id\":\"" RID "\","
	    "\"image\":\"a/b\"}", 422, "invalid_name", "name", NULL, NULL, NULL, 0 },
	{ "{\"name\":\"-api\",\"type\":\"service\",\"registry_id\":\"" RID "\","
	    "\"image\":\"a/b\"}", 422, "invalid_name", "name", NULL, NULL, NULL, 0 },
	{ "{\"name\":\"api\",\"type\":\"job\",\"registry_id\":\"" RID "\","
	    "\"image\":\"a/b\"}", 422, "invalid_type", "type", NULL, NULL, NULL, 0 },
	{ "{\"name\":\"api\",\"type\":\"Service\",\"registry_id\":\"" RID "\","
	    "\"image\":\"a/b\"}", 422, "invalid_type", "type", NULL, NULL, NULL, 0 },
	{ "{\"name\":\"api\",\"type\":\"service\",\"registry_id\":\"reg-1\","
	    "\"image\":\"a/b\"}", 422, "unknown_registry", "registry_id", NULL,
	    NULL, NULL, 0 },
	{ "{\"name\":\"api\",\"type\":\"service\",\"registry_id\":\"" RID "\","
	    "\"image\":\"Bad Image\"}", 422, "invalid_image", "image", NULL, NULL,
	    NULL, 0 },
	{ "{\"name\":\"api\",\"type\":\"service\",\"registry_id\":\"" RID "\","
	    "\"image\":\"https://ghcr.io/a/b\"}", 422, "invalid_image", "image",
	    NULL, NULL, NULL, 0 },
	{ SVC(",\"description\":5"), 422, "invalid_field", "description", NULL,
	    NULL, NULL, 0 },

	/* Schedule and time zone by type. */
	{ TASK(""), 422, "missing_field", "schedule", NULL, NULL, NULL, 0 },
	{ TASK(",\"timezone\":\"UTC\""), 422, "missing_field", "schedule", NULL,
	    NULL, NULL, 0 },
	{ TASK(",\"schedule\":\"* * * * *\""), 422, "missing_field", "timezone",
	    NULL, NULL, NULL, 0 },
	{ SVC(",\"schedule\":\"* * * * *\""), 422, "invalid_field", "schedule",
	    NULL, NULL, NULL, 0 },
	{ SVC(",\"timezone\":\"UTC\""), 422, "invalid_field", "timezone", NULL,
	    NULL, NULL, 0 },
	{ TASK(",\"schedule\":\"* * * *\",\"timezone\":\"UTC\""), 422,
	    "invalid_schedule", "schedule", NULL, NULL, NULL, 0 },
	{ TASK(",\"schedule\":\",5 * * * *\",\"timezone\":\"UTC\""), 422,
	    "invalid_schedule", "schedule", NULL, NULL, NULL, 0 },
	{ TASK(",\"schedule\":5,\"timezone\":\"UTC\""), 400, "invalid_field",
	    "schedule", NULL, NULL, NULL, 0 },
	{ TASK(",\"schedule\":\"* * * * *\",\"timezone\":\"../../etc/passwd\""), 422,
	    "invalid_timezone", "timezone", NULL, NULL, NULL, 0 },
	{ TASK(",\"schedule\":\"* * * * *\",\"timezone\":\"\""), 422,
	    "invalid_timezone", "timezone", NULL, NULL, NULL, 0 },

	/* A task's policy and deadlines; a web app's port. */
	{ TASK(",\"schedule\":\"* * * * *\",\"timezone\":\"UTC\","
	    "\"concurrency_policy\":\"queue\""), 422, "invalid_concurrency_policy",
	    "concurrency_policy", NULL, NULL, NULL, 0 },
	{ TASK(",\"schedule\":\"* * * * *\",\"timezone\":\"UTC\","
	    "\"starting_deadline_s\":0"), 422, "invalid_field",
	    "starting_deadline_s", NULL, NULL, NULL, 0 },
	{ TASK(",\"schedule\":\"* * * * *\",\"timezone\":\"UTC\","
	    "\"active_deadline_s\":\"60\""), 400, "invalid_field",
	    "active_deadline_s", NULL, NULL, NULL, 0 },
	{ SVC(",\"concurrency_policy\":\"allow\""), 422, "invalid_field",
	    "concurrency_policy", NULL, NULL, NULL, 0 },
	{ SVC(",\"port\":8080"), 422, "invalid_field", "port", NULL, NULL,
	    NULL, 0 },
	{ "{\"name\":\"w\",\"type\":\"web-app\",\"registry_id\":\"" RID "\","
	    "\"image\":\"a/b\",\"port\":0}", 422, "invalid_field", "port", NULL,
	    NULL, NULL, 0 },
	{ "{\"name\":\"w\",\"type\":\"web-app\",\"registry_id\":\"" RID "\","
	    "\"image\":\"a/b\",\"port\":\"80\"}", 422, "invalid_field", "port",
	    NULL, NULL, NULL, 0 },

	/* Endpoints. */
	{ "{\"name\":\"w\",\"type\":\"web-app\",\"registry_id\":\"" RID "\","
	    "\"image\":\"a/b\",\"endpoints\":\"" EP_OK "\"}", 422,
	    "endpoints_not_allowed", "endpoints", NULL, NULL, NULL, 0 },
	{ TASK(",\"schedule\":\"* * * * *\",\"timezone\":\"UTC\",\"endpoints\":\""
	    EP_OK "\""), 422, "endpoints_not_allowed", "endpoints", NULL, NULL,
	    NULL, 0 },
	{ SVC(",\"endpoints\":\"version: 0.1\\n\""), 422, "invalid_endpoints",
	    "endpoints", NULL, NULL, NULL, 0 },
	{ SVC(",\"endpoints\":\"\""), 422, "invalid_endpoints", "endpoints", NULL,
	    NULL, NULL, 0 },
};

static void
check_accepted(size_t i, const struct req_case *c, const struct comp_input *in)
{
	if (strcmp(in->image, c->image) != 0 ||
	    strcmp(in->repository, c->repository) != 0 ||
	    strcmp(in->registry_host, c->host) != 0)
		fail_msg("case %zu: image %s repository %s host %s", i, in->image,
		    in->repository, in->registry_host);
	assert_int_equal(in->endpoints.n, c->endpoints);
}

static void
test_request_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct req_case *c = &req_cases[i];
		struct comp_input *in = calloc(1, sizeof(*in));
		struct error err;
		json_error_t jerr;
		json_t *body;
		int status = 0, rc;

		assert_non_null(in);
		/* As http_request_json loads it. */
		body = json_loads(c->body, JSON_REJECT_DUPLICATES, &jerr);
		if (body == NULL)
			fail_msg("case %zu: bad test JSON: %s", i, jerr.text);
		rc = comp_input_parse(body, in, &status, &err);
		if (c->status == 0) {
			if (rc != 0)
				fail_msg("case %zu (%s): refused %d %s/%s: %s", i,
				    c->body, status, err.code, err.field, err.msg);
			check_accepted(i, c, in);
		} else if (rc != -1 || status != c->status ||
		    strcmp(err.code, c->code) != 0 ||
		    (c->field != NULL && strcmp(err.field, c->field) != 0)) {
			fail_msg("case %zu (%s): rc %d %d %s/%s, want %d %s/%s", i,
			    c->body, rc, status, err.code, err.field, c->status,
			    c->code, c->field ? c->field : "*");
		}
		json_decref(body);
		free(in);
	}
}

/* --- health and resources ------------------------------------------------ */

#define WEB(extra) "{" BASE ",\"type\":\"web-app\"" extra "}"
#define MANUAL(extra) "{" BASE ",\"type\":\"manual-task\"" extra "}"
#define HEALTH(obj) SVC(",\"health\":" obj)
#define RES(obj) SVC(",\"resources\":" obj)
#define EP_TWO "version: 0.1\\nendpoints:\\n- name: g\\n  port: 8080\\n" \
	"  context: /g\\n- name: t\\n  port: 7000\\n  type: TCP\\n"
#define FULL_HEALTH "{\"path\":\"/healthz\",\"port\":9090,\"timeout_s\":60," \
	"\"period_s\":1,\"success_threshold\":1}"
#define FULL_RES "{\"memory_mb\":256,\"cpu_millicores\":500,\"pids\":256," \
	"\"read_only_rootfs\":false}"

struct workload_case {
	const char *body;
	int status;            /* 0 = accepted */
	const char *code;
	const char *field;
	/* Accepted: what the reply shows ("null" when not set). */
	const char *health, *resources;
};

static const struct workload_case workload_cases[] = {
	/* Accepted, echoed as given. */
	{ SVC(""), 0, NULL, NULL, "null", "null" },
	{ HEALTH(FULL_HEALTH), 0, NULL, NULL, FULL_HEALTH, "null" },
	{ HEALTH("{}"), 0, NULL, NULL, "{}", "null" },
	{ HEALTH("null"), 0, NULL, NULL, "null", "null" },
	{ HEALTH("{\"port\":null,\"path\":\"/\"}"), 0, NULL, NULL,
	    "{\"path\":\"/\"}", "null" },
	{ HEALTH("{\"timeout_s\":1,\"period_s\":60,\"success_threshold\":10}"),
	    0, NULL, NULL, "{\"timeout_s\":1,\"period_s\":60,"
	    "\"success_threshold\":10}", "null" },
	{ HEALTH("{\"timeout_s\":600,\"port\":65535}"), 0, NULL, NULL,
	    "{\"timeout_s\":600,\"port\":65535}", "null" },
	{ HEALTH("{\"path\":\"/ready?full=1&x=%20\"}"), 0, NULL, NULL,
	    "{\"path\":\"/ready?full=1&x=%20\"}", "null" },
	{ WEB(",\"port\":3000,\"health\":{\"port\":3000,\"path\":\"/\"}"), 0,
	    NULL, NULL, "{\"port\":3000,\"path\":\"/\"}", "null" },
	{ WEB(",\"health\":{\"port\":3000}"), 422, "invalid_health",
	    "health.port", NULL, NULL },
	{ SVC(",\"endpoints\":\"" EP_TWO "\",\"health\":{\"port\":7000}"), 0,
	    NULL, NULL, "{\"port\":7000}", "null" },
	{ SVC(",\"endpoints\":\"" EP_OK "\",\"health\":{\"port\":8080}"), 0,
	    NULL, NULL, "{\"port\":8080}", "null" },
	{ RES(FULL_RES), 0, NULL, NULL, "null", FULL_RES },
	{ RES("{\"read_only_rootfs\":true}"), 0, NULL, NULL, "null",
	    "{\"read_only_rootfs\":true}" },
	{ RES("{}"), 0, NULL, NULL, "null", "{}" },
	{ RES("{\"memory_mb\":16,\"cpu_millicores\":10,\"pids\":16}"), 0, NULL,
	    NULL, "null", "{\"memory_mb\":16,\"cpu_millicores\":10,\"pids\":16}" },
	{ RES("{\"memory_mb\":65536,\"cpu_millicores\":64000,\"pids\":32768}"),
	    0, NULL, NULL, "null",
	    "{\"memory_mb\":65536,\"cpu_millicores\":64000,\"pids\":32768}" },
	{ TASK(",\"schedule\":\"* * * * *\",\"timezone\":\"UTC\",\"resources\":"
	    "{\"memory_mb\":64}"), 0, NULL, NULL, "null", "{\"memory_mb\":64}" },
	{ MANUAL(",\"resources\":{\"pids\":100}"), 0, NULL, NULL, "null",
	    "{\"pids\":100}" },
	{ SVC(",\"health\":{\"port\":80},\"resources\":{\"memory_mb\":128}"), 0,
	    NULL, NULL, "{\"port\":80}", "{\"memory_mb\":128}" },

	/* Only services and web apps are health-checked. */
	{ TASK(",\"schedule\":\"* * * * *\",\"timezone\":\"UTC\",\"health\":{}"),
	    422, "health_not_allowed", "health", NULL, NULL },
	{ MANUAL(",\"health\":{\"timeout_s\":5}"), 422, "health_not_allowed",
	    "health", NULL, NULL },

	/* The probed port must be an endpoint's. */
	{ SVC(",\"endpoints\":\"" EP_TWO "\",\"health\":{\"port\":9090}"), 422,
	    "invalid_health", "health.port", NULL, NULL },

	/* Shapes: 400. */
	{ HEALTH("\"/healthz\""), 400, "invalid_health", "health", NULL, NULL },
	{ HEALTH("[]"), 400, "invalid_health", "health", NULL, NULL },
	{ HEALTH("60"), 400, "invalid_health", "health", NULL, NULL },
	{ HEALTH("{\"interval_s\":5}"), 400, "unknown_field", "health.interval_s",
	    NULL, NULL },
	{ HEALTH("{\"timeout_s\":5,\"Port\":80}"), 400, "unknown_field",
	    "health.Port", NULL, NULL },
	{ HEALTH("{\"timeout_s\":\"60\"}"), 400, "invalid_health",
	    "health.timeout_s", NULL, NULL },
	{ HEALTH("{\"timeout_s\":60.0}"), 400, "invalid_health",
	    "health.timeout_s", NULL, NULL },
	{ HEALTH("{\"port\":true}"), 400, "invalid_health", "health.port", NULL,
	    NULL },
	{ HEALTH("{\"path\":5}"), 400, "invalid_health", "health.path", NULL, NULL },
	{ HEALTH("{\"path\":[\"/\"]}"), 400, "invalid_health", "health.path",
	    NULL, NULL },
	{ RES("\"256\""), 400, "invalid_resources", "resources", NULL, NULL },
	{ RES("[256]"), 400, "invalid_resources", "resources", NULL, NULL },
	{ RES("{\"memory\":256}"), 400, "unknown_field", "resources.memory", NULL,
	    NULL },
	{ RES("{\"read_only_rootfs\":1}"), 400, "invalid_resources",
	    "resources.read_only_rootfs", NULL, NULL },
	{ RES("{\"read_only_rootfs\":\"true\"}"), 400, "invalid_resources",
	    "resources.read_only_rootfs", NULL, NULL },
	{ RES("{\"memory_mb\":true}"), 400, "invalid_resources",
	    "resources.memory_mb", NULL, NULL },
	{ RES("{\"cpu_millicores\":0.5}"), 400, "invalid_resources",
	    "resources.cpu_millicores", NULL, NULL },

	/* Ranges: 422. */
	{ HEALTH("{\"timeout_s\":0}"), 422, "invalid_health", "health.timeout_s",
	    NULL, NULL },
	{ HEALTH("{\"timeout_s\":601}"), 422, "invalid_health", "health.timeout_s",
	    NULL, NULL },
	{ HEALTH("{\"timeout_s\":-1}"), 422, "invalid_health", "health.timeout_s",
	    NULL, NULL },
	{ HEALTH("{\"period_s\":0}"), 422, "invalid_health", "health.period_s",
	    NULL, NULL },
	{ HEALTH("{\"period_s\":61}"), 422, "invalid_health", "health.period_s",
	    NULL, NULL },
	{ HEALTH("{\"success_threshold\":0}"), 422, "invalid_health",
	    "health.success_threshold", NULL, NULL },
	{ HEALTH("{\"success_threshold\":11}"), 422, "invalid_health",
	    "health.success_threshold", NULL, NULL },
	{ HEALTH("{\"port\":0}"), 422, "invalid_health", "health.port", NULL, NULL },
	{ HEALTH("{\"port\":65536}"), 422, "invalid_health", "health.port", NULL,
	    NULL },
	{ HEALTH("{\"port\":4294967297}"), 422, "invalid_health", "health.port",
	    NULL, NULL },
	{ HEALTH("{\"path\":\"\"}"), 422, "invalid_health", "health.path", NULL,
	    NULL },
	{ HEALTH("{\"path\":\"healthz\"}"), 422, "invalid_health", "health.path",
	    NULL, NULL },
	{ HEALTH("{\"path\":\"/a b\"}"), 422, "invalid_health", "health.path",
	    NULL, NULL },
	{ HEALTH("{\"path\":\"/a\\tb\"}"), 422, "invalid_health", "health.path",
	    NULL, NULL },
	{ HEALTH("{\"path\":\"/caf\u00e9\"}"), 422, "invalid_health",
	    "health.path", NULL, NULL },
	{ HEALTH("{\"path\":\"/a\\u0000b\"}"), 422, "invalid_health",
	    "health.path", NULL, NULL },
	{ HEALTH("{\"path\":\"/\\u007f\"}"), 422, "invalid_health",
	    "health.path", NULL, NULL },
	{ RES("{\"memory_mb\":15}"), 422, "invalid_resources",
	    "resources.memory_mb", NULL, NULL },
	{ RES("{\"memory_mb\":65537}"), 422, "invalid_resources",
	    "resources.memory_mb", NULL, NULL },
	{ RES("{\"memory_mb\":-256}"), 422, "invalid_resources",
	    "resources.memory_mb", NULL, NULL },
	{ RES("{\"cpu_millicores\":9}"), 422, "invalid_resources",
	    "resources.cpu_millicores", NULL, NULL },
	{ RES("{\"cpu_millicores\":64001}"), 422, "invalid_resources",
	    "resources.cpu_millicores", NULL, NULL },
	{ RES("{\"pids\":15}"), 422, "invalid_resources", "resources.pids", NULL,
	    NULL },
	{ RES("{\"pids\":32769}"), 422, "invalid_resources", "resources.pids",
	    NULL, NULL },
	/* The first field in table order is reported, whatever the key order. */
	{ HEALTH("{\"success_threshold\":99,\"timeout_s\":0}"), 422,
	    "invalid_health", "health.timeout_s", NULL, NULL },
};

/* got equals the JSON text want. */
static void
check_echo(size_t i, const char *what, json_t *got, const char *want)
{
	json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
	char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);

	if (w == NULL || !json_equal(got, w))
		fail_msg("case %zu: %s is %s, want %s", i, what, g ? g : "?", want);
	free(g);
	json_decref(w);
	json_decref(got);
}

static void
test_workload_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(workload_cases) / sizeof(workload_cases[0]); i++) {
		const struct workload_case *c = &workload_cases[i];
		struct comp_input *in = calloc(1, sizeof(*in));
		struct error err;
		json_error_t jerr;
		json_t *body;
		int status = 0, rc;

		assert_non_null(in);
		/* NULs too: http.c refuses them, the parser must not rely on it. */
		body = json_loads(c->body, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
		    &jerr);
		if (body == NULL)
			fail_msg("case %zu: bad test JSON: %s", i, jerr.text);
		rc = comp_input_parse(body, in, &status, &err);
		if (c->status == 0) {
			if (rc != 0)
				fail_msg("case %zu (%s): refused %d %s/%s: %s", i,
				    c->body, status, err.code, err.field, err.msg);
			check_echo(i, "health", workload_health_json(&in->health),
			    c->health);
			check_echo(i, "resources",
			    workload_resources_json(&in->resources), c->resources);
		} else if (rc != -1 || status != c->status ||
		    strcmp(err.code, c->code) != 0 || strcmp(err.field, c->field) != 0) {
			fail_msg("case %zu (%s): rc %d %d %s/%s, want %d %s/%s", i,
			    c->body, rc, status, err.code, err.field, c->status,
			    c->code, c->field);
		}
		json_decref(body);
		free(in);
	}
}

/* The values land in the struct comp_events.c turns into the proto. */
static void
test_workload_values(void **state)
{
	struct comp_input *in = calloc(1, sizeof(*in));
	Slipway__V1__HealthCheck hp;
	Slipway__V1__Resources rp;
	struct error err;
	json_t *body = json_loads(SVC(",\"health\":" FULL_HEALTH
	    ",\"resources\":{\"memory_mb\":256,\"read_only_rootfs\":true}"), 0,
	    NULL);
	int status;

	(void)state;
	assert_non_null(in);
	assert_non_null(body);
	assert_int_equal(comp_input_parse(body, in, &status, &err), 0);
	assert_true(in->health.set);
	assert_string_equal(in->health.path, "/healthz");
	assert_int_equal(in->health.port, 9090);
	assert_int_equal(in->health.timeout_s, 60);
	assert_int_equal(in->health.period_s, 1);
	assert_int_equal(in->health.success_threshold, 1);
	assert_true(in->resources.set);
	assert_int_equal(in->resources.memory_mb, 256);
	assert_int_equal(in->resources.cpu_millicores, 0);
	assert_true(in->resources.read_only_rootfs);
	assert_ptr_equal(workload_health_to_proto(&in->health, &hp), &hp);
	assert_string_equal(hp.path, "/healthz");
	assert_int_equal(hp.timeout_s, 60);
	assert_ptr_equal(workload_resources_to_proto(&in->resources, &rp), &rp);
	assert_int_equal(rp.memory_mb, 256);
	assert_int_equal(rp.pids, 0);
	assert_true(rp.read_only_rootfs);
	json_decref(body);
	/* Not given: the proto fields stay absent. */
	memset(in, 0, sizeof(*in));
	body = json_loads(SVC(""), 0, NULL);
	assert_int_equal(comp_input_parse(body, in, &status, &err), 0);
	assert_null(workload_health_to_proto(&in->health, &hp));
	assert_null(workload_resources_to_proto(&in->resources, &rp));
	json_decref(body);
	free(in);
}

/* health.path: 256 bytes at most. */
static void
test_health_path_size(void **state)
{
	(void)state;
	for (size_t n = 255; n <= 257; n++) {
		struct comp_input *in = calloc(1, sizeof(*in));
		json_t *body = json_loads(SVC(""), 0, NULL);
		struct error err;
		char *path = malloc(n + 1);
		int status = 0, rc;

		assert_non_null(in);
		assert_non_null(path);
		memset(path, 'a', n);
		path[0] = '/';
		path[n] = '\0';
		json_object_set_new(body, "health", json_pack("{s:s}", "path", path));
		rc = comp_input_parse(body, in, &status, &err);
		if (n <= 256) {
			assert_int_equal(rc, 0);
			assert_string_equal(in->health.path, path);
		} else {
			assert_int_equal(rc, -1);
			assert_int_equal(status, 422);
			assert_string_equal(err.field, "health.path");
		}
		json_decref(body);
		free(path);
		free(in);
	}
}

static char *
repeat(char ch, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/* Each capped field at and one past its cap. */
static void
test_request_sizes(void **state)
{
	(void)state;
	static const struct {
		const char *key;
		size_t len;
		int status;
		const char *code;
	} cases[] = {
		{ "name", 63, 0, NULL },
		{ "name", 64, 422, "invalid_field" },
		{ "description", 500, 0, NULL },
		{ "description", 501, 422, "invalid_field" },
		{ "registry_id", 37, 422, "invalid_field" },
		{ "type", 33, 422, "invalid_field" },
		{ "image", IMAGE_REF_MAX + 1, 422, "invalid_field" },
		{ "endpoints", ENDPOINTS_YAML_MAX + 1, 413, "invalid_endpoints" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct comp_input *in = calloc(1, sizeof(*in));
		struct error err;
		json_t *body = json_loads(SVC(""), 0, NULL);
		char *v = repeat('a', cases[i].len);
		int status = 0, rc;

		assert_non_null(in);
		assert_non_null(body);
		assert_int_equal(json_object_set_new(body, cases[i].key,
		    json_string(v)), 0);
		rc = comp_input_parse(body, in, &status, &err);
		if (cases[i].status == 0 && rc != 0)
			fail_msg("case %zu: refused %s: %s", i, err.code, err.msg);
		if (cases[i].status != 0 && (rc != -1 || status != cases[i].status ||
		    strcmp(err.code, cases[i].code) != 0))
			fail_msg("case %zu (%s): rc %d %d %s, want %d %s", i,
			    cases[i].key, rc, status, err.code, cases[i].status,
			    cases[i].code);
		json_decref(body);
		free(v);
		free(in);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slug),
		cmocka_unit_test(test_cron),
		cmocka_unit_test(test_timezone),
		cmocka_unit_test(test_request_table),
		cmocka_unit_test(test_request_sizes),
		cmocka_unit_test(test_workload_table),
		cmocka_unit_test(test_workload_values),
		cmocka_unit_test(test_health_path_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
