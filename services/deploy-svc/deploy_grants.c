/*
 * deploy_grants.c: which orgs a data plane serves. The operator registers a
 * data plane for named orgs ("orgs": [...]) or for every org ("shared":
 * true); an org's environments may bind only a data plane granted to it.
 * Pure: the request's grants in, an SQL array literal out.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "deploy.h"

/* Org names as they appear in paths: [A-Za-z0-9][A-Za-z0-9_.-]{0,62}. */
int
deploy_grants_org_valid(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > DEPLOY_NAME_MAX ||
	    !isalnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.-", s[i]) == NULL)
			return 0;
	return 1;
}

static int
deploy_grants_fail(struct error *err, int *status, int code, const char *field,
    const char *msg)
{
	*status = code;
	error_set(err, code == 422 ? "dataplane_grant_required" :
	    "invalid_field", field, "%s", msg);
	return -1;
}

/* The "orgs" array: valid org names, no repeats, at most DEPLOY_GRANTS_MAX. */
static int
deploy_grants_orgs(json_t *orgs, struct deploy_grants *g, int *status,
    struct error *err)
{
	size_t i, j;

	if (!json_is_array(orgs) || json_array_size(orgs) == 0)
		return deploy_grants_fail(err, status, 400, "orgs",
		    "orgs must be a non-empty array of org names");
	if (json_array_size(orgs) > DEPLOY_GRANTS_MAX)
		return deploy_grants_fail(err, status, 400, "orgs",
		    "a data plane is granted to at most 100 orgs; use "
		    "\"shared\": true for more");
	for (i = 0; i < json_array_size(orgs); i++) {
		const char *o = json_string_value(json_array_get(orgs, i));

		if (!deploy_grants_org_valid(o)) {
			*status = 400;
			error_set(err, "invalid_field", "orgs", "orgs[%zu] is not "
			    "an org name ([A-Za-z0-9][A-Za-z0-9_.-]{0,62})", i);
			return -1;
		}
		for (j = 0; j < g->n; j++)
			if (strcmp(g->orgs[j], o) == 0) {
				*status = 400;
				error_set(err, "invalid_field", "orgs",
				    "org %s is listed twice", o);
				return -1;
			}
		g->orgs[g->n++] = o;
	}
	return 0;
}

int
deploy_grants_parse(json_t *body, struct deploy_grants *g, int *status,
    struct error *err)
{
	json_t *orgs = json_object_get(body, "orgs");
	json_t *shared = json_object_get(body, "shared");

	memset(g, 0, sizeof(*g));
	if (shared != NULL && !json_is_boolean(shared))
		return deploy_grants_fail(err, status, 400, "shared",
		    "shared must be true or false");
	if (orgs != NULL && json_is_true(shared))
		return deploy_grants_fail(err, status, 400, "orgs", "give either "
		    "orgs or \"shared\": true, not both");
	if (shared != NULL && !json_is_true(shared) && orgs == NULL)
		return deploy_grants_fail(err, status, 400, "shared",
		    "\"shared\": false needs orgs: name the orgs it serves");
	if (orgs != NULL && deploy_grants_orgs(orgs, g, status, err) == -1)
		return -1;
	g->shared = json_is_true(shared);
	g->given = orgs != NULL || g->shared;
	return 0;
}

int
deploy_grants_check_new(const struct deploy_grants *g, int *status,
    struct error *err)
{
	if (g->given)
		return 0;
	return deploy_grants_fail(err, status, 422, "orgs", "a new data plane "
	    "needs the orgs it serves (\"orgs\": [...]) or \"shared\": true");
}

/*
 * The orgs as a Postgres text[] literal, each element quoted: an org named
 * "null" must not become NULL. Org names hold no quote, backslash, comma
 * or brace, so quoting is all the escaping they need.
 */
int
deploy_grants_literal(const struct deploy_grants *g, char *buf, size_t len)
{
	size_t used = 0;
	int n;

	if ((n = snprintf(buf, len, "{")) < 0 || (size_t)n >= len)
		return -1;
	used = (size_t)n;
	for (size_t i = 0; i < g->n; i++) {
		n = snprintf(buf + used, len - used, "%s\"%s\"", i ? "," : "",
		    g->orgs[i]);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	n = snprintf(buf + used, len - used, "}");
	return n < 0 || (size_t)n >= len - used ? -1 : 0;
}
