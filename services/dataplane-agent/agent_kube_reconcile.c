/*
 * agent_kube_reconcile.c: reconcile from a list at the Kubernetes
 * runtime's start. This data plane's labelled objects of a component and
 * environment its records do not serve (removed while the agent was away,
 * or a state directory that was lost) are deleted. Only objects with
 * slipway.managed=true and this data plane's label are ever listed, so
 * nothing else is touched; Jobs are the executions' records' to decide
 * (agent_kube_exec.c). Best effort: an API server that does not answer
 * yet leaves them for the next start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "kube.h"

/* What the records serve, for the start's prune. */
struct kube_served {
	char (*ids)[2][AGENT_ID_MAX];    /* component, environment */
	size_t n, cap;
	int incomplete;                  /* no memory: prune nothing */
};

static void
kube_served_add(void *arg, struct agent_slot *sl)
{
	struct kube_served *sv = arg;
	void *p;

	if (sl->rec.serving[0] == '\0')
		return;
	if (sv->n == sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 64;
		if ((p = realloc(sv->ids, cap * sizeof(*sv->ids))) == NULL) {
			sv->incomplete = 1;
			return;
		}
		sv->ids = p;
		sv->cap = cap;
	}
	snprintf(sv->ids[sv->n][0], AGENT_ID_MAX, "%s", sl->component_id);
	snprintf(sv->ids[sv->n][1], AGENT_ID_MAX, "%s", sl->environment);
	sv->n++;
}

static int
kube_served_has(const struct kube_served *sv, const char *component,
    const char *environment)
{
	for (size_t i = 0; i < sv->n; i++)
		if (component != NULL && environment != NULL &&
		    strcmp(sv->ids[i][0], component) == 0 &&
		    strcmp(sv->ids[i][1], environment) == 0)
			return 1;
	return 0;
}

/* Deletes what sv does not serve, kind by kind (routes first). */
static void
kube_prune_unserved(struct agent_ctx *ag, const struct kube_served *sv)
{
	static const enum kube_kind kinds[] = { KUBE_HTTPROUTE, KUBE_GRPCROUTE,
	    KUBE_INGRESS, KUBE_NETWORKPOLICY, KUBE_CRONJOB, KUBE_SERVICE,
	    KUBE_DEPLOYMENT, KUBE_SECRET, KUBE_CONFIGMAP };
	const char *const kv[] = { "slipway.managed", "true",
	    "slipway.dataplane", ag->dataplane, NULL };
	char sel[256];
	struct error err;
	json_t *list, *it, *md, *l;
	size_t i;

	if (kube_selector(sel, sizeof(sel), kv) == -1)
		return;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (kube_list(ag->kube, kinds[k], NULL, sel, &list, &err) == -1) {
			log_warnx("reconcile: %s: objects of removed components "
			    "stay until the next start", err.msg);
			return;
		}
		json_array_foreach(json_object_get(list, "items"), i, it) {
			md = json_object_get(it, "metadata");
			l = json_object_get(md, "labels");
			if (kube_served_has(sv, json_string_value(json_object_get(l,
			    "slipway.component")), json_string_value(json_object_get(l,
			    "slipway.environment"))) || json_object_get(l,
			    "slipway.execution") != NULL)
				continue;
			if (kube_delete(ag->kube, kinds[k], json_string_value(
			    json_object_get(md, "namespace")), json_string_value(
			    json_object_get(md, "name")), &err) == 0)
				log_info("reconcile: deleted %s %s/%s: no component of "
				    "this data plane has it", kube_kind_info(kinds[k])->kind,
				    json_string_value(json_object_get(md, "namespace")),
				    json_string_value(json_object_get(md, "name")));
		}
		json_decref(list);
	}
}

void
agent_kube_reconcile(struct agent_ctx *ag)
{
	struct kube_served sv = { 0 };

	/* Before the workers start: the slots are the records'. */
	agent_slots_each(ag->slots, kube_served_add, &sv);
	if (ag->kube != NULL && !sv.incomplete)
		kube_prune_unserved(ag, &sv);
	free(sv.ids);
}
