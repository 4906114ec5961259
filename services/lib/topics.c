/*
 * topics.c: the fixed topic list and the per-data-plane topic names.
 */
#include <stdio.h>
#include <string.h>

#include "topics.h"

#define DATAPLANE_NAME_MAX 40

const char *const topics_fixed[] = {
	TOPIC_REGISTRY_EVENTS,
	TOPIC_COMPONENT_EVENTS,
	TOPIC_IMAGE_PUSHED,
	TOPIC_DEPLOY_EVENTS,
	TOPIC_DATAPLANE_STATUS,
	NULL,
};

static int
dataplane_char_ok(char c, int first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return 1;
	return !first && c == '-';
}

int
dataplane_name_valid(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		if (i >= DATAPLANE_NAME_MAX || !dataplane_char_ok(name[i], i == 0))
			return 0;
	}
	return 1;
}

/* Builds "slipway.dataplane.<dp>.<suffix>"; refuses invalid names too. */
static int
topic_dataplane(const char *dp, const char *suffix, char *buf, size_t len)
{
	int n;

	if (!dataplane_name_valid(dp) || buf == NULL)
		return -1;
	n = snprintf(buf, len, "slipway.dataplane.%s.%s", dp, suffix);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return 0;
}

int
topic_dataplane_commands(const char *dp, char *buf, size_t len)
{
	return topic_dataplane(dp, "commands", buf, len);
}

int
topic_dataplane_credentials(const char *dp, char *buf, size_t len)
{
	return topic_dataplane(dp, "credentials", buf, len);
}
