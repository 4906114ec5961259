/*
 * endpoints.c: Choreo's endpoints.yaml (version 0.1), parsed with libyaml's
 * event API.
 *
 * The event API (not the document loader) is used on purpose: it lets the
 * parser refuse anchors and aliases before anything is expanded (no "billion
 * laughs"), and it walks one fixed shape, so nothing is ever built that is
 * not kept. Every error names the line it was found on.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include "component.h"

struct ep_parser {
	yaml_parser_t yp;
	yaml_event_t ev;
	int have;             /* ev holds an event to delete */
	struct error *err;
};

static int ep_fail(struct ep_parser *p, size_t line, const char *fmt, ...)
    LOG_PRINTF(3, 4);

static int
ep_fail(struct ep_parser *p, size_t line, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	error_set(p->err, "invalid_endpoints", "endpoints",
	    "endpoints.yaml line %zu: %s", line, why);
	return -1;
}

static size_t
ep_line(const struct ep_parser *p)
{
	return p->ev.start_mark.line + 1;
}

/* A copy of outside text that is safe to put in a message: printable ASCII. */
static const char *
ep_printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* Refuses anchors, aliases and explicit tags on the event just read. */
static int
ep_check_event(struct ep_parser *p)
{
	const yaml_event_t *e = &p->ev;
	const yaml_char_t *anchor = NULL, *tag = NULL;

	switch (e->type) {
	case YAML_ALIAS_EVENT:
		return ep_fail(p, ep_line(p), "aliases are not allowed");
	case YAML_SCALAR_EVENT:
		anchor = e->data.scalar.anchor;
		tag = e->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = e->data.sequence_start.anchor;
		tag = e->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = e->data.mapping_start.anchor;
		tag = e->data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor != NULL)
		return ep_fail(p, ep_line(p), "anchors are not allowed");
	if (tag != NULL)
		return ep_fail(p, ep_line(p), "explicit tags are not allowed");
	return 0;
}

static int
ep_next(struct ep_parser *p)
{
	if (p->have) {
		yaml_event_delete(&p->ev);
		p->have = 0;
	}
	if (!yaml_parser_parse(&p->yp, &p->ev))
		return ep_fail(p, p->yp.problem_mark.line + 1, "%s",
		    p->yp.problem != NULL ? p->yp.problem : "malformed YAML");
	p->have = 1;
	return ep_check_event(p);
}

static int
ep_expect(struct ep_parser *p, yaml_event_type_t type, const char *what)
{
	if (ep_next(p) < 0)
		return -1;
	if (p->ev.type != type)
		return ep_fail(p, ep_line(p), "expected %s", what);
	return 0;
}

static const char *
ep_scalar(const struct ep_parser *p)
{
	return (const char *)p->ev.data.scalar.value;
}

/* A plain scalar that YAML reads as null ("key:" with nothing after it). */
static int
ep_scalar_null(const struct ep_parser *p)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (p->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return p->ev.data.scalar.length == 0;
	for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(ep_scalar(p), nulls[i]) == 0)
			return 1;
	return 0;
}

static int
ep_has_control(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 1;
	return 0;
}

/* --- field setters: validate one value; -1 with a reason in why -------- */

typedef int (*ep_setter)(struct endpoint *e, const char *v, size_t len,
    char *why, size_t whylen);

static int
ep_set_name(struct endpoint *e, const char *v, size_t len, char *why,
    size_t whylen)
{
	if (len > ENDPOINT_NAME_MAX) {
		snprintf(why, whylen, "name must be at most %d bytes",
		    ENDPOINT_NAME_MAX);
		return -1;
	}
	if (ep_has_control(v)) {
		snprintf(why, whylen, "name must not contain control characters");
		return -1;
	}
	memcpy(e->name, v, len + 1);
	return 0;
}

static int
ep_set_port(struct endpoint *e, const char *v, size_t len, char *why,
    size_t whylen)
{
	unsigned long port = 0;
	size_t i;

	for (i = 0; i < len && len <= 5; i++) {
		if (v[i] < '0' || v[i] > '9')
			break;
		port = port * 10 + (unsigned long)(v[i] - '0');
	}
	if (len == 0 || len > 5 || i != len || v[0] == '0' || port < 1 ||
	    port > 65535) {
		snprintf(why, whylen,
		    "port must be an integer between 1 and 65535");
		return -1;
	}
	e->port = (unsigned)port;
	return 0;
}

