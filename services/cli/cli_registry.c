/*
 * cli_registry.c: `slipway registry add|list|show|update|rm|test` against
 * registry-svc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"

#define PASSWORD_MAX 4096

static const struct cli_column registry_cols[] = {
	{ "ID", "id" }, { "NAME", "name" }, { "HOST", "host" },
	{ "AUTH", "auth_type" }, { "USERNAME", "username" }, { "CREATED", "created_at" },
};

static const char *const registry_fields[] = {
	"id", "org", "name", "host", "auth_type", "username", "created_at", NULL,
};

/*
 * Reads the password from stdin (one line, the newline dropped) into buf, so
 * it never shows in `ps` or shell history. Returns -1 (printed) on failure.
 */
static int
password_from_stdin(char *buf, size_t len)
{
	size_t n;

	if (fgets(buf, (int)len, stdin) == NULL) {
		fprintf(stderr, "error: usage: --password-stdin: nothing on stdin\n");
		return -1;
	}
	n = strlen(buf);
	if (n == len - 1 && buf[n - 1] != '\n' && !feof(stdin)) {
		fprintf(stderr, "error: usage: --password-stdin: longer than %d bytes\n",
		    PASSWORD_MAX);
		return -1;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0) {
		fprintf(stderr, "error: usage: --password-stdin: empty password\n");
		return -1;
	}
	return 0;
}

#define DOCKER_CONFIG_MAX (64 * 1024)

/* The auth type the options ask for: --auth, else what the options imply. */
static const char *
registry_auth_type(const struct cli_args *a)
{
	const char *auth = cli_args_get(a, "auth");

	if (auth != NULL)
		return auth;
	if (cli_args_get(a, "docker-config") != NULL)
		return "docker-config";
	if (cli_args_get(a, "vendor") != NULL)
		return "vendor";
	return cli_args_get(a, "username") != NULL ? "basic" : "anonymous";
}

/* -1 (printed) when an option of another auth type than auth was given. */
static int
registry_auth_only(const struct cli_args *a, const char *auth,
    const char *const *mine)
{
	static const char *const all[] = { "username", "password",
	    "password-stdin", "docker-config", "vendor", NULL };

	for (size_t i = 0; all[i] != NULL; i++) {
		size_t j;

		for (j = 0; mine[j] != NULL && strcmp(mine[j], all[i]) != 0; j++)
			;
		if (mine[j] == NULL && cli_args_has(a, all[i])) {
			fprintf(stderr, "error: usage: --%s does not go with %s "
			    "auth\n", all[i], auth);
			return -1;
		}
	}
	return 0;
}

static int
auth_anonymous(const struct cli_args *a, json_t *body, char *pw, size_t pwlen)
{
	static const char *const mine[] = { NULL };

	(void)body, (void)pw, (void)pwlen;
	return registry_auth_only(a, "anonymous", mine);
}

static int
auth_basic(const struct cli_args *a, json_t *body, char *pw, size_t pwlen)
{
	static const char *const mine[] = { "username", "password",
	    "password-stdin", NULL };
	const char *user = cli_args_get(a, "username");
	const char *flagpw = cli_args_get(a, "password");
	int stdin_pw = cli_args_has(a, "password-stdin");

	if (registry_auth_only(a, "basic", mine) < 0)
		return -1;
	if (user == NULL || (flagpw == NULL) == !stdin_pw) {
		fprintf(stderr, "error: usage: basic auth needs --username and one of "
		    "--password-stdin or --password\n");
		return -1;
	}
	if (stdin_pw && password_from_stdin(pw, pwlen) < 0)
		return -1;
	json_object_set_new(body, "username", json_string(user));
	json_object_set_new(body, "password", json_string(stdin_pw ? pw : flagpw));
	return 0;
}

/* The Docker config.json file goes as text; registry-svc checks that it has
 * exactly one auths entry, for this registry's host. */
static int
auth_docker_config(const struct cli_args *a, json_t *body, char *pw, size_t pwlen)
{
	static const char *const mine[] = { "docker-config", NULL };
	const char *path = cli_args_get(a, "docker-config");
	char *text;
	size_t len;
	json_t *v;

	(void)pw, (void)pwlen;
	if (registry_auth_only(a, "docker-config", mine) < 0)
		return -1;
	if (path == NULL) {
		fprintf(stderr, "error: usage: docker-config auth needs "
		    "--docker-config FILE\n");
		return -1;
	}
	if ((text = cli_file_read(path, DOCKER_CONFIG_MAX, &len)) == NULL)
		return -1;
	v = json_stringn(text, len);
	sodium_memzero(text, len);
	free(text);
	if (v == NULL) {
		fprintf(stderr, "error: usage: %s is not UTF-8 text\n", path);
		return -1;
	}
	json_object_set_new(body, "docker_config", v);
	return 0;
}

static int
auth_vendor(const struct cli_args *a, json_t *body, char *pw, size_t pwlen)
{
	static const char *const mine[] = { "vendor", NULL };
	const char *vendor = cli_args_get(a, "vendor");

	(void)pw, (void)pwlen;
	if (registry_auth_only(a, "vendor", mine) < 0)
		return -1;
	if (vendor == NULL) {
		fprintf(stderr, "error: usage: vendor auth needs --vendor "
		    "acr|gar|ecr|ghcr\n");
		return -1;
	}
	json_object_set_new(body, "vendor", json_string(vendor));
	return 0;
}

static const struct {
	const char *type;
	int (*fill)(const struct cli_args *, json_t *, char *, size_t);
} registry_auths[] = {
	{ "anonymous", auth_anonymous }, { "basic", auth_basic },
	{ "docker-config", auth_docker_config }, { "vendor", auth_vendor },
};

