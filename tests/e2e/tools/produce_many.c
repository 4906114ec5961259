/*
 * produce_many: a backlog of ImagePushed events for the e2e suite and the
 * deploy-svc drain measurement, produced straight to Kafka.
 *
 *   produce_many BROKERS ORG < lines
 *     each line "COMPONENT_ID IMAGE REQUEST_ID EVENT_ID" becomes one
 *     ImagePushed envelope, keyed by the component (as the webhook keys
 *     it), in the order given. The same EVENT_ID on two lines is the very
 *     same event delivered twice; the same REQUEST_ID with two event ids is
 *     a producer retry.
 *
 * Exit 0 when the broker acknowledged every line; prints the count. It
 * authenticates from SLIPWAY_KAFKA_* like a service (kafka_auth.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <librdkafka/rdkafka.h>
#include "slipway/v1/envelope.pb-c.h"
#include "kafka_auth.h"

#define TOPIC "slipway.image.pushed"

static long delivered_ok, delivered_bad;

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		delivered_ok++;
	else {
		delivered_bad++;
		fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
	}
}

static rd_kafka_t *
producer_new(const char *brokers)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const char *kv[] = { "bootstrap.servers", brokers, "acks", "all",
	    "enable.idempotence", "true", "linger.ms", "5", NULL };
	rd_kafka_t *rk;

	for (int i = 0; kv[i] != NULL; i += 2)
		if (rd_kafka_conf_set(conf, kv[i], kv[i + 1], errstr,
		    sizeof(errstr)) != RD_KAFKA_CONF_OK) {
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

/* Queues one ImagePushed; waits for room when librdkafka's queue is full. */
static void
produce_one(rd_kafka_t *rk, const char *org, char *comp, char *image,
    char *request_id, char *event_id)
{
	Slipway__V1__Envelope env = SLIPWAY__V1__ENVELOPE__INIT;
	Slipway__V1__ImagePushed ip = SLIPWAY__V1__IMAGE_PUSHED__INIT;
	unsigned char *buf;
	rd_kafka_resp_err_t err;
	size_t len;

	ip.component_id = comp;
	ip.image = image;
	ip.source = "e2e-backlog";
	ip.request_id = request_id;
	env.event_id = event_id;
	env.type = "ImagePushed";
	env.occurred_at_ms = (int64_t)time(NULL) * 1000;
	env.org = (char *)org;
	env.producer = "produce_many";
	env.payload_case = SLIPWAY__V1__ENVELOPE__PAYLOAD_IMAGE_PUSHED;
	env.image_pushed = &ip;
	len = slipway__v1__envelope__get_packed_size(&env);
	if ((buf = malloc(len ? len : 1)) == NULL)
		exit(1);
	slipway__v1__envelope__pack(&env, buf);
	for (;;) {
		rd_kafka_headers_t *h = rd_kafka_headers_new(2);

		rd_kafka_header_add(h, "event-id", -1, event_id, -1);
		rd_kafka_header_add(h, "event-type", -1, "ImagePushed", -1);
		err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(TOPIC),
		    RD_KAFKA_V_KEY(comp, strlen(comp)),
		    RD_KAFKA_V_VALUE(buf, len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			break;
		rd_kafka_headers_destroy(h);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
			exit(1);
		}
		rd_kafka_poll(rk, 100);
	}
	rd_kafka_poll(rk, 0);
	free(buf);
}

int
main(int argc, char **argv)
{
	char line[1024], comp[64], image[600], req[64], ev[64];
	long n = 0;
	rd_kafka_t *rk;

	if (argc != 3) {
		fprintf(stderr, "usage: produce_many BROKERS ORG < lines\n");
		return 2;
	}
	rk = producer_new(argv[1]);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (sscanf(line, "%63s %599s %63s %63s", comp, image, req, ev) != 4)
			continue;
		produce_one(rk, argv[2], comp, image, req, ev);
		n++;
	}
	rd_kafka_flush(rk, 60000);
	rd_kafka_destroy(rk);
	printf("%ld\n", delivered_ok);
	return delivered_ok == n && delivered_bad == 0 ? 0 : 1;
}
