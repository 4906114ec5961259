/*
 * schema_openapi.c: the top-level shape of an OpenAPI document, Swagger 2.0
 * ("swagger": "2.0") or OpenAPI 3 ("openapi": 3.x.y), in YAML or JSON; and of
 * an AsyncAPI document ("asyncapi": 2.x.y or 3.x.y, a WS endpoint's schema),
 * which has the same outline: a version field, info, and channels where
 * OpenAPI has paths.
 *
 * libyaml reads JSON as the YAML it is, so one event walk serves both and
 * every error has the line it was found on. As in endpoints.c, the event
 * API refuses anchors and aliases before anything is expanded, and nothing
 * is built: values the check does not look into are skipped, with a depth
 * cap. What is checked is what a gateway or a portal needs to show the
 * API: the version field, info with title and version, and paths (a
 * mapping of "/..." keys); the rest of the document is the owner's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>
#include "component.h"

#define OA_DEPTH_MAX 64

struct oa_parser {
	yaml_parser_t yp;
	yaml_event_t ev;
	int have;            /* ev holds an event to delete */
	const char *file;
	int async;           /* checking an AsyncAPI document */
	struct error *err;
};

/* What the top level said. */
struct oa_doc {
	int major, minor;        /* 2.0, 3.0, 3.1... ; 0 when no version field */
	size_t version_line;
	int info, paths, components, webhooks, channels;
};

static int oa_fail(struct oa_parser *p, size_t line, const char *fmt, ...)
    LOG_PRINTF(3, 4);

static int
oa_fail(struct oa_parser *p, size_t line, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	error_set(p->err, "invalid_schema", "schemas", "%s line %zu: %s",
	    p->file, line, why);
	return -1;
}

static size_t
oa_line(const struct oa_parser *p)
{
	return p->ev.start_mark.line + 1;
}

static int
oa_next(struct oa_parser *p)
{
	const yaml_event_t *e = &p->ev;

	if (p->have)
		yaml_event_delete(&p->ev);
	p->have = 0;
	if (!yaml_parser_parse(&p->yp, &p->ev))
		return oa_fail(p, p->yp.problem_mark.line + 1, "%s",
		    p->yp.problem != NULL ? p->yp.problem : "malformed YAML");
	p->have = 1;
	if (e->type == YAML_ALIAS_EVENT ||
	    (e->type == YAML_SCALAR_EVENT && e->data.scalar.anchor != NULL) ||
	    (e->type == YAML_SEQUENCE_START_EVENT &&
	    e->data.sequence_start.anchor != NULL) ||
	    (e->type == YAML_MAPPING_START_EVENT &&
	    e->data.mapping_start.anchor != NULL))
		return oa_fail(p, oa_line(p), "anchors and aliases are not allowed");
	return 0;
}

static const char *
oa_scalar(const struct oa_parser *p)
{
	return (const char *)p->ev.data.scalar.value;
}

/* Skips the node whose first event was just read, nested ones included. */
static int
oa_skip(struct oa_parser *p)
{
	size_t depth = 0;

	for (;;) {
		switch (p->ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > OA_DEPTH_MAX)
				return oa_fail(p, oa_line(p), "nested deeper than %d "
				    "levels", OA_DEPTH_MAX);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (depth == 0)
			return 0;
		if (oa_next(p) < 0)
			return -1;
	}
}

/* A non-empty scalar value for key (the value's first event read). */
static int
oa_text(struct oa_parser *p, const char *key)
{
	if (p->ev.type != YAML_SCALAR_EVENT || p->ev.data.scalar.length == 0)
		return oa_fail(p, oa_line(p), "%s must be a non-empty string", key);
	return 0;
}

/* Reads a number "N" at s into *out; the position after it, or NULL. */
static const char *
oa_number(const char *s, int *out)
{
	long v = 0;

	if (*s < '0' || *s > '9')
		return NULL;
	while (*s >= '0' && *s <= '9' && v < 1000)
		v = v * 10 + (*s++ - '0');
	*out = (int)v;
	return v < 1000 ? s : NULL;
}

/* "M.m.p" (a suffix such as -rc1 allowed) into major and minor; -1 if not. */
static int
oa_semver(const char *s, int *major, int *minor)
{
	int patch;

	if ((s = oa_number(s, major)) == NULL || *s++ != '.' ||
	    (s = oa_number(s, minor)) == NULL || *s++ != '.' ||
	    (s = oa_number(s, &patch)) == NULL || (*s != '\0' && *s != '-'))
		return -1;
	return 0;
}

/*
 * The version field (its key just read): openapi: 3.x.y or swagger: "2.0",
 * or for AsyncAPI asyncapi: 2.x.y or 3.x.y.
 */
