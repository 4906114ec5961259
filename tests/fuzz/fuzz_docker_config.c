// uses: services/registry-svc/reg_input.c
// uses: services/registry-svc/reg_creds.c
/*
 * fuzz_docker_config.c: libFuzzer target for the Docker config registry-svc
 * takes from users. The bytes go to reg_creds_docker_config as they are, and,
 * when they could arrive in a JSON body (UTF-8, no NUL), through
 * reg_input_parse as the docker_config string (and as the object, when they
 * are one): the path reg_http.c's create takes. Nothing may crash or leak,
 * and an accepted credential is always well formed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry-svc/registry.h"
#include "regauth.h"
#include "slipway/v1/registry.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Canonical hosts, as reg_input hands them to the parser. */
static const char *const fuzz_hosts[] = {
	"ghcr.io", "docker.io", "127.0.0.1:5000", "[::1]:5000",
};

/* What every accepted credential satisfies; abort() otherwise. */
static void
fuzz_check_cred(const char *user, const char *pass, size_t passlen)
{
	const unsigned char *u = (const unsigned char *)user;
	Slipway__V1__RegistryCredentials *rc;
	unsigned char *buf;
	size_t len;

	if (u[0] == '\0' || pass == NULL || passlen == 0 ||
	    passlen > REG_PASSWORD_MAX || strlen(pass) != passlen ||
	    strlen(user) > REG_USERNAME_MAX)
		abort();
	for (; *u != '\0'; u++)
		if (*u == ':' || *u < 0x20 || *u == 0x7f)
			abort();
	buf = reg_creds_pack("6f1c2d3e-0000-4000-8000-000000000001", "ghcr.io",
	    REG_AUTH_DOCKER_CONFIG, user, pass, passlen, &len);
	if (buf == NULL)
		return;
	rc = slipway__v1__registry_credentials__unpack(NULL, len, buf);
	/* An identitytoken travels alone, in its own field (reg_creds_pack). */
	if (rc == NULL || (regauth_identity(user) ?
	    strcmp(rc->identity_token, pass) != 0 || rc->username[0] != '\0' ||
	    rc->password[0] != '\0' :
	    strcmp(rc->username, user) != 0 || strcmp(rc->password, pass) != 0))
		abort();
	slipway__v1__registry_credentials__free_unpacked(rc, NULL);
	free(buf);
}

/* The parser on the raw bytes (an exact-size copy, so ASan sees over-reads). */
static void
fuzz_direct(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1), user[REG_USERNAME_MAX + 1];
	struct error err;
	size_t i, passlen;
	char *pass;

	if (text == NULL)
		return;
	memcpy(text, data, size);
	for (i = 0; i < sizeof(fuzz_hosts) / sizeof(fuzz_hosts[0]); i++) {
		pass = NULL;
		passlen = 0;
		error_clear(&err);
		if (reg_creds_docker_config(text, size, fuzz_hosts[i], user,
		    sizeof(user), &pass, &passlen, &err) == 0) {
			fuzz_check_cred(user, pass, passlen);
			free(pass);
		} else if (err.code[0] == '\0' || pass != NULL) {
			abort();
		}
	}
	free(text);
}

/* reg_input_parse on a create body carrying dc as docker_config. */
static void
fuzz_request(json_t *dc, const char *host)
{
	struct reg_input in;
	struct error err;
	json_t *body;
	int status = 0;

	body = json_pack("{s:s, s:s, s:s, s:O}", "name", "r", "host", host,
	    "auth_type", "docker-config", "docker_config", dc);
	if (body == NULL)
		return;
	memset(&in, 0, sizeof(in));
	in.org = "acme";
	if (reg_input_parse(body, &in, &status, &err) == 0) {
		if (in.auth != REG_AUTH_DOCKER_CONFIG)
			abort();
		fuzz_check_cred(in.username, in.password, in.password_len);
	} else if (err.code[0] == '\0' || (status != 400 && status != 413 &&
	    status != 422 && status != 500)) {
		abort();
	}
	reg_input_free(&in);
	json_decref(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *host = fuzz_hosts[size % 4];
	json_t *s, *obj;

	fuzz_direct(data, size);
	/* An HTTP body is UTF-8 without \u0000; json_stringn checks the first. */
	if (memchr(data, '\0', size) != NULL ||
	    (s = json_stringn((const char *)data, size)) == NULL)
		return 0;
	fuzz_request(s, host);
	json_decref(s);
	obj = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(obj))
		fuzz_request(obj, host);
	json_decref(obj);
	return 0;
}
