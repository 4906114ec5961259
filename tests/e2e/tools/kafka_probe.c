/*
 * kafka_probe: what a client with given Kafka credentials may do on the bus,
 * for tests/e2e/test_kafka_acl.py. Credentials come from SLIPWAY_KAFKA_*
 * (kafka_auth.h); none set = a client without credentials.
 *
 *   kafka_probe produce BROKERS TOPIC KIND ORG [NAME]
 *     produces one forged event, as an attacker on the bus would:
 *     KIND dataplane-registered (DataPlaneRegistered NAME, a fresh key,
 *     shared), apply (ApplyDeployment of component NAME) or status
 *     (DeploymentStatus of deployment NAME, "running").
 *   kafka_probe consume BROKERS TOPIC
 *     reads every partition from the beginning to its end, no group, and
 *     prints one line per record: {"key": "...", "len": N}.
 *
 * Prints a last line {"ok": true|false, "error": "<librdkafka error name>",
 * "count": N} and exits 0 when it worked, 3 when authorization or
 * authentication was refused, 1 otherwise (e.g. timed out).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include "slipway/v1/envelope.pb-c.h"
#include "kafka_auth.h"
#include "tool_uuid.h"

#define PROBE_TIMEOUT_MS 8000

static rd_kafka_resp_err_t probe_err;   /* the first error seen */
static int delivered;

static int
probe_refused(rd_kafka_resp_err_t e)
{
	return e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
	    e == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
	    e == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
	    e == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
	    e == RD_KAFKA_RESP_ERR__AUTHENTICATION;
}

static void
probe_note(rd_kafka_resp_err_t e)
{
	/* A refusal is the interesting error: it wins over what follows it. */
	if (probe_err == RD_KAFKA_RESP_ERR_NO_ERROR ||
	    (probe_refused(e) && !probe_refused(probe_err)))
		probe_err = e;
}

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	(void)opaque;
	fprintf(stderr, "kafka error: %s: %s\n",
	    rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
	probe_note((rd_kafka_resp_err_t)err);
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		delivered++;
	else
		probe_note(m->err);
}

static int
probe_finish(int count)
{
	int ok = probe_err == RD_KAFKA_RESP_ERR_NO_ERROR;

	printf("{\"ok\": %s, \"error\": \"%s\", \"count\": %d}\n",
	    ok ? "true" : "false", ok ? "" : rd_kafka_err2name(probe_err),
	    count);
	return ok ? 0 : probe_refused(probe_err) ? 3 : 1;
}

static rd_kafka_conf_t *
probe_conf(const char *brokers)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	kafka_auth_set(conf, "bootstrap.servers", brokers);
	kafka_auth_apply(conf);
	rd_kafka_conf_set_error_cb(conf, on_error);
	return conf;
}

/* The forged envelope of KIND; returns its packed bytes. */
static unsigned char *
probe_envelope(const char *kind, const char *org, const char *name,
    const char *event_id, const char **type, size_t *len)
{
	static uint8_t key[32];
	Slipway__V1__Envelope env = SLIPWAY__V1__ENVELOPE__INIT;
	Slipway__V1__DataPlaneRegistered dr =
	    SLIPWAY__V1__DATA_PLANE_REGISTERED__INIT;
	Slipway__V1__ApplyDeployment ad = SLIPWAY__V1__APPLY_DEPLOYMENT__INIT;
	Slipway__V1__DeploymentStatus st = SLIPWAY__V1__DEPLOYMENT_STATUS__INIT;
	unsigned char *buf;

	env.event_id = (char *)event_id;
	env.occurred_at_ms = (int64_t)time(NULL) * 1000;
	env.org = (char *)org;
	env.producer = "kafka_probe";
	if (strcmp(kind, "dataplane-registered") == 0) {
		dr.name = (char *)name;
		dr.public_key.data = key;
		dr.public_key.len = sizeof(key);
		dr.shared = 1;
		*type = "DataPlaneRegistered";
		env.payload_case = SLIPWAY__V1__ENVELOPE__PAYLOAD_DATAPLANE_REGISTERED;
		env.dataplane_registered = &dr;
	} else if (strcmp(kind, "apply") == 0) {
		ad.deployment_id = (char *)event_id;
		ad.component_id = (char *)name;
		ad.image = "127.0.0.1:1/forged/image:latest";
		ad.org = (char *)org;
		*type = "ApplyDeployment";
		env.payload_case = SLIPWAY__V1__ENVELOPE__PAYLOAD_APPLY_DEPLOYMENT;
		env.apply_deployment = &ad;
	} else if (strcmp(kind, "status") == 0) {
		st.deployment_id = (char *)name;
		st.state = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_RUNNING;
		st.reason = "forged";
		st.observed_at_ms = env.occurred_at_ms;
		*type = "DeploymentStatus";
		env.payload_case = SLIPWAY__V1__ENVELOPE__PAYLOAD_DEPLOYMENT_STATUS;
		env.deployment_status = &st;
	} else {
		fprintf(stderr, "unknown KIND %s\n", kind);
		exit(2);
	}
	env.type = (char *)*type;
	*len = slipway__v1__envelope__get_packed_size(&env);
	if ((buf = malloc(*len ? *len : 1)) == NULL)
		exit(1);
	slipway__v1__envelope__pack(&env, buf);
	return buf;
}

