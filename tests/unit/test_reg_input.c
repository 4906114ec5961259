// uses: services/registry-svc/reg_input.c
// uses: services/registry-svc/reg_creds.c
/*
 * test_reg_input.c: registry-svc's outside input, table-driven: the Docker
 * config parser (reg_creds_docker_config), the RegistryCredentials packing,
 * host and org validation, and the whole create request (reg_input_parse),
 * which is the entry point reg_http.c calls.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "registry-svc/registry.h"
#include "crypto.h"
#include "slipway/v1/registry.pb-c.h"

/* A config with one auths entry: key and the entry's JSON. */
#define DC(key, entry) "{\"auths\":{\"" key "\":" entry "}}"
#define AUTH(b64) "{\"auth\":\"" b64 "\"}"
#define B64_USER_PASS "dXNlcjpwYXNz"   /* user:pass */

struct dc_case {
	const char *text;
	const char *host;   /* the registry host, canonical as reg_input makes it */
	const char *code;   /* NULL = accepted */
	const char *user, *pass;
};

static const struct dc_case dc_cases[] = {
	/* The inline forms. */
	{ DC("ghcr.io", AUTH(B64_USER_PASS)), "ghcr.io", NULL, "user", "pass" },
	{ DC("ghcr.io", AUTH("dXNlcjpwYTpzcw==")), "ghcr.io", NULL, "user", "pa:ss" },
	{ DC("ghcr.io", AUTH("Ym9iOnMzY3I6dD0=")), "ghcr.io", NULL, "bob", "s3cr:t=" },
	{ DC("ghcr.io", AUTH("dXNlcjpwCnNz")), "ghcr.io", NULL, "user", "p\nss" },
	{ DC("ghcr.io", "{\"username\":\"u\",\"password\":\"p w\"}"), "ghcr.io",
	    NULL, "u", "p w" },
	{ DC("ghcr.io", "{\"auth\":\"" B64_USER_PASS "\",\"email\":\"a@b.c\"}"),
	    "ghcr.io", NULL, "user", "pass" },
	/* auth wins over a written-out pair. */
	{ DC("ghcr.io", "{\"auth\":\"" B64_USER_PASS "\",\"username\":\"x\","
	    "\"password\":\"y\"}"), "ghcr.io", NULL, "user", "pass" },
	{ "{\"auths\":{\"ghcr.io\":" AUTH(B64_USER_PASS) "},\"HttpHeaders\":{}}",
	    "ghcr.io", NULL, "user", "pass" },

	/* auths key normalisation. */
	{ DC("https://ghcr.io", AUTH(B64_USER_PASS)), "ghcr.io", NULL, "user", "pass" },
	{ DC("HTTPS://GHCR.IO/", AUTH(B64_USER_PASS)), "ghcr.io", NULL, "user", "pass" },
	{ DC("http://ghcr.io", AUTH(B64_USER_PASS)), "ghcr.io", NULL, "user", "pass" },
	{ DC("ghcr.io/v1/", AUTH(B64_USER_PASS)), "ghcr.io", NULL, "user", "pass" },
	{ DC("https://index.docker.io/v1/", AUTH(B64_USER_PASS)), "docker.io",
	    NULL, "user", "pass" },
	{ DC("index.docker.io", AUTH(B64_USER_PASS)), "docker.io", NULL, "user", "pass" },
	{ DC("registry-1.docker.io", AUTH(B64_USER_PASS)), "docker.io", NULL,
	    "user", "pass" },
	{ DC("docker.io", AUTH(B64_USER_PASS)), "docker.io", NULL, "user", "pass" },
	{ DC("127.0.0.1:5000", AUTH(B64_USER_PASS)), "127.0.0.1:5000", NULL,
	    "user", "pass" },
	{ DC("https://[::1]:5000/v2/", AUTH(B64_USER_PASS)), "[::1]:5000", NULL,
	    "user", "pass" },
	{ DC("index.docker.io", AUTH(B64_USER_PASS)), "ghcr.io",
	    "docker_config_host_mismatch", NULL, NULL },
	{ DC("ghcr.io", AUTH(B64_USER_PASS)), "docker.io",
	    "docker_config_host_mismatch", NULL, NULL },
	{ DC("127.0.0.1:5000", AUTH(B64_USER_PASS)), "127.0.0.1:5001",
	    "docker_config_host_mismatch", NULL, NULL },
	{ DC("127.0.0.1", AUTH(B64_USER_PASS)), "127.0.0.1:5000",
	    "docker_config_host_mismatch", NULL, NULL },
	{ DC("ghcr.io.evil.com", AUTH(B64_USER_PASS)), "ghcr.io",
	    "docker_config_host_mismatch", NULL, NULL },
	{ DC("", AUTH(B64_USER_PASS)), "ghcr.io", "docker_config_host_mismatch",
	    NULL, NULL },
	{ DC("https://", AUTH(B64_USER_PASS)), "ghcr.io",
	    "docker_config_host_mismatch", NULL, NULL },
	{ DC("ftp://ghcr.io", AUTH(B64_USER_PASS)), "ghcr.io",
	    "docker_config_host_mismatch", NULL, NULL },

	/* The config's shape. */
	{ "", "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ "{", "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ "\"text\"", "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ "[]", "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ "{}", "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ "{\"auths\":{}}", "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ "{\"auths\":[]}", "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ "{\"auths\":null}", "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ "{\"auths\":{\"ghcr.io\":" AUTH(B64_USER_PASS) ",\"docker.io\":"
	    AUTH(B64_USER_PASS) "}}", "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ "{\"auths\":{\"ghcr.io\":" AUTH(B64_USER_PASS) "},\"auths\":{}}",
	    "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ "{\"auths\":{\"ghcr.io\":" AUTH(B64_USER_PASS) "},\"credsStore\":\"desktop\"}",
	    "ghcr.io", "docker_config_unsupported", NULL, NULL },
	{ "{\"auths\":{\"ghcr.io\":" AUTH(B64_USER_PASS) "},\"credHelpers\":"
	    "{\"ghcr.io\":\"gh\"}}", "ghcr.io", "docker_config_unsupported", NULL, NULL },
	{ "{\"credsStore\":\"desktop\"}", "ghcr.io", "docker_config_unsupported",
	    NULL, NULL },
	{ "{\"credHelpers\":null,\"auths\":{\"ghcr.io\":" AUTH(B64_USER_PASS) "}}",
	    "ghcr.io", "docker_config_unsupported", NULL, NULL },

	/* The entry. */
	{ DC("ghcr.io", "\"" B64_USER_PASS "\""), "ghcr.io",
	    "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{}"), "ghcr.io", "invalid_docker_config", NULL, NULL },
	/* An identity token is kept as ("<token>", token): Docker's convention. */
	{ DC("ghcr.io", "{\"identitytoken\":\"tok\"}"), "ghcr.io", NULL,
	    "<token>", "tok" },
	{ DC("ghcr.io", "{\"username\":\"00000000-0000-0000-0000-000000000000\","
	    "\"identitytoken\":\"tok\"}"), "ghcr.io", NULL, "<token>", "tok" },
	{ DC("ghcr.io", "{\"identitytoken\":\"\"}"), "ghcr.io",
	    "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{\"identitytoken\":42}"), "ghcr.io",
	    "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{\"identitytoken\":\"a\\nb\"}"), "ghcr.io",
	    "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{\"auth\":\"" B64_USER_PASS "\",\"identitytoken\":\"tok\"}"),
	    "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{\"registrytoken\":\"tok\"}"), "ghcr.io",
	    "docker_config_unsupported", NULL, NULL },
	{ DC("ghcr.io", AUTH("")), "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{\"auth\":42}"), "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{\"auth\":null}"), "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", AUTH("!!!!")), "ghcr.io", "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", AUTH("dXNlcjpwYXNz\\n")), "ghcr.io", "invalid_docker_config",
	    NULL, NULL },
	{ DC("ghcr.io", AUTH("dXNlcjpwYXN")), "ghcr.io", "invalid_docker_config",
	    NULL, NULL },
	{ DC("ghcr.io", AUTH(" dXNlcjpwYXNz")), "ghcr.io", "invalid_docker_config",
	    NULL, NULL },
	/* Text after a NUL would be invisible to C but present in the JSON. */
	{ DC("ghcr.io", AUTH(B64_USER_PASS "\\u0000Zm9v")), "ghcr.io",
	    "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", AUTH("dXNlcnBhc3M=")), "ghcr.io", "invalid_docker_config",
	    NULL, NULL },                                     /* no ':' */
	{ DC("ghcr.io", AUTH("OnBhc3M=")), "ghcr.io", "invalid_docker_config",
	    NULL, NULL },                                     /* ":pass" */
	{ DC("ghcr.io", AUTH("dXNlcjo=")), "ghcr.io", "invalid_docker_config",
	    NULL, NULL },                                     /* "user:" */
	{ DC("ghcr.io", AUTH("dXNlcgA6cGFzcw==")), "ghcr.io", "invalid_docker_config",
	    NULL, NULL },                                     /* "user\0:pass" */
	{ DC("ghcr.io", AUTH("dXNlcjpwYQBzcw==")), "ghcr.io", "invalid_docker_config",
	    NULL, NULL },                                     /* "user:pa\0ss" */
	{ DC("ghcr.io", AUTH("dXMKcjpwYXNz")), "ghcr.io", "invalid_docker_config",
	    NULL, NULL },                                     /* "us\nr:pass" */
	{ DC("ghcr.io", AUTH("dXN/cjpwYXNz")), "ghcr.io", "invalid_docker_config",
	    NULL, NULL },                                     /* "us\x7fr:pass" */
	{ DC("ghcr.io", "{\"username\":\"u\"}"), "ghcr.io", "invalid_docker_config",
	    NULL, NULL },
	{ DC("ghcr.io", "{\"password\":\"p\"}"), "ghcr.io", "invalid_docker_config",
	    NULL, NULL },
	{ DC("ghcr.io", "{\"username\":\"\",\"password\":\"p\"}"), "ghcr.io",
	    "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{\"username\":\"u\",\"password\":\"\"}"), "ghcr.io",
	    "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{\"username\":\"u\",\"password\":7}"), "ghcr.io",
	    "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{\"username\":\"a:b\",\"password\":\"p\"}"), "ghcr.io",
	    "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{\"username\":\"u\\u0000x\",\"password\":\"p\"}"), "ghcr.io",
	    "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{\"username\":\"u\\tx\",\"password\":\"p\"}"), "ghcr.io",
	    "invalid_docker_config", NULL, NULL },
	{ DC("ghcr.io", "{\"username\":\"u\",\"password\":\"p\\u0000x\"}"), "ghcr.io",
	    "invalid_docker_config", NULL, NULL },
};

