/*
 * cli.h: the slipway command-line client (services/cli/).
 *
 * main.c holds the command table {noun, verb, handler, options, usage}; each
 * cli_<noun>.c holds the handlers for one noun. Handlers return the process
 * exit status: CLI_OK, CLI_FAIL (the API or the network said no; the reason
 * is on stderr) or CLI_USAGE.
 */
#ifndef SLIPWAY_CLI_H
#define SLIPWAY_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

/* `config set C KEY=VALUE...`: a component and up to 200 variables */
#define CLI_MAX_POS 201
#define CLI_MAX_OPTS 112   /* room for `dataplane add` with 100 --org */

struct cli_opt {
	char name[32];       /* without the leading "--" */
	const char *value;   /* NULL for a flag */
};

/* Parsed arguments of one command; strings point into argv. */
struct cli_args {
	const char *pos[CLI_MAX_POS];
	int npos;
	struct cli_opt opts[CLI_MAX_OPTS];
	int nopts;
	int json;            /* --json, accepted by every command */
	int quiet;           /* --quiet / -q: print only the object's id */
	int help;            /* --help or -h */
};

enum cli_svc { CLI_SVC_REGISTRY, CLI_SVC_COMPONENT, CLI_SVC_DEPLOY, CLI_SVC_WEBHOOK, CLI_SVC_COUNT };

/* What every handler gets: settings from the environment, and output mode. */
struct cli_ctx {
	const char *token;                 /* SLIPWAY_API_KEY, else SLIPWAY_ADMIN_TOKEN */
	char url[CLI_SVC_COUNT][512];      /* base URLs, no trailing slash */
	int json;                          /* print the API's JSON, not tables */
	int quiet;                         /* print only the reply's "id" */
};

struct cli_command;
typedef int (*cli_handler)(struct cli_ctx *ctx, const struct cli_args *a);

struct cli_command {
	const char *noun;
	const char *verb;        /* NULL: "slipway NOUN ARGS..." */
	cli_handler run;
	const char *opts;        /* accepted options, "name= wait" ('=' takes a value) */
	int min_pos, max_pos;    /* positional arguments after noun [verb] */
	int offline;             /* 1: needs no server and no key */
	const char *usage;
};

/* The reply of one HTTP request. */
struct cli_reply {
	long status;
	char *body;              /* NUL-terminated, malloc'd; may be "" */
	size_t len;
	json_t *json;            /* parsed body, or NULL when not JSON */
};

/* cli_args.c */
/*
 * Parses argv (after noun and verb) against spec; "--opt value", "--opt=value"
 * and "--" are understood. Returns 0, or -1 with a reason in why.
 */
int cli_args_parse(int argc, const char *const *argv, const char *spec,
    struct cli_args *a, char *why, size_t whylen);
const char *cli_args_get(const struct cli_args *a, const char *name);
int cli_args_has(const struct cli_args *a, const char *name);
/* Parses a positive integer option; def when absent, -1 when malformed. */
long cli_args_long(const struct cli_args *a, const char *name, long def, long max);
/* 1 when value is one of the space-separated words ("viewer deployer admin"). */
int cli_args_word(const char *value, const char *words);
/*
 * The bearer key the CLI sends: an org key ($SLIPWAY_API_KEY) when set and
 * not empty, else the operator key ($SLIPWAY_ADMIN_TOKEN), else NULL.
 */
const char *cli_args_credential(const char *api_key, const char *admin_token);

/* cli_http.c */
void cli_http_init(void);
void cli_http_cleanup(void);
/*
 * Builds a path from a template with "{}" holes, one string argument per
 * hole; refuses (returns -1, prints why) segments that are not
 * [A-Za-z0-9._-]+ so a path can never be bent by an argument.
 */
int cli_http_path(char *buf, size_t len, const char *tmpl, ...);
/* One request; 0 when an HTTP answer came (any status), -1 (printed) when not. */
int cli_http_do(const struct cli_ctx *ctx, enum cli_svc svc, const char *method,
    const char *path, json_t *body, struct cli_reply *r);
/* The same with a body of len bytes of content_type (NULL body: none). */
int cli_http_send(const struct cli_ctx *ctx, enum cli_svc svc,
    const char *method, const char *path, const char *content_type,
    const void *body, size_t len, struct cli_reply *r);