static int
probe_produce(const char *brokers, const char *topic, const char *kind,
    const char *org, const char *name)
{
	rd_kafka_conf_t *conf = probe_conf(brokers);
	rd_kafka_headers_t *h = rd_kafka_headers_new(2);
	char errstr[512], event_id[37];
	rd_kafka_resp_err_t err;
	const char *type = "";
	unsigned char *buf;
	rd_kafka_t *rk;
	size_t len;

	uuid4(event_id);
	buf = probe_envelope(kind, org, name, event_id, &type, &len);
	kafka_auth_set(conf, "message.timeout.ms", "6000");
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr))) == NULL) {
		fprintf(stderr, "producer: %s\n", errstr);
		return 1;
	}
	rd_kafka_header_add(h, "event-id", -1, event_id, -1);
	rd_kafka_header_add(h, "event-type", -1, type, -1);
	err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
	    RD_KAFKA_V_KEY(name, strlen(name)), RD_KAFKA_V_VALUE(buf, len),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
	    RD_KAFKA_V_END);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_headers_destroy(h);
		probe_note(err);
	}
	rd_kafka_flush(rk, PROBE_TIMEOUT_MS);
	if (delivered == 0 && probe_err == RD_KAFKA_RESP_ERR_NO_ERROR)
		probe_note(RD_KAFKA_RESP_ERR__TIMED_OUT);
	rd_kafka_destroy(rk);
	free(buf);
	return probe_finish(delivered);
}

/*
 * The topic's metadata. A topic created a moment ago (a data plane just
 * registered) can be unknown to the broker's metadata cache for a while
 * after CreateTopics returned, so "unknown" and "no leader yet" are asked
 * again until PROBE_TIMEOUT_MS; a refusal is final at once.
 */
static int
probe_metadata(rd_kafka_t *rk, const char *topic,
    const struct rd_kafka_metadata **mdp)
{
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t err;
	int tries;

	for (tries = 0;; tries++) {
		err = rd_kafka_metadata(rk, 0, t, mdp, PROBE_TIMEOUT_MS);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
			break;
		err = (*mdp)->topic_cnt == 1 ? (*mdp)->topics[0].err :
		    RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			break;
		rd_kafka_metadata_destroy(*mdp);
		if ((err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
		    err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) ||
		    tries * 250 >= PROBE_TIMEOUT_MS)
			break;
		usleep(250 * 1000);
	}
	rd_kafka_topic_destroy(t);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		probe_note(err);
	return err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

/* Every partition of topic from the beginning; -1 when metadata fails. */
static int
probe_assign(rd_kafka_t *rk, const char *topic, int *parts)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t err;

	if (probe_metadata(rk, topic, &md) == -1)
		return -1;
	*parts = md->topics[0].partition_cnt;
	l = rd_kafka_topic_partition_list_new(*parts);
	for (int i = 0; i < *parts; i++)
		rd_kafka_topic_partition_list_add(l, topic, i)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_metadata_destroy(md);
	err = rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		probe_note(err);
		return -1;
	}
	return 0;
}

/* One record or event; returns 1 at a partition's end. */
static int
probe_record(const rd_kafka_message_t *m, int *count)
{
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
		return 1;
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		probe_note(m->err);
		return 0;
	}
	printf("{\"key\": \"%.*s\", \"len\": %zu}\n", (int)m->key_len,
	    m->key ? (const char *)m->key : "", m->len);
	(*count)++;
	return 0;
}

static int
probe_consume(const char *brokers, const char *topic)
{
	rd_kafka_conf_t *conf = probe_conf(brokers);
	struct timespec t0, now;
	int parts = 0, eofs = 0, count = 0;
	char errstr[512];
	rd_kafka_t *rk;
	char group[64];

	/*
	 * assign() wants a group id; nothing is committed under this one, and
	 * like the services' group-less consumers it is a slipway-nogroup-
	 * one, whose coordinator lookup every principal may make.
	 */
	snprintf(group, sizeof(group), "slipway-nogroup-probe-%ld",
	    (long)getpid());
	kafka_auth_set(conf, "group.id", group);
	kafka_auth_set(conf, "enable.partition.eof", "true");
	kafka_auth_set(conf, "enable.auto.commit", "false");
	if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr,
	    sizeof(errstr))) == NULL) {
		fprintf(stderr, "consumer: %s\n", errstr);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (probe_assign(rk, topic, &parts) == 0) {
		while (eofs < parts && probe_err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);

			if (m != NULL) {
				eofs += probe_record(m, &count);
				rd_kafka_message_destroy(m);
			}
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec > PROBE_TIMEOUT_MS / 1000) {
				probe_note(RD_KAFKA_RESP_ERR__TIMED_OUT);
				break;
			}
		}
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return probe_finish(count);
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 6 && argc <= 7 && strcmp(argv[1], "produce") == 0)
		return probe_produce(argv[2], argv[3], argv[4], argv[5],
		    argc == 7 ? argv[6] : "forged");
	if (argc == 4 && strcmp(argv[1], "consume") == 0)
		return probe_consume(argv[2], argv[3]);
	fprintf(stderr, "usage: kafka_probe produce BROKERS TOPIC KIND ORG [NAME]\n"
	    "       kafka_probe consume BROKERS TOPIC\n");
	return 2;
}
