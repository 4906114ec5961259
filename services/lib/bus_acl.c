/*
 * bus_acl.c: CreateAcls through librdkafka's admin API (see bus_acl.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "bus_acl.h"
#include "bus_security.h"
#include "log.h"

const char *
bus_acl_op_name(enum bus_acl_op op)
{
	static const char *const names[] = { [BUS_ACL_READ] = "Read",
	    [BUS_ACL_WRITE] = "Write", [BUS_ACL_CREATE] = "Create",
	    [BUS_ACL_DESCRIBE] = "Describe" };

	return names[op];
}

const char *
bus_acl_resource_name(enum bus_acl_resource r)
{
	return r == BUS_ACL_TOPIC ? "Topic" : "Group";
}

/* An admin handle that connects like every other client of the process. */
static rd_kafka_t *
bus_acl_client(const char *brokers, struct error *err)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const char *sec[BUS_SECURITY_KV_MAX];
	char errstr[256];
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
	    sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    bus_security_settings(sec, BUS_SECURITY_KV_MAX, err) == -1)
		goto fail;
	for (const char *const *kv = sec; kv[0] != NULL; kv += 2)
		if (rd_kafka_conf_set(conf, kv[0], kv[1], errstr,
		    sizeof(errstr)) != RD_KAFKA_CONF_OK) {
			error_set(err, "bus_config", kv[0], "%s", errstr);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr))) == NULL)
		goto fail;
	return rk;
fail:
	if (err->msg[0] == '\0')
		error_set(err, "bus_config", "", "kafka admin: %s", errstr);
	rd_kafka_conf_destroy(conf);
	return NULL;
}

static rd_kafka_AclBinding_t *
bus_acl_binding(const struct bus_acl *a, struct error *err)
{
	static const rd_kafka_AclOperation_t ops[] = {
	    [BUS_ACL_READ] = RD_KAFKA_ACL_OPERATION_READ,
	    [BUS_ACL_WRITE] = RD_KAFKA_ACL_OPERATION_WRITE,
	    [BUS_ACL_CREATE] = RD_KAFKA_ACL_OPERATION_CREATE,
	    [BUS_ACL_DESCRIBE] = RD_KAFKA_ACL_OPERATION_DESCRIBE };
	char principal[160], errstr[256];
	rd_kafka_AclBinding_t *b;

	snprintf(principal, sizeof(principal), "User:%s", a->principal);
	b = rd_kafka_AclBinding_new(a->resource == BUS_ACL_TOPIC ?
	    RD_KAFKA_RESOURCE_TOPIC : RD_KAFKA_RESOURCE_GROUP, a->name,
	    a->prefixed ? RD_KAFKA_RESOURCE_PATTERN_PREFIXED :
	    RD_KAFKA_RESOURCE_PATTERN_LITERAL, principal, "*", ops[a->op],
	    RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, errstr, sizeof(errstr));
	if (b == NULL)
		error_set(err, "bus_config", "", "ACL %s %s %s: %s", principal,
		    bus_acl_op_name(a->op), a->name, errstr);
	return b;
}

/* Reads the CreateAcls result: one entry per binding, in request order. */
static int
bus_acl_results(rd_kafka_event_t *ev, const struct bus_acl *acls, size_t n,
    struct error *err)
{
	const rd_kafka_acl_result_t **res;
	size_t cnt;

	if (ev == NULL) {
		error_set(err, "unavailable", "", "kafka did not answer CreateAcls");
		return -1;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		error_set(err, "unavailable", "", "CreateAcls: %s",
		    rd_kafka_event_error_string(ev));
		return -1;
	}
	res = rd_kafka_CreateAcls_result_acls(
	    rd_kafka_event_CreateAcls_result(ev), &cnt);
	for (size_t i = 0; i < cnt && i < n; i++) {
		const rd_kafka_error_t *e = rd_kafka_acl_result_error(res[i]);

		if (e != NULL && rd_kafka_error_code(e) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			error_set(err, "bus_error", "", "ACL User:%s %s %s: %s",
			    acls[i].principal, bus_acl_op_name(acls[i].op),
			    acls[i].name, rd_kafka_error_string(e));
			return -1;
		}
	}
	return 0;
}

static int
bus_acl_request(rd_kafka_t *rk, rd_kafka_AclBinding_t **b,
    const struct bus_acl *acls, size_t n, int timeout_ms, struct error *err)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opts;
	rd_kafka_event_t *ev;
	char errstr[256];
	int rc;

	opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATEACLS);
	rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr,
	    sizeof(errstr));
	rd_kafka_CreateAcls(rk, b, n, opts, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
	rc = bus_acl_results(ev, acls, n, err);
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_queue_destroy(q);
	return rc;
}

int
bus_acl_create(const char *brokers, const struct bus_acl *acls, size_t n,
    int timeout_ms, struct error *err)
{
	rd_kafka_AclBinding_t **b;
	rd_kafka_t *rk;
	size_t made = 0;
	int rc = -1;

	error_clear(err);
	if (n == 0)
		return 0;
	if ((b = calloc(n, sizeof(*b))) == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	if ((rk = bus_acl_client(brokers, err)) == NULL) {
		free(b);
		return -1;
	}
	for (; made < n; made++)
		if ((b[made] = bus_acl_binding(&acls[made], err)) == NULL)
			goto out;
	rc = bus_acl_request(rk, b, acls, n, timeout_ms, err);
out:
	rd_kafka_AclBinding_destroy_array(b, made);
	free(b);
	rd_kafka_destroy(rk);
	return rc;
}
