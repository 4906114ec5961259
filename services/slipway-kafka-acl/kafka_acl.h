/*
 * kafka_acl.h: slipway-kafka-acl, the operator tool that grants every Kafka
 * principal of Slipway its ACLs. The table in acl_table.c is the one place
 * the bus's permissions are written down (docs/internals.md shows it).
 */
#ifndef SLIPWAY_KAFKA_ACL_H
#define SLIPWAY_KAFKA_ACL_H

#include <stddef.h>
#include "bus_acl.h"

/* The bindings of one run: the services', then each data plane's. */
struct acl_list {
	struct bus_acl *acls;
	char **names;          /* owned strings the acls point into */
	size_t n, nnames;
};

/* acl_table.c */
/* Appends the four services' bindings; 0, or -1 when out of memory. */
int acl_table_services(struct acl_list *l);
/*
 * Appends the bindings of data plane dp: its agent (User:agent-<dp>) and
 * the services' writes to its topics. -1: invalid name or out of memory.
 */
int acl_table_dataplane(struct acl_list *l, const char *dp);
void acl_list_free(struct acl_list *l);

#endif
