/*
 * json.c: validated field access on jansson objects from outside input.
 *
 * Every getter states in its error message what a valid value looks like,
 * because the message is returned to the API caller as is.
 */
#include <string.h>

#include "json.h"

/* Looks key up; JSON null counts as absent. */
static json_t *
json_field(json_t *obj, const char *key)
{
	json_t *v;

	if (obj == NULL || !json_is_object(obj))
		return NULL;
	v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return NULL;
	return v;
}

const char *
json_get_string(json_t *obj, const char *key, size_t maxlen, int required,
    struct error *err)
{
	json_t *v = json_field(obj, key);
	const char *s;
	size_t len;

	if (v == NULL) {
		if (required)
			error_set(err, "missing_field", key, "%s is required", key);
		return NULL;
	}
	if (!json_is_string(v))
		goto invalid;
	s = json_string_value(v);
	len = json_string_length(v);
	/* An embedded NUL would make C code see a different value than JSON. */
	if (strlen(s) != len || len > maxlen)
		goto invalid;
	if (required && len == 0) {
		error_set(err, "invalid_field", key, "%s must not be empty", key);
		return NULL;
	}
	return s;
invalid:
	error_set(err, "invalid_field", key,
	    "%s must be a string of at most %zu bytes", key, maxlen);
	return NULL;
}

int
json_get_int(json_t *obj, const char *key, long long min, long long max,
    int required, long long *out, struct error *err)
{
	json_t *v = json_field(obj, key);
	long long n;

	if (v == NULL) {
		if (!required)
			return 0;
		error_set(err, "missing_field", key, "%s is required", key);
		return -1;
	}
	if (!json_is_integer(v))
		goto invalid;
	n = (long long)json_integer_value(v);
	if (n < min || n > max)
		goto invalid;
	if (out != NULL)
		*out = n;
	return 0;
invalid:
	error_set(err, "invalid_field", key,
	    "%s must be an integer between %lld and %lld", key, min, max);
	return -1;
}

static int
json_key_allowed(const char *key, const char *const *allowed)
{
	size_t i;

	for (i = 0; allowed != NULL && allowed[i] != NULL; i++)
		if (strcmp(key, allowed[i]) == 0)
			return 1;
	return 0;
}

int
json_only_keys(json_t *obj, const char *const *allowed, struct error *err)
{
	const char *key;
	json_t *v;

	if (obj == NULL || !json_is_object(obj)) {
		error_set(err, "invalid_field", "", "the body must be a JSON object");
		return -1;
	}
	json_object_foreach(obj, key, v) {
		(void)v;
		if (!json_key_allowed(key, allowed)) {
			error_set(err, "unknown_field", key,
			    "unknown field \"%.64s\"", key);
			return -1;
		}
	}
	return 0;
}

/* Length of the UTF-8 sequence at p (1..4), or 0 when it is malformed. */
static size_t
json_utf8_seq(const unsigned char *p)
{
	unsigned char c = p[0];
	size_t n, i;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	/* A NUL ends the loop here: it is never a continuation byte. */
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

int
json_utf8_valid(const char *s, size_t maxlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (s == NULL)
		return 0;
	while (*p != '\0') {
		if ((n = json_utf8_seq(p)) == 0)
			return 0;
		p += n;
		if ((size_t)(p - (const unsigned char *)s) > maxlen)
			return 0;
	}
	return 1;
}

int
json_copy_string(json_t *obj, const char *key, char *dst, size_t size)
{
	const char *s = json_string_value(json_object_get(obj, key));
	size_t n = s != NULL ? strlen(s) : 0;

	if (s == NULL || n >= size)
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}
