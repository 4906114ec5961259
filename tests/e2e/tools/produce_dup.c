/*
 * produce_dup: builds ONE ImagePushed envelope and produces the very same
 * bytes (same key, same event-id / event-type headers) twice to
 * slipway.image.pushed, as a producer retry or a replayed partition would.
 * The e2e suite uses it to check that deploy-svc deduplicates deliveries.
 *
 * usage: produce_dup BROKERS ORG COMPONENT_ID IMAGE REQUEST_ID
 * Exit 0 when the broker acknowledged both copies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <librdkafka/rdkafka.h>
#include "slipway/v1/envelope.pb-c.h"

#define TOPIC "slipway.image.pushed"

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

/* A random UUID v4: the event id must be one, or deploy-svc rejects it. */
static void
uuid4(char out[37])
{
	unsigned char b[16];
	FILE *f = fopen("/dev/urandom", "rb");

	if (f == NULL || fread(b, 1, sizeof(b), f) != sizeof(b)) {
		fprintf(stderr, "no /dev/urandom\n");
		exit(1);
	}
	fclose(f);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
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
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr))) == NULL) {
		fprintf(stderr, "producer: %s\n", errstr);
		exit(1);
	}
	return rk;
}

static void
produce_once(rd_kafka_t *rk, const char *key, const char *event_id,
    const unsigned char *buf, size_t len)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(2);
	rd_kafka_resp_err_t err;

	rd_kafka_header_add(h, "event-id", -1, event_id, -1);
	rd_kafka_header_add(h, "event-type", -1, "ImagePushed", -1);
	err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(TOPIC),
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

int
main(int argc, char **argv)
{
	char event_id[37];
	unsigned char *buf;
	size_t len;
	rd_kafka_t *rk;

	if (argc != 6) {
		fprintf(stderr, "usage: produce_dup BROKERS ORG COMPONENT_ID "
		    "IMAGE REQUEST_ID\n");
		return 2;
	}
	uuid4(event_id);
	buf = pack_envelope(argv[2], argv[3], argv[4], argv[5], event_id, &len);
	rk = producer_new(argv[1]);
	produce_once(rk, argv[3], event_id, buf, len);
	/* Flush between the copies so they are two separate deliveries. */
	rd_kafka_flush(rk, 10000);
	produce_once(rk, argv[3], event_id, buf, len);
	rd_kafka_flush(rk, 10000);
	rd_kafka_destroy(rk);
	free(buf);
	printf("%s\n", event_id);
	return delivered_ok == 2 ? 0 : 1;
}