static void
test_docker_config_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dc_cases) / sizeof(dc_cases[0]); i++) {
		const struct dc_case *c = &dc_cases[i];
		char user[REG_USERNAME_MAX + 1] = "";
		char *pass = NULL;
		size_t passlen = 0;
		struct error err;
		int rc;

		error_clear(&err);
		rc = reg_creds_docker_config(c->text, strlen(c->text), c->host,
		    user, sizeof(user), &pass, &passlen, &err);
		if (c->code == NULL) {
			if (rc != 0)
				fail_msg("case %zu (%s): refused %s: %s", i, c->text,
				    err.code, err.msg);
			assert_string_equal(user, c->user);
			assert_non_null(pass);
			assert_string_equal(pass, c->pass);
			assert_int_equal(passlen, strlen(c->pass));
			free(pass);
			continue;
		}
		if (rc != -1)
			fail_msg("case %zu (%s): accepted, want %s", i, c->text, c->code);
		if (strcmp(err.code, c->code) != 0)
			fail_msg("case %zu (%s): code %s (%s), want %s", i, c->text,
			    err.code, err.msg, c->code);
		assert_string_equal(err.field, "docker_config");
		assert_null(pass);
		/* The error never echoes the credentials. */
		assert_null(strstr(err.msg, B64_USER_PASS));
	}
}