static int
ep_set_choice(char *dst, size_t dstlen, const char *v,
    const char *const *choices, const char *what, char *why, size_t whylen)
{
	size_t i;

	for (i = 0; choices[i] != NULL; i++) {
		if (strcasecmp(v, choices[i]) == 0) {
			snprintf(dst, dstlen, "%s", choices[i]);
			return 0;
		}
	}
	snprintf(why, whylen, "%s", what);
	return -1;
}

static int
ep_set_type(struct endpoint *e, const char *v, size_t len, char *why,
    size_t whylen)
{
	(void)len;
	return ep_set_choice(e->type, sizeof(e->type), v, workload_endpoint_types,
	    "type must be one of REST, GraphQL, GRPC, TCP, UDP, WS", why,
	    whylen);
}

static int
ep_set_visibility(struct endpoint *e, const char *v, size_t len, char *why,
    size_t whylen)
{
	(void)len;
	return ep_set_choice(e->visibility, sizeof(e->visibility), v,
	    workload_visibilities,
	    "networkVisibility must be one of Public, Organization, Project",
	    why, whylen);
}

static int
ep_set_context(struct endpoint *e, const char *v, size_t len, char *why,
    size_t whylen)
{
	size_t i;

	if (v[0] != '/' || len > ENDPOINT_CONTEXT_MAX) {
		snprintf(why, whylen,
		    "context must be a path starting with '/' (at most %d bytes)",
		    ENDPOINT_CONTEXT_MAX);
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' ||
		    c == '\\') {
			snprintf(why, whylen, "context must be a URL path "
			    "without spaces, '?', '#' or '\\'");
			return -1;
		}
	}
	memcpy(e->context, v, len + 1);
	return 0;
}

/* 1 when the relative path has a ".." segment. */
static int
ep_path_escapes(const char *v)
{
	const char *seg = v;

	for (;;) {
		size_t n = strcspn(seg, "/");
		if (n == 2 && seg[0] == '.' && seg[1] == '.')
			return 1;
		if (seg[n] == '\0')
			return 0;
		seg += n + 1;
	}
}

static int
ep_set_schema(struct endpoint *e, const char *v, size_t len, char *why,
    size_t whylen)
{
	if (len > ENDPOINT_PATH_MAX || ep_has_control(v) ||
	    strchr(v, '\\') != NULL) {
		snprintf(why, whylen, "schemaFilePath must be a file path of at "
		    "most %d bytes", ENDPOINT_PATH_MAX);
		return -1;
	}
	if (v[0] == '/' || ep_path_escapes(v)) {
		snprintf(why, whylen, "schemaFilePath must be a relative path "
		    "inside the component (no leading '/', no '..')");
		return -1;
	}
	memcpy(e->schema_file_path, v, len + 1);
	return 0;
}

static const struct ep_field {
	const char *key;
	ep_setter set;
} ep_fields[] = {
	{ .key = "name",              .set = ep_set_name },
	{ .key = "port",              .set = ep_set_port },
	{ .key = "type",              .set = ep_set_type },
	{ .key = "networkVisibility", .set = ep_set_visibility },
	{ .key = "context",           .set = ep_set_context },
	{ .key = "schemaFilePath",    .set = ep_set_schema },
};
#define EP_NFIELDS (sizeof(ep_fields) / sizeof(ep_fields[0]))
#define EP_NAME    0x1
#define EP_PORT    0x2

