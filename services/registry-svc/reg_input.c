/*
 * reg_input.c: validation of a registry create or update (PATCH) request.
 * Each auth type says which fields it takes (a table); any other credential
 * field is refused, so a password sent with auth_type anonymous is an error,
 * not silently dropped. A PATCH runs the same checks on what it is given.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "registry.h"
#include "crypto.h"
#include "imageref.h"
#include "json.h"

/* [a-z0-9][a-z0-9-]{0,62} */
int
reg_input_org_valid(const char *org)
{
	size_t i;

	if (org == NULL || !(islower((unsigned char)org[0]) ||
	    isdigit((unsigned char)org[0])))
		return 0;
	for (i = 1; org[i] != '\0'; i++)
		if (i > 62 || !(islower((unsigned char)org[i]) ||
		    isdigit((unsigned char)org[i]) || org[i] == '-'))
			return 0;
	return 1;
}

static int
reg_input_port_valid(const char *p)
{
	long v = 0;
	size_t i;

	for (i = 0; p[i] != '\0'; i++) {
		if (!isdigit((unsigned char)p[i]) || i >= 5)
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return i > 0 && p[0] != '0' && v >= 1 && v <= 65535;
}

/* DNS name: dot-separated labels of [A-Za-z0-9-], 1..63, no edge '-'. */
static int
reg_input_dns_valid(const char *h, size_t len)
{
	size_t i, label = 0;

	if (len == 0 || h[0] == '.' || h[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (h[i] == '.') {
			if (label == 0 || h[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)h[i]) && h[i] != '-')
			return 0;
		if ((label == 0 && h[i] == '-') || ++label > 63)
			return 0;
	}
	return h[len - 1] != '-';
}

static int
reg_input_ipv6_valid(const char *h, size_t len)
{
	size_t i;

	if (len < 2 || len > 45)
		return 0;
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.')
			return 0;
	return memchr(h, ':', len) != NULL;
}

/* An all-numeric name is an IPv4 address: four octets 0..255. */
static int
reg_input_ipv4_valid(const char *h, size_t len)
{
	int octets = 0, v = -1;
	size_t i;

	for (i = 0; i <= len; i++) {
		if (i == len || h[i] == '.') {
			if (v < 0 || v > 255)
				return 0;
			octets++;
			v = -1;
		} else {
			v = (v < 0 ? 0 : v * 10) + (h[i] - '0');
			if (v > 255)
				return 0;
		}
	}
	return octets == 4;
}

int
reg_input_host_valid(const char *host)
{
	size_t len = strlen(host), n;
	const char *colon, *end;

	if (len == 0 || len > REG_HOST_MAX)
		return 0;
	if (host[0] == '[') {
		if ((end = strchr(host, ']')) == NULL ||
		    !reg_input_ipv6_valid(host + 1, (size_t)(end - host - 1)))
			return 0;
		return end[1] == '\0' || (end[1] == ':' &&
		    reg_input_port_valid(end + 2));
	}
	colon = strchr(host, ':');
	if (colon != NULL && !reg_input_port_valid(colon + 1))
		return 0;
	n = colon != NULL ? (size_t)(colon - host) : len;
	if (strspn(host, "0123456789.") >= n)
		return reg_input_ipv4_valid(host, n);
	return reg_input_dns_valid(host, n);
}

static const char *const reg_auth_names[] = {
	[REG_AUTH_ANONYMOUS] = "anonymous", [REG_AUTH_BASIC] = "basic",
	[REG_AUTH_DOCKER_CONFIG] = "docker-config", [REG_AUTH_VENDOR] = "vendor",
};

const char *
reg_input_auth_name(enum reg_auth a)
{
	if (a < REG_AUTH_ANONYMOUS || a > REG_AUTH_VENDOR)
		return "unknown";
	return reg_auth_names[a];
}

static int
reg_input_fail(int *status, int code, struct error *err, const char *ecode,
    const char *field, const char *msg)
{
	*status = code;
	error_set(err, ecode, field, "%s", msg);
	return -1;
}

static int
reg_input_has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* --- per auth type ------------------------------------------------------- */

static int
reg_input_basic(json_t *body, struct reg_input *in, int *status,
    struct error *err)
{
	const char *user, *pass;
	json_t *pj;

	*status = 422;
	if ((user = json_get_string(body, "username", REG_USERNAME_MAX, 1, err)) == NULL)
		return -1;
	if (strchr(user, ':') != NULL || reg_input_has_control(user))
		return reg_input_fail(status, 422, err, "invalid_username",
		    "username", "username must not contain ':' or control characters");
	/* missing_field only when absent, as json_get_string answers. */
	pj = json_object_get(body, "password");
	if (pj == NULL || !json_is_string(pj) || json_string_length(pj) == 0)
		return reg_input_fail(status, 422, err, pj == NULL ?
		    "missing_field" : "invalid_field", "password",
		    "auth_type basic needs a non-empty password");
	pass = json_string_value(pj);
	if (json_string_length(pj) > REG_PASSWORD_MAX ||
	    strlen(pass) != json_string_length(pj))
		return reg_input_fail(status, 422, err, "invalid_password",
		    "password", "password must be at most 8 KiB of text");
	snprintf(in->username, sizeof(in->username), "%s", user);
	in->password_len = json_string_length(pj);
	if ((in->password = malloc(in->password_len + 1)) == NULL)
		return reg_input_fail(status, 500, err, "internal", "", "out of memory");
	memcpy(in->password, pass, in->password_len + 1);
	return 0;
}

static int
reg_input_docker_config(json_t *body, struct reg_input *in, int *status,
    struct error *err)
{
	json_t *dc = json_object_get(body, "docker_config");
	char *text;
	int rc;

	*status = 422;
	if (json_is_object(dc))
		text = json_dumps(dc, JSON_COMPACT);
	else if (json_is_string(dc) && json_string_length(dc) > 0)
		text = strdup(json_string_value(dc));
	else
		return reg_input_fail(status, 422, err, dc == NULL ?
		    "missing_field" : "invalid_field", "docker_config",
		    "auth_type docker-config needs docker_config (the Docker "
		    "config.json text or object)");
	if (text == NULL)
		return reg_input_fail(status, 500, err, "internal", "", "out of memory");
	if (strlen(text) > REG_DOCKER_CFG_MAX) {
		crypto_free_secret(text, strlen(text));
		return reg_input_fail(status, 413, err, "too_large", "docker_config",
		    "docker_config must be at most 64 KiB");
	}
	rc = reg_creds_docker_config(text, strlen(text), in->host, in->username,
	    sizeof(in->username), &in->password, &in->password_len, err);
	crypto_free_secret(text, strlen(text));
	return rc;
}

static int
reg_input_vendor(json_t *body, struct reg_input *in, int *status,
    struct error *err)
{
	static const char *const vendors[] = { "acr", "gar", "ecr", "ghcr", NULL };
	size_t i;

	*status = 422;
	if ((in->vendor = json_get_string(body, "vendor", 8, 1, err)) != NULL)
		for (i = 0; vendors[i] != NULL; i++)
			if (strcmp(in->vendor, vendors[i]) == 0)
				return 0;
	return reg_input_fail(status, 422, err, "invalid_vendor", "vendor",
	    "vendor must be one of acr, gar, ecr, ghcr");
}

static const struct reg_auth_spec {
	enum reg_auth auth;
	const char *fields[3];   /* the credential fields this type takes */
	int (*parse)(json_t *, struct reg_input *, int *, struct error *);
} reg_auth_specs[] = {
	{ REG_AUTH_ANONYMOUS, { NULL }, NULL },
	{ REG_AUTH_BASIC, { "username", "password", NULL }, reg_input_basic },
	{ REG_AUTH_DOCKER_CONFIG, { "docker_config", NULL }, reg_input_docker_config },
	{ REG_AUTH_VENDOR, { "vendor", NULL }, reg_input_vendor },
};
static const char *const reg_cred_fields[] = { "username", "password",
	"docker_config", "vendor", NULL };

/* The auth type asked for, or the one the credential fields imply. */
static const struct reg_auth_spec *
reg_input_auth(json_t *body, int *status, struct error *err)
{
	const char *name;
	size_t i;

	error_clear(err);
	name = json_get_string(body, "auth_type", 32, 0, err);
	if (name == NULL && err->code[0] != '\0') {
		*status = 422;
		return NULL;
	}
	if (name == NULL)
		name = json_object_get(body, "docker_config") != NULL ? "docker-config" :
		    json_object_get(body, "vendor") != NULL ? "vendor" :
		    json_object_get(body, "username") != NULL ? "basic" : "anonymous";
	for (i = 0; i < sizeof(reg_auth_specs) / sizeof(reg_auth_specs[0]); i++)
		if (strcmp(name, reg_auth_names[reg_auth_specs[i].auth]) == 0)
			return &reg_auth_specs[i];
	reg_input_fail(status, 422, err, "invalid_auth_type", "auth_type",
	    "auth_type must be one of anonymous, basic, docker-config, vendor");
	return NULL;
}

/* Refuses credential fields the auth type does not take. */
static int
reg_input_no_extra(json_t *body, const struct reg_auth_spec *spec, int *status,
    struct error *err)
{
	size_t i, j;
	int ok;

	for (i = 0; reg_cred_fields[i] != NULL; i++) {
		if (json_object_get(body, reg_cred_fields[i]) == NULL)
			continue;
		for (ok = 0, j = 0; spec->fields[j] != NULL; j++)
			ok |= strcmp(spec->fields[j], reg_cred_fields[i]) == 0;
		if (!ok) {
			*status = 422;
			error_set(err, "field_not_allowed", reg_cred_fields[i],
			    "%s is not used with auth_type %s", reg_cred_fields[i],
			    reg_auth_names[spec->auth]);
			return -1;
		}
	}
	return 0;
}

/* name, when given (required on create): 1-100 bytes, no control characters. */
static int
reg_input_name(json_t *body, struct reg_input *in, int *status,
    struct error *err)
{
	*status = 422;
	if ((in->name = json_get_string(body, "name", REG_NAME_MAX, 1, err)) == NULL)
		return -1;
	if (reg_input_has_control(in->name))
		return reg_input_fail(status, 422, err, "invalid_name", "name",
		    "name must not contain control characters");
	return 0;
}

/* host into out, canonical (image_ref_host_canon). */
static int
reg_input_host(json_t *body, char *out, size_t outlen, int *status,
    struct error *err)
{
	const char *host;

	*status = 422;
	if ((host = json_get_string(body, "host", REG_HOST_MAX, 1, err)) == NULL)
		return -1;
	if (strstr(host, "://") != NULL || strchr(host, '/') != NULL)
		return reg_input_fail(status, 422, err, "invalid_host", "host",
		    "host is a registry host such as ghcr.io or 127.0.0.1:5000, "
		    "without a scheme or path");
	if (!reg_input_host_valid(host))
		return reg_input_fail(status, 422, err, "invalid_host", "host",
		    "host must be hostname[:port] or IP[:port] (at most 253 bytes)");
	image_ref_host_canon(host, out, outlen);
	return 0;
}

static const char *const reg_input_keys[] = { "name", "host", "auth_type",
	"username", "password", "docker_config", "vendor", NULL };

/* The auth type and its credentials, for in->host (already set). */
static int
reg_input_creds(json_t *body, struct reg_input *in, int *status,
    struct error *err)
{
	const struct reg_auth_spec *spec;

	if ((spec = reg_input_auth(body, status, err)) == NULL ||
	    reg_input_no_extra(body, spec, status, err) < 0)
		return -1;
	in->auth = spec->auth;
	return spec->parse != NULL ? spec->parse(body, in, status, err) : 0;
}

int
reg_input_parse(json_t *body, struct reg_input *in, int *status,
    struct error *err)
{
	error_clear(err);
	*status = 400;
	if (json_only_keys(body, reg_input_keys, err) < 0)
		return -1;
	if (reg_input_name(body, in, status, err) < 0 ||
	    reg_input_host(body, in->host, sizeof(in->host), status, err) < 0)
		return -1;
	return reg_input_creds(body, in, status, err);
}

/* 1 when the body names the auth type or any credential field. */
static int
reg_input_has_creds(json_t *body)
{
	size_t i;

	if (json_object_get(body, "auth_type") != NULL)
		return 1;
	for (i = 0; reg_cred_fields[i] != NULL; i++)
		if (json_object_get(body, reg_cred_fields[i]) != NULL)
			return 1;
	return 0;
}

int
reg_input_patch(json_t *body, const char *host, struct reg_input *in,
    int *status, struct error *err)
{
	char given[REG_HOST_MAX + 1];

	error_clear(err);
	*status = 400;
	if (json_only_keys(body, reg_input_keys, err) < 0)
		return -1;
	snprintf(in->host, sizeof(in->host), "%s", host);
	in->name = NULL;
	in->auth = 0;
	if (json_object_get(body, "name") != NULL &&
	    reg_input_name(body, in, status, err) < 0)
		return -1;
	/* The host names the registry (and its docker-config entry): fixed. */
	if (json_object_get(body, "host") != NULL) {
		if (reg_input_host(body, given, sizeof(given), status, err) < 0)
			return -1;
		if (strcmp(given, in->host) != 0)
			return reg_input_fail(status, 422, err, "host_immutable",
			    "host", "a registry's host cannot change; add a "
			    "registry for the new host instead");
	}
	return reg_input_has_creds(body) ? reg_input_creds(body, in, status, err) :
	    0;
}

void
reg_input_free(struct reg_input *in)
{
	if (in->password != NULL)
		crypto_free_secret(in->password, in->password_len);
	in->password = NULL;
	explicit_bzero(in->username, sizeof(in->username));
}