static int
oa_version(struct oa_parser *p, struct oa_doc *d, const char *key)
{
	const char *s;

	if (d->major != 0)
		return oa_fail(p, oa_line(p), "both swagger and openapi are given");
	d->version_line = oa_line(p);
	if (oa_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_SCALAR_EVENT)
		return oa_fail(p, oa_line(p), "%s must be a version string", key);
	s = oa_scalar(p);
	if (strcmp(key, "swagger") == 0) {
		if (strcmp(s, "2.0") != 0)
			return oa_fail(p, oa_line(p), "swagger must be \"2.0\"");
		d->major = 2;
		return 0;
	}
	if (strcmp(key, "asyncapi") == 0) {
		if (oa_semver(s, &d->major, &d->minor) == -1 ||
		    (d->major != 2 && d->major != 3)) {
			d->major = 0;
			return oa_fail(p, oa_line(p), "asyncapi must be a 2.x.y or "
			    "3.x.y version");
		}
		return 0;
	}
	if (oa_semver(s, &d->major, &d->minor) == -1 || d->major != 3) {
		d->major = 0;
		return oa_fail(p, oa_line(p), "openapi must be a 3.x.y version "
		    "(Swagger 2.0 documents use swagger: \"2.0\")");
	}
	return 0;
}

/*
 * info: a mapping with title and version (other keys are the owner's). A
 * missing one is reported on the line of the info key.
 */
static int
oa_info(struct oa_parser *p)
{
	size_t line = oa_line(p);
	int title = 0, version = 0;

	if (oa_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_MAPPING_START_EVENT)
		return oa_fail(p, oa_line(p), "info must be a mapping with title "
		    "and version");
	for (;;) {
		if (oa_next(p) < 0)
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (p->ev.type != YAML_SCALAR_EVENT)
			return oa_fail(p, oa_line(p), "info keys must be strings");
		int *seen = strcmp(oa_scalar(p), "title") == 0 ? &title :
		    strcmp(oa_scalar(p), "version") == 0 ? &version : NULL;
		const char *key = seen == &title ? "info.title" : "info.version";
		if (oa_next(p) < 0)
			return -1;
		if (seen == NULL) {
			if (oa_skip(p) < 0)
				return -1;
			continue;
		}
		if (oa_text(p, key) < 0)
			return -1;
		*seen = 1;
	}
	if (!title || !version)
		return oa_fail(p, line, "info must have %s", !title ? "a title" :
		    "a version");
	return 0;
}

/* paths: a mapping of "/path" (or x- extension) keys. */
static int
oa_paths(struct oa_parser *p)
{
	char shown[40];

	if (oa_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_MAPPING_START_EVENT)
		return oa_fail(p, oa_line(p), "paths must be a mapping of "
		    "\"/path\" keys");
	for (;;) {
		if (oa_next(p) < 0)
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		if (p->ev.type != YAML_SCALAR_EVENT || (oa_scalar(p)[0] != '/' &&
		    strncmp(oa_scalar(p), "x-", 2) != 0)) {
			snprintf(shown, sizeof(shown), "%s", p->ev.type ==
			    YAML_SCALAR_EVENT ? oa_scalar(p) : "?");
			for (char *c = shown; *c != '\0'; c++)
				if ((unsigned char)*c < 0x20 || *c == '"' ||
				    (unsigned char)*c >= 0x7f)
					*c = '?';
			return oa_fail(p, oa_line(p), "paths key \"%s\" must start "
			    "with '/'", shown);
		}
		if (oa_next(p) < 0 || oa_skip(p) < 0)
			return -1;
	}
}

/* channels (AsyncAPI): a mapping of channel names; what is in it is the
 * owner's. */
static int
oa_channels(struct oa_parser *p)
{
	if (oa_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_MAPPING_START_EVENT)
		return oa_fail(p, oa_line(p), "channels must be a mapping of "
		    "channel names");
	return oa_skip(p);
}

/* A top-level key other than the ones checked: skipped after its mark. */
static int
oa_other(struct oa_parser *p, int *flag)
{
	if (flag != NULL)
		*flag = 1;
	return oa_next(p) < 0 ? -1 : oa_skip(p);
}

/*
 * The top-level keys looked at, by position: each document kind checks its
 * own and refuses the other's version field with a word on which endpoint
 * type that document is for.
 */
enum oa_key { OA_OPENAPI, OA_SWAGGER, OA_ASYNCAPI, OA_INFO, OA_PATHS,
	OA_CHANNELS, OA_COMPONENTS, OA_WEBHOOKS, OA_NKEYS };
static const char *const oa_keys[OA_NKEYS] = { "openapi", "swagger",
	"asyncapi", "info", "paths", "channels", "components", "webhooks" };