/* Runs the parser on a config whose auth is base64 of user ':' pass. */
static int
dc_with_auth(const char *user, const char *pass, char **out, size_t *outlen,
    struct error *err)
{
	char u[REG_USERNAME_MAX + 1], *raw, *b64, *text;
	size_t rawlen = strlen(user) + 1 + strlen(pass), tlen;
	int rc;

	raw = malloc(rawlen + 1);
	assert_non_null(raw);
	snprintf(raw, rawlen + 1, "%s:%s", user, pass);
	b64 = crypto_b64_encode(raw, rawlen);
	assert_non_null(b64);
	tlen = strlen(b64) + 64;
	text = malloc(tlen);
	assert_non_null(text);
	snprintf(text, tlen, DC("ghcr.io", "{\"auth\":\"%s\"}"), b64);
	*out = NULL;
	rc = reg_creds_docker_config(text, strlen(text), "ghcr.io", u, sizeof(u),
	    out, outlen, err);
	free(text);
	free(b64);
	free(raw);
	return rc;
}

static char *
repeat(char ch, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/* The username and password caps, at and one past each limit. */
static void
test_docker_config_sizes(void **state)
{
	(void)state;
	static const struct {
		size_t userlen, passlen;
		int rc;
	} cases[] = {
		{ REG_USERNAME_MAX, 1, 0 },
		{ REG_USERNAME_MAX + 1, 1, -1 },
		{ 1, REG_PASSWORD_MAX, 0 },
		{ 1, REG_PASSWORD_MAX + 1, -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *u = repeat('u', cases[i].userlen);
		char *p = repeat('p', cases[i].passlen);
		char *out = NULL;
		size_t outlen = 0;
		struct error err;
		int rc = dc_with_auth(u, p, &out, &outlen, &err);

		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc,
			    cases[i].rc, err.msg);
		if (rc == 0) {
			assert_int_equal(outlen, cases[i].passlen);
			assert_string_equal(out, p);
		} else {
			assert_string_equal(err.code, "invalid_docker_config");
			assert_null(out);
		}
		free(out);
		free(u);
		free(p);
	}
}

/*
 * An auths key longer than any host must not match a host that is its
 * prefix: the key is compared whole, never cut to fit a buffer.
 */
static void
test_docker_config_long_key(void **state)
{
	(void)state;
	char host[REG_HOST_MAX + 1], *text, user[REG_USERNAME_MAX + 1];
	char *pass = NULL;
	size_t passlen, tlen;
	struct error err;

	/* 253 bytes: labels of 63 'a's joined by dots, then a short tail. */
	memset(host, 'a', REG_HOST_MAX);
	host[63] = host[127] = host[191] = '.';
	host[REG_HOST_MAX] = '\0';
	assert_true(reg_input_host_valid(host));
	tlen = 2 * REG_HOST_MAX + 128;
	text = malloc(tlen);
	assert_non_null(text);

	snprintf(text, tlen, DC("%s", AUTH(B64_USER_PASS)), host);
	assert_int_equal(reg_creds_docker_config(text, strlen(text), host, user,
	    sizeof(user), &pass, &passlen, &err), 0);
	assert_string_equal(user, "user");
	free(pass);
	pass = NULL;

	snprintf(text, tlen, DC("https://%s/v1/", AUTH(B64_USER_PASS)), host);
	assert_int_equal(reg_creds_docker_config(text, strlen(text), host, user,
	    sizeof(user), &pass, &passlen, &err), 0);
	free(pass);
	pass = NULL;

	snprintf(text, tlen, DC("%sx", AUTH(B64_USER_PASS)), host);
	assert_int_equal(reg_creds_docker_config(text, strlen(text), host, user,
	    sizeof(user), &pass, &passlen, &err), -1);
	assert_string_equal(err.code, "docker_config_host_mismatch");
	assert_null(pass);
	free(text);
}

/* The parser takes a length: bytes past it are never read. */
static void
test_docker_config_length(void **state)
{
	(void)state;
	static const char text[] = DC("ghcr.io", AUTH(B64_USER_PASS)) "garbage";
	char user[REG_USERNAME_MAX + 1];
	char *pass = NULL;
	size_t passlen;
	struct error err;

	assert_int_equal(reg_creds_docker_config(text, strlen(text) - 7, "ghcr.io",
	    user, sizeof(user), &pass, &passlen, &err), 0);
	free(pass);
	pass = NULL;
	assert_int_equal(reg_creds_docker_config(text, strlen(text), "ghcr.io",
	    user, sizeof(user), &pass, &passlen, &err), -1);
	assert_string_equal(err.code, "invalid_docker_config");
}

static void
test_pack(void **state)
{
	(void)state;
	static const struct {
		const char *id, *host, *user, *pass;
		enum reg_auth auth;
	} cases[] = {
		{ "6f1c2d3e-0000-4000-8000-000000000001", "ghcr.io", "user",
		    "pa:ss", REG_AUTH_BASIC },
		{ "6f1c2d3e-0000-4000-8000-000000000002", "docker.io", "u",
		    "p", REG_AUTH_DOCKER_CONFIG },
		{ "6f1c2d3e-0000-4000-8000-000000000003", "[::1]:5000", NULL,
		    NULL, REG_AUTH_ANONYMOUS },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Slipway__V1__RegistryCredentials *rc;
		unsigned char *buf;
		size_t len;

		buf = reg_creds_pack(cases[i].id, cases[i].host, cases[i].auth,
		    cases[i].user, cases[i].pass,
		    cases[i].pass ? strlen(cases[i].pass) : 0, &len);
		assert_non_null(buf);
		rc = slipway__v1__registry_credentials__unpack(NULL, len, buf);
		assert_non_null(rc);
		assert_string_equal(rc->registry_id, cases[i].id);
		assert_string_equal(rc->host, cases[i].host);
		assert_int_equal(rc->auth_type, cases[i].auth);
		assert_string_equal(rc->username, cases[i].user ? cases[i].user : "");
		assert_string_equal(rc->password, cases[i].pass ? cases[i].pass : "");
		slipway__v1__registry_credentials__free_unpacked(rc, NULL);
		free(buf);
	}
}

struct str_case {
	const char *s;
	int ok;
};

static const struct str_case host_cases[] = {
	{ "ghcr.io", 1 }, { "GHCR.io", 1 }, { "localhost", 1 },
	{ "registry-1.docker.io", 1 }, { "a", 1 }, { "xn--n3h.com", 1 },
	{ "ghcr.io:443", 1 }, { "localhost:5000", 1 }, { "h:1", 1 },
	{ "h:65535", 1 }, { "127.0.0.1", 1 }, { "127.0.0.1:5000", 1 },
	{ "0.0.0.0", 1 }, { "255.255.255.255:80", 1 },
	{ "[::1]", 1 }, { "[::1]:5000", 1 }, { "[2001:db8::1]", 1 },
	{ "[2001:db8:1:2:3:4:5:6]:443", 1 }, { "[::ffff:1.2.3.4]", 1 },
	{ "", 0 }, { ":", 0 }, { ":5000", 0 }, { "h:", 0 }, { "h:0", 0 },
	{ "h:65536", 0 }, { "h:00080", 0 }, { "h:123456", 0 }, { "h:-1", 0 },
	{ "h:80:81", 0 }, { "h:8O", 0 }, { "h: 80", 0 },
	{ "https://ghcr.io", 0 }, { "http://h", 0 }, { "ghcr.io/v2", 0 },
	{ "ghcr.io/", 0 }, { "a..b", 0 }, { ".a", 0 }, { "a.", 0 },
	{ "-a", 0 }, { "a-", 0 }, { "a-.b", 0 }, { "a.-b", 0 }, { "a_b", 0 },
	{ "a b", 0 }, { "a@b", 0 }, { "user:pw@h", 0 }, { "h\n", 0 },
	{ "caf\xc3\xa9.com", 0 },
	{ "256.1.1.1", 0 }, { "1.2.3", 0 }, { "1.2.3.4.5", 0 }, { "1..2.3", 0 },
	{ "1.2.3.4.", 0 }, { "1.2.3.4:0", 0 },
	{ "::1", 0 }, { "2001:db8::1", 0 }, { "[::1", 0 }, { "::1]", 0 },
	{ "[]", 0 }, { "[:]", 0 }, { "[1.2.3.4]", 0 }, { "[::1]x", 0 },
	{ "[::1]:", 0 }, { "[::1]:0", 0 }, { "[::1]:99999", 0 },
	{ "[fe80::1%eth0]", 0 }, { "[g::1]", 0 },
};

static const struct str_case org_cases[] = {
	{ "acme", 1 }, { "a", 1 }, { "0", 1 }, { "a-b-c", 1 }, { "a1-", 1 },
	{ "", 0 }, { "-a", 0 }, { "Acme", 0 }, { "a_b", 0 }, { "a.b", 0 },
	{ "a b", 0 }, { "a/b", 0 }, { "\xc3\xa9", 0 },
};

static void
test_host_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++)
		if (reg_input_host_valid(host_cases[i].s) != host_cases[i].ok)
			fail_msg("host \"%s\": got %d, want %d", host_cases[i].s,
			    !host_cases[i].ok, host_cases[i].ok);
}

