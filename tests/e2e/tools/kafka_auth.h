/*
 * kafka_auth.h: the e2e tools authenticate like the services, from the
 * same variables (SLIPWAY_KAFKA_SECURITY_PROTOCOL, _SASL_MECHANISM,
 * _USERNAME, _PASSWORD; see services/lib/bus_security.h). The harness gives
 * them the admin principal, or the principal a refusal test is about.
 */
#ifndef KAFKA_AUTH_H
#define KAFKA_AUTH_H

#include <stdio.h>
#include <stdlib.h>
#include <librdkafka/rdkafka.h>

static void
kafka_auth_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
	    RD_KAFKA_CONF_OK) {
		fprintf(stderr, "config %s: %s\n", name, errstr);
		exit(1);
	}
}

/* Applies the SLIPWAY_KAFKA_* security settings of the environment. */
static void
kafka_auth_apply(rd_kafka_conf_t *conf)
{
	const char *proto = getenv("SLIPWAY_KAFKA_SECURITY_PROTOCOL");
	const char *mech = getenv("SLIPWAY_KAFKA_SASL_MECHANISM");
	const char *user = getenv("SLIPWAY_KAFKA_USERNAME");
	const char *pw = getenv("SLIPWAY_KAFKA_PASSWORD");

	if (proto == NULL || proto[0] == '\0')
		return;
	kafka_auth_set(conf, "security.protocol", proto);
	if (proto[0] != 's' || proto[1] != 'a')   /* not sasl_* */
		return;
	kafka_auth_set(conf, "sasl.mechanisms", mech && mech[0] ? mech :
	    "SCRAM-SHA-256");
	kafka_auth_set(conf, "sasl.username", user ? user : "");
	kafka_auth_set(conf, "sasl.password", pw ? pw : "");
}

#endif