/* One "key: value" of the top level (key event read); seen tracks dups. */
static int
oa_top_pair(struct oa_parser *p, struct oa_doc *d, unsigned *seen)
{
	const char *key;
	unsigned i;

	if (p->ev.type != YAML_SCALAR_EVENT)
		return oa_fail(p, oa_line(p), "top-level keys must be strings");
	key = oa_scalar(p);
	for (i = 0; i < OA_NKEYS && strcmp(oa_keys[i], key) != 0; i++)
		;
	if (i == OA_NKEYS)
		return oa_other(p, NULL);
	if (*seen & (1u << i))
		return oa_fail(p, oa_line(p), "duplicate key %s", oa_keys[i]);
	*seen |= 1u << i;
	switch ((enum oa_key)i) {
	case OA_OPENAPI:
	case OA_SWAGGER:
		if (p->async)
			return oa_fail(p, oa_line(p), "this is an OpenAPI document "
			    "(for a REST endpoint); a WS endpoint's schema is an "
			    "AsyncAPI document (asyncapi: 2.x.y or 3.x.y)");
		return oa_version(p, d, oa_keys[i]);
	case OA_ASYNCAPI:
		if (!p->async)
			return oa_fail(p, oa_line(p), "this is an AsyncAPI document "
			    "(for a WS endpoint); a REST endpoint's schema is an "
			    "OpenAPI document");
		return oa_version(p, d, oa_keys[i]);
	case OA_INFO:
		d->info = 1;
		return oa_info(p);
	case OA_PATHS:
		if (p->async)
			return oa_other(p, NULL);
		d->paths = 1;
		return oa_paths(p);
	case OA_CHANNELS:
		if (!p->async)
			return oa_other(p, NULL);
		d->channels = 1;
		return oa_channels(p);
	case OA_COMPONENTS:
		return oa_other(p, &d->components);
	default:
		return oa_other(p, &d->webhooks);
	}
}

/* What the whole top level must have had, by version. */
static int
oa_finish(struct oa_parser *p, const struct oa_doc *d)
{
	if (p->async) {
		if (d->major == 0)
			return oa_fail(p, 1, "not an AsyncAPI document: it needs "
			    "asyncapi: 2.x.y or 3.x.y");
		if (!d->info)
			return oa_fail(p, 1, "info (with title and version) is "
			    "required");
		/* AsyncAPI 3 moved operations out: channels became optional. */
		if (d->major == 2 && !d->channels)
			return oa_fail(p, 1, "channels is required");
		return 0;
	}
	if (d->major == 0)
		return oa_fail(p, 1, "not an OpenAPI document: it needs "
		    "openapi: 3.x.y or swagger: \"2.0\"");
	if (!d->info)
		return oa_fail(p, 1, "info (with title and version) is required");
	/* OpenAPI 3.1 lets a document hold only components or webhooks. */
	if (d->major == 3 && d->minor >= 1) {
		if (!d->paths && !d->components && !d->webhooks)
			return oa_fail(p, 1, "an OpenAPI 3.1 document needs paths, "
			    "components or webhooks");
	} else if (!d->paths) {
		return oa_fail(p, 1, "paths is required");
	}
	return 0;
}

static int
oa_document(struct oa_parser *p)
{
	struct oa_doc d;
	unsigned seen = 0;

	memset(&d, 0, sizeof(d));
	if (oa_next(p) < 0 || oa_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_DOCUMENT_START_EVENT)
		return oa_fail(p, oa_line(p), "the document is empty");
	if (oa_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_MAPPING_START_EVENT)
		return oa_fail(p, oa_line(p), "the document must be a mapping "
		    "(an object)");
	for (;;) {
		if (oa_next(p) < 0)
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (oa_top_pair(p, &d, &seen) < 0)
			return -1;
	}
	if (oa_finish(p, &d) < 0 || oa_next(p) < 0 || oa_next(p) < 0)
		return -1;
	if (p->ev.type != YAML_STREAM_END_EVENT)
		return oa_fail(p, oa_line(p), "only one YAML document is allowed");
	return 0;
}

static int
oa_check(const char *file, int async, const unsigned char *text, size_t len,
    struct error *err)
{
	struct oa_parser p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.file = file;
	p.async = async;
	p.err = err;
	if (len > SCHEMA_FILE_MAX)
		return oa_fail(&p, 1, "the file is larger than %d bytes",
		    SCHEMA_FILE_MAX);
	if (len == 0)
		return oa_fail(&p, 1, "the file is empty");
	if (memchr(text, '\0', len) != NULL)
		return oa_fail(&p, 1, "the file must be UTF-8 text");
	if (!yaml_parser_initialize(&p.yp))
		return oa_fail(&p, 1, "out of memory");
	yaml_parser_set_input_string(&p.yp, text, len);
	rc = oa_document(&p);
	if (p.have)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.yp);
	return rc;
}

int
schema_openapi_check(const char *file, const unsigned char *text, size_t len,
    struct error *err)
{
	return oa_check(file, 0, text, len, err);
}

int
schema_asyncapi_check(const char *file, const unsigned char *text, size_t len,
    struct error *err)
{
	return oa_check(file, 1, text, len, err);
}
