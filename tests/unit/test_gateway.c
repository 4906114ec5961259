// uses: services/dataplane-agent/gateway.c services/dataplane-agent/gateway_cfg.c
// uses: services/dataplane-agent/gateway_render.c services/dataplane-agent/gateway_model.c
// uses: services/dataplane-agent/gateway_ports.c services/dataplane-agent/gateway_plan.c
// uses: services/dataplane-agent/gateway_rt.c
/*
 * test_gateway.c: the gateway module without HAProxy running: listener and
 * range parsing, proxy names, target checks, the rendered haproxy.cfg and
 * maps (checked by `haproxy -c` when the binary is installed), the plan
 * (runtime ops or a reload) between two models, TCP port allocation and
 * its file, the parsers of the master's answers, and the socket client
 * against a fake HAProxy on a unix socket.
 *
 * SLIPWAY_TEST_GATEWAY_PRINT=1 prints the example configuration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dataplane-agent/gateway.h"

#define LISTENERS "development=127.0.0.1:9080,127.0.0.1:9180;" \
	"production=127.0.0.1:9081,127.0.0.1:9181"
#define CID  "3f2a9c1e-7b44-4d0e-9a51-0c6f1d2e8b77"
#define CID2 "8d1b2c3a-1111-4222-8333-944455556666"

/* --- helpers ---------------------------------------------------------- */

static struct gateway_layout
layout(void)
{
	struct gateway_layout l;
	struct error err;

	memset(&l, 0, sizeof(l));
	assert_int_equal(gateway_cfg_listeners(LISTENERS, &l, &err), 0);
	assert_int_equal(gateway_cfg_range("9300-9399", &l, &err), 0);
	return l;
}

static void
endpoint(struct gateway_target *t, const char *name, const char *type,
    const char *vis, const char *context)
{
	struct gateway_endpoint *e = &t->endpoints[t->nendpoints++];

	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->type, sizeof(e->type), "%s", type);
	snprintf(e->visibility, sizeof(e->visibility), "%s", vis);
	snprintf(e->context, sizeof(e->context), "%s", context);
}

static void
server(struct gateway_endpoint *e, const char *name, int port,
    enum gateway_server_state state)
{
	struct gateway_server *s = &e->servers[e->nservers++];

	snprintf(s->name, sizeof(s->name), "%s", name);
	s->port = port;
	s->state = state;
}

static void
target(struct gateway_target *t, const char *cid, const char *env,
    const char *component)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->component_id, sizeof(t->component_id), "%s", cid);
	snprintf(t->environment, sizeof(t->environment), "%s", env);
	snprintf(t->org, sizeof(t->org), "acme");
	snprintf(t->project, sizeof(t->project), "shop");
	snprintf(t->component, sizeof(t->component), "%s", component);
}

/* The report's example: an HTTP component with two endpoints, a TCP one. */
static void
example(struct gateway_target t[2])
{
	target(&t[0], CID, "development", "hello");
	endpoint(&t[0], "Greeting Service", "REST", "Public", "/greeting");
	server(&t[0].endpoints[0], "d-0a1b2c3d4e5f", 41001, GATEWAY_READY);
	endpoint(&t[0], "admin", "REST", "Organization", "/");
	server(&t[0].endpoints[1], "d-0a1b2c3d4e5f", 41002, GATEWAY_READY);
	target(&t[1], CID2, "development", "db");
	endpoint(&t[1], "pg", "TCP", "Project", "");
	server(&t[1].endpoints[0], "d-9f8e7d6c5b4a", 41003, GATEWAY_READY);
}

static char tmpdir[64];

static void
make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/slipway-gw-test-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
}

static void
remove_tmpdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
}

/* --- listeners and range ---------------------------------------------- */

static void
test_listeners(void **state)
{
	struct gateway_layout l = layout();

	(void)state;
	assert_int_equal(l.nenv, 2);
	assert_string_equal(l.env[0].name, "development");
	assert_string_equal(l.env[0].pub.host, "127.0.0.1");
	assert_int_equal(l.env[0].pub.port, 9080);
	assert_int_equal(l.env[0].internal.port, 9180);
	assert_string_equal(l.env[1].name, "production");
	assert_int_equal(l.env[1].internal.port, 9181);
	assert_non_null(gateway_cfg_env(&l, "production"));
	assert_null(gateway_cfg_env(&l, "staging"));
}

static void
test_listeners_malformed(void **state)
{
	static const char *const bad[] = {
		"", "development", "development=127.0.0.1:9080",
		"development=127.0.0.1:9080,",
		"=127.0.0.1:9080,127.0.0.1:9180",
		"dev elopment=127.0.0.1:9080,127.0.0.1:9180",
		"d=localhost:9080,127.0.0.1:9180",
		"d=::1:9080,127.0.0.1:9180",
		"d=127.0.0.1:0,127.0.0.1:9180",
		"d=127.0.0.1:70000,127.0.0.1:9180",
		"d=127.0.0.1:+80,127.0.0.1:9180",
		"d=127.0.0.1:9080,127.0.0.1:9180,127.0.0.1:9280",
		"d=127.0.0.1:9080,127.0.0.1:9080",
		"d=127.0.0.1:9080,127.0.0.1:9180;d=127.0.0.1:9081,127.0.0.1:9181",
		"a=127.0.0.1:9080,127.0.0.1:9180;b=127.0.0.1:9180,127.0.0.1:9181",
		"d=127.0.0.1:9080,127.0.0.1:9180;",
		";d=127.0.0.1:9080,127.0.0.1:9180",
	};
	struct gateway_layout l;
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (gateway_cfg_listeners(bad[i], &l, &err) != -1)
			fail_msg("accepted listeners \"%s\"", bad[i]);
		assert_string_equal(err.code, "invalid_config");
		assert_true(strlen(err.msg) > 10);
	}
}

