/*
 * acl_table.c: who may do what on the bus, derived from what each service
 * really consumes (its group), produces (its outbox and dead-letter topics)
 * and creates (bus_topic_ensure at start, deploy-svc and registry-svc on a
 * new data plane). Nothing is allowed without a binding here
 * (allow.everyone.if.no.acl.found=false); Read and Write imply Describe.
 * The tables are in docs/internals.md too: change both together.
 *
 * Kafka patterns are literal or prefixed, never "*.commands": a prefix
 * slipway.dataplane. would let deploy-svc write every data plane's
 * credentials too. So the writes to a data plane's own topics are granted
 * per data plane, with its agent's (acl_table_dataplane), when the operator
 * provisions it; only Create goes by prefix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_acl.h"
#include "topics.h"

#define R (1 << BUS_ACL_READ)
#define W (1 << BUS_ACL_WRITE)
#define C (1 << BUS_ACL_CREATE)
#define D (1 << BUS_ACL_DESCRIBE)

struct acl_row {
	const char *principal;          /* "%s" = the data plane's name */
	enum bus_acl_resource resource;
	const char *name;               /* "%s" = the data plane's name */
	int prefixed;
	int ops;                        /* R | W | C | D */
};

#define T BUS_ACL_TOPIC
#define G BUS_ACL_GROUP
#define DLQ ".dlq"
#define DP_PREFIX "slipway.dataplane."
/*
 * A group-less consumer (a compacted state topic replayed whole) still has
 * a throwaway group id, slipway-nogroup-<pid>-<time> (bus.c), and librdkafka
 * looks its coordinator up: that needs Describe, nothing more.
 */
#define NOGROUP "slipway-nogroup-"

static const struct acl_row acl_services[] = {
	/* registry-svc: consumes deploy and component events (group). */
	{ "registry-svc", T, TOPIC_REGISTRY_EVENTS, 0, W | C },
	{ "registry-svc", T, TOPIC_DEPLOY_EVENTS, 0, R | C },
	{ "registry-svc", T, TOPIC_COMPONENT_EVENTS, 0, R | C },
	{ "registry-svc", T, TOPIC_DEPLOY_EVENTS DLQ, 0, W | C },
	{ "registry-svc", T, TOPIC_COMPONENT_EVENTS DLQ, 0, W | C },
	{ "registry-svc", T, TOPIC_ORG_KEYS, 0, R | C },
	{ "registry-svc", T, DP_PREFIX, 1, C },
	{ "registry-svc", G, "registry-svc", 0, R },
	{ "registry-svc", G, NOGROUP, 1, D },
	/* component-svc: consumes registry events. */
	{ "component-svc", T, TOPIC_REGISTRY_EVENTS, 0, R | C },
	{ "component-svc", T, TOPIC_COMPONENT_EVENTS, 0, W | C },
	{ "component-svc", T, TOPIC_REGISTRY_EVENTS DLQ, 0, W | C },
	{ "component-svc", T, TOPIC_ORG_KEYS, 0, R | C },
	{ "component-svc", G, "component-svc", 0, R },
	{ "component-svc", G, NOGROUP, 1, D },
	/* deploy-svc: owns deploy events and the org keys; reacts to the rest. */
	{ "deploy-svc", T, TOPIC_DEPLOY_EVENTS, 0, W | C },
	{ "deploy-svc", T, TOPIC_ORG_KEYS, 0, R | W | C },
	{ "deploy-svc", T, TOPIC_IMAGE_PUSHED, 0, R | C },
	{ "deploy-svc", T, TOPIC_COMPONENT_EVENTS, 0, R | C },
	{ "deploy-svc", T, TOPIC_REGISTRY_EVENTS, 0, R | C },
	{ "deploy-svc", T, TOPIC_DATAPLANE_STATUS, 0, R | C },
	{ "deploy-svc", T, TOPIC_IMAGE_PUSHED DLQ, 0, W | C },
	{ "deploy-svc", T, TOPIC_COMPONENT_EVENTS DLQ, 0, W | C },
	{ "deploy-svc", T, TOPIC_REGISTRY_EVENTS DLQ, 0, W | C },
	{ "deploy-svc", T, TOPIC_DATAPLANE_STATUS DLQ, 0, W | C },
	{ "deploy-svc", T, DP_PREFIX, 1, C },
	{ "deploy-svc", G, "deploy-svc", 0, R },
	{ "deploy-svc", G, NOGROUP, 1, D },
	/* webhook-ingress: one group per replica (webhook-ingress-<uuid>). */
	{ "webhook-ingress", T, TOPIC_IMAGE_PUSHED, 0, W },
	{ "webhook-ingress", T, TOPIC_COMPONENT_EVENTS, 0, R },
	{ "webhook-ingress", T, TOPIC_COMPONENT_EVENTS DLQ, 0, W | C },
	{ "webhook-ingress", G, "webhook-ingress-", 1, R },
};

