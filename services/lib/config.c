/*
 * config.c: configuration from environment variables, driven by the
 * service's struct config_var table (see config.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "crypto.h"
#include "regauth.h"

static const char *const config_type_names[] = {
	[CONFIG_STRING] = "string",
	[CONFIG_INT] = "integer >= 0",
	[CONFIG_PORT] = "port 1..65535",
	[CONFIG_FILE] = "readable file",
	[CONFIG_KEY_FILE] = "private file: mode 0600, or 0640 owned by root",
	[CONFIG_TARGETS] = "comma list: loopback, private, link-local, CIDRs",
};

/* Strict decimal parse: digits only, no sign, no trailing text. */
static int
config_parse_int(const char *s, long *out)
{
	char *end;
	long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > INT_MAX)
		return -1;
	*out = v;
	return 0;
}

static int
config_file_readable(const char *path)
{
	struct stat st;
	int fd;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int
config_set_number(const struct config_var *v, const char *s, struct error *err)
{
	long n;

	if (config_parse_int(s, &n) != 0 ||
	    (v->type == CONFIG_PORT && (n < 1 || n > 65535))) {
		/* The value is echoed to help, unless it is a secret. */
		error_set(err, "invalid_config", v->name, "%s must be a%s, got \"%.64s\"",
		    v->name, v->type == CONFIG_PORT ? " port between 1 and 65535" :
		    "n integer >= 0", (v->flags & CONFIG_SECRET) ? "<secret>" : s);
		return -1;
	}
	*(int *)v->dst = (int)n;
	return 0;
}

/* A key file that others may read or change is refused, not warned about. */
static int
config_key_file_private(const struct config_var *v, const char *path,
    struct error *err)
{
	struct error why;
	int fd;

	if ((fd = crypto_key_file_open(path, &why)) < 0) {
		error_set(err, "invalid_config", v->name, "%s: %s", v->name, why.msg);
		return -1;
	}
	close(fd);
	return 0;
}

/* An address policy, parsed once here into the service's struct. */
static int
config_set_targets(const struct config_var *v, const char *s,
    struct error *err)
{
	struct error why;

	if (regauth_policy_parse(s, v->dst, &why) < 0) {
		error_set(err, "invalid_config", v->name, "%s: %s", v->name, why.msg);
		return -1;
	}
	return 0;
}

static int
config_set_string(const struct config_var *v, const char *s, struct error *err)
{
	char *copy;

	if (v->type == CONFIG_KEY_FILE && config_key_file_private(v, s, err) < 0)
		return -1;
	if (v->type == CONFIG_FILE && !config_file_readable(s)) {
		error_set(err, "invalid_config", v->name,
		    "%s: %.128s does not exist or is not a readable file", v->name,
		    (v->flags & CONFIG_SECRET) ? "<secret>" : s);
		return -1;
	}
	copy = strdup(s);
	if (copy == NULL) {
		error_set(err, "invalid_config", v->name, "out of memory");
		return -1;
	}
	*(char **)v->dst = copy;
	return 0;
}

/* Applies one variable: the environment, else the default, else missing. */
static int
config_load_one(const struct config_var *v, struct error *err)
{
	const char *s = getenv(v->name);

	/* An empty number or path means "not set"; an empty string is a value. */
	if (s != NULL && s[0] == '\0' && v->type != CONFIG_STRING)
		s = NULL;
	if (s == NULL)
		s = v->def;
	if (s == NULL || ((v->flags & CONFIG_REQUIRED) && s[0] == '\0')) {
		if (v->flags & CONFIG_REQUIRED) {
			error_set(err, "missing_config", v->name, "%s is required", v->name);
			return -1;
		}
		if (v->type == CONFIG_INT || v->type == CONFIG_PORT)
			*(int *)v->dst = 0;
		else if (v->type == CONFIG_TARGETS)
			memset(v->dst, 0, sizeof(struct regauth_policy));
		else
			*(char **)v->dst = NULL;
		return 0;
	}
	if (v->type == CONFIG_INT || v->type == CONFIG_PORT)
		return config_set_number(v, s, err);
	if (v->type == CONFIG_TARGETS)
		return config_set_targets(v, s, err);
	return config_set_string(v, s, err);
}

void
config_free(const struct config_var *vars, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (vars[i].type == CONFIG_STRING || vars[i].type == CONFIG_FILE ||
		    vars[i].type == CONFIG_KEY_FILE) {
			char **p = vars[i].dst;
			free(*p);
			*p = NULL;
		}
	}
}

