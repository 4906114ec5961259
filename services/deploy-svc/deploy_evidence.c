/*
 * deploy_evidence.c: what an agent's DeploymentStatus says besides the
 * state: the reason, the container's exit code, the tail of its log, the
 * last health probe's answer and, once running, each endpoint's address on
 * the gateway. All of it comes from outside (an agent, or anyone who may
 * write to slipway.dataplane.status), so it is capped and checked here
 * before it is stored, shown by the API or sent on in
 * DeploymentStatusChanged: a report that breaks a rule is refused whole,
 * to the dead-letter topic, never half applied.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "deploy.h"
#include "json.h"

static int
deploy_evidence_bad(struct error *err, const char *what)
{
	error_set(err, "bad_message", "", "status report: %s", what);
	return -1;
}

/*
 * Copies s into dst (size bytes), cut at a character boundary: a reason
 * longer than DEPLOY_REASON_MAX is shortened, as it always was, but never
 * into invalid UTF-8.
 */
static void
deploy_evidence_cut(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* scheme://rest, printable ASCII without spaces, at most DEPLOY_URL_MAX bytes. */
static int
deploy_evidence_url_valid(const char *u)
{
	size_t n = strlen(u), i = 0;

	if (n == 0 || n > DEPLOY_URL_MAX || !islower((unsigned char)u[0]))
		return 0;
	while (islower((unsigned char)u[i]) || isdigit((unsigned char)u[i]) ||
	    u[i] == '+' || u[i] == '.' || u[i] == '-')
		i++;
	if (strncmp(u + i, "://", 3) != 0 || u[i + 3] == '\0')
		return 0;
	for (i = 0; i < n; i++)
		if (u[i] <= ' ' || u[i] > '~')
			return 0;
	return 1;
}

static int
deploy_evidence_address(const Slipway__V1__EndpointAddress *a,
    struct deploy_address *out, struct error *err)
{
	if (a == NULL || a->name[0] == '\0' ||
	    !json_utf8_valid(a->name, sizeof(out->name) - 1))
		return deploy_evidence_bad(err, "endpoint name must be UTF-8 "
		    "text of 1-100 bytes");
	if (workload_choice(workload_endpoint_types, a->type) < 0)
		return deploy_evidence_bad(err, "endpoint type must be one of "
		    "REST, GraphQL, GRPC, TCP, UDP, WS");
	if (workload_choice(workload_visibilities, a->visibility) < 0)
		return deploy_evidence_bad(err, "endpoint visibility must be one "
		    "of Public, Organization, Project");
	if (!deploy_evidence_url_valid(a->url))
		return deploy_evidence_bad(err, "endpoint url must be scheme://... "
		    "of at most 512 printable ASCII characters");
	snprintf(out->name, sizeof(out->name), "%s", a->name);
	snprintf(out->type, sizeof(out->type), "%s", a->type);
	snprintf(out->visibility, sizeof(out->visibility), "%s", a->visibility);
	snprintf(out->url, sizeof(out->url), "%s", a->url);
	return 0;
}

static int
deploy_evidence_texts(const Slipway__V1__DeploymentStatus *ds,
    struct deploy_evidence *out, struct error *err)
{
	/* json_utf8_valid's cap: the reason has none here, it is cut below. */
	if (!json_utf8_valid(ds->reason, (size_t)-1))
		return deploy_evidence_bad(err, "reason is not UTF-8");
	if (!json_utf8_valid(ds->log_tail, DEPLOY_LOG_TAIL_MAX))
		return deploy_evidence_bad(err, "log_tail must be UTF-8 text of "
		    "at most 4096 bytes");
	if (!json_utf8_valid(ds->probe, DEPLOY_PROBE_MAX))
		return deploy_evidence_bad(err, "probe must be UTF-8 text of at "
		    "most 1024 bytes");
	deploy_evidence_cut(out->reason, sizeof(out->reason), ds->reason);
	snprintf(out->log_tail, sizeof(out->log_tail), "%s", ds->log_tail);
	snprintf(out->probe, sizeof(out->probe), "%s", ds->probe);
	return 0;
}

int
deploy_evidence_from_report(const Slipway__V1__DeploymentStatus *ds,
    struct deploy_evidence *out, struct error *err)
{
	memset(out, 0, sizeof(*out));
	if (deploy_evidence_texts(ds, out, err) < 0)
		return -1;
	out->exited = ds->exited != 0;
	out->exit_code = ds->exited ? ds->exit_code : 0;
	if (ds->n_endpoints > DEPLOY_ADDRESSES_MAX)
		return deploy_evidence_bad(err, "more than 16 endpoint addresses");
	for (size_t i = 0; i < ds->n_endpoints; i++)
		if (deploy_evidence_address(ds->endpoints[i], &out->addresses[i],
		    err) < 0)
			return -1;
	out->n_addresses = ds->n_endpoints;
	return 0;
}

/*
 * The rules, for a move the state machine ALLOWED:
 * - to running: the reason, exit code, log tail and probe are the report's
 *   (normally none): a running deployment has no failure to explain, and
 *   the crash it recovered from stays in its DeploymentStatusChanged. Its
 *   addresses replace the stored ones when it carries any, so a restart
 *   that moved an endpoint is seen, and one that says nothing keeps them.
 * - otherwise: a reason replaces the stored one; an exit code, log tail or
 *   probe replaces all three (they describe one failure); addresses stay,
 *   also after superseded, as the history of where it was served.
 */
void
deploy_evidence_merge(struct deploy_evidence *stored,
    const struct deploy_evidence *report, enum deploy_status to)
{
	int evidence = report->exited || report->log_tail[0] != '\0' ||
	    report->probe[0] != '\0';

	if (to == DEPLOY_RUNNING || report->reason[0] != '\0')
		memcpy(stored->reason, report->reason, sizeof(stored->reason));
	if (to == DEPLOY_RUNNING || evidence) {
		stored->exited = report->exited;
		stored->exit_code = report->exit_code;
		memcpy(stored->log_tail, report->log_tail, sizeof(stored->log_tail));
		memcpy(stored->probe, report->probe, sizeof(stored->probe));
	}
	if (to == DEPLOY_RUNNING && report->n_addresses > 0) {
		memcpy(stored->addresses, report->addresses,
		    report->n_addresses * sizeof(report->addresses[0]));
		stored->n_addresses = report->n_addresses;
	}
}

json_t *
deploy_evidence_addresses_json(const struct deploy_evidence *ev)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < ev->n_addresses; i++) {
		const struct deploy_address *a = &ev->addresses[i];
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}",
		    "name", a->name, "type", a->type, "visibility", a->visibility,
		    "url", a->url));
	}
	return arr;
}

