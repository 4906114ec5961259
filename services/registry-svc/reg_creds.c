/*
 * reg_creds.c: registry credentials: the inline credential of a Docker
 * config, the RegistryCredentials plaintext (encrypted at rest with the row
 * id as associated data, and sealed to each data plane).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "registry.h"
#include "crypto.h"
#include "imageref.h"
#include "regauth.h"
#include "slipway/v1/registry.pb-c.h"

static int
reg_creds_fail(struct error *err, const char *code, const char *msg)
{
	error_set(err, code, "docker_config", "%s", msg);
	return -1;
}

/*
 * Docker writes auths keys as "host", "https://host", "index.docker.io/v1/"
 * or "https://index.docker.io/v1/": drop the scheme and any path, then
 * canonicalise like an image host.
 */
static void
reg_creds_auths_host(const char *key, char *out, size_t len)
{
	char tmp[REG_HOST_MAX + 1];
	size_t n;

	if (strncasecmp(key, "https://", 8) == 0)
		key += 8;
	else if (strncasecmp(key, "http://", 7) == 0)
		key += 7;
	/* Longer than any host: cut to fit, it could match another. */
	if ((n = strcspn(key, "/")) > REG_HOST_MAX) {
		out[0] = '\0';
		return;
	}
	snprintf(tmp, sizeof(tmp), "%.*s", (int)n, key);
	image_ref_host_canon(tmp, out, len);
}

/*
 * The username goes into Basic auth as "user:password", so no ':'; and, as
 * reg_input_basic requires of a typed-in username, no control characters.
 */
static int
reg_creds_username_ok(const char *u, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (u[i] == ':' || (unsigned char)u[i] < 0x20 || u[i] == 0x7f)
			return 0;
	return n > 0;
}

/* "auth": base64 of "user:password". */
static int
reg_creds_from_auth(const char *b64, char *username, size_t userlen,
    char **password, size_t *passlen, struct error *err)
{
	unsigned char *raw;
	size_t len;
	char *colon;

	if ((raw = crypto_b64_decode(b64, &len)) == NULL)
		return reg_creds_fail(err, "invalid_docker_config",
		    "the auths entry's auth is not valid base64");
	colon = memchr(raw, ':', len);
	if (colon == NULL || colon == (char *)raw || len - 1 -
	    (size_t)(colon - (char *)raw) == 0 ||
	    (size_t)(colon - (char *)raw) >= userlen ||
	    !reg_creds_username_ok((char *)raw, (size_t)(colon - (char *)raw)) ||
	    len - 1 - (size_t)(colon - (char *)raw) > REG_PASSWORD_MAX ||
	    memchr(raw, '\0', len) != NULL) {
		crypto_free_secret(raw, len);
		return reg_creds_fail(err, "invalid_docker_config", "the auths "
		    "entry's auth must be base64 of \"username:password\"");
	}
	memcpy(username, raw, (size_t)(colon - (char *)raw));
	username[colon - (char *)raw] = '\0';
	*passlen = len - 1 - (size_t)(colon - (char *)raw);
	if ((*password = malloc(*passlen + 1)) != NULL) {
		memcpy(*password, colon + 1, *passlen);
		(*password)[*passlen] = '\0';
	}
	crypto_free_secret(raw, len);
	return *password != NULL ? 0 : reg_creds_fail(err, "internal", "out of memory");
}

/* "username" + "password" written out. */
static int
reg_creds_from_pair(json_t *entry, char *username, size_t userlen,
    char **password, size_t *passlen, struct error *err)
{
	json_t *u = json_object_get(entry, "username");
	json_t *p = json_object_get(entry, "password");

	if (!json_is_string(u) || !json_is_string(p) ||
	    json_string_length(u) == 0 || json_string_length(p) == 0)
		return reg_creds_fail(err, "invalid_docker_config", "the auths "
		    "entry has no inline credentials: give auth (base64 "
		    "user:password) or username and password");
	if (json_string_length(u) >= userlen ||
	    !reg_creds_username_ok(json_string_value(u), json_string_length(u)) ||
	    json_string_length(p) > REG_PASSWORD_MAX ||
	    strlen(json_string_value(p)) != json_string_length(p))
		return reg_creds_fail(err, "invalid_docker_config", "the auths "
		    "entry's username or password is too long or malformed");
	snprintf(username, userlen, "%s", json_string_value(u));
	*passlen = json_string_length(p);
	if ((*password = strdup(json_string_value(p))) == NULL)
		return reg_creds_fail(err, "internal", "out of memory");
	return 0;
}

/*
 * "identitytoken": a refresh token the data plane exchanges at the realm.
 * It is kept as the pair (REGAUTH_IDENTITY_USER, token), Docker's own
 * credential-store convention; the username beside it (ACR writes
 * 00000000-0000-0000-0000-000000000000) plays no part in the exchange.
 */