/* Sizes: a 63-byte label and a 253-byte name pass, one more byte fails. */
static void
test_host_sizes(void **state)
{
	(void)state;
	char h[REG_HOST_MAX + 8];

	memset(h, 'a', 63);
	strcpy(h + 63, ".io");
	assert_true(reg_input_host_valid(h));
	memset(h, 'a', 64);
	strcpy(h + 64, ".io");
	assert_false(reg_input_host_valid(h));
	memset(h, 'a', REG_HOST_MAX);
	h[63] = h[127] = h[191] = '.';
	h[REG_HOST_MAX] = '\0';
	assert_true(reg_input_host_valid(h));
	strcpy(h + REG_HOST_MAX, "a");
	assert_false(reg_input_host_valid(h));
}

static void
test_org_valid(void **state)
{
	(void)state;
	char o[80];

	for (size_t i = 0; i < sizeof(org_cases) / sizeof(org_cases[0]); i++)
		if (reg_input_org_valid(org_cases[i].s) != org_cases[i].ok)
			fail_msg("org \"%s\": want %d", org_cases[i].s, org_cases[i].ok);
	assert_false(reg_input_org_valid(NULL));
	memset(o, 'a', 63);
	o[63] = '\0';
	assert_true(reg_input_org_valid(o));
	strcpy(o + 63, "a");
	assert_false(reg_input_org_valid(o));
}