static void
test_range(void **state)
{
	static const char *const bad[] = {
		"", "9300", "9399-9300", "0-10", "9300-70000", "a-b",
		"9300-9399x", "1-20000", "9000-9100", "9300-", "-9300",
	};
	struct gateway_layout l = layout();
	struct error err;

	(void)state;
	assert_int_equal(l.tcp_lo, 9300);
	assert_int_equal(l.tcp_hi, 9399);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (gateway_cfg_range(bad[i], &l, &err) != -1)
			fail_msg("accepted range \"%s\"", bad[i]);
		assert_string_equal(err.field, "tcp_ports");
	}
	assert_non_null(strstr((gateway_cfg_range("9000-9100", &l, &err),
	    err.msg), "9080"));
}

/* --- names ------------------------------------------------------------ */

static int
safe_name(const char *s)
{
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-") == strlen(s);
}

static void
test_names(void **state)
{
	static const struct {
		const char *cid, *env, *endpoint, *prefix;
	} cases[] = {
		{ CID, "development", "Greeting Service",
		  "be-" CID "-development-Greeting_Service-" },
		{ CID, "development", "Greeting_Service",
		  "be-" CID "-development-Greeting_Service-" },
		{ "c1", "production", "grpc/api.v1",
		  "be-c1-production-grpc_api_v1-" },
		{ CID CID, "a-very-long-environment-name", "an endpoint name "
		  "well past the cap", "be-" CID "-a-very-long-envi-an_endpoint_"
		  "name_well_pa-" },
	};
	char a[GATEWAY_NAME_MAX], b[GATEWAY_NAME_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gateway_cfg_name("be", cases[i].cid, cases[i].env,
		    cases[i].endpoint, a, sizeof(a));
		assert_true(safe_name(a));
		assert_true(strlen(a) < 100);
		assert_int_equal(strncmp(a, cases[i].prefix,
		    strlen(cases[i].prefix)), 0);
		assert_int_equal(strlen(a), strlen(cases[i].prefix) + 8);
		gateway_cfg_name("be", cases[i].cid, cases[i].env,
		    cases[i].endpoint, b, sizeof(b));
		assert_string_equal(a, b);   /* deterministic */
	}
	/* Same sanitised text, different names: the hash tells them apart. */
	gateway_cfg_name("be", CID, "development", "Greeting Service", a,
	    sizeof(a));
	gateway_cfg_name("be", CID, "development", "Greeting_Service", b,
	    sizeof(b));
	assert_string_not_equal(a, b);
	/* The parts cannot be shifted into each other. */
	gateway_cfg_name("be", "ab", "c", "d", a, sizeof(a));
	gateway_cfg_name("be", "a", "bc", "d", b, sizeof(b));
	assert_string_not_equal(a, b);
}

/* --- target checks ---------------------------------------------------- */

/* What a bad-target case changes in the example. */
enum field {
	F_CID, F_ENV, F_ORG, F_PROJECT, F_TYPE, F_VISIBILITY, F_CONTEXT,
	F_NAME, F_NAME_OF_1, F_CONTEXT_OF_1, F_SERVER, F_PORT, F_NSERVERS,
	F_DUP_SERVER
};

static void
mutate(struct gateway_target *x, enum field f, const char *v)
{
	struct gateway_endpoint *e = &x->endpoints[0];

	switch (f) {
	case F_CID:
		strcpy(x->component_id, v);
		break;
	case F_ENV:
		strcpy(x->environment, v);
		break;
	case F_ORG:
		strcpy(x->org, v);
		break;
	case F_PROJECT:
		strcpy(x->project, v);
		break;
	case F_TYPE:
		strcpy(e->type, v);
		break;
	case F_VISIBILITY:
		strcpy(e->visibility, v);
		break;
	case F_CONTEXT:
		strcpy(e->context, v);
		break;
	case F_NAME:
		strcpy(e->name, v);
		break;
	case F_NAME_OF_1:
		strcpy(x->endpoints[1].name, e->name);
		break;
	case F_CONTEXT_OF_1:
		strcpy(x->endpoints[1].context, v);
		break;
	case F_SERVER:
		strcpy(e->servers[0].name, v);
		break;
	case F_PORT:
		e->servers[0].port = atoi(v);
		break;
	case F_NSERVERS:
		e->nservers = atoi(v);
		break;
	case F_DUP_SERVER:
		server(e, e->servers[0].name, 42000, GATEWAY_READY);
		break;
	}
}

