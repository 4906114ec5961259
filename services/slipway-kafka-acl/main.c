/*
 * slipway-kafka-acl: grants Slipway's Kafka principals their ACLs (the
 * table in acl_table.c), in one CreateAcls request, as an admin principal.
 *
 *   slipway-kafka-acl grant [--services] [--dataplane DP]...
 *   slipway-kafka-acl show  [--services] [--dataplane DP]...
 *
 * --services: registry-svc, component-svc, deploy-svc, webhook-ingress.
 * --dataplane DP: the agent principal agent-DP and the services' writes to
 * DP's topics; run it for every data plane, before or after registering it
 * (ACLs do not need the topics to exist). `show` prints the bindings and
 * talks to no broker. Granting twice is harmless.
 *
 * The broker and the admin credentials come from the environment like any
 * service's: SLIPWAY_KAFKA_BROKERS and SLIPWAY_KAFKA_SECURITY_PROTOCOL,
 * _USERNAME, _PASSWORD or _PASSWORD_FILE, _CA_FILE (bus_security.h).
 * The SCRAM user of a principal is made with Kafka's own tools
 * (`scripts/stack.sh kafka-principal` does both for the local stack).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_acl.h"
#include "bus_security.h"
#include "config.h"
#include "kafka_acl.h"
#include "log.h"

#define ACL_TIMEOUT_MS 15000

static char *acl_brokers;

static const struct config_var acl_vars[] = {
	CONFIG_VAR_KAFKA_BROKERS(&acl_brokers),
	CONFIG_VARS_KAFKA_SECURITY,
};
#define ACL_NVARS (sizeof(acl_vars) / sizeof(acl_vars[0]))

static void __attribute__((noreturn))
acl_usage(void)
{
	fprintf(stderr, "usage: slipway-kafka-acl grant|show [--services] "
	    "[--dataplane DP]...\n");
	exit(2);
}

/* The bindings the options ask for. */
static void
acl_collect(int argc, char **argv, struct acl_list *l)
{
	int i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--services") == 0) {
			if (acl_table_services(l) == -1)
				fatal("out of memory");
		} else if (strcmp(argv[i], "--dataplane") == 0 && i + 1 < argc) {
			if (acl_table_dataplane(l, argv[++i]) == -1)
				fatal("--dataplane %s: not a valid data-plane name "
				    "([a-z0-9][a-z0-9-]{0,39})", argv[i]);
		} else {
			acl_usage();
		}
	}
	if (l->n == 0)
		acl_usage();
}

static void
acl_show(const struct acl_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct bus_acl *a = &l->acls[i];

		printf("User:%-24s %-6s %-6s %-8s %s\n", a->principal,
		    bus_acl_op_name(a->op), bus_acl_resource_name(a->resource),
		    a->prefixed ? "prefixed" : "literal", a->name);
	}
}

static int
acl_grant(const struct acl_list *l)
{
	struct error err;

	error_clear(&err);
	if (config_load(acl_vars, ACL_NVARS, &err) < 0)
		fatal("configuration: %s", err.msg);
	if (bus_acl_create(acl_brokers, l->acls, l->n, ACL_TIMEOUT_MS,
	    &err) == -1) {
		log_warnx("granting ACLs: %s", err.msg);
		config_free(acl_vars, ACL_NVARS);
		return 1;
	}
	log_info("%zu ACL bindings granted", l->n);
	config_free(acl_vars, ACL_NVARS);
	return 0;
}

int
main(int argc, char **argv)
{
	struct acl_list l = { 0 };
	int rc = 0;

	if (argc < 2)
		acl_usage();
	log_init("slipway-kafka-acl");
	acl_collect(argc, argv, &l);
	if (strcmp(argv[1], "show") == 0)
		acl_show(&l);
	else if (strcmp(argv[1], "grant") == 0)
		rc = acl_grant(&l);
	else
		acl_usage();
	bus_security_reset();
	acl_list_free(&l);
	return rc;
}
