// uses: services/deploy-svc/deploy_evidence.c
/*
 * test_deploy_evidence.c: what deploy-svc accepts from an agent's
 * DeploymentStatus besides the state (caps, UTF-8, addresses, table-driven),
 * the rules that merge a report into the stored evidence, and the stored
 * addresses' JSON round trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "deploy-svc/deploy.h"
#include "json.h"

static char *
repeat(const char *unit, size_t times)
{
	size_t n = strlen(unit);
	char *s = malloc(n * times + 1);

	assert_non_null(s);
	for (size_t i = 0; i < times; i++)
		memcpy(s + i * n, unit, n);
	s[n * times] = '\0';
	return s;
}

/* A valid report to break one field of. */
struct report {
	Slipway__V1__DeploymentStatus ds;
	Slipway__V1__EndpointAddress addr[20];
	Slipway__V1__EndpointAddress *addrp[20];
};

static void
report_init(struct report *r, size_t n_addresses)
{
	slipway__v1__deployment_status__init(&r->ds);
	r->ds.deployment_id = DEPLOY_STR("6f1c2d3e-0000-4000-8000-000000000009");
	r->ds.state = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_RUNNING;
	for (size_t i = 0; i < n_addresses; i++) {
		slipway__v1__endpoint_address__init(&r->addr[i]);
		r->addr[i].name = DEPLOY_STR("greeting");
		r->addr[i].type = DEPLOY_STR("REST");
		r->addr[i].visibility = DEPLOY_STR("Public");
		r->addr[i].url = DEPLOY_STR("http://127.0.0.1:8000/acme/shop/api/greeting");
		r->addrp[i] = &r->addr[i];
	}
	r->ds.n_endpoints = n_addresses;
	r->ds.endpoints = r->addrp;
}

/* One field of a report (or of its first address) set to a value. */
enum which { REASON, LOG_TAIL, PROBE, ADDR_NAME, ADDR_TYPE, ADDR_VIS, ADDR_URL };

struct text_case {
	enum which field;
	const char *value;   /* NULL: the long value below */
	const char *unit;    /* repeated `times` times */
	size_t times;
	int ok;
};