static void
test_check_target(void **state)
{
	static const struct {
		enum field f;
		const char *value;
		const char *msg;    /* expected in err.msg */
	} cases[] = {
		{ F_CID, "a b", "component id" },
		{ F_ENV, "staging", "no gateway listener for environment staging" },
		{ F_ORG, "ac/me", "URL path segments" },
		{ F_PROJECT, "..", "URL path segments" },
		{ F_TYPE, "SOAP", "unknown type" },
		{ F_VISIBILITY, "Everyone", "unknown networkVisibility" },
		{ F_CONTEXT, "greeting", "context must be" },
		{ F_CONTEXT, "/greet ing", "context must be" },
		{ F_CONTEXT, "/greet#ing", "context must be" },
		{ F_CONTEXT, "/a//b", "context must be" },
		{ F_CONTEXT, "/a/../b", "context must be" },
		{ F_CONTEXT, "/a%2", "context must be" },
		{ F_CONTEXT, "/1/2/3/4/5/6/7/8/9", "context must be" },
		{ F_NAME, "a\tb", "control characters" },
		{ F_NAME_OF_1, "", "listed twice" },
		{ F_CONTEXT_OF_1, "/greeting/", "share context /greeting" },
		{ F_SERVER, "d 1", "bad name, port or state" },
		{ F_PORT, "0", "bad name, port or state" },
		{ F_DUP_SERVER, "", "listed twice" },
		{ F_NSERVERS, "3", "at most 2" },
	};
	struct gateway_layout l = layout();
	struct gateway_target t[2];
	struct error err;

	(void)state;
	example(t);
	assert_int_equal(gateway_cfg_check(&l, &t[0], &err), 0);
	assert_int_equal(gateway_cfg_check(&l, &t[1], &err), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		example(t);
		mutate(&t[0], cases[i].f, cases[i].value);
		memset(&err, 0, sizeof(err));
		if (gateway_cfg_check(&l, &t[0], &err) != -1)
			fail_msg("case %zu accepted", i);
		assert_string_equal(err.code, "gateway_failed");
		if (strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg,
			    cases[i].msg);
	}
	/* A removal needs only its key; percent escapes are fine. */
	example(t);
	t[0].nendpoints = 0;
	strcpy(t[0].org, "");
	assert_int_equal(gateway_cfg_check(&l, &t[0], &err), 0);
	example(t);
	strcpy(t[0].endpoints[0].context, "/caf%C3%A9/v1;x=1");
	assert_int_equal(gateway_cfg_check(&l, &t[0], &err), 0);
}

/* --- rendering -------------------------------------------------------- */

/* Renders the example into text (config) and the four maps. */
struct rendered {
	struct gateway_layout l;
	struct gateway_ports ports;
	struct gateway_model m;
	struct gateway_text cfg, map[4];
};

static void
render_example(struct rendered *r, const char *dir)
{
	struct gateway_target t[2];
	struct gateway_render ctx;
	struct error err;
	char sock[256];

	memset(r, 0, sizeof(*r));
	r->l = layout();
	r->ports.lo = 9300;
	r->ports.hi = 9399;
	example(t);
	assert_int_equal(gateway_ports_assign(&r->ports, CID2, "development",
	    "pg", "127.0.0.1", &err), 9300);
	assert_int_equal(gateway_model_from(&r->m, t, 2, &err), 0);
	snprintf(sock, sizeof(sock), "%s/haproxy.sock", dir);
	ctx = (struct gateway_render){ &r->l, dir, sock, &r->ports };
	assert_int_equal(gateway_render_check(&ctx, &r->m, &err), 0);
	assert_int_equal(gateway_render_config(&ctx, &r->m, 1, &r->cfg, &err),
	    0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(gateway_render_map(&r->m, r->l.env[i / 2].name,
		    i % 2, &r->map[i], &err), 0);
}

static void
free_rendered(struct rendered *r)
{
	gateway_render_free(&r->cfg);
	for (int i = 0; i < 4; i++)
		gateway_render_free(&r->map[i]);
	gateway_model_free(&r->m);
	gateway_ports_free(&r->ports);
}

static void
assert_has(const char *text, const char *want)
{
	if (strstr(text, want) == NULL)
		fail_msg("missing \"%s\" in:\n%s", want, text);
}

static void
test_render_config(void **state)
{
	struct rendered r;
	char be[GATEWAY_NAME_MAX], line[512];

	(void)state;
	render_example(&r, "/run/gw");
	if (getenv("SLIPWAY_TEST_GATEWAY_PRINT") != NULL)
		printf("%s\n--- development.public.map\n%s\n--- "
		    "development.internal.map\n%s\n", r.cfg.s, r.map[0].s,
		    r.map[1].s);
	assert_has(r.cfg.s, "\tmaster-worker\n");
	assert_has(r.cfg.s, "stats socket /run/gw/haproxy.sock mode 600 level "
	    "admin expose-fd listeners\n");
	assert_has(r.cfg.s, "frontend fe-development-public from http\n"
	    "\tbind 127.0.0.1:9080\n");
	assert_has(r.cfg.s, "frontend fe-production-internal from http\n"
	    "\tbind 127.0.0.1:9181\n");
	/* Deepest context first, then the component root. */
	assert_has(r.cfg.s, "set-var(txn.route) path,field(1,/,5),map("
	    "/run/gw/development.public.map)\n");
	assert_has(r.cfg.s, "set-var(txn.route) path,field(1,/,4),map("
	    "/run/gw/development.public.map) unless { var(txn.route) -m "
	    "found }\n");
	assert_has(r.cfg.s, "\"code\":\"no_route\"");
	assert_has(r.cfg.s, "\"code\":\"no_server\"");
	assert_has(r.cfg.s, "set-path /%[path,field(5,/,0)]");
	gateway_cfg_name("be", CID, "development", "Greeting Service", be,
	    sizeof(be));
	snprintf(line, sizeof(line), "backend %s from http\n\tbalance "
	    "roundrobin\n\tserver d-0a1b2c3d4e5f 127.0.0.1:41001 check inter 2s "
	    "fall 3 rise 2 weight 1\n", be);
	assert_has(r.cfg.s, line);
	gateway_cfg_name("ft", CID2, "development", "pg", be, sizeof(be));
	snprintf(line, sizeof(line), "frontend %s from tcp\n\tbind "
	    "127.0.0.1:9300\n", be);
	assert_has(r.cfg.s, line);
	free_rendered(&r);
}

static void
test_render_maps(void **state)
{
	struct rendered r;
	char greet[GATEWAY_NAME_MAX], admin[GATEWAY_NAME_MAX], line[512];

	(void)state;
	render_example(&r, "/run/gw");
	gateway_cfg_name("be", CID, "development", "Greeting Service", greet,
	    sizeof(greet));
	gateway_cfg_name("be", CID, "development", "admin", admin,
	    sizeof(admin));
	/* Public: greeting only. Internal: both, sorted, root of "/" bare. */
	snprintf(line, sizeof(line), "\n/acme/shop/hello/greeting %s\n", greet);
	assert_has(r.map[0].s, line);
	assert_null(strstr(r.map[0].s, admin));
	snprintf(line, sizeof(line), "\n/acme/shop/hello %s\n"
	    "/acme/shop/hello/greeting %s\n", admin, greet);
	assert_has(r.map[1].s, line);
	/* TCP endpoints and other environments have no HTTP route. */
	assert_null(strstr(r.map[1].s, "/acme/shop/db"));
	assert_null(strstr(r.map[2].s, "/acme"));
	free_rendered(&r);
}

/* Writes the rendered example into tmpdir; 1 when `haproxy -c` passes. */
static int
haproxy_check(struct rendered *r)
{
	static const char *const maps[] = { "development.public.map",
		"development.internal.map", "production.public.map",
		"production.internal.map" };
	char path[256], cmd[512];
	struct error err;
	int status;

	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, maps[i]);
		assert_int_equal(gateway_write_file(path, r->map[i].s,
		    r->map[i].len, &err), 0);
	}
	snprintf(path, sizeof(path), "%s/haproxy.cfg", tmpdir);
	assert_int_equal(gateway_write_file(path, r->cfg.s, r->cfg.len, &err),
	    0);
	snprintf(cmd, sizeof(cmd), "haproxy -c -q -f %s", path);
	status = system(cmd);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void