static int
ep_field_index(const char *key)
{
	size_t i;

	for (i = 0; i < EP_NFIELDS; i++)
		if (strcmp(ep_fields[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* Reads one "key: value" pair of an endpoint mapping (key event already read). */
static int
ep_pair(struct ep_parser *p, struct endpoint *e, unsigned *seen)
{
	char key[32], why[160], shown[48];
	int idx;

	if (p->ev.type != YAML_SCALAR_EVENT)
		return ep_fail(p, ep_line(p), "endpoint keys must be plain names");
	idx = ep_field_index(ep_scalar(p));
	if (idx < 0)
		return ep_fail(p, ep_line(p), "unknown key \"%s\" in endpoint",
		    ep_printable(ep_scalar(p), shown, sizeof(shown)));
	if (*seen & (1u << idx))
		return ep_fail(p, ep_line(p), "duplicate key %s",
		    ep_fields[idx].key);
	*seen |= 1u << idx;
	snprintf(key, sizeof(key), "%s", ep_fields[idx].key);
	if (ep_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_SCALAR_EVENT)
		return ep_fail(p, ep_line(p), "%s must be a single value", key);
	if (ep_scalar_null(p))
		return ep_fail(p, ep_line(p), "%s must not be empty", key);
	if (ep_fields[idx].set(e, ep_scalar(p), p->ev.data.scalar.length, why,
	    sizeof(why)) < 0)
		return ep_fail(p, ep_line(p), "%s", why);
	/* A PUT's errors about the schema file name the line it is on. */
	if (ep_fields[idx].set == ep_set_schema)
		e->schema_line = ep_line(p);
	return 0;
}

/* Checks what only the whole endpoint can tell; applies the defaults. */
static int
ep_finish(struct ep_parser *p, struct endpoint *e, unsigned seen, size_t line)
{
	int ctx_needed, schema_ok;

	if (!(seen & EP_NAME))
		return ep_fail(p, line, "endpoint is missing name");
	if (!(seen & EP_PORT))
		return ep_fail(p, line, "endpoint \"%s\" is missing port",
		    e->name);
	if (e->type[0] == '\0')
		snprintf(e->type, sizeof(e->type), "REST");
	if (e->visibility[0] == '\0')
		snprintf(e->visibility, sizeof(e->visibility), "Public");
	ctx_needed = strcmp(e->type, "REST") == 0 ||
	    strcmp(e->type, "GraphQL") == 0 || strcmp(e->type, "WS") == 0;
	schema_ok = strcmp(e->type, "REST") == 0 ||
	    strcmp(e->type, "GraphQL") == 0 || strcmp(e->type, "WS") == 0;
	if (ctx_needed && e->context[0] == '\0')
		return ep_fail(p, line, "context is required for %s endpoints",
		    e->type);
	if (!schema_ok && e->schema_file_path[0] != '\0')
		return ep_fail(p, line, "schemaFilePath is only allowed for REST, "
		    "GraphQL and WS endpoints");
	return 0;
}

/* One endpoint mapping (MAPPING_START already read). */
static int
ep_endpoint(struct ep_parser *p, struct endpoint *e)
{
	size_t line = ep_line(p);
	unsigned seen = 0;

	for (;;) {
		if (ep_next(p) < 0)
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (ep_pair(p, e, &seen) < 0)
			return -1;
	}
	return ep_finish(p, e, seen, line);
}

/* 1 when a and b are the same context, a trailing '/' aside. */
static int
ep_same_context(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncmp(a, b, la) == 0;
}

/* 1 for the types the gateway routes by path (their context). */
static int
ep_http(const struct endpoint *e)
{
	return strcmp(e->type, "REST") == 0 || strcmp(e->type, "GraphQL") == 0 ||
	    strcmp(e->type, "WS") == 0;
}

/*
 * Refuses the second endpoint with a name or port already used, or, for
 * HTTP endpoints, a context already used: the gateway could route only
 * one of them.
 */
static int
ep_unique(struct ep_parser *p, const struct endpoints *out, size_t line)
{
	const struct endpoint *e = &out->ep[out->n];
	size_t i;

	for (i = 0; i < out->n; i++) {
		if (ep_http(e) && ep_http(&out->ep[i]) &&
		    ep_same_context(out->ep[i].context, e->context))
			return ep_fail(p, line, "context %s is used by two HTTP "
			    "endpoints", e->context);
		if (strcasecmp(out->ep[i].name, e->name) == 0)
			return ep_fail(p, line, "duplicate endpoint name \"%s\"",
			    e->name);
		if (out->ep[i].port == e->port)
			return ep_fail(p, line, "port %u is used by two endpoints",
			    e->port);
	}
	return 0;
}

static int
ep_list(struct ep_parser *p, struct endpoints *out)
{
	size_t line, start;

	if (ep_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_SEQUENCE_START_EVENT)
		return ep_fail(p, ep_line(p), "endpoints must be a list");
	start = ep_line(p);
	for (;;) {
		if (ep_next(p) < 0)
			return -1;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (p->ev.type != YAML_MAPPING_START_EVENT)
			return ep_fail(p, ep_line(p), "each endpoint must be a "
			    "mapping of name, port, type...");
		line = ep_line(p);
		if (out->n == ENDPOINTS_MAX)
			return ep_fail(p, line, "at most %d endpoints are allowed",
			    ENDPOINTS_MAX);
		if (ep_endpoint(p, &out->ep[out->n]) < 0 ||
		    ep_unique(p, out, line) < 0)
			return -1;
		out->n++;
	}
	if (out->n == 0)
		return ep_fail(p, start, "endpoints must list at least one "
		    "endpoint");
	return 0;
}

static int
ep_version(struct ep_parser *p, struct endpoints *out)
{
	if (ep_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_SCALAR_EVENT || strcmp(ep_scalar(p), "0.1") != 0)
		return ep_fail(p, ep_line(p), "version must be 0.1");
	snprintf(out->version, sizeof(out->version), "0.1");
	return 0;
}

/* The top-level mapping (MAPPING_START already read). */
static int
ep_top(struct ep_parser *p, struct endpoints *out)
{
	int have_version = 0, have_list = 0;
	char shown[48];

	for (;;) {
		if (ep_next(p) < 0)
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (p->ev.type != YAML_SCALAR_EVENT)
			return ep_fail(p, ep_line(p), "keys must be plain names");
		if (strcmp(ep_scalar(p), "version") == 0 && !have_version) {
			have_version = 1;
			if (ep_version(p, out) < 0)
				return -1;
		} else if (strcmp(ep_scalar(p), "endpoints") == 0 && !have_list) {
			have_list = 1;
			if (ep_list(p, out) < 0)
				return -1;
		} else if (strcmp(ep_scalar(p), "version") == 0 ||
		    strcmp(ep_scalar(p), "endpoints") == 0) {
			return ep_fail(p, ep_line(p), "duplicate key %s",
			    ep_scalar(p));
		} else {
			return ep_fail(p, ep_line(p), "unknown key \"%s\" "
			    "(expected version, endpoints)",
			    ep_printable(ep_scalar(p), shown, sizeof(shown)));
		}
	}
	if (!have_version)
		return ep_fail(p, 1, "version is required (version: 0.1)");
	if (!have_list)
		return ep_fail(p, 1, "endpoints is required");
	return 0;
}

static int
ep_stream(struct ep_parser *p, struct endpoints *out)
{
	if (ep_expect(p, YAML_STREAM_START_EVENT, "a YAML stream") < 0)
		return -1;
	if (ep_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_DOCUMENT_START_EVENT)
		return ep_fail(p, ep_line(p), "the document is empty");
	if (ep_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_MAPPING_START_EVENT)
		return ep_fail(p, ep_line(p), "the document must be a mapping "
		    "with version and endpoints");
	if (ep_top(p, out) < 0)
		return -1;
	if (ep_expect(p, YAML_DOCUMENT_END_EVENT, "the end of the document") < 0)
		return -1;
	if (ep_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_STREAM_END_EVENT)
		return ep_fail(p, ep_line(p), "only one YAML document is allowed");
	return 0;
}

int
endpoints_parse(const char *text, size_t len, struct endpoints *out,
    struct error *err)
{
	struct ep_parser p;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	p.err = err;
	if (len > ENDPOINTS_YAML_MAX)
		return ep_fail(&p, 1, "the file is larger than %d bytes",
		    ENDPOINTS_YAML_MAX);
	if (len == 0)
		return ep_fail(&p, 1, "the document is empty");
	if (memchr(text, '\0', len) != NULL)
		return ep_fail(&p, 1, "the file must be UTF-8 text");
	if (!yaml_parser_initialize(&p.yp))
		return ep_fail(&p, 1, "out of memory");
	yaml_parser_set_input_string(&p.yp, (const unsigned char *)text, len);
	rc = ep_stream(&p, out);
	if (p.have)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.yp);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

json_t *
endpoints_to_json(const struct endpoints *e)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr != NULL && i < e->n; i++) {
		const struct endpoint *ep = &e->ep[i];
		json_array_append_new(arr, json_pack("{s:s, s:i, s:s, s:s, s:s, s:s}",
		    "name", ep->name, "port", (int)ep->port, "type", ep->type,
		    "visibility", ep->visibility, "context", ep->context,
		    "schema_file_path", ep->schema_file_path));
	}
	return arr;
}