/* Fills the auth fields of the request body; -1 (printed) on a usage error. */
static int
registry_auth(const struct cli_args *a, json_t *body, char *pw, size_t pwlen)
{
	const char *auth = registry_auth_type(a);

	for (size_t i = 0; i < sizeof(registry_auths) / sizeof(registry_auths[0]); i++)
		if (strcmp(auth, registry_auths[i].type) == 0) {
			json_object_set_new(body, "auth_type", json_string(auth));
			return registry_auths[i].fill(a, body, pw, pwlen);
		}
	fprintf(stderr, "error: usage: --auth must be anonymous, basic, "
	    "docker-config or vendor\n");
	return -1;
}

/* 1 when any credential option was given. */
static int
registry_has_auth(const struct cli_args *a)
{
	static const char *const opts[] = { "username", "auth", "password",
	    "password-stdin", "docker-config", "vendor", NULL };

	for (size_t i = 0; opts[i] != NULL; i++)
		if (cli_args_has(a, opts[i]))
			return 1;
	return 0;
}

/*
 * The body of `registry add` (create: --name and --host required, the auth
 * always) and `registry update` (--name if given, the auth only when a
 * credential option is given). NULL (printed) on a usage error.
 */
static json_t *
registry_body(const struct cli_args *a, int create, char *pw, size_t pwlen)
{
	const char *name = cli_args_get(a, "name");
	json_t *body = json_object();

	if (create && (name == NULL || cli_args_get(a, "host") == NULL)) {
		fprintf(stderr, "error: usage: --name and --host are required\n");
		goto fail;
	}
	if (name != NULL)
		json_object_set_new(body, "name", json_string(name));
	if (create)
		json_object_set_new(body, "host", json_string(cli_args_get(a, "host")));
	if ((create || registry_has_auth(a)) && registry_auth(a, body, pw, pwlen) < 0)
		goto fail;
	if (json_object_size(body) == 0) {
		fprintf(stderr, "error: usage: nothing to change: give --name or "
		    "credentials\n");
		goto fail;
	}
	return body;
fail:
	json_decref(body);
	return NULL;
}

/* POST (add) or PATCH (update) path with the body; prints the registry. */
static int
registry_send(struct cli_ctx *ctx, const struct cli_args *a, const char *method,
    const char *path, int create)
{
	char pw[PASSWORD_MAX + 2];
	json_t *body, *out = NULL;
	int rc;

	if ((body = registry_body(a, create, pw, sizeof(pw))) == NULL) {
		sodium_memzero(pw, sizeof(pw));
		return CLI_USAGE;
	}
	rc = cli_http_call(ctx, CLI_SVC_REGISTRY, method, path, body, &out);
	sodium_memzero(pw, sizeof(pw));
	json_decref(body);
	if (rc == CLI_OK && !ctx->json)
		cli_out_fields(out, registry_fields);
	json_decref(out);
	return rc;
}

int
cli_registry_add(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];

	if (cli_http_path(path, sizeof(path), "/v1/orgs/{}/registries", a->pos[0]) < 0)
		return CLI_USAGE;
	return registry_send(ctx, a, "POST", path, 1);
}

/*
 * Renames the registry and/or rotates its credentials (a new auth type, or
 * new credentials): the data planes use them for the next pull.
 */
int
cli_registry_update(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];

	if (cli_http_path(path, sizeof(path), "/v1/orgs/{}/registries/{}",
	    a->pos[0], a->pos[1]) < 0)
		return CLI_USAGE;
	return registry_send(ctx, a, "PATCH", path, 0);
}

int
cli_registry_show(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *out = NULL;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/orgs/{}/registries/{}",
	    a->pos[0], a->pos[1]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_REGISTRY, "GET", path, NULL, &out);
	if (rc == CLI_OK && !ctx->json)
		cli_out_fields(out, registry_fields);
	json_decref(out);
	return rc;
}

int
cli_registry_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *out = NULL;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/orgs/{}/registries", a->pos[0]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_REGISTRY, "GET", path, NULL, &out);
	if (rc == CLI_OK && !ctx->json)
		cli_out_table(json_object_get(out, "registries"), registry_cols,
		    sizeof(registry_cols) / sizeof(registry_cols[0]));
	json_decref(out);
	return rc;
}

int
cli_registry_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/orgs/{}/registries/{}",
	    a->pos[0], a->pos[1]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_REGISTRY, "DELETE", path, NULL, NULL);
	if (rc == CLI_OK && !ctx->json)
		printf("registry %s removed\n", a->pos[1]);
	return rc;
}

/*
 * Asks registry-svc to log in to the registry with the stored credentials.
 * Exits 1 unless the registry accepted them, so a script can gate on it.
 */
int
cli_registry_test(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *out = NULL;
	const char *status;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/orgs/{}/registries/{}/test",
	    a->pos[0], a->pos[1]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_REGISTRY, "POST", path, NULL, &out);
	if (rc != CLI_OK)
		return rc;
	status = json_string_value(json_object_get(out, "status"));
	if (!ctx->json)
		printf("%s: %s%s%s\n", cli_out_text(json_object_get(out, "host")),
		    status ? status : "unknown",
		    json_is_string(json_object_get(out, "detail")) ? ": " : "",
		    json_is_string(json_object_get(out, "detail")) ?
		    json_string_value(json_object_get(out, "detail")) : "");
	if (!json_is_true(json_object_get(out, "ok")))
		rc = CLI_FAIL;
	json_decref(out);
	return rc;
}