test_render_passes_haproxy_check(void **state)
{
	struct rendered r;

	(void)state;
	if (system("command -v haproxy >/dev/null 2>&1") != 0)
		skip();
	make_tmpdir();
	render_example(&r, tmpdir);
	assert_true(haproxy_check(&r));
	free_rendered(&r);
	remove_tmpdir();
}

/* --- the plan --------------------------------------------------------- */

/* The structure of a model holding t (or nothing). */
static char *
structure(const struct gateway_target *t, struct gateway_ports *p)
{
	struct gateway_layout l = layout();
	struct gateway_render ctx = { &l, "/run/gw", "/run/gw/s.sock", p };
	struct gateway_model m;
	struct gateway_text out = { 0 };
	struct error err;

	assert_int_equal(gateway_model_from(&m, t, t != NULL, &err), 0);
	assert_int_equal(gateway_render_structure(&ctx, &m, &out, &err), 0);
	gateway_model_free(&m);
	return out.s;
}

/* Plans old -> next (both normalised as the model keeps them). */
static void
plan(const struct gateway_target *old, const struct gateway_target *next,
    struct gateway_plan *p)
{
	struct gateway_ports ports = { .lo = 9300, .hi = 9399 };
	struct gateway_target a, b;
	struct error err;
	char *sa, *sb;

	for (int i = 0; next != NULL && i < next->nendpoints; i++)
		if (gateway_cfg_mode(next->endpoints[i].type) == GATEWAY_MODE_TCP)
			assert_true(gateway_ports_assign(&ports,
			    next->component_id, next->environment,
			    next->endpoints[i].name, "127.0.0.1", &err) > 0);
	for (int i = 0; old != NULL && i < old->nendpoints; i++)
		if (gateway_cfg_mode(old->endpoints[i].type) == GATEWAY_MODE_TCP)
			assert_true(gateway_ports_assign(&ports,
			    old->component_id, old->environment,
			    old->endpoints[i].name, "127.0.0.1", &err) > 0);
	if (old != NULL) {
		a = *old;
		gateway_cfg_normalize(&a);
	}
	if (next != NULL) {
		b = *next;
		gateway_cfg_normalize(&b);
	}
	sa = structure(old != NULL && old->nendpoints ? &a : NULL, &ports);
	sb = structure(next != NULL && next->nendpoints ? &b : NULL, &ports);
	gateway_plan_make(sa, sb, old != NULL ? &a : NULL,
	    next != NULL && next->nendpoints ? &b : NULL, p);
	free(sa);
	free(sb);
	gateway_ports_free(&ports);
}

