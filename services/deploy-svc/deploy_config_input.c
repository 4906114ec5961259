/*
 * deploy_config_input.c: the checks of configuration and secrets input,
 * pure so unit tests reach every branch. Names follow POSIX environment
 * rules, values are at most 32 KiB without NUL (an environment string
 * cannot hold one), a component+environment holds at most 200 names,
 * variables and secrets together, and names the platform sets are refused.
 */
#include <stdio.h>
#include <string.h>

#include "deploy.h"
#include "json.h"

/* What the platform sets in every container: never the user's to give. */
static const char *const deploy_config_reserved[] = { "PORT", NULL };

int
deploy_config_input_name_valid(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > DEPLOY_CONFIG_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_") == n;
}

int
deploy_config_input_name_reserved(const char *s)
{
	for (size_t i = 0; deploy_config_reserved[i] != NULL; i++)
		if (strcmp(s, deploy_config_reserved[i]) == 0)
			return 1;
	return 0;
}

int
deploy_config_input_check(const char *name, const char *value,
    size_t value_len, int *status, struct error *err)
{
	*status = 422;
	if (!deploy_config_input_name_valid(name)) {
		error_set(err, "invalid_name", "name", "a name is letters, digits "
		    "and _, not starting with a digit, at most %d characters",
		    DEPLOY_CONFIG_NAME_MAX);
		return -1;
	}
	if (deploy_config_input_name_reserved(name)) {
		error_set(err, "reserved_name", "name", "%s is set by the platform",
		    name);
		return -1;
	}
	if (value == NULL)
		return 0;
	if (value_len > DEPLOY_CONFIG_VALUE_MAX) {
		error_set(err, "value_too_large", name, "the value of %s is over "
		    "%d bytes", name, DEPLOY_CONFIG_VALUE_MAX);
		return -1;
	}
	if (memchr(value, '\0', value_len) != NULL) {
		error_set(err, "invalid_value", name, "the value of %s holds a NUL "
		    "character", name);
		return -1;
	}
	return 0;
}

int
deploy_config_input_count(size_t n, size_t total, int *status,
    struct error *err)
{
	*status = 422;
	if (n > DEPLOY_CONFIG_VARS_MAX) {
		error_set(err, "too_many_variables", "vars", "at most %d variables "
		    "and secrets per component and environment (%zu given)",
		    DEPLOY_CONFIG_VARS_MAX, n);
		return -1;
	}
	if (total > DEPLOY_CONFIG_TOTAL_MAX) {
		error_set(err, "config_too_large", "vars", "the names and values of "
		    "a component and environment total at most %d bytes",
		    DEPLOY_CONFIG_TOTAL_MAX);
		return -1;
	}
	return 0;
}

/*
 * Secrets count their plaintext size, which is not stored: the ciphertext's
 * base64 over-counts it by a third, a safe bound.
 */
size_t
deploy_config_input_total(json_t *vars, json_t *secrets)
{
	const char *name;
	json_t *v;
	size_t t = 0;

	json_object_foreach(vars, name, v)
		t += strlen(name) + json_string_length(v);
	json_object_foreach(secrets, name, v)
		t += strlen(name) +
		    json_string_length(json_object_get(v, "ciphertext")) * 3 / 4;
	return t;
}

int
deploy_config_input_vars(json_t *body, int *status, struct error *err)
{
	static const char *const keys[] = { "vars", NULL };
	json_t *vars = json_object_get(body, "vars"), *v;
	const char *name;

	*status = 400;
	if (json_only_keys(body, keys, err) == -1)
		return -1;
	if (!json_is_object(vars)) {
		error_set(err, vars == NULL ? "missing_field" : "invalid_field",
		    "vars", "vars must be an object of names to strings");
		return -1;
	}
	json_object_foreach(vars, name, v) {
		if (!json_is_string(v)) {
			*status = 422;
			error_set(err, "invalid_value", name, "the value of %.64s must "
			    "be a string", name);
			return -1;
		}
		if (deploy_config_input_check(name, json_string_value(v),
		    json_string_length(v), status, err) == -1)
			return -1;
	}
	return deploy_config_input_count(json_object_size(vars),
	    deploy_config_input_total(vars, NULL), status, err);
}

const char *
deploy_config_input_secret(json_t *body, size_t *len, int *status,
    struct error *err)
{
	static const char *const keys[] = { "value", NULL };
	json_t *v = json_object_get(body, "value");

	*status = 400;
	if (json_only_keys(body, keys, err) == -1)
		return NULL;
	if (!json_is_string(v)) {
		error_set(err, v == NULL ? "missing_field" : "invalid_field",
		    "value", "value must be a string");
		return NULL;
	}
	*len = json_string_length(v);
	*status = 422;
	if (*len > DEPLOY_CONFIG_VALUE_MAX) {
		error_set(err, "value_too_large", "value", "a secret is at most "
		    "%d bytes", DEPLOY_CONFIG_VALUE_MAX);
		return NULL;
	}
	if (memchr(json_string_value(v), '\0', *len) != NULL) {
		error_set(err, "invalid_value", "value", "a secret cannot hold a "
		    "NUL character");
		return NULL;
	}
	return json_string_value(v);
}
