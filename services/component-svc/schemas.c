/*
 * schemas.c: the rules of a set of schema files uploaded with
 * endpoints.yaml. A file is referred to by its name alone, never a path;
 * every schemaFilePath of the YAML must be in the set, and every file in
 * the set must be named by an endpoint, so what is stored is exactly what
 * the endpoints describe. The endpoint's type says what the file must be:
 * REST takes OpenAPI (2 or 3, YAML or JSON), GraphQL takes SDL.
 */
#include <stdio.h>
#include <string.h>
#include "component.h"
#include "crypto.h"

int
schema_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	/* No leading '.': no ".", "..", and no hidden files either. */
	if (n == 0 || n > SCHEMA_NAME_MAX || name[0] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Bytes in one UTF-8 sequence led by c (0 when c cannot lead one). */
static size_t
schema_utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

int
schema_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned cp;

	while (i < len) {
		if (s[i] == '\0' || (n = schema_utf8_len(s[i])) == 0 ||
		    n > len - i)
			return 0;
		cp = n == 1 ? s[i] : s[i] & (0x7fu >> n);
		for (k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		/* Overlong forms, surrogates and past U+10FFFF are not UTF-8. */
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += n;
	}
	return 1;
}

static struct schema_file *
schemas_find(struct schema_set *set, const char *name)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->f[i].name, name) == 0)
			return &set->f[i];
	return NULL;
}

/* JSON when the first significant byte opens an object. */
static const char *
schemas_yaml_or_json(const struct schema_file *f)
{
	size_t i;

	for (i = 0; i < f->len; i++)
		if (f->data[i] != ' ' && f->data[i] != '\t' && f->data[i] != '\r' &&
		    f->data[i] != '\n')
			break;
	return i < f->len && f->data[i] == '{' ? "application/json" :
	    "application/yaml";
}

static const char *
schemas_graphql_type(const struct schema_file *f)
{
	(void)f;
	return "application/graphql";
}

/* What each endpoint type's schema file is, how it is checked and served. */
static const struct schema_kind {
	const char *endpoint_type, *kind, *what;
	int (*check)(const char *, const unsigned char *, size_t, struct error *);
	const char *(*media_type)(const struct schema_file *);
} schema_kinds[] = {
	{ "REST", "openapi", "OpenAPI", schema_openapi_check,
	  schemas_yaml_or_json },
	{ "GraphQL", "graphql", "GraphQL SDL", schema_graphql_check,
	  schemas_graphql_type },
	{ "WS", "asyncapi", "AsyncAPI", schema_asyncapi_check,
	  schemas_yaml_or_json },
};
#define NSCHEMA_KINDS (sizeof(schema_kinds) / sizeof(schema_kinds[0]))

/* By endpoint type (NULL: it cannot have a schema file) or by kind. */
static const struct schema_kind *
schemas_kind_find(const char *endpoint_type, const char *kind)
{
	for (size_t i = 0; i < NSCHEMA_KINDS; i++)
		if ((endpoint_type != NULL && strcmp(schema_kinds[i].endpoint_type,
		    endpoint_type) == 0) || (kind != NULL &&
		    strcmp(schema_kinds[i].kind, kind) == 0))
			return &schema_kinds[i];
	return NULL;
}

/* One endpoint's schemaFilePath: a name, of a file uploaded, of its kind. */
static int
schemas_endpoint(const struct endpoint *e, struct schema_set *set,
    struct error *err)
{
	const struct schema_kind *k = schemas_kind_find(e->type, NULL);
	struct schema_file *f;

	if (!schema_name_valid(e->schema_file_path)) {
		error_set(err, "invalid_endpoints", "endpoints", "endpoints.yaml "
		    "line %zu: schemaFilePath must be a file name (letters, digits, "
		    "'.', '_', '-'; not starting with '.'), not a path",
		    e->schema_line);
		return -1;
	}
	if (k == NULL) {
		error_set(err, "invalid_endpoints", "endpoints", "endpoints.yaml "
		    "line %zu: schema files are for REST (OpenAPI), GraphQL (SDL) "
		    "and WS (AsyncAPI) endpoints, not %s", e->schema_line, e->type);
		return -1;
	}
	if ((f = schemas_find(set, e->schema_file_path)) == NULL) {
		error_set(err, "missing_schema", "endpoints", "endpoints.yaml line "
		    "%zu: endpoint \"%.64s\" names schema file %.100s, which was not "
		    "uploaded", e->schema_line, e->name, e->schema_file_path);
		return -1;
	}
	if (f->kind != NULL && strcmp(f->kind, k->kind) != 0) {
		error_set(err, "invalid_endpoints", "endpoints", "endpoints.yaml "
		    "line %zu: %.100s is named by endpoints of different types "
		    "(one file is one kind of schema)", e->schema_line, f->name);
		return -1;
	}
	f->kind = k->kind;
	return 0;
}

/* The file's content, by its kind. */
static int
schemas_content(struct schema_file *f, struct error *err)
{
	const struct schema_kind *k = schemas_kind_find(NULL, f->kind);

	if (k->check(f->name, f->data, f->len, err) < 0)
		return -1;
	f->media_type = k->media_type(f);
	crypto_sha256_hex(f->data, f->len, f->sha256);
	return 0;
}

int
schemas_add(struct schema_set *set, const char *name,
    const unsigned char *data, size_t len, int *status, struct error *err)
{
	struct schema_file *f;

	*status = 422;
	if (!schema_name_valid(name)) {
		error_set(err, "invalid_schema_name", "schemas", "schema file names "
		    "must be 1-%d letters, digits, '.', '_' or '-', not starting "
		    "with '.' (a name, never a path)", SCHEMA_NAME_MAX);
		return -1;
	}
	if (schemas_find(set, name) != NULL) {
		error_set(err, "duplicate_schema", "schemas", "schema file %.100s "
		    "is uploaded twice", name);
		return -1;
	}
	if (set->n == SCHEMAS_MAX) {
		error_set(err, "too_many_schemas", "schemas", "at most %d schema "
		    "files may be uploaded", SCHEMAS_MAX);
		return -1;
	}
	if (len > SCHEMA_FILE_MAX) {
		*status = 413;
		error_set(err, "schema_too_large", "schemas", "schema file %.100s "
		    "is larger than %d bytes", name, SCHEMA_FILE_MAX);
		return -1;
	}
	f = &set->f[set->n++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->data = data;
	f->len = len;
	return 0;
}

int
schemas_check(const struct endpoints *eps, struct schema_set *set,
    struct error *err)
{
	size_t i;

	for (i = 0; i < eps->n; i++)
		if (eps->ep[i].schema_file_path[0] != '\0' &&
		    schemas_endpoint(&eps->ep[i], set, err) < 0)
			return -1;
	for (i = 0; i < set->n; i++) {
		if (set->f[i].kind == NULL) {
			error_set(err, "unused_schema", "schemas", "schema file %.100s "
			    "was uploaded but no endpoint's schemaFilePath names it",
			    set->f[i].name);
			return -1;
		}
		if (schemas_content(&set->f[i], err) < 0)
			return -1;
	}
	return 0;
}