static void
assert_op(const struct gateway_op *op, enum gateway_op_kind kind,
    const char *server, int port)
{
	assert_int_equal(op->kind, kind);
	assert_string_equal(op->server, server);
	assert_int_equal(op->port, port);
	assert_int_equal(strncmp(op->backend, "be-" CID "-development-", 44),
	    0);
}

static void
test_plan_cutover(void **state)
{
	struct gateway_target v1[2], both, drained, v2;
	struct gateway_plan p;

	(void)state;
	example(v1);
	both = v1[0];
	server(&both.endpoints[0], "d-ffffffffffff", 42001, GATEWAY_READY);
	plan(&v1[0], &both, &p);
	assert_false(p.reload);
	assert_int_equal(p.nop, 1);
	assert_op(&p.op[0], GATEWAY_OP_ADD, "d-ffffffffffff", 42001);

	drained = both;
	drained.endpoints[0].servers[0].state = GATEWAY_DRAIN;
	plan(&both, &drained, &p);
	assert_false(p.reload);
	assert_int_equal(p.nop, 1);
	assert_op(&p.op[0], GATEWAY_OP_DRAIN, "d-0a1b2c3d4e5f", 41001);

	v2 = drained;
	v2.endpoints[0].servers[0] = v2.endpoints[0].servers[1];
	v2.endpoints[0].nservers = 1;
	plan(&drained, &v2, &p);
	assert_false(p.reload);
	assert_int_equal(p.nop, 1);
	assert_op(&p.op[0], GATEWAY_OP_DELETE, "d-0a1b2c3d4e5f", 41001);

	/* Drain back to ready (a rollback), and nothing at all. */
	plan(&drained, &both, &p);
	assert_int_equal(p.nop, 1);
	assert_op(&p.op[0], GATEWAY_OP_READY, "d-0a1b2c3d4e5f", 41001);
	plan(&both, &both, &p);
	assert_false(p.reload);
	assert_int_equal(p.nop, 0);
}

static void
test_plan_order(void **state)
{
	struct gateway_target a[2], b;
	struct gateway_plan p;

	(void)state;
	/* One apply replacing both servers: additions before deletions. */
	example(a);
	b = a[0];
	for (int i = 0; i < 2; i++) {
		b.endpoints[i].nservers = 0;
		server(&b.endpoints[i], "d-222222222222", 43000 + i,
		    GATEWAY_READY);
	}
	plan(&a[0], &b, &p);
	assert_false(p.reload);
	assert_int_equal(p.nop, 4);
	assert_int_equal(p.op[0].kind, GATEWAY_OP_ADD);
	assert_int_equal(p.op[1].kind, GATEWAY_OP_ADD);
	assert_int_equal(p.op[2].kind, GATEWAY_OP_DELETE);
	assert_int_equal(p.op[3].kind, GATEWAY_OP_DELETE);
	/* Same name, new port: deleted, then added again. */
	b = a[0];
	b.endpoints[0].servers[0].port = 45000;
	plan(&a[0], &b, &p);
	assert_int_equal(p.nop, 2);
	assert_op(&p.op[0], GATEWAY_OP_DELETE, "d-0a1b2c3d4e5f", 41001);
	assert_op(&p.op[1], GATEWAY_OP_ADD, "d-0a1b2c3d4e5f", 45000);
	/* The agent's endpoint order does not matter. */
	b = a[0];
	b.endpoints[0] = a[0].endpoints[1];
	b.endpoints[1] = a[0].endpoints[0];
	plan(&a[0], &b, &p);
	assert_false(p.reload);
	assert_int_equal(p.nop, 0);
}

static void
test_plan_reloads(void **state)
{
	struct gateway_target a[2], b, udp;
	struct gateway_plan p;

	(void)state;
	example(a);
	/* A new component, a new endpoint, a removed one: new backends. */
	plan(NULL, &a[0], &p);
	assert_true(p.reload);
	b = a[0];
	endpoint(&b, "extra", "GraphQL", "Public", "/graphql");
	plan(&a[0], &b, &p);
	assert_true(p.reload);
	b = a[0];
	b.nendpoints = 1;
	plan(&a[0], &b, &p);
	assert_true(p.reload);
	/* A removed target, a new TCP listener, a moved or hidden route. */
	b = a[0];
	b.nendpoints = 0;
	plan(&a[0], &b, &p);
	assert_true(p.reload);
	plan(NULL, &a[1], &p);
	assert_true(p.reload);
	b = a[0];
	strcpy(b.endpoints[0].context, "/hello");
	plan(&a[0], &b, &p);
	assert_true(p.reload);
	b = a[0];
	strcpy(b.endpoints[0].visibility, "Project");
	plan(&a[0], &b, &p);
	assert_true(p.reload);
	/* UDP never reaches the gateway: nothing to do. */
	target(&udp, CID2, "development", "dns");
	endpoint(&udp, "dns", "UDP", "Public", "");
	server(&udp.endpoints[0], "d-333333333333", 5353, GATEWAY_READY);
	plan(NULL, &udp, &p);
	assert_false(p.reload);
	assert_int_equal(p.nop, 0);
}

