/*
 * gateway_model.c: the set of routed component+environment targets, kept
 * normalised and sorted so that rendering it is deterministic. A change is
 * made on a copy (gateway_model_with) that replaces the running model only
 * once HAProxy took it, which is what lets a failed apply leave both as
 * they were.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

static int
gateway_model_cmp(const void *a, const void *b)
{
	const struct gateway_target *x = a, *y = b;
	int c = strcmp(x->environment, y->environment);

	return c != 0 ? c : strcmp(x->component_id, y->component_id);
}

const struct gateway_target *
gateway_model_find(const struct gateway_model *m, const char *component_id,
    const char *environment)
{
	struct gateway_target key;

	if (m->n == 0)
		return NULL;
	snprintf(key.component_id, sizeof(key.component_id), "%s",
	    component_id);
	snprintf(key.environment, sizeof(key.environment), "%s", environment);
	return bsearch(&key, m->t, m->n, sizeof(m->t[0]), gateway_model_cmp);
}

static int
gateway_model_nomem(struct error *err)
{
	error_set(err, GATEWAY_ERR, "", "gateway_failed: out of memory");
	return -1;
}

int
gateway_model_with(struct gateway_model *dst, const struct gateway_model *src,
    const struct gateway_target *t, struct error *err)
{
	const struct gateway_target *old = gateway_model_find(src,
	    t->component_id, t->environment);
	size_t n = 0;

	memset(dst, 0, sizeof(*dst));
	if (old == NULL && t->nendpoints > 0 && src->n >= GATEWAY_TARGETS_MAX) {
		error_set(err, GATEWAY_ERR, "", "gateway_failed: more than %d "
		    "routed components on this data plane", GATEWAY_TARGETS_MAX);
		return -1;
	}
	if ((dst->t = calloc(src->n + 1, sizeof(dst->t[0]))) == NULL)
		return gateway_model_nomem(err);
	for (size_t i = 0; i < src->n; i++)
		if (&src->t[i] != old)
			dst->t[n++] = src->t[i];
	if (t->nendpoints > 0) {
		dst->t[n] = *t;
		gateway_cfg_normalize(&dst->t[n++]);
	}
	dst->n = n;
	qsort(dst->t, dst->n, sizeof(dst->t[0]), gateway_model_cmp);
	return 0;
}

int
gateway_model_from(struct gateway_model *dst, const struct gateway_target *t,
    size_t n, struct error *err)
{
	size_t k = 0;

	memset(dst, 0, sizeof(*dst));
	if (n > GATEWAY_TARGETS_MAX) {
		error_set(err, GATEWAY_ERR, "", "gateway_failed: more than %d "
		    "routed components on this data plane", GATEWAY_TARGETS_MAX);
		return -1;
	}
	if ((dst->t = calloc(n + 1, sizeof(dst->t[0]))) == NULL)
		return gateway_model_nomem(err);
	for (size_t i = 0; i < n; i++) {
		if (t[i].nendpoints == 0)
			continue;
		dst->t[k] = t[i];
		gateway_cfg_normalize(&dst->t[k++]);
	}
	dst->n = k;
	qsort(dst->t, dst->n, sizeof(dst->t[0]), gateway_model_cmp);
	for (size_t i = 1; i < dst->n; i++) {
		if (gateway_model_cmp(&dst->t[i], &dst->t[i - 1]) == 0) {
			error_set(err, GATEWAY_ERR, "component_id",
			    "gateway_failed: component %s is listed twice for "
			    "%s", dst->t[i].component_id, dst->t[i].environment);
			gateway_model_free(dst);
			return -1;
		}
	}
	return 0;
}

void
gateway_model_free(struct gateway_model *m)
{
	free(m->t);
	memset(m, 0, sizeof(*m));
}
