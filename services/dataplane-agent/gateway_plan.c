/*
 * gateway_plan.c: what turns the running model into the next one. When the
 * structure (proxies, binds, maps) is the same, only servers changed and
 * the runtime API does it without a reload: each change becomes an op, each
 * op a few commands with the answer that means success. Pure.
 */
#include <stdio.h>
#include <string.h>

#include "gateway.h"

/* Which changes a pass over the servers collects. */
enum gateway_plan_pass {
	GATEWAY_PASS_ADD, GATEWAY_PASS_STATE, GATEWAY_PASS_DELETE,
	GATEWAY_PASS_READD
};

static const struct gateway_endpoint *
gateway_plan_endpoint(const struct gateway_target *t, const char *name)
{
	for (int i = 0; t != NULL && i < t->nendpoints; i++)
		if (strcmp(t->endpoints[i].name, name) == 0)
			return &t->endpoints[i];
	return NULL;
}

static const struct gateway_server *
gateway_plan_server(const struct gateway_endpoint *e, const char *name)
{
	for (int i = 0; e != NULL && i < e->nservers; i++)
		if (strcmp(e->servers[i].name, name) == 0)
			return &e->servers[i];
	return NULL;
}

static void
gateway_plan_push(struct gateway_plan *p, enum gateway_op_kind kind,
    const char *backend, const struct gateway_server *s)
{
	struct gateway_op *op;

	if (p->nop == GATEWAY_OPS_MAX)
		return;   /* cannot happen: 2 ops per server at most */
	op = &p->op[p->nop++];
	op->kind = kind;
	snprintf(op->backend, sizeof(op->backend), "%s", backend);
	snprintf(op->server, sizeof(op->server), "%s", s->name);
	op->port = s->port;
	op->state = s->state;
}

/* The next servers of one backend that this pass adds or changes. */
static void
gateway_plan_next(struct gateway_plan *p, enum gateway_plan_pass pass,
    const char *backend, const struct gateway_endpoint *was,
    const struct gateway_endpoint *e)
{
	for (int i = 0; i < e->nservers; i++) {
		const struct gateway_server *s = &e->servers[i];
		const struct gateway_server *o = gateway_plan_server(was,
		    s->name);
		if (pass == GATEWAY_PASS_ADD && o == NULL)
			gateway_plan_push(p, GATEWAY_OP_ADD, backend, s);
		else if (pass == GATEWAY_PASS_READD && o != NULL &&
		    o->port != s->port)
			gateway_plan_push(p, GATEWAY_OP_ADD, backend, s);
		else if (pass == GATEWAY_PASS_STATE && o != NULL &&
		    o->port == s->port && o->state != s->state)
			gateway_plan_push(p, s->state == GATEWAY_READY ?
			    GATEWAY_OP_READY : GATEWAY_OP_DRAIN, backend, s);
	}
}

/* The running servers of one backend that go away (or move port). */
static void
gateway_plan_gone(struct gateway_plan *p, const char *backend,
    const struct gateway_endpoint *was, const struct gateway_endpoint *e)
{
	for (int i = 0; was != NULL && i < was->nservers; i++) {
		const struct gateway_server *o = &was->servers[i];
		const struct gateway_server *s = gateway_plan_server(e, o->name);
		if (s == NULL || s->port != o->port)
			gateway_plan_push(p, GATEWAY_OP_DELETE, backend, o);
	}
}

static void
gateway_plan_pass(struct gateway_plan *p, enum gateway_plan_pass pass,
    const struct gateway_target *old, const struct gateway_target *next)
{
	char backend[GATEWAY_NAME_MAX];

	for (int i = 0; i < next->nendpoints; i++) {
		const struct gateway_endpoint *e = &next->endpoints[i];
		const struct gateway_endpoint *was = gateway_plan_endpoint(old,
		    e->name);
		if (gateway_cfg_mode(e->type) == GATEWAY_MODE_NONE)
			continue;   /* UDP: not on the gateway */
		gateway_cfg_name("be", next->component_id, next->environment,
		    e->name, backend, sizeof(backend));
		if (pass == GATEWAY_PASS_DELETE)
			gateway_plan_gone(p, backend, was, e);
		else
			gateway_plan_next(p, pass, backend, was, e);
	}
}

void
gateway_plan_make(const char *old_structure, const char *next_structure,
    const struct gateway_target *old, const struct gateway_target *next,
    struct gateway_plan *p)
{
	memset(p, 0, sizeof(*p));
	if (strcmp(old_structure, next_structure) != 0) {
		p->reload = 1;   /* the reload brings the servers too */
		return;
	}
	/* Same structure: same backends, so a removal routed nothing here. */
	if (old == NULL || next == NULL)
		return;
	gateway_plan_pass(p, GATEWAY_PASS_ADD, old, next);
	gateway_plan_pass(p, GATEWAY_PASS_STATE, old, next);
	gateway_plan_pass(p, GATEWAY_PASS_DELETE, old, next);
	gateway_plan_pass(p, GATEWAY_PASS_READD, old, next);
}

/* "<verb> <backend>/<server><tail>", answered by expect on success. */
static void
gateway_plan_cmd(struct gateway_cmd *c, const char *expect, const char *verb,
    const struct gateway_op *op, const char *tail)
{
	snprintf(c->text, sizeof(c->text), "%s %s/%s%s", verb, op->backend,
	    op->server, tail);
	c->expect = expect;
}

int
gateway_plan_commands(const struct gateway_op *op,
    struct gateway_cmd cmd[GATEWAY_CMDS_MAX])
{
	char addr[96];

	switch (op->kind) {
	case GATEWAY_OP_ADD:
		/* Added in maintenance, checks off: both are switched on here. */
		snprintf(addr, sizeof(addr), " 127.0.0.1:%d "
		    GATEWAY_SERVER_ARGS " weight 1", op->port);
		gateway_plan_cmd(&cmd[0], "New server registered.",
		    "add server", op, addr);
		gateway_plan_cmd(&cmd[1], "", "enable health", op, "");
		gateway_plan_cmd(&cmd[2], "", "set server", op,
		    op->state == GATEWAY_READY ? " state ready" : " state drain");
		return 3;
	case GATEWAY_OP_READY:
		/* A reload renders a draining server with weight 0. */
		gateway_plan_cmd(&cmd[0], "", "set server", op, " weight 1");
		gateway_plan_cmd(&cmd[1], "", "set server", op, " state ready");
		return 2;
	case GATEWAY_OP_DRAIN:
		gateway_plan_cmd(&cmd[0], "", "set server", op, " state drain");
		return 1;
	case GATEWAY_OP_DELETE:
		gateway_plan_cmd(&cmd[0], "", "set server", op, " state maint");
		gateway_plan_cmd(&cmd[1], "Server deleted.", "del server", op,
		    "");
		return 2;
	}
	return 0;
}