static const struct text_case text_cases[] = {
	{ LOG_TAIL, "", NULL, 0, 1 },
	{ LOG_TAIL, "line 1\nline 2\n\tindented\x1b[31mred\x1b[0m\n", NULL, 0, 1 },
	{ LOG_TAIL, NULL, "a", 4096, 1 },
	{ LOG_TAIL, NULL, "a", 4097, 0 },
	{ LOG_TAIL, NULL, "\xc3\xa9", 2048, 1 },      /* é: 4096 bytes */
	{ LOG_TAIL, NULL, "\xe2\x82\xac", 1366, 0 },  /* €: 4098 bytes */
	{ LOG_TAIL, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", NULL, 0, 1 },
	{ LOG_TAIL, "bad \xff byte", NULL, 0, 0 },
	{ LOG_TAIL, "overlong \xc0\xaf", NULL, 0, 0 },
	{ LOG_TAIL, "overlong \xe0\x80\xaf", NULL, 0, 0 },
	{ LOG_TAIL, "overlong \xf0\x80\x80\xaf", NULL, 0, 0 },
	{ LOG_TAIL, "surrogate \xed\xa0\x80", NULL, 0, 0 },
	{ LOG_TAIL, "past U+10FFFF \xf4\x90\x80\x80", NULL, 0, 0 },
	{ LOG_TAIL, "cut \xe2\x82", NULL, 0, 0 },
	{ LOG_TAIL, "lone continuation \x80", NULL, 0, 0 },
	{ PROBE, "GET /healthz: 503 Service Unavailable", NULL, 0, 1 },
	{ PROBE, NULL, "p", 1024, 1 },
	{ PROBE, NULL, "p", 1025, 0 },
	{ PROBE, "\xfe", NULL, 0, 0 },
	{ REASON, "unhealthy: no answer on port 9090", NULL, 0, 1 },
	{ REASON, NULL, "r", 5000, 1 },               /* cut, not refused */
	{ REASON, "bad \xc3", NULL, 0, 0 },
	{ ADDR_NAME, "Greeting Service", NULL, 0, 1 },
	{ ADDR_NAME, "Gr\xc3\xbc\xc3\x9f" "e", NULL, 0, 1 },
	{ ADDR_NAME, "", NULL, 0, 0 },
	{ ADDR_NAME, NULL, "n", 100, 1 },
	{ ADDR_NAME, NULL, "n", 101, 0 },
	{ ADDR_NAME, "bad \xff", NULL, 0, 0 },
	{ ADDR_TYPE, "GraphQL", NULL, 0, 1 },
	{ ADDR_TYPE, "UDP", NULL, 0, 1 },
	{ ADDR_TYPE, "rest", NULL, 0, 0 },
	{ ADDR_TYPE, "HTTP", NULL, 0, 0 },
	{ ADDR_TYPE, "", NULL, 0, 0 },
	{ ADDR_VIS, "Organization", NULL, 0, 1 },
	{ ADDR_VIS, "public", NULL, 0, 0 },
	{ ADDR_VIS, "", NULL, 0, 0 },
	{ ADDR_URL, "tcp://127.0.0.1:7000", NULL, 0, 1 },
	{ ADDR_URL, "udp://127.0.0.1:7001", NULL, 0, 1 },
	{ ADDR_URL, "https://gw.example.com/acme/shop/api/g?x=1", NULL, 0, 1 },
	{ ADDR_URL, "", NULL, 0, 0 },
	{ ADDR_URL, "127.0.0.1:7000", NULL, 0, 0 },
	{ ADDR_URL, "http://", NULL, 0, 0 },
	{ ADDR_URL, "://host", NULL, 0, 0 },
	{ ADDR_URL, "HTTP://host", NULL, 0, 0 },
	{ ADDR_URL, "http://host/a b", NULL, 0, 0 },
	{ ADDR_URL, "http://host/\x7f", NULL, 0, 0 },
	{ ADDR_URL, "http://h\xc3\xa9st/", NULL, 0, 0 },
	{ ADDR_URL, "http://host/\n", NULL, 0, 0 },
};

static void
set_field(struct report *r, enum which w, char *v)
{
	switch (w) {
	case REASON:    r->ds.reason = v; break;
	case LOG_TAIL:  r->ds.log_tail = v; break;
	case PROBE:     r->ds.probe = v; break;
	case ADDR_NAME: r->addr[0].name = v; break;
	case ADDR_TYPE: r->addr[0].type = v; break;
	case ADDR_VIS:  r->addr[0].visibility = v; break;
	case ADDR_URL:  r->addr[0].url = v; break;
	}
}

static void
test_text_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
		const struct text_case *c = &text_cases[i];
		struct deploy_evidence *ev = calloc(1, sizeof(*ev));
		struct report r;
		struct error err;
		char *v = c->value != NULL ? strdup(c->value) :
		    repeat(c->unit, c->times);
		int rc;

		assert_non_null(ev);
		report_init(&r, 1);
		set_field(&r, c->field, v);
		rc = deploy_evidence_from_report(&r.ds, ev, &err);
		if (c->ok && rc != 0)
			fail_msg("case %zu: refused: %s", i, err.msg);
		if (!c->ok && (rc != -1 || strcmp(err.code, "bad_message") != 0))
			fail_msg("case %zu: accepted (rc %d)", i, rc);
		/* Whatever is kept can become a JSON string and a Postgres text. */
		if (rc == 0 && (!json_utf8_valid(ev->reason, DEPLOY_REASON_MAX) ||
		    !json_utf8_valid(ev->log_tail, DEPLOY_LOG_TAIL_MAX) ||
		    !json_utf8_valid(ev->probe, DEPLOY_PROBE_MAX)))
			fail_msg("case %zu: kept invalid text", i);
		free(v);
		free(ev);
	}
}

/* A reason past the cap is cut at a character boundary, never mid-sequence. */
static void
test_reason_cut(void **state)
{
	static const char *const units[] = { "a", "\xc3\xa9", "\xe2\x82\xac",
	    "\xf0\x9f\x98\x80" };
	(void)state;
	for (size_t u = 0; u < 4; u++) {
		for (size_t pad = 0; pad < 4; pad++) {
			struct deploy_evidence *ev = calloc(1, sizeof(*ev));
			char *body = repeat(units[u], 700), *v;
			struct report r;
			struct error err;

			assert_non_null(ev);
			v = malloc(strlen(body) + pad + 1);
			assert_non_null(v);
			memset(v, 'x', pad);
			strcpy(v + pad, body);
			report_init(&r, 0);
			r.ds.reason = v;
			assert_int_equal(deploy_evidence_from_report(&r.ds, ev, &err), 0);
			assert_true(strlen(ev->reason) <= DEPLOY_REASON_MAX);
			assert_true(strlen(ev->reason) > DEPLOY_REASON_MAX - 4);
			assert_true(json_utf8_valid(ev->reason, DEPLOY_REASON_MAX));
			assert_memory_equal(ev->reason, v, strlen(ev->reason));
			free(v);
			free(body);
			free(ev);
		}
	}
}

static void
test_address_count(void **state)
{
	(void)state;
	for (size_t n = 0; n <= 17; n++) {
		struct deploy_evidence *ev = calloc(1, sizeof(*ev));
		struct report r;
		struct error err;
		int rc;

		assert_non_null(ev);
		report_init(&r, n);
		rc = deploy_evidence_from_report(&r.ds, ev, &err);
		if (n <= DEPLOY_ADDRESSES_MAX) {
			assert_int_equal(rc, 0);
			assert_int_equal(ev->n_addresses, n);
		} else {
			assert_int_equal(rc, -1);
			assert_string_equal(err.code, "bad_message");
		}
		free(ev);
	}
}