static void
test_plan_commands(void **state)
{
	struct gateway_op op = { .kind = GATEWAY_OP_ADD, .backend = "be-x",
		.server = "d-1", .port = 41000, .state = GATEWAY_READY };
	struct gateway_cmd c[GATEWAY_CMDS_MAX];

	(void)state;
	assert_int_equal(gateway_plan_commands(&op, c), 3);
	assert_string_equal(c[0].text, "add server be-x/d-1 127.0.0.1:41000 "
	    "check inter 2s fall 3 rise 2 weight 1");
	assert_string_equal(c[0].expect, "New server registered.");
	assert_string_equal(c[1].text, "enable health be-x/d-1");
	assert_string_equal(c[2].text, "set server be-x/d-1 state ready");
	assert_string_equal(c[2].expect, "");
	op.kind = GATEWAY_OP_READY;
	assert_int_equal(gateway_plan_commands(&op, c), 2);
	assert_string_equal(c[0].text, "set server be-x/d-1 weight 1");
	assert_string_equal(c[1].text, "set server be-x/d-1 state ready");
	op.kind = GATEWAY_OP_DRAIN;
	assert_int_equal(gateway_plan_commands(&op, c), 1);
	assert_string_equal(c[0].text, "set server be-x/d-1 state drain");
	op.kind = GATEWAY_OP_DELETE;
	assert_int_equal(gateway_plan_commands(&op, c), 2);
	assert_string_equal(c[0].text, "set server be-x/d-1 state maint");
	assert_string_equal(c[1].text, "del server be-x/d-1");
	assert_string_equal(c[1].expect, "Server deleted.");
}

/* --- TCP ports -------------------------------------------------------- */

static int probe_refuses = -1;   /* the port the fake probe finds taken */

static int
fake_probe(const char *host, int port)
{
	(void)host;
	return port != probe_refuses;
}

static void
test_ports(void **state)
{
	struct gateway_ports p = { .lo = 39300, .hi = 39302,
		.probe = fake_probe };
	struct gateway_ports q = { .lo = 39300, .hi = 39302 };
	struct gateway_target t;
	struct error err;
	char path[128];

	(void)state;
	make_tmpdir();
	snprintf(path, sizeof(path), "%s/tcp-ports", tmpdir);
	probe_refuses = 39301;
	assert_int_equal(gateway_ports_assign(&p, "c1", "development", "a b",
	    "127.0.0.1", &err), 39300);
	assert_int_equal(gateway_ports_assign(&p, "c1", "development", "a b",
	    "127.0.0.1", &err), 39300);   /* stable */
	assert_int_equal(gateway_ports_assign(&p, "c1", "production", "a b",
	    "127.0.0.1", &err), 39302);   /* 39301 is someone else's */
	assert_int_equal(gateway_ports_assign(&p, "c2", "development", "x",
	    "127.0.0.1", &err), -1);
	assert_string_equal(err.code, "gateway_failed");
	assert_has(err.msg, "no free TCP port left in 39300-39302");
	/* Persisted: another table reads the same allocations. */
	assert_int_equal(gateway_ports_save(&p, path, &err), 0);
	assert_int_equal(gateway_ports_load(&q, path, &err), 0);
	assert_int_equal(q.n, 2);
	assert_int_equal(gateway_ports_find(&q, "c1", "development", "a b"),
	    39300);
	assert_int_equal(gateway_ports_find(&q, "c1", "production", "a b"),
	    39302);
	/* A target without the endpoint releases only its own port. */
	target(&t, "c1", "development", "hello");
	endpoint(&t, "web", "REST", "Public", "/");
	gateway_ports_release(&q, &t);
	assert_int_equal(q.n, 1);
	assert_int_equal(gateway_ports_find(&q, "c1", "production", "a b"),
	    39302);
	gateway_ports_free(&q);
	/* A narrower range drops what falls outside it. */
	q.lo = 39300;
	q.hi = 39300;
	assert_int_equal(gateway_ports_load(&q, path, &err), 0);
	assert_int_equal(q.n, 1);
	gateway_ports_free(&q);
	gateway_ports_free(&p);
	remove_tmpdir();
}

static void
test_ports_file_malformed(void **state)
{
	static const char *const bad[] = {
		"39300\tc1\tdevelopment\n",               /* a field short */
		"x\tc1\tdevelopment\ta\n",
		"39300\tc1\tdevelopment\ta\n39300\tc2\tdevelopment\tb\n",
		"39300\tc1\tdevelopment\ta\n39301\tc1\tdevelopment\ta\n",
		"39300\tc1\tdevelopment\ta",              /* cut short */
		"99999\tc1\tdevelopment\ta\n",
	};
	struct gateway_ports q = { .lo = 39300, .hi = 39302 };
	struct error err;
	char path[128];
	FILE *f;

	(void)state;
	make_tmpdir();
	snprintf(path, sizeof(path), "%s/tcp-ports", tmpdir);
	assert_int_equal(gateway_ports_load(&q, path, &err), 0);   /* absent */
	assert_int_equal(q.n, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_non_null(f = fopen(path, "w"));
		fputs(bad[i], f);
		fclose(f);
		if (gateway_ports_load(&q, path, &err) != -1)
			fail_msg("accepted ports file case %zu", i);
		assert_has(err.msg, "tcp-ports");
		gateway_ports_free(&q);
	}
	remove_tmpdir();
}

/* --- master and runtime answers --------------------------------------- */

