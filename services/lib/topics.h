/*
 * topics.h: the topic names of ARCHITECTURE.md §3, in one place.
 */
#ifndef SLIPWAY_TOPICS_H
#define SLIPWAY_TOPICS_H

#include <stddef.h>

#define TOPIC_REGISTRY_EVENTS  "slipway.registry.events"
#define TOPIC_COMPONENT_EVENTS "slipway.component.events"
#define TOPIC_IMAGE_PUSHED     "slipway.image.pushed"
#define TOPIC_DEPLOY_EVENTS    "slipway.deploy.events"
#define TOPIC_DATAPLANE_STATUS "slipway.dataplane.status"
/* Compacted, key = key id: OrgKey records (deploy-svc), read whole by every
 * management service (lib apikey.h). */
#define TOPIC_ORG_KEYS         "slipway.orgkeys"
#define TOPIC_PARTITIONS       3

/* NULL-terminated list of the fixed topics (without data-plane topics). */
extern const char *const topics_fixed[];

/* 1 when name is a valid data-plane name: [a-z0-9][a-z0-9-]{0,39}. */
int dataplane_name_valid(const char *name);
/* "slipway.dataplane.<dp>.commands" / ".credentials"; -1 if it does not fit. */
int topic_dataplane_commands(const char *dp, char *buf, size_t len);
int topic_dataplane_credentials(const char *dp, char *buf, size_t len);

#endif