/* exit_code means something only when exited is set. */
static void
test_exit_code(void **state)
{
	struct deploy_evidence *ev = calloc(1, sizeof(*ev));
	struct report r;
	struct error err;

	(void)state;
	assert_non_null(ev);
	report_init(&r, 0);
	r.ds.exit_code = 3;
	assert_int_equal(deploy_evidence_from_report(&r.ds, ev, &err), 0);
	assert_false(ev->exited);
	assert_int_equal(ev->exit_code, 0);
	r.ds.exited = 1;
	r.ds.exit_code = 137;
	assert_int_equal(deploy_evidence_from_report(&r.ds, ev, &err), 0);
	assert_true(ev->exited);
	assert_int_equal(ev->exit_code, 137);
	r.ds.exit_code = 0;
	assert_int_equal(deploy_evidence_from_report(&r.ds, ev, &err), 0);
	assert_true(ev->exited);
	assert_int_equal(ev->exit_code, 0);
	free(ev);
}

/* --- merge ---------------------------------------------------------------- */

struct evidence_spec {
	const char *reason;
	int exited, exit_code;
	const char *log_tail, *probe;
	size_t n_addresses;
	const char *url;          /* of every address */
};

static void
evidence_make(struct deploy_evidence *ev, const struct evidence_spec *s)
{
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->reason, sizeof(ev->reason), "%s", s->reason);
	ev->exited = s->exited;
	ev->exit_code = s->exit_code;
	snprintf(ev->log_tail, sizeof(ev->log_tail), "%s", s->log_tail);
	snprintf(ev->probe, sizeof(ev->probe), "%s", s->probe);
	ev->n_addresses = s->n_addresses;
	for (size_t i = 0; i < s->n_addresses; i++) {
		snprintf(ev->addresses[i].name, sizeof(ev->addresses[i].name),
		    "ep%zu", i);
		snprintf(ev->addresses[i].type, sizeof(ev->addresses[i].type), "REST");
		snprintf(ev->addresses[i].visibility,
		    sizeof(ev->addresses[i].visibility), "Public");
		snprintf(ev->addresses[i].url, sizeof(ev->addresses[i].url), "%s",
		    s->url);
	}
}

static void
evidence_expect(size_t i, const struct deploy_evidence *got,
    const struct evidence_spec *want)
{
	if (strcmp(got->reason, want->reason) != 0 || got->exited != want->exited ||
	    got->exit_code != want->exit_code ||
	    strcmp(got->log_tail, want->log_tail) != 0 ||
	    strcmp(got->probe, want->probe) != 0 ||
	    got->n_addresses != want->n_addresses)
		fail_msg("case %zu: got reason \"%s\" exited %d code %d log \"%s\" "
		    "probe \"%s\" %zu addresses", i, got->reason, got->exited,
		    got->exit_code, got->log_tail, got->probe, got->n_addresses);
	for (size_t a = 0; a < got->n_addresses; a++)
		if (strcmp(got->addresses[a].url, want->url) != 0)
			fail_msg("case %zu: address %zu is %s", i, a,
			    got->addresses[a].url);
}

#define OLD_URL "http://gw:8000/acme/p/c/old"
#define NEW_URL "http://gw:8000/acme/p/c/new"