int
config_load(const struct config_var *vars, size_t n, struct error *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (config_load_one(&vars[i], err) != 0) {
			/* A failed load leaves nothing allocated behind. */
			config_free(vars, i);
			return -1;
		}
	}
	return 0;
}

/* A policy as --check-config shows it: its canonical text. */
static json_t *
config_shown_targets(const struct regauth_policy *p)
{
	char text[REGAUTH_CIDR_MAX * (REGAUTH_ADDR_STRLEN + 5) + 64];

	if (regauth_policy_format(p, text, sizeof(text)) < 0)
		return json_string("<too long to show>");
	return json_string(text);
}

/* The JSON value --check-config shows for one loaded variable. */
static json_t *
config_shown_value(const struct config_var *v)
{
	const char *s;
	json_t *shown;

	if (v->type == CONFIG_INT || v->type == CONFIG_PORT)
		return json_integer(*(int *)v->dst);
	if (v->type == CONFIG_TARGETS)
		return config_shown_targets(v->dst);
	s = *(char **)v->dst;
	if (s == NULL)
		return json_null();
	if (v->flags & CONFIG_SECRET)
		return json_string("<set>");
	shown = json_string(s);
	return shown != NULL ? shown : json_string("<not utf-8>");
}

static void
config_print_json(json_t *out)
{
	char *s = json_dumps(out, JSON_COMPACT);

	if (s != NULL)
		printf("%s\n", s);
	free(s);
	json_decref(out);
	fflush(stdout);
}

static void __attribute__((noreturn))
config_check(const struct config_var *vars, size_t n)
{
	struct error err;
	json_t *out, *cfg;
	size_t i;

	error_clear(&err);
	if (config_load(vars, n, &err) != 0) {
		out = json_pack("{s:b, s:{s:s, s:s, s:s}}", "ok", 0, "error",
		    "code", err.code, "field", err.field, "message", err.msg);
		if (out == NULL)  /* the message quoted a value that is not UTF-8 */
			out = json_pack("{s:b, s:{s:s, s:s, s:s}}", "ok", 0, "error",
			    "code", err.code, "field", err.field, "message", err.code);
		config_print_json(out);
		exit(1);
	}
	cfg = json_object();
	for (i = 0; i < n; i++)
		json_object_set_new(cfg, vars[i].name, config_shown_value(&vars[i]));
	out = json_pack("{s:b, s:o}", "ok", 1, "config", cfg);
	config_print_json(out);
	config_free(vars, n);
	exit(0);
}

static void __attribute__((noreturn))
config_help(const char *prog, const struct config_var *vars, size_t n)
{
	size_t i;

	printf("usage: %s [--check-config | --help]\n\n"
	    "Configuration is read from these environment variables:\n\n", prog);
	for (i = 0; i < n; i++) {
		const struct config_var *v = &vars[i];
		printf("  %s (%s%s%s)\n", v->name, config_type_names[v->type],
		    (v->flags & CONFIG_REQUIRED) ? ", required" : "",
		    (v->flags & CONFIG_SECRET) ? ", secret" : "");
		if (v->def != NULL)
			printf("      default: \"%s\"\n", v->def);
		if (v->help != NULL)
			printf("      %s\n", v->help);
	}
	printf("\n  --check-config  validate the configuration, print it as JSON "
	    "(secrets as \"<set>\") and exit 0 if valid, 1 if not\n");
	fflush(stdout);
	exit(0);
}

int
config_main(int argc, char **argv, const struct config_var *vars, size_t n)
{
	struct error err;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check-config") == 0)
			config_check(vars, n);
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			config_help(argc > 0 ? argv[0] : "slipway", vars, n);
	}
	error_clear(&err);
	if (config_load(vars, n, &err) != 0) {
		log_warnx("configuration: %s", err.msg);
		exit(1);
	}
	return 0;
}
