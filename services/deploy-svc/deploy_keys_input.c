/*
 * deploy_keys_input.c: what an org key is made of before it is stored or
 * published, checked without touching anything: the body of POST
 * /v1/orgs/{org}/keys, and the OrgKey record (deploy.proto) that announces
 * a key to every management service. Pure, so unit tests cover it whole.
 *
 * Statuses: a body that is not {"name": string, "role": string} is 400
 * (unknown_field, missing_field for the name, invalid_field for a value of
 * the wrong type); a well-formed one whose values make no sense is 422
 * (invalid_field for the name, invalid_role). A missing role is
 * invalid_role too: no role is not one of the three.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "deploy.h"
#include "json.h"

/* Fills err and *status for one refusal. */
static int LOG_PRINTF(5, 6)
deploy_keys_input_bad(int *status, struct error *err, int code,
    const char *field, const char *fmt, ...)
{
	va_list ap;

	*status = code;
	error_clear(err);
	snprintf(err->code, sizeof(err->code), "%s",
	    code == 422 && strcmp(field, "role") == 0 ? "invalid_role" :
	    "invalid_field");
	snprintf(err->field, sizeof(err->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * A key's name: 1 to DEPLOY_KEY_NAME_MAX characters (code points) of UTF-8,
 * no control characters, so a listing prints as one line.
 */
int
deploy_keys_input_name_valid(const char *s)
{
	size_t chars = 0;

	if (s == NULL || s[0] == '\0' ||
	    !json_utf8_valid(s, 4 * DEPLOY_KEY_NAME_MAX))
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if ((*p & 0xc0) != 0x80)
			chars++;
	}
	return chars <= DEPLOY_KEY_NAME_MAX;
}

/*
 * A string member: 400 when not a string (NUL inside too), or when absent
 * and required; "" when absent and not required.
 */
static const char *
deploy_keys_input_string(json_t *body, const char *key, int required,
    int *status, struct error *err)
{
	json_t *v = json_object_get(body, key);
	const char *s;

	if ((v == NULL || json_is_null(v)) && !required)
		return "";
	if (v == NULL || json_is_null(v)) {
		*status = 400;
		error_set(err, "missing_field", key, "%s is required", key);
		return NULL;
	}
	s = json_string_value(v);
	if (s == NULL || strlen(s) != json_string_length(v)) {
		deploy_keys_input_bad(status, err, 400, key, "%s must be a string",
		    key);
		return NULL;
	}
	return s;
}

int
deploy_keys_input_parse(json_t *body, struct deploy_key_request *out,
    int *status, struct error *err)
{
	static const char *const keys[] = { "name", "role", NULL };
	const char *role;

	memset(out, 0, sizeof(*out));
	error_clear(err);
	if (!json_is_object(body))
		return deploy_keys_input_bad(status, err, 400, "",
		    "the body must be a JSON object");
	if (json_only_keys(body, keys, err) == -1) {
		*status = 400;
		return -1;
	}
	if ((out->name = deploy_keys_input_string(body, "name", 1, status,
	    err)) == NULL ||
	    (role = deploy_keys_input_string(body, "role", 0, status,
	    err)) == NULL)
		return -1;
	if (!deploy_keys_input_name_valid(out->name))
		return deploy_keys_input_bad(status, err, 422, "name",
		    "name must be 1 to %d characters without control characters",
		    DEPLOY_KEY_NAME_MAX);
	if ((out->role = apikey_role_parse(role)) == APIKEY_NONE)
		return deploy_keys_input_bad(status, err, 422, "role",
		    "role must be viewer, deployer or admin");
	return 0;
}

/* Points ok's fields into k, which must outlive ok. */
void
deploy_keys_input_to_proto(const struct deploy_key *k, Slipway__V1__OrgKey *ok)
{
	slipway__v1__org_key__init(ok);
	ok->key_id = DEPLOY_STR(k->id);
	ok->org = DEPLOY_STR(k->org);
	ok->name = DEPLOY_STR(k->name);
	ok->role = DEPLOY_STR(apikey_role_name(k->role));
	ok->key_hash = DEPLOY_STR(k->hash);
	ok->prefix = DEPLOY_STR(k->prefix);
	ok->revoked = k->revoked;
	ok->created_at_ms = k->created_at_ms;
}