static void
test_parse_proc(void **state)
{
	static const char ok[] =
	    "#<PID>          <type>          <reloads>       <uptime>        "
	    "<version>      \n"
	    "10409           master          3 [failed: 0]   0d00h00m14s     "
	    "2.6.12-1+deb12u4\n"
	    "# workers\n"
	    "10624           worker          0               0d00h00m01s     "
	    "2.6.12-1+deb12u4\n"
	    "# old workers\n"
	    "10569           worker          1               0d00h00m06s     "
	    "2.6.12-1+deb12u4\n"
	    "# programs\n\n";
	static const char failed[] =
	    "#<PID>          <type>          <reloads>       <uptime>        "
	    "<version>      \n"
	    "10409           master          4 [failed: 1]   0d00h00m26s     "
	    "2.6.12-1+deb12u4\n"
	    "# workers\n"
	    "10624           worker          1               0d00h00m13s     "
	    "2.6.12-1+deb12u4\n"
	    "# programs\n\n";
	struct gateway_proc p;

	(void)state;
	assert_int_equal(gateway_rt_parse_proc(ok, &p), 0);
	assert_int_equal(p.master_reloads, 3);
	assert_int_equal(p.master_failed, 0);
	assert_int_equal(p.worker_pid, 10624);
	assert_int_equal(p.worker_reloads, 0);
	assert_int_equal(gateway_rt_parse_proc(failed, &p), 0);
	assert_int_equal(p.master_reloads, 4);
	assert_int_equal(p.master_failed, 1);
	assert_int_equal(p.worker_reloads, 1);
	assert_int_equal(gateway_rt_parse_proc("Unknown command.\n", &p), -1);
	assert_int_equal(gateway_rt_parse_proc("", &p), -1);
	assert_int_equal(gateway_rt_parse_pid("Name: HAProxy\nVersion: 2.6.12\n"
	    "Pid: 4242\nUptime: 0d\n"), 4242);
	assert_int_equal(gateway_rt_parse_pid("Pid: 7\n"), 7);
	assert_int_equal(gateway_rt_parse_pid("Name: HAProxy\n"), -1);
	assert_int_equal(gateway_rt_parse_pid("Pid: x\n"), -1);
}

/* A fake runtime socket: reads one line, answers fake_answer, closes. */
static const char *fake_answer;
static size_t fake_repeat;       /* times fake_answer is sent */
static int fake_silent;          /* never answers */
static char fake_got[512];
static int fake_fd = -1;

static void *
fake_serve(void *arg)
{
	int c;
	ssize_t n;

	(void)arg;
	if ((c = accept(fake_fd, NULL, NULL)) < 0)
		return NULL;
	n = read(c, fake_got, sizeof(fake_got) - 1);
	fake_got[n > 0 ? n : 0] = '\0';
	if (fake_silent)
		usleep(400 * 1000);
	else
		for (size_t i = 0; i < fake_repeat; i++)
			/* The client may stop reading at its cap: no SIGPIPE. */
			if (send(c, fake_answer, strlen(fake_answer), MSG_NOSIGNAL) < 0)
				break;
	close(c);
	return NULL;
}

static void
fake_start(const char *path, pthread_t *th)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	assert_true((fake_fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fake_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fake_fd, 4), 0);
	assert_int_equal(pthread_create(th, NULL, fake_serve, NULL), 0);
}

static void
fake_stop(pthread_t th)
{
	pthread_join(th, NULL);
	close(fake_fd);
	fake_fd = -1;
}

static void
test_rt_commands(void **state)
{
	struct gateway_cmd add = { "add server be-x/d-1 127.0.0.1:41000",
		"New server registered." };
	struct gateway_cmd bad = { "set server be-x/d-1 state drain;"
		"shutdown sessions server be-x/d-1", "" };
	struct error err;
	char path[128];
	pthread_t th;
	char *answer;

	(void)state;
	make_tmpdir();
	snprintf(path, sizeof(path), "%s/rt.sock", tmpdir);
	/* Success: the exact answer, the command sent with its newline. */
	fake_answer = "New server registered.\n\n";
	fake_repeat = 1;
	fake_start(path, &th);
	assert_int_equal(gateway_rt_command(path, &add, &err), 0);
	fake_stop(th);
	assert_string_equal(fake_got, "add server be-x/d-1 127.0.0.1:41000\n");
	/* Any other answer is a failure that quotes it. */
	fake_answer = "No such backend.\n\n";
	fake_start(path, &th);
	assert_int_equal(gateway_rt_command(path, &add, &err), -1);
	fake_stop(th);
	assert_string_equal(err.code, "gateway_failed");
	assert_has(err.msg, "No such backend.");
	/* A second command smuggled behind ';' never leaves. */
	assert_int_equal(gateway_rt_command(path, &bad, &err), -1);
	assert_has(err.msg, "';'");
	/* No answer within the deadline. */
	fake_silent = 1;
	fake_start(path, &th);
	assert_int_equal(gateway_rt_call(path, "show info", 100, &answer, &err),
	    -1);
	assert_has(err.msg, "timed out");
	fake_stop(th);
	fake_silent = 0;
	/* An answer past the cap. */
	fake_answer = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	    "abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567\n";
	fake_repeat = GATEWAY_RT_ANSWER_MAX / strlen(fake_answer) + 2;
	fake_start(path, &th);
	assert_int_equal(gateway_rt_call(path, "show backend", 2000, &answer,
	    &err), -1);
	assert_has(err.msg, "answer too long");
	fake_stop(th);
	/* Nobody listening. */
	unlink(path);
	assert_int_equal(gateway_rt_call(path, "show info", 100, &answer, &err),
	    -1);
	assert_null(answer);
	remove_tmpdir();
}