static int
reg_creds_from_identity(json_t *entry, char *username, size_t userlen,
    char **password, size_t *passlen, struct error *err)
{
	json_t *t = json_object_get(entry, "identitytoken");

	if (json_object_get(entry, "auth") != NULL ||
	    json_object_get(entry, "password") != NULL)
		return reg_creds_fail(err, "invalid_docker_config", "the auths "
		    "entry has both an identitytoken and a password: give one");
	if (!json_is_string(t) || json_string_length(t) == 0 ||
	    json_string_length(t) > REG_PASSWORD_MAX ||
	    strlen(json_string_value(t)) != json_string_length(t) ||
	    strcspn(json_string_value(t), "\r\n") != json_string_length(t))
		return reg_creds_fail(err, "invalid_docker_config", "the auths "
		    "entry's identitytoken must be a non-empty string of at "
		    "most 8 KiB on one line");
	snprintf(username, userlen, "%s", REGAUTH_IDENTITY_USER);
	*passlen = json_string_length(t);
	if ((*password = strdup(json_string_value(t))) == NULL)
		return reg_creds_fail(err, "internal", "out of memory");
	return 0;
}

static int
reg_creds_entry(json_t *entry, char *username, size_t userlen,
    char **password, size_t *passlen, struct error *err)
{
	json_t *auth = json_object_get(entry, "auth");

	if (!json_is_object(entry))
		return reg_creds_fail(err, "invalid_docker_config",
		    "the auths entry must be an object");
	if (json_object_get(entry, "registrytoken") != NULL)
		return reg_creds_fail(err, "docker_config_unsupported",
		    "registry tokens are not supported (they expire within "
		    "minutes): give identitytoken, auth (base64 user:password) "
		    "or username and password");
	if (json_object_get(entry, "identitytoken") != NULL)
		return reg_creds_from_identity(entry, username, userlen,
		    password, passlen, err);
	if (auth != NULL && (!json_is_string(auth) || json_string_length(auth) == 0))
		return reg_creds_fail(err, "invalid_docker_config",
		    "the auths entry's auth must be a non-empty string");
	if (auth != NULL)
		return reg_creds_from_auth(json_string_value(auth), username,
		    userlen, password, passlen, err);
	return reg_creds_from_pair(entry, username, userlen, password, passlen,
	    err);
}

/* The config's shape: an object, no helpers, exactly one auths entry. */
static int
reg_creds_shape(json_t *cfg, const char **key, json_t **entry,
    struct error *err)
{
	json_t *auths = json_object_get(cfg, "auths");

	if (!json_is_object(cfg))
		return reg_creds_fail(err, "invalid_docker_config",
		    "docker_config must be a JSON object");
	if (json_object_get(cfg, "credsStore") != NULL ||
	    json_object_get(cfg, "credHelpers") != NULL)
		return reg_creds_fail(err, "docker_config_unsupported",
		    "credsStore and credHelpers are refused: they name programs "
		    "that would run on the data plane. Put the credentials inline "
		    "under auths (auth = base64 user:password)");
	if (!json_is_object(auths) || json_object_size(auths) != 1)
		return reg_creds_fail(err, "invalid_docker_config",
		    "docker_config must have exactly one entry under auths");
	*key = json_object_iter_key(json_object_iter(auths));
	*entry = json_object_iter_value(json_object_iter(auths));
	return 0;
}

int
reg_creds_docker_config(const char *text, size_t len, const char *host,
    char *username, size_t userlen, char **password, size_t *passlen,
    struct error *err)
{
	char keyhost[REG_HOST_MAX + 1];
	const char *key;
	json_error_t jerr;
	json_t *cfg, *entry;
	int rc = -1;

	if ((cfg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		error_set(err, "invalid_docker_config", "docker_config",
		    "docker_config is not valid JSON (line %d)", jerr.line);
		return -1;
	}
	if (reg_creds_shape(cfg, &key, &entry, err) < 0)
		goto done;
	reg_creds_auths_host(key, keyhost, sizeof(keyhost));
	if (!image_ref_host_equal(keyhost, host)) {
		error_set(err, "docker_config_host_mismatch", "docker_config",
		    "the auths entry is for %.100s but the registry host is %.100s",
		    keyhost, host);
		goto done;
	}
	rc = reg_creds_entry(entry, username, userlen, password, passlen, err);
done:
	json_decref(cfg);
	return rc;
}

/* protobuf-c wants char *; its packer never writes through it. */
static char *
reg_creds_str(const char *s)
{
	return (char *)(uintptr_t)(s != NULL ? s : "");
}

unsigned char *
reg_creds_pack(const char *id, const char *host, enum reg_auth auth,
    const char *username, const char *password, size_t password_len,
    size_t *len)
{
	Slipway__V1__RegistryCredentials rc;
	unsigned char *buf;

	(void)password_len;
	slipway__v1__registry_credentials__init(&rc);
	rc.registry_id = reg_creds_str(id);
	rc.host = reg_creds_str(host);
	rc.auth_type = (Slipway__V1__AuthType)auth;
	/* An identity token travels in its own field, no pair beside it. */
	if (regauth_identity(username)) {
		rc.identity_token = reg_creds_str(password);
	} else {
		rc.username = reg_creds_str(username);
		rc.password = reg_creds_str(password);
	}
	*len = slipway__v1__registry_credentials__get_packed_size(&rc);
	if ((buf = malloc(*len + 1)) == NULL)
		return NULL;
	slipway__v1__registry_credentials__pack(&rc, buf);
	return buf;
}

int
reg_creds_encrypt(const struct reg_ctx *ctx, const char *id,
    const unsigned char *pt, size_t len, unsigned char **out, size_t *outlen,
    struct error *err)
{
	return secret_encrypt(ctx->keyring, id, pt, len, out, outlen, err);
}
