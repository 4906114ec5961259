/*
 * kube_yaml.c: a JSON value as a YAML document (pure), for `render`.
 *
 * Block style, two spaces per level; every string is a double-quoted
 * scalar written with JSON's escapes, which YAML's double-quoted style
 * reads the same (\", \\, \/, \b, \f, \n, \r, \t, \uXXXX), so no value can
 * turn into another type ("true", "1", "null", "0x10") or break the
 * structure. Numbers, booleans and null are plain; empty objects and
 * arrays are {} and [].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define KUBE_YAML_DEPTH_MAX 64

static int kube_yaml_value(FILE *f, json_t *v, int depth);

static int
kube_yaml_indent(FILE *f, int depth)
{
	for (int i = 0; i < depth; i++)
		if (fputs("  ", f) == EOF)
			return -1;
	return 0;
}

static int
kube_yaml_scalar(FILE *f, json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	int rc;

	if (s == NULL)
		return -1;
	rc = fputs(s, f) == EOF ? -1 : 0;
	free(s);
	return rc;
}

/* 1 when v is written inline after its key or dash. */
static int
kube_yaml_inline(json_t *v)
{
	return !(json_is_object(v) && json_object_size(v) > 0) &&
	    !(json_is_array(v) && json_array_size(v) > 0);
}

static int
kube_yaml_inline_value(FILE *f, json_t *v)
{
	if (json_is_object(v))
		return fputs("{}", f) == EOF ? -1 : 0;
	if (json_is_array(v))
		return fputs("[]", f) == EOF ? -1 : 0;
	return kube_yaml_scalar(f, v);
}

static int
kube_yaml_object(FILE *f, json_t *o, int depth)
{
	const char *key;
	json_t *v, *k;
	void *it;
	int rc = 0;
	const char **keys;
	size_t n = 0, cap = json_object_size(o);

	/* Sorted keys: the same objects always make the same files. */
	if ((keys = calloc(cap ? cap : 1, sizeof(*keys))) == NULL)
		return -1;
	for (it = json_object_iter(o); it != NULL; it = json_object_iter_next(o,
	    it))
		keys[n++] = json_object_iter_key(it);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	for (size_t i = 0; i < n && rc == 0; i++) {
		key = keys[i];
		v = json_object_get(o, key);
		k = json_string(key);
		rc = kube_yaml_indent(f, depth) || kube_yaml_scalar(f, k) ||
		    fputc(':', f) == EOF;
		json_decref(k);
		if (rc == 0 && kube_yaml_inline(v))
			rc = fputc(' ', f) == EOF || kube_yaml_inline_value(f, v) ||
			    fputc('\n', f) == EOF;
		else if (rc == 0)
			rc = fputc('\n', f) == EOF || kube_yaml_value(f, v, depth + 1);
	}
	free(keys);
	return rc ? -1 : 0;
}

static int
kube_yaml_array(FILE *f, json_t *a, int depth)
{
	json_t *v;
	size_t i;

	json_array_foreach(a, i, v) {
		if (kube_yaml_indent(f, depth) || fputs("-", f) == EOF)
			return -1;
		if (kube_yaml_inline(v)) {
			if (fputc(' ', f) == EOF || kube_yaml_inline_value(f, v) ||
			    fputc('\n', f) == EOF)
				return -1;
		} else if (fputc('\n', f) == EOF || kube_yaml_value(f, v, depth + 1))
			return -1;
	}
	return 0;
}

static int
kube_yaml_value(FILE *f, json_t *v, int depth)
{
	if (depth > KUBE_YAML_DEPTH_MAX)
		return -1;
	if (json_is_object(v) && json_object_size(v) > 0)
		return kube_yaml_object(f, v, depth);
	if (json_is_array(v) && json_array_size(v) > 0)
		return kube_yaml_array(f, v, depth);
	return kube_yaml_indent(f, depth) || kube_yaml_inline_value(f, v) ||
	    fputc('\n', f) == EOF ? -1 : 0;
}

int
kube_yaml_write(FILE *f, json_t *doc)
{
	if (fputs("---\n", f) == EOF)
		return -1;
	return kube_yaml_value(f, doc, 0);
}