static void
test_auth_name(void **state)
{
	(void)state;
	static const struct {
		enum reg_auth a;
		const char *name;
	} cases[] = {
		{ REG_AUTH_ANONYMOUS, "anonymous" }, { REG_AUTH_BASIC, "basic" },
		{ REG_AUTH_DOCKER_CONFIG, "docker-config" },
		{ REG_AUTH_VENDOR, "vendor" }, { (enum reg_auth)0, "unknown" },
		{ (enum reg_auth)5, "unknown" }, { (enum reg_auth)-1, "unknown" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(reg_input_auth_name(cases[i].a), cases[i].name);
}

/* --- the whole request -------------------------------------------------- */

#define REQ(extra) "{\"name\":\"r\",\"host\":\"ghcr.io\"" extra "}"

struct req_case {
	const char *body;
	int status;          /* 0 = accepted */
	const char *code;
	const char *field;   /* checked when not NULL */
	/* Accepted: */
	const char *host;
	enum reg_auth auth;
	const char *user, *pass, *vendor;
};

static const struct req_case req_cases[] = {
	{ REQ(""), 0, NULL, NULL, "ghcr.io", REG_AUTH_ANONYMOUS, "", NULL, NULL },
	{ REQ(",\"auth_type\":\"anonymous\""), 0, NULL, NULL, "ghcr.io",
	    REG_AUTH_ANONYMOUS, "", NULL, NULL },
	{ "{\"name\":\"r\",\"host\":\"GHCR.IO\"}", 0, NULL, NULL, "ghcr.io",
	    REG_AUTH_ANONYMOUS, "", NULL, NULL },
	{ "{\"name\":\"r\",\"host\":\"index.docker.io\"}", 0, NULL, NULL,
	    "docker.io", REG_AUTH_ANONYMOUS, "", NULL, NULL },
	{ "{\"name\":\"r\",\"host\":\"127.0.0.1:5000\"}", 0, NULL, NULL,
	    "127.0.0.1:5000", REG_AUTH_ANONYMOUS, "", NULL, NULL },
	{ "{\"name\":\"r\",\"host\":\"[::1]:5000\"}", 0, NULL, NULL,
	    "[::1]:5000", REG_AUTH_ANONYMOUS, "", NULL, NULL },
	{ "{\"name\":\"My registry \\u00e9\",\"host\":\"h\"}", 0, NULL, NULL,
	    "h", REG_AUTH_ANONYMOUS, "", NULL, NULL },
	{ REQ(",\"auth_type\":\"basic\",\"username\":\"u\",\"password\":\"p:w\""),
	    0, NULL, NULL, "ghcr.io", REG_AUTH_BASIC, "u", "p:w", NULL },
	{ REQ(",\"username\":\"u\",\"password\":\"p\""), 0, NULL, NULL, "ghcr.io",
	    REG_AUTH_BASIC, "u", "p", NULL },
	{ REQ(",\"auth_type\":\"vendor\",\"vendor\":\"ghcr\""), 0, NULL, NULL,
	    "ghcr.io", REG_AUTH_VENDOR, "", NULL, "ghcr" },
	{ REQ(",\"vendor\":\"ecr\""), 0, NULL, NULL, "ghcr.io", REG_AUTH_VENDOR,
	    "", NULL, "ecr" },
	{ REQ(",\"auth_type\":\"docker-config\",\"docker_config\":"
	    DC("https://ghcr.io", AUTH(B64_USER_PASS))), 0, NULL, NULL, "ghcr.io",
	    REG_AUTH_DOCKER_CONFIG, "user", "pass", NULL },
	{ REQ(",\"docker_config\":\"{\\\"auths\\\":{\\\"ghcr.io\\\":{\\\"auth\\\":\\\""
	    B64_USER_PASS "\\\"}}}\""), 0, NULL, NULL, "ghcr.io",
	    REG_AUTH_DOCKER_CONFIG, "user", "pass", NULL },
	{ "{\"name\":\"r\",\"host\":\"docker.io\",\"docker_config\":"
	    DC("https://index.docker.io/v1/", AUTH(B64_USER_PASS)) "}", 0, NULL,
	    NULL, "docker.io", REG_AUTH_DOCKER_CONFIG, "user", "pass", NULL },

	/* Shape: 400. */
	{ REQ(",\"extra\":1"), 400, "unknown_field", "extra", NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"Host\":\"h\""), 400, "unknown_field", "Host", NULL, 0, NULL, NULL, NULL },

	/* Name and host: 422. */
	{ "{\"host\":\"ghcr.io\"}", 422, "missing_field", "name", NULL, 0, NULL, NULL, NULL },
	{ "{\"name\":\"r\"}", 422, "missing_field", "host", NULL, 0, NULL, NULL, NULL },
	{ "{\"name\":\"\",\"host\":\"h\"}", 422, "invalid_field", "name", NULL, 0,
	    NULL, NULL, NULL },
	{ "{\"name\":7,\"host\":\"h\"}", 422, "invalid_field", "name", NULL, 0,
	    NULL, NULL, NULL },
	{ "{\"name\":\"a\\nb\",\"host\":\"h\"}", 422, "invalid_name", "name",
	    NULL, 0, NULL, NULL, NULL },
	{ "{\"name\":\"r\",\"host\":\"\"}", 422, "invalid_field", "host", NULL, 0,
	    NULL, NULL, NULL },
	{ "{\"name\":\"r\",\"host\":\"https://ghcr.io\"}", 422, "invalid_host",
	    "host", NULL, 0, NULL, NULL, NULL },
	{ "{\"name\":\"r\",\"host\":\"ghcr.io/v2/\"}", 422, "invalid_host", "host",
	    NULL, 0, NULL, NULL, NULL },
	{ "{\"name\":\"r\",\"host\":\"::1\"}", 422, "invalid_host", "host", NULL,
	    0, NULL, NULL, NULL },
	{ "{\"name\":\"r\",\"host\":\"h:99999\"}", 422, "invalid_host", "host",
	    NULL, 0, NULL, NULL, NULL },
	{ "{\"name\":\"r\",\"host\":\"a_b\"}", 422, "invalid_host", "host", NULL,
	    0, NULL, NULL, NULL },

	/* Auth types. */
	{ REQ(",\"auth_type\":\"token\""), 422, "invalid_auth_type", "auth_type",
	    NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"auth_type\":\"Basic\""), 422, "invalid_auth_type", "auth_type",
	    NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"auth_type\":2"), 422, "invalid_field", "auth_type", NULL, 0,
	    NULL, NULL, NULL },
	{ REQ(",\"auth_type\":\"anonymous\",\"password\":\"p\""), 422,
	    "field_not_allowed", "password", NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"auth_type\":\"basic\",\"username\":\"u\",\"password\":\"p\","
	    "\"vendor\":\"ghcr\""), 422, "field_not_allowed", "vendor", NULL, 0,
	    NULL, NULL, NULL },
	{ REQ(",\"vendor\":\"ghcr\",\"username\":\"u\""), 422, "field_not_allowed",
	    "username", NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"auth_type\":\"docker-config\",\"docker_config\":{},\"password\":\"p\""),
	    422, "field_not_allowed", "password", NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"auth_type\":\"basic\",\"password\":\"p\""), 422, "missing_field",
	    "username", NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"username\":\"u\""), 422, "missing_field", "password", NULL, 0,
	    NULL, NULL, NULL },
	{ REQ(",\"username\":\"u\",\"password\":\"\""), 422, "invalid_field",
	    "password", NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"username\":\"u:v\",\"password\":\"p\""), 422, "invalid_username",
	    "username", NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"username\":\"u\\tv\",\"password\":\"p\""), 422, "invalid_username",
	    "username", NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"username\":\"u\",\"password\":42"), 422, "invalid_field",
	    "password", NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"vendor\":\"quay\""), 422, "invalid_vendor", "vendor", NULL, 0,
	    NULL, NULL, NULL },
	{ REQ(",\"vendor\":\"ghcrghcrghcr\""), 422, "invalid_vendor", "vendor",
	    NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"auth_type\":\"vendor\""), 422, "invalid_vendor", "vendor", NULL,
	    0, NULL, NULL, NULL },

	/* docker-config through the request. */
	{ REQ(",\"auth_type\":\"docker-config\""), 422, "missing_field",
	    "docker_config", NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"docker_config\":\"\""), 422, "invalid_field", "docker_config",
	    NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"docker_config\":42"), 422, "invalid_field", "docker_config",
	    NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"docker_config\":null"), 422, "invalid_field", "docker_config",
	    NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"docker_config\":" DC("docker.io", AUTH(B64_USER_PASS))), 422,
	    "docker_config_host_mismatch", "docker_config", NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"docker_config\":{\"credsStore\":\"osxkeychain\"}"), 422,
	    "docker_config_unsupported", "docker_config", NULL, 0, NULL, NULL, NULL },
	{ REQ(",\"docker_config\":\"not json\""), 422, "invalid_docker_config",
	    "docker_config", NULL, 0, NULL, NULL, NULL },
};

