/*
 * agent_ports.c: host port offsets per environment.
 *
 * A data plane that runs several environments on ONE host with host
 * networking (the local podman data plane of `make run`) cannot give two
 * environments the same port: promoting development's container to
 * production would fail to bind. SLIPWAY_PORT_OFFSETS ("production=1000")
 * moves an environment's containers to endpoint port + offset; they learn it
 * from $PORT. Data planes with one environment each, or their own network
 * per container, leave it empty.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* Parses one "name=offset" item of len bytes; -1 when malformed. */
static int
agent_ports_item(const char *s, size_t len, const char **name, size_t *nlen,
    int *offset)
{
	const char *eq = memchr(s, '=', len);
	long v = 0;
	size_t i;

	if (eq == NULL || eq == s || (size_t)(eq - s) > AGENT_ENV_NAME_MAX ||
	    eq + 1 == s + len || (size_t)(s + len - eq - 1) > 5)
		return -1;
	for (i = (size_t)(eq - s) + 1; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > AGENT_PORT_OFFSET_MAX)
		return -1;
	*name = s;
	*nlen = (size_t)(eq - s);
	*offset = (int)v;
	return 0;
}

int
agent_ports_offset(const char *list, const char *environment, int *offset)
{
	const char *p = list, *name;
	size_t nlen;
	int v;

	*offset = 0;
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (agent_ports_item(p, len, &name, &nlen, &v) == -1)
			return -1;
		if (strlen(environment) == nlen &&
		    strncmp(name, environment, nlen) == 0)
			*offset = v;
		p = end ? end + 1 : NULL;
	}
	return 0;
}
