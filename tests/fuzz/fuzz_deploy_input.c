// uses: services/deploy-svc/deploy_evidence.c
// uses: services/deploy-svc/deploy_component.c
/*
 * fuzz_deploy_input.c: libFuzzer target for what deploy-svc takes from the
 * bus besides the envelope (fuzz_envelope.c has that): the bytes are
 * unpacked as a DeploymentStatus and as a Component, and go through
 * deploy_evidence_from_report and deploy_component_from_proto. Nothing may
 * crash or leak, and whatever is accepted is within its caps, valid UTF-8,
 * and survives the jsonb round trip deploy_store.c makes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deploy-svc/deploy.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_status(const uint8_t *data, size_t size)
{
	Slipway__V1__DeploymentStatus *ds;
	struct deploy_evidence *ev = calloc(1, sizeof(*ev));
	struct deploy_evidence *back = calloc(1, sizeof(*back));
	struct error err;
	json_t *arr;
	char *text;

	ds = slipway__v1__deployment_status__unpack(NULL, size, data);
	if (ds != NULL && ev != NULL && back != NULL &&
	    deploy_evidence_from_report(ds, ev, &err) == 0) {
		if (!json_utf8_valid(ev->reason, DEPLOY_REASON_MAX) ||
		    !json_utf8_valid(ev->log_tail, DEPLOY_LOG_TAIL_MAX) ||
		    !json_utf8_valid(ev->probe, DEPLOY_PROBE_MAX) ||
		    ev->n_addresses > DEPLOY_ADDRESSES_MAX)
			abort();
		arr = deploy_evidence_addresses_json(ev);
		text = json_dumps(arr, JSON_COMPACT);
		if (text == NULL || deploy_evidence_addresses_parse(text, back,
		    &err) != 0 || back->n_addresses != ev->n_addresses ||
		    memcmp(back->addresses, ev->addresses,
		    ev->n_addresses * sizeof(ev->addresses[0])) != 0)
			abort();
		free(text);
		json_decref(arr);
	}
	if (ds != NULL)
		slipway__v1__deployment_status__free_unpacked(ds, NULL);
	free(ev);
	free(back);
}

/* The endpoints as deploy_store.c writes them read back the same. */
static void
fuzz_component_round_trip(const struct deploy_component *out)
{
	struct deploy_component *back = calloc(1, sizeof(*back));
	json_t *arr = deploy_component_endpoints_json(out);
	char *text = json_dumps(arr, JSON_COMPACT);
	struct error err;

	if (back == NULL || text == NULL ||
	    deploy_component_columns_parse(text, NULL, NULL, back, &err) != 0 ||
	    back->n_endpoints != out->n_endpoints ||
	    memcmp(back->endpoints, out->endpoints,
	    out->n_endpoints * sizeof(out->endpoints[0])) != 0)
		abort();
	free(text);
	json_decref(arr);
	free(back);
}

static void
fuzz_component(const uint8_t *data, size_t size)
{
	Slipway__V1__Component *c;
	struct deploy_component *out = calloc(1, sizeof(*out));
	struct error err;

	c = slipway__v1__component__unpack(NULL, size, data);
	if (c != NULL && out != NULL &&
	    deploy_component_from_proto(c, out, &err) == 0) {
		if (out->n_endpoints > WORKLOAD_ENDPOINTS_MAX ||
		    !json_utf8_valid(out->name, sizeof(out->name) - 1))
			abort();
		fuzz_component_round_trip(out);
	}
	if (c != NULL)
		slipway__v1__component__free_unpacked(c, NULL);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_status(data, size);
	fuzz_component(data, size);
	return 0;
}