static void
check_req_accepted(size_t i, const struct req_case *c,
    const struct reg_input *in)
{
	assert_string_equal(in->host, c->host);
	assert_int_equal(in->auth, c->auth);
	assert_string_equal(in->username, c->user);
	if (c->pass == NULL) {
		assert_null(in->password);
	} else {
		if (in->password == NULL)
			fail_msg("case %zu: no password", i);
		assert_string_equal(in->password, c->pass);
		assert_int_equal(in->password_len, strlen(c->pass));
	}
	if (c->vendor == NULL)
		assert_null(in->vendor);
	else
		assert_string_equal(in->vendor, c->vendor);
}

static void
test_request_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct req_case *c = &req_cases[i];
		struct reg_input in;
		struct error err;
		json_error_t jerr;
		json_t *body;
		int status = 0, rc;

		/* As http_request_json loads it: \u0000 never gets this far. */
		body = json_loads(c->body, JSON_REJECT_DUPLICATES, &jerr);
		if (body == NULL)
			fail_msg("case %zu: bad test JSON: %s", i, jerr.text);
		memset(&in, 0, sizeof(in));
		in.org = "acme";
		rc = reg_input_parse(body, &in, &status, &err);
		if (c->status == 0) {
			if (rc != 0)
				fail_msg("case %zu (%s): refused %d %s/%s: %s", i,
				    c->body, status, err.code, err.field, err.msg);
			check_req_accepted(i, c, &in);
		} else {
			if (rc != -1)
				fail_msg("case %zu (%s): accepted, want %s", i,
				    c->body, c->code);
			if (status != c->status || strcmp(err.code, c->code) != 0 ||
			    (c->field != NULL && strcmp(err.field, c->field) != 0))
				fail_msg("case %zu (%s): %d %s/%s, want %d %s/%s", i,
				    c->body, status, err.code, err.field, c->status,
				    c->code, c->field ? c->field : "*");
		}
		reg_input_free(&in);
		assert_null(in.password);
		json_decref(body);
	}
}