static int
deploy_evidence_stored_address(json_t *o, struct deploy_address *a)
{
	if (json_copy_string(o, "name", a->name, sizeof(a->name)) < 0 ||
	    json_copy_string(o, "type", a->type, sizeof(a->type)) < 0 ||
	    json_copy_string(o, "visibility", a->visibility,
	    sizeof(a->visibility)) < 0 ||
	    json_copy_string(o, "url", a->url, sizeof(a->url)) < 0)
		return -1;
	return 0;
}

int
deploy_evidence_addresses_parse(const char *text, struct deploy_evidence *ev,
    struct error *err)
{
	json_t *arr = json_loads(text, 0, NULL), *o;
	size_t i;
	int rc = json_is_array(arr) &&
	    json_array_size(arr) <= DEPLOY_ADDRESSES_MAX ? 0 : -1;

	json_array_foreach(arr, i, o) {
		if (rc == 0)
			rc = deploy_evidence_stored_address(o, &ev->addresses[i]);
	}
	ev->n_addresses = rc == 0 ? json_array_size(arr) : 0;
	json_decref(arr);
	if (rc < 0)
		error_set(err, "db_error", "", "stored endpoint addresses "
		    "unreadable");
	return rc;
}

void
deploy_evidence_to_proto(const struct deploy_evidence *ev,
    struct deploy_evidence_proto *p, Slipway__V1__DeploymentStatusChanged *sc)
{
	for (size_t i = 0; i < ev->n_addresses; i++) {
		const struct deploy_address *a = &ev->addresses[i];
		slipway__v1__endpoint_address__init(&p->addr[i]);
		p->addr[i].name = DEPLOY_STR(a->name);
		p->addr[i].type = DEPLOY_STR(a->type);
		p->addr[i].visibility = DEPLOY_STR(a->visibility);
		p->addr[i].url = DEPLOY_STR(a->url);
		p->addrp[i] = &p->addr[i];
	}
	sc->n_endpoints = ev->n_addresses;
	sc->endpoints = ev->n_addresses > 0 ? p->addrp : NULL;
	sc->reason = DEPLOY_STR(ev->reason);
	sc->log_tail = DEPLOY_STR(ev->log_tail);
	sc->probe = DEPLOY_STR(ev->probe);
	sc->exited = ev->exited != 0;
	sc->exit_code = ev->exited ? ev->exit_code : 0;
}