void cli_reply_free(struct cli_reply *r);
/* Prints "error: <code>: <message>" for a non-2xx reply. */
void cli_http_print_error(const struct cli_reply *r);
/*
 * The common case: request, print the API error on failure, print the raw
 * JSON with --json. On CLI_OK *out (if not NULL) gets the parsed body (owned
 * by the caller; NULL for an empty body).
 */
int cli_http_call(const struct cli_ctx *ctx, enum cli_svc svc, const char *method,
    const char *path, json_t *body, json_t **out);

/* cli_out.c */
struct cli_column {
	const char *header;
	const char *key;
};
/* Prints an array of objects as an aligned table with the given columns. */
void cli_out_table(json_t *arr, const struct cli_column *cols, size_t ncols);
/* The same, calling after_row (if not NULL) after each row is printed. */
void cli_out_table_rows(json_t *arr, const struct cli_column *cols,
    size_t ncols, void (*after_row)(json_t *row));
/* Writes at most n bytes of s, terminal control characters shown as '?'. */
void cli_out_clean(FILE *f, const char *s, size_t n);
/* Prints "key: value" lines for the given keys of an object. */
void cli_out_fields(json_t *obj, const char *const *keys);

/* A whole file of at most max bytes, NUL-terminated, *len its size; NULL
 * (printed) when it cannot be read or is larger. free() it. */
char *cli_file_read(const char *path, size_t max, size_t *len);
/* A JSON value as display text ("-" when absent or null); valid until next call. */
const char *cli_out_text(json_t *v);

/* cli_registry.c */
int cli_registry_test(struct cli_ctx *ctx, const struct cli_args *a);
int cli_registry_add(struct cli_ctx *ctx, const struct cli_args *a);
int cli_registry_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_registry_rm(struct cli_ctx *ctx, const struct cli_args *a);
int cli_registry_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_registry_update(struct cli_ctx *ctx, const struct cli_args *a);

/* cli_component.c */
int cli_component_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_component_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_component_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_component_update(struct cli_ctx *ctx, const struct cli_args *a);
int cli_component_rm(struct cli_ctx *ctx, const struct cli_args *a);

/* cli_endpoints.c */
int cli_endpoints_set(struct cli_ctx *ctx, const struct cli_args *a);
int cli_endpoints_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_endpoints_schema(struct cli_ctx *ctx, const struct cli_args *a);

/* cli_exec.c */
int cli_exec_run(struct cli_ctx *ctx, const struct cli_args *a);
int cli_exec_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_exec_show(struct cli_ctx *ctx, const struct cli_args *a);

/* cli_token.c */
int cli_token_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_token_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_token_revoke(struct cli_ctx *ctx, const struct cli_args *a);
int cli_token_snippet(struct cli_ctx *ctx, const struct cli_args *a);

/* cli_snippet.c */
/* --snippet's value as a set of snippets (NULL: all, "none": 0); -1 if unknown. */
int cli_snippet_kinds(const char *value);
/*
 * Reads the component and prints the chosen CI snippets for its webhook to
 * f (a signing token's snippets sign the call); CLI_OK or the failure.
 */
int cli_snippet_show(const struct cli_ctx *ctx, const char *component_id,
    int signing, int kinds, FILE *f);

/* cli_key.c */
int cli_key_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_key_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_key_revoke(struct cli_ctx *ctx, const struct cli_args *a);

/* cli_dataplane.c */
int cli_dataplane_add(struct cli_ctx *ctx, const struct cli_args *a);
int cli_dataplane_list(struct cli_ctx *ctx, const struct cli_args *a);

/* cli_deploy.c */
int cli_deploy_create(struct cli_ctx *ctx, const struct cli_args *a);

/* cli_config.c: variables and secrets per component and environment. */
int cli_config_set(struct cli_ctx *ctx, const struct cli_args *a);
int cli_config_unset(struct cli_ctx *ctx, const struct cli_args *a);
int cli_config_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_secret_set(struct cli_ctx *ctx, const struct cli_args *a);
int cli_secret_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_secret_rm(struct cli_ctx *ctx, const struct cli_args *a);
int cli_deploy_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_deploy_status(struct cli_ctx *ctx, const struct cli_args *a);
int cli_deploy_promote(struct cli_ctx *ctx, const struct cli_args *a);

/* cli_image.c */
int cli_image_parse(struct cli_ctx *ctx, const struct cli_args *a);

#endif