static const struct {
	struct evidence_spec stored, report;
	enum deploy_status to;
	struct evidence_spec want;
} merge_cases[] = {
	/* starting -> running: addresses arrive. */
	{ { "", 0, 0, "", "", 0, "" }, { "", 0, 0, "", "", 2, NEW_URL },
	  DEPLOY_RUNNING, { "", 0, 0, "", "", 2, NEW_URL } },
	/* running -> crashed: evidence arrives, addresses stay. */
	{ { "", 0, 0, "", "", 2, OLD_URL },
	  { "crashed: exited 137", 1, 137, "oom\n", "", 0, "" },
	  DEPLOY_CRASHED, { "crashed: exited 137", 1, 137, "oom\n", "", 2, OLD_URL } },
	/* crashed -> running: the crash's evidence goes, addresses update. */
	{ { "crashed: exited 137", 1, 137, "oom\n", "", 2, OLD_URL },
	  { "", 0, 0, "", "", 1, NEW_URL },
	  DEPLOY_RUNNING, { "", 0, 0, "", "", 1, NEW_URL } },
	/* crashed -> running without addresses: the old ones stay. */
	{ { "crashed", 1, 1, "x", "p", 2, OLD_URL }, { "", 0, 0, "", "", 0, "" },
	  DEPLOY_RUNNING, { "", 0, 0, "", "", 2, OLD_URL } },
	/* -> failed with a probe only: it replaces the whole evidence. */
	{ { "", 1, 2, "old log", "", 0, "" },
	  { "unhealthy: 503", 0, 0, "", "GET /healthz: 503", 0, "" },
	  DEPLOY_FAILED, { "unhealthy: 503", 0, 0, "", "GET /healthz: 503", 0, "" } },
	/* A report without reason or evidence keeps both. */
	{ { "why", 1, 3, "log", "probe", 1, OLD_URL }, { "", 0, 0, "", "", 0, "" },
	  DEPLOY_SUPERSEDED, { "why", 1, 3, "log", "probe", 1, OLD_URL } },
	/* Addresses outside running are not taken. */
	{ { "", 0, 0, "", "", 1, OLD_URL }, { "", 0, 0, "", "", 2, NEW_URL },
	  DEPLOY_CRASHED, { "", 0, 0, "", "", 1, OLD_URL } },
	/* A reason alone replaces the reason and keeps the evidence. */
	{ { "old", 1, 9, "log", "", 0, "" }, { "new", 0, 0, "", "", 0, "" },
	  DEPLOY_CRASHED, { "new", 1, 9, "log", "", 0, "" } },
};

static void
test_merge(void **state)
{
	struct deploy_evidence *stored = calloc(1, sizeof(*stored));
	struct deploy_evidence *report = calloc(1, sizeof(*report));

	(void)state;
	assert_non_null(stored);
	assert_non_null(report);
	for (size_t i = 0; i < sizeof(merge_cases) / sizeof(merge_cases[0]); i++) {
		evidence_make(stored, &merge_cases[i].stored);
		evidence_make(report, &merge_cases[i].report);
		deploy_evidence_merge(stored, report, merge_cases[i].to);
		evidence_expect(i, stored, &merge_cases[i].want);
	}
	free(stored);
	free(report);
}

/* --- stored addresses ------------------------------------------------------ */

static void
test_addresses_round_trip(void **state)
{
	struct deploy_evidence *ev = calloc(1, sizeof(*ev));
	struct deploy_evidence *back = calloc(1, sizeof(*back));
	static const struct evidence_spec spec = { "", 0, 0, "", "",
	    DEPLOY_ADDRESSES_MAX, NEW_URL };
	struct error err;
	json_t *arr;
	char *text;

	(void)state;
	assert_non_null(ev);
	assert_non_null(back);
	evidence_make(ev, &spec);
	arr = deploy_evidence_addresses_json(ev);
	assert_int_equal(json_array_size(arr), DEPLOY_ADDRESSES_MAX);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(arr, 3), "url")), NEW_URL);
	text = json_dumps(arr, JSON_COMPACT);
	assert_int_equal(deploy_evidence_addresses_parse(text, back, &err), 0);
	assert_int_equal(back->n_addresses, DEPLOY_ADDRESSES_MAX);
	assert_memory_equal(back->addresses, ev->addresses, sizeof(ev->addresses));
	free(text);
	json_decref(arr);
	assert_int_equal(deploy_evidence_addresses_parse("[]", back, &err), 0);
	assert_int_equal(back->n_addresses, 0);
	assert_int_equal(deploy_evidence_addresses_parse("{}", back, &err), -1);
	assert_int_equal(deploy_evidence_addresses_parse("[{\"name\":1}]", back,
	    &err), -1);
	assert_int_equal(back->n_addresses, 0);
	free(ev);
	free(back);
}

/* DeploymentStatusChanged carries the stored evidence. */
static void
test_to_proto(void **state)
{
	struct deploy_evidence *ev = calloc(1, sizeof(*ev));
	static const struct evidence_spec spec = { "crashed", 1, 137, "log\n",
	    "probe", 2, OLD_URL };
	Slipway__V1__DeploymentStatusChanged sc;
	struct deploy_evidence_proto p;

	(void)state;
	assert_non_null(ev);
	evidence_make(ev, &spec);
	slipway__v1__deployment_status_changed__init(&sc);
	deploy_evidence_to_proto(ev, &p, &sc);
	assert_string_equal(sc.reason, "crashed");
	assert_string_equal(sc.log_tail, "log\n");
	assert_true(sc.exited);
	assert_int_equal(sc.exit_code, 137);
	assert_int_equal(sc.n_endpoints, 2);
	assert_string_equal(sc.endpoints[1]->url, OLD_URL);
	assert_string_equal(sc.endpoints[1]->name, "ep1");
	free(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_table),
		cmocka_unit_test(test_reason_cut),
		cmocka_unit_test(test_address_count),
		cmocka_unit_test(test_exit_code),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_addresses_round_trip),
		cmocka_unit_test(test_to_proto),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