/* --- the module without HAProxy --------------------------------------- */

static struct gateway *
new_gateway(struct error *err)
{
	char sock[128], master[128];
	struct gateway_config c = { tmpdir, sock, master, LISTENERS,
		"39350-39359" };

	snprintf(sock, sizeof(sock), "%s/haproxy.sock", tmpdir);
	snprintf(master, sizeof(master), "%s/master.sock", tmpdir);
	return gateway_new(&c, err);
}

static void
test_urls(void **state)
{
	struct gateway_target t[2], x;
	struct gateway *g;
	struct error err;
	char url[256], tcp[64], path[128];
	struct stat st;

	(void)state;
	make_tmpdir();
	assert_non_null(g = new_gateway(&err));
	assert_true(gateway_has_environment(g, "production"));
	assert_false(gateway_has_environment(g, "staging"));
	example(t);
	assert_int_equal(gateway_url(g, &t[0], 0, url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:9080/acme/shop/hello/greeting");
	assert_int_equal(gateway_url(g, &t[0], 1, url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:9180/acme/shop/hello/");
	/* The first port of the range that nobody holds. */
	assert_int_equal(gateway_url(g, &t[1], 0, tcp, sizeof(tcp)), 0);
	assert_int_equal(strncmp(tcp, "tcp://127.0.0.1:3935", 20), 0);
	snprintf(path, sizeof(path), "%s/tcp-ports", tmpdir);
	assert_int_equal(stat(path, &st), 0);   /* persisted at once */
	x = t[0];
	strcpy(x.endpoints[0].context, "/greeting/");
	strcpy(x.endpoints[0].visibility, "");
	assert_int_equal(gateway_url(g, &x, 0, url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:9080/acme/shop/hello/greeting");
	assert_int_equal(gateway_url(g, &x, 2, url, sizeof(url)), -1);
	assert_int_equal(gateway_url(g, &x, 0, url, 20), -1);   /* too short */
	strcpy(x.endpoints[0].type, "UDP");
	assert_int_equal(gateway_url(g, &x, 0, url, sizeof(url)), -1);
	strcpy(x.environment, "staging");
	assert_int_equal(gateway_url(g, &x, 1, url, sizeof(url)), -1);
	gateway_free(g);
	/* A restarted agent finds the same port. */
	assert_non_null(g = new_gateway(&err));
	assert_int_equal(gateway_url(g, &t[1], 0, url, sizeof(url)), 0);
	assert_string_equal(url, tcp);
	gateway_free(g);
	remove_tmpdir();
}

static void
test_new_bad_config(void **state)
{
	struct gateway_config ok = { "/tmp", "/tmp/h.sock", "/tmp/m.sock",
		LISTENERS, "9300-9399" };
	struct gateway_config c;
	struct error err;

	(void)state;
	c = ok;
	c.dir = "relative/dir";
	assert_null(gateway_new(&c, &err));
	assert_string_equal(err.code, "invalid_config");
	c = ok;
	c.dir = "/nonexistent/slipway-gateway";
	assert_null(gateway_new(&c, &err));
	c = ok;
	c.runtime_socket = "/tmp/with space.sock";
	assert_null(gateway_new(&c, &err));
	c = ok;
	c.listeners = "development=127.0.0.1:9080";
	assert_null(gateway_new(&c, &err));
	assert_string_equal(err.field, "listeners");
	c = ok;
	c.tcp_ports = "9399-9300";
	assert_null(gateway_new(&c, &err));
	assert_string_equal(err.field, "tcp_ports");
}

static void
test_apply_checks_before_haproxy(void **state)
{
	struct gateway_target t[2];
	struct gateway *g;
	struct error err;

	(void)state;
	make_tmpdir();
	assert_non_null(g = new_gateway(&err));
	example(t);
	strcpy(t[0].environment, "staging");
	assert_int_equal(gateway_apply(g, &t[0], &err), -1);
	assert_string_equal(err.code, "gateway_failed");
	assert_has(err.msg, "staging");
	/* HAProxy is not running: a clear failure, nothing half-applied. */
	example(t);
	assert_int_equal(gateway_apply(g, &t[0], &err), -1);
	assert_string_equal(err.code, "gateway_failed");
	assert_has(err.msg, "master.sock");
	assert_int_equal(gateway_load(g, t, 2, &err), -1);
	gateway_free(g);
	remove_tmpdir();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listeners),
		cmocka_unit_test(test_listeners_malformed),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_check_target),
		cmocka_unit_test(test_render_config),
		cmocka_unit_test(test_render_maps),
		cmocka_unit_test(test_render_passes_haproxy_check),
		cmocka_unit_test(test_plan_cutover),
		cmocka_unit_test(test_plan_order),
		cmocka_unit_test(test_plan_reloads),
		cmocka_unit_test(test_plan_commands),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_ports_file_malformed),
		cmocka_unit_test(test_parse_proc),
		cmocka_unit_test(test_rt_commands),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_new_bad_config),
		cmocka_unit_test(test_apply_checks_before_haproxy),
	};

	log_init("test_gateway");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