/* One data plane: its agent reads its own topics and reports status. */
static const struct acl_row acl_dataplane[] = {
	{ "agent-%s", T, DP_PREFIX "%s.commands", 0, R },
	{ "agent-%s", T, DP_PREFIX "%s.credentials", 0, R },
	{ "agent-%s", T, DP_PREFIX "%s.commands" DLQ, 0, W },
	{ "agent-%s", T, TOPIC_DATAPLANE_STATUS, 0, W },
	{ "agent-%s", G, "dataplane-agent-%s", 0, R },
	{ "agent-%s", G, NOGROUP, 1, D },
	{ "deploy-svc", T, DP_PREFIX "%s.commands", 0, W },
	{ "registry-svc", T, DP_PREFIX "%s.credentials", 0, W },
};

#define NROWS(t) (sizeof(t) / sizeof((t)[0]))

/* Keeps s (owned from now on); NULL when out of memory. */
static const char *
acl_list_keep(struct acl_list *l, char *s)
{
	char **names;

	if (s == NULL)
		return NULL;
	if ((names = realloc(l->names, (l->nnames + 1) * sizeof(*names))) == NULL) {
		free(s);
		return NULL;
	}
	l->names = names;
	l->names[l->nnames++] = s;
	return s;
}

/* The row's text with its one %s replaced by dp (as it is without one). */
static const char *
acl_list_text(struct acl_list *l, const char *text, const char *dp)
{
	const char *at = strstr(text, "%s");
	size_t head, len;
	char *s;

	if (dp == NULL || at == NULL)
		return text;
	head = (size_t)(at - text);
	len = strlen(text) - 2 + strlen(dp);
	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	snprintf(s, len + 1, "%.*s%s%s", (int)head, text, dp, at + 2);
	return acl_list_keep(l, s);
}

static int
acl_list_add(struct acl_list *l, const struct acl_row *row, const char *dp)
{
	const char *principal = acl_list_text(l, row->principal, dp);
	const char *name = acl_list_text(l, row->name, dp);
	struct bus_acl *a;

	if (principal == NULL || name == NULL)
		return -1;
	for (int op = BUS_ACL_READ; op <= BUS_ACL_DESCRIBE; op++) {
		if (!(row->ops & (1 << op)))
			continue;
		if ((a = realloc(l->acls, (l->n + 1) * sizeof(*a))) == NULL)
			return -1;
		l->acls = a;
		l->acls[l->n++] = (struct bus_acl){ principal, row->resource, name,
		    row->prefixed, (enum bus_acl_op)op };
	}
	return 0;
}

int
acl_table_services(struct acl_list *l)
{
	for (size_t i = 0; i < NROWS(acl_services); i++)
		if (acl_list_add(l, &acl_services[i], NULL) == -1)
			return -1;
	return 0;
}

int
acl_table_dataplane(struct acl_list *l, const char *dp)
{
	if (!dataplane_name_valid(dp))
		return -1;
	for (size_t i = 0; i < NROWS(acl_dataplane); i++)
		if (acl_list_add(l, &acl_dataplane[i], dp) == -1)
			return -1;
	return 0;
}

void
acl_list_free(struct acl_list *l)
{
	for (size_t i = 0; i < l->nnames; i++)
		free(l->names[i]);
	free(l->names);
	free(l->acls);
	memset(l, 0, sizeof(*l));
}