/* Sizes through the request: password, name, host, docker_config. */
static void
test_request_sizes(void **state)
{
	(void)state;
	static const struct {
		const char *key;     /* the field made long */
		size_t len;
		const char *extra;   /* other fields */
		int status;
		const char *code;
	} cases[] = {
		{ "password", REG_PASSWORD_MAX, ",\"username\":\"u\"", 0, NULL },
		{ "password", REG_PASSWORD_MAX + 1, ",\"username\":\"u\"", 422,
		    "invalid_password" },
		{ "username", REG_USERNAME_MAX, ",\"password\":\"p\"", 0, NULL },
		{ "username", REG_USERNAME_MAX + 1, ",\"password\":\"p\"", 422,
		    "invalid_field" },
		{ "name", REG_NAME_MAX, "", 0, NULL },
		{ "name", REG_NAME_MAX + 1, "", 422, "invalid_field" },
		/* Unparsable but within the cap: the parser answers. */
		{ "docker_config", REG_DOCKER_CFG_MAX, "", 422, "invalid_docker_config" },
		{ "docker_config", REG_DOCKER_CFG_MAX + 1, "", 413, "too_large" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reg_input in;
		struct error err;
		json_t *body;
		char *v = repeat('x', cases[i].len);
		char head[256];
		int status = 0, rc;

		snprintf(head, sizeof(head), REQ("%s"), cases[i].extra);
		body = json_loads(head, 0, NULL);
		assert_non_null(body);
		assert_int_equal(json_object_set_new(body, cases[i].key,
		    json_string(v)), 0);
		memset(&in, 0, sizeof(in));
		rc = reg_input_parse(body, &in, &status, &err);
		if (cases[i].status == 0 && rc != 0)
			fail_msg("case %zu: refused %s: %s", i, err.code, err.msg);
		if (cases[i].status != 0 && (rc != -1 || status != cases[i].status ||
		    strcmp(err.code, cases[i].code) != 0))
			fail_msg("case %zu: rc %d %d %s, want %d %s", i, rc, status,
			    err.code, cases[i].status, cases[i].code);
		reg_input_free(&in);
		json_decref(body);
		free(v);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_config_table),
		cmocka_unit_test(test_docker_config_sizes),
		cmocka_unit_test(test_docker_config_long_key),
		cmocka_unit_test(test_docker_config_length),
		cmocka_unit_test(test_pack),
		cmocka_unit_test(test_host_valid),
		cmocka_unit_test(test_host_sizes),
		cmocka_unit_test(test_org_valid),
		cmocka_unit_test(test_auth_name),
		cmocka_unit_test(test_request_table),
		cmocka_unit_test(test_request_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
