/*
 * json.h: validated field access on jansson objects from outside input.
 * Each getter checks presence, type and size, and on failure fills err with
 * code "invalid_field" (or "missing_field") and the field name.
 */
#ifndef SLIPWAY_JSON_H
#define SLIPWAY_JSON_H

#include <stddef.h>
#include <jansson.h>
#include "error.h"

/*
 * Returns the string value (owned by obj), NULL when absent and not required
 * (err untouched), NULL with err set when invalid. maxlen counts bytes; the
 * empty string is refused for required fields.
 */
const char *json_get_string(json_t *obj, const char *key, size_t maxlen,
    int required, struct error *err);
/* Integer in [min, max]; returns 0 and *out untouched when absent and optional. */
int json_get_int(json_t *obj, const char *key, long long min, long long max,
    int required, long long *out, struct error *err);
/*
 * Refuses keys not in the NULL-terminated allowed list (code
 * "unknown_field"), so a typo never silently does nothing.
 */
int json_only_keys(json_t *obj, const char *const *allowed, struct error *err);
/*
 * 1 when s (NUL-terminated) is well-formed UTF-8 of at most maxlen bytes:
 * no overlong forms, surrogates or code points past U+10FFFF. Text from the
 * bus must pass it before it is stored or becomes a JSON string (jansson
 * and Postgres both refuse anything else).
 */
int json_utf8_valid(const char *s, size_t maxlen);
/* Copies obj's string member key into dst; -1 when missing or too long. */
int json_copy_string(json_t *obj, const char *key, char *dst, size_t size);

#endif
