/*
 * reg_served.c: what changes when the set of (org, data plane) pairs that a
 * binding or a grant makes changes: the names in one list and not in the
 * other. Pure, so tests/unit/test_reg_served.c drives it; the lists are
 * small (the data planes of one org, the orgs of one data plane).
 */
#include <string.h>
#include "registry.h"

static int
reg_served_has(char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return 1;
	return 0;
}

size_t
reg_served_diff(char *const *from, size_t nfrom, char *const *minus,
    size_t nminus, const char **out)
{
	size_t n = 0;

	for (size_t i = 0; i < nfrom; i++)
		if (!reg_served_has(minus, nminus, from[i]) &&
		    !reg_served_has((char *const *)(uintptr_t)out, n, from[i]))
			out[n++] = from[i];
	return n;
}
