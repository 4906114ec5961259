/*
 * produce_dup: hand-made events for the e2e suite, produced straight to
 * Kafka as another producer on the bus could.
 *
 *   produce_dup BROKERS ORG COMPONENT_ID IMAGE REQUEST_ID
 *     builds ONE ImagePushed envelope and produces the very same bytes
 *     (same key, same event-id / event-type headers) twice to
 *     slipway.image.pushed, as a producer retry or a replayed partition
 *     would: deploy-svc must deduplicate the deliveries.
 *   produce_dup --status BROKERS ORG DEPLOYMENT_ID COMPONENT_ID ENV DATAPLANE STATE
 *     produces one DeploymentStatus (STATE: the proto number) claimed by
 *     DATAPLANE, observed now: a forged report deploy-svc must refuse
 *     unless DATAPLANE is the one the deployment went to.
 *
 * Exit 0 when the broker acknowledged every copy. It authenticates from
 * SLIPWAY_KAFKA_* like a service (kafka_auth.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <librdkafka/rdkafka.h>
#include "slipway/v1/envelope.pb-c.h"
#include "kafka_auth.h"
#include "tool_uuid.h"

#define TOPIC "slipway.image.pushed"
#define STATUS_TOPIC "slipway.dataplane.status"

static int delivered_ok;

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		delivered_ok++;
	else
		fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
}

static unsigned char *
pack_envelope(const char *org, const char *component, const char *image,
    const char *request_id, const char *event_id, size_t *len)
{
	Slipway__V1__Envelope env = SLIPWAY__V1__ENVELOPE__INIT;
	Slipway__V1__ImagePushed ip = SLIPWAY__V1__IMAGE_PUSHED__INIT;
	unsigned char *buf;

	ip.component_id = (char *)component;
	ip.image = (char *)image;
	ip.source = "e2e-duplicate";
	ip.request_id = (char *)request_id;
	env.event_id = (char *)event_id;
	env.type = "ImagePushed";
	env.occurred_at_ms = (int64_t)time(NULL) * 1000;
	env.org = (char *)org;
	env.producer = "produce_dup";
	env.payload_case = SLIPWAY__V1__ENVELOPE__PAYLOAD_IMAGE_PUSHED;
	env.image_pushed = &ip;
	*len = slipway__v1__envelope__get_packed_size(&env);
	if ((buf = malloc(*len ? *len : 1)) == NULL)
		exit(1);
	slipway__v1__envelope__pack(&env, buf);
	return buf;
}

static rd_kafka_t *
producer_new(const char *brokers)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
	    sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "acks", "all", errstr, sizeof(errstr)) !=
	    RD_KAFKA_CONF_OK) {
		fprintf(stderr, "config: %s\n", errstr);
		exit(1);
	}
	kafka_auth_apply(conf);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr))) == NULL) {
		fprintf(stderr, "producer: %s\n", errstr);
		exit(1);
	}
	return rk;
}

static void
produce_once(rd_kafka_t *rk, const char *topic, const char *type,
    const char *key, const char *event_id, const unsigned char *buf,
    size_t len)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(2);
	rd_kafka_resp_err_t err;

	rd_kafka_header_add(h, "event-id", -1, event_id, -1);
	rd_kafka_header_add(h, "event-type", -1, type, -1);
	err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
	    RD_KAFKA_V_KEY(key, strlen(key)),
	    RD_KAFKA_V_VALUE((void *)buf, len),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
	if (err) {
		fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
		rd_kafka_headers_destroy(h);
		exit(1);
	}
}

/* --status BROKERS ORG DEPLOYMENT_ID COMPONENT_ID ENV DATAPLANE STATE */
static int
produce_status(char **argv)
{
	Slipway__V1__Envelope env = SLIPWAY__V1__ENVELOPE__INIT;
	Slipway__V1__DeploymentStatus st = SLIPWAY__V1__DEPLOYMENT_STATUS__INIT;
	struct timespec ts;
	char event_id[37];
	unsigned char *buf;
	size_t len;
	rd_kafka_t *rk;

	uuid4(event_id);
	clock_gettime(CLOCK_REALTIME, &ts);
	st.deployment_id = argv[3];
	st.component_id = argv[4];
	st.environment = argv[5];
	st.dataplane = argv[6];
	st.state = (Slipway__V1__DeploymentState)atoi(argv[7]);
	st.reason = "forged";
	st.observed_at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	env.event_id = event_id;
	env.type = "DeploymentStatus";
	env.occurred_at_ms = st.observed_at_ms;
	env.org = argv[2];
	env.producer = "produce_dup";
	env.payload_case = SLIPWAY__V1__ENVELOPE__PAYLOAD_DEPLOYMENT_STATUS;
	env.deployment_status = &st;
	len = slipway__v1__envelope__get_packed_size(&env);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return 1;
	slipway__v1__envelope__pack(&env, buf);
	rk = producer_new(argv[1]);
	produce_once(rk, STATUS_TOPIC, "DeploymentStatus", argv[3], event_id, buf,
	    len);
	rd_kafka_flush(rk, 10000);
	rd_kafka_destroy(rk);
	free(buf);
	printf("%s\n", event_id);
	return delivered_ok == 1 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	char event_id[37];
	unsigned char *buf;
	size_t len;
	rd_kafka_t *rk;

	if (argc == 9 && strcmp(argv[1], "--status") == 0)
		return produce_status(argv + 1);
	if (argc != 6) {
		fprintf(stderr, "usage: produce_dup BROKERS ORG COMPONENT_ID "
		    "IMAGE REQUEST_ID\n");
		return 2;
	}
	uuid4(event_id);
	buf = pack_envelope(argv[2], argv[3], argv[4], argv[5], event_id, &len);
	rk = producer_new(argv[1]);
	produce_once(rk, TOPIC, "ImagePushed", argv[3], event_id, buf, len);
	/* Flush between the copies so they are two separate deliveries. */
	rd_kafka_flush(rk, 10000);
	produce_once(rk, TOPIC, "ImagePushed", argv[3], event_id, buf, len);
	rd_kafka_flush(rk, 10000);
	rd_kafka_destroy(rk);
	free(buf);
	printf("%s\n", event_id);
	return delivered_ok == 2 ? 0 : 1;
}
