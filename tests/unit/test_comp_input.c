// uses: services/component-svc/comp_input.c
// uses: services/component-svc/endpoints.c
/*
 * test_comp_input.c: component-svc's create request, table-driven: names,
 * the 5-field cron grammar, time zones, and the whole body through
 * comp_input_parse (the entry point comp_http.c calls).
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
	{ "* * * * * 2024", 0 }, { "@daily", 0 }, { "@every 5m", 0 },
	/* Ranges per field. */
	{ "60 * * * *", 0 }, { "* 24 * * *", 0 }, { "* * 0 * *", 0 },
	{ "* * 32 * *", 0 }, { "* * * 0 *", 0 }, { "* * * 13 *", 0 },
	{ "* * * * 8", 0 }, { "-1 * * * *", 0 }, { "0000 * * * *", 0 },
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

static void
test_cron(void **state)
{
	(void)state;
	char s[200];

	for (size_t i = 0; i < sizeof(cron_cases) / sizeof(cron_cases[0]); i++)
		if (comp_input_cron_valid(cron_cases[i].s) != cron_cases[i].ok)
			fail_msg("cron \"%s\": want %d", cron_cases[i].s,
			    cron_cases[i].ok);
	assert_false(comp_input_cron_valid(NULL));
	/* 128 bytes at most: padding with blanks counts. */
	memset(s, ' ', sizeof(s));
	memcpy(s, "* * * * *", 9);
	s[128] = '\0';
	assert_true(comp_input_cron_valid(s));
	s[128] = ' ';
	s[129] = '\0';
	assert_false(comp_input_cron_valid(s));
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
		if (comp_input_timezone_valid(tz_shape_cases[i].s) != 0)
			fail_msg("timezone \"%s\": accepted", tz_shape_cases[i].s);
	assert_false(comp_input_timezone_valid(NULL));
	memset(s, 'A', 65);
	s[65] = '\0';
	assert_false(comp_input_timezone_valid(s));
	if (stat("/usr/share/zoneinfo/UTC", &st) != 0) {
		/* Without tzdata only the shape is checked. */
		assert_true(comp_input_timezone_valid("Europe/Berlin"));
		return;
	}
	for (size_t i = 0; i < sizeof(tz_db_cases) / sizeof(tz_db_cases[0]); i++)
		if (comp_input_timezone_valid(tz_db_cases[i].s) != tz_db_cases[i].ok)
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
	    "docker.io", 0 },
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
	{ TASK(",\"schedule\":5,\"timezone\":\"UTC\""), 422, "invalid_field",
	    "schedule", NULL, NULL, NULL, 0 },
	{ TASK(",\"schedule\":\"* * * * *\",\"timezone\":\"../../etc/passwd\""), 422,
	    "invalid_timezone", "timezone", NULL, NULL, NULL, 0 },
	{ TASK(",\"schedule\":\"* * * * *\",\"timezone\":\"\""), 422,
	    "invalid_timezone", "timezone", NULL, NULL, NULL, 0 },

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
