/*
 * bus_acl.h: Kafka ACL bindings, created through the admin API in one
 * request (librdkafka's CreateAcls never leaks out). For the operator tool
 * slipway-kafka-acl; no service manages ACLs.
 */
#ifndef SLIPWAY_BUS_ACL_H
#define SLIPWAY_BUS_ACL_H

#include <stddef.h>
#include "error.h"

enum bus_acl_resource { BUS_ACL_TOPIC, BUS_ACL_GROUP };
enum bus_acl_op { BUS_ACL_READ, BUS_ACL_WRITE, BUS_ACL_CREATE, BUS_ACL_DESCRIBE };

struct bus_acl {
	const char *principal;          /* user name, e.g. "deploy-svc" */
	enum bus_acl_resource resource;
	const char *name;               /* topic or group name, or its prefix */
	int prefixed;                   /* 1: every name starting with name */
	enum bus_acl_op op;
};

/*
 * Creates ALLOW bindings for User:<principal> from any host, all in one
 * CreateAcls request (a binding that exists already is fine). Connects as
 * bus_security.h configures (an admin principal). Blocks up to timeout_ms.
 * Returns 0, or -1 with err naming the first binding the broker refused.
 */
int bus_acl_create(const char *brokers, const struct bus_acl *acls, size_t n,
    int timeout_ms, struct error *err);

/* "Read", "Write", "Create", "Describe"; "Topic", "Group". */
const char *bus_acl_op_name(enum bus_acl_op op);
const char *bus_acl_resource_name(enum bus_acl_resource r);

#endif
