/*
 * cli_args.c: argument parsing for one command, against a small spec string
 * ("name= host= wait org=*": '=' marks an option that takes a value, '=*'
 * one that may be given more than once). Kept free of
 * I/O so tests/unit/test_cli_args.c can drive it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/*
 * Looks name (n bytes) up in spec. Returns 3 when it takes a value and may
 * repeat, 2 when it takes a value, 1 when it is a flag, 0 when unknown.
 */
static int
spec_lookup(const char *spec, const char *name, size_t n)
{
	const char *p = spec;
	size_t len;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		len = strcspn(p, " =");
		if (len == n && strncmp(p, name, n) == 0)
			return p[len] != '=' ? 1 : p[len + 1] == '*' ? 3 : 2;
		p += len;
		if (*p == '=')
			p++;
		if (*p == '*')
			p++;
	}
	return 0;
}

/*
 * Records one option (name is n bytes); -1 when too many or when it repeats
 * and may not.
 */
static int
args_add_opt(struct cli_args *a, const char *name, size_t n,
    const char *value, int may_repeat, char *why, size_t whylen)
{
	struct cli_opt *o;

	if (a->nopts == CLI_MAX_OPTS || n >= sizeof(o->name)) {
		snprintf(why, whylen, "too many options");
		return -1;
	}
	o = &a->opts[a->nopts];
	memcpy(o->name, name, n);
	o->name[n] = '\0';
	if (!may_repeat && cli_args_has(a, o->name)) {
		snprintf(why, whylen, "option --%s given twice", o->name);
		return -1;
	}
	o->value = value;
	a->nopts++;
	return 0;
}

/* Handles argv[*i], an argument starting with "--"; advances *i past a value. */
static int
args_option(int argc, const char *const *argv, int *i, const char *spec,
    struct cli_args *a, char *why, size_t whylen)
{
	const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
	int kind;

	if (n == 4 && strncmp(arg, "json", 4) == 0 && eq == NULL) {
		a->json = 1;
		return 0;
	}
	if (n == 5 && strncmp(arg, "quiet", 5) == 0 && eq == NULL) {
		a->quiet = 1;
		return 0;
	}
	if (n == 4 && strncmp(arg, "help", 4) == 0 && eq == NULL) {
		a->help = 1;
		return 0;
	}
	if ((kind = spec_lookup(spec, arg, n)) == 0) {
		snprintf(why, whylen, "unknown option --%.*s", (int)n, arg);
		return -1;
	}
	if (kind == 1) {
		if (eq != NULL) {
			snprintf(why, whylen, "option --%.*s takes no value", (int)n, arg);
			return -1;
		}
		return args_add_opt(a, arg, n, NULL, 0, why, whylen);
	}
	if (eq != NULL)
		return args_add_opt(a, arg, n, eq + 1, kind == 3, why, whylen);
	if (*i + 1 >= argc) {
		snprintf(why, whylen, "option --%s needs a value", arg);
		return -1;
	}
	(*i)++;
	return args_add_opt(a, arg, n, argv[*i], kind == 3, why, whylen);
}

int
cli_args_parse(int argc, const char *const *argv, const char *spec,
    struct cli_args *a, char *why, size_t whylen)
{
	int i, only_pos = 0;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < argc; i++) {
		const char *s = argv[i];

		if (!only_pos && strcmp(s, "--") == 0) {
			only_pos = 1;
		} else if (!only_pos && strcmp(s, "-h") == 0) {
			a->help = 1;
		} else if (!only_pos && strncmp(s, "--", 2) == 0) {
			if (args_option(argc, argv, &i, spec, a, why, whylen) < 0)
				return -1;
		} else if (a->npos == CLI_MAX_POS) {
			snprintf(why, whylen, "too many arguments");
			return -1;
		} else {
			a->pos[a->npos++] = s;
		}
	}
	return 0;
}

const char *
cli_args_get(const struct cli_args *a, const char *name)
{
	int i;

	for (i = 0; i < a->nopts; i++)
		if (strcmp(a->opts[i].name, name) == 0)
			return a->opts[i].value;
	return NULL;
}

int
cli_args_has(const struct cli_args *a, const char *name)
{
	int i;

	for (i = 0; i < a->nopts; i++)
		if (strcmp(a->opts[i].name, name) == 0)
			return 1;
	return 0;
}

long
cli_args_long(const struct cli_args *a, const char *name, long def, long max)
{
	const char *s = cli_args_get(a, name);
	char *end;
	long v;

	if (s == NULL)
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v <= 0 || v > max)
		return -1;
	return v;
}

int
cli_args_word(const char *value, const char *words)
{
	size_t n = strlen(value), w;

	while (n > 0 && *words != '\0') {
		w = strcspn(words, " ");
		if (w == n && strncmp(words, value, n) == 0)
			return 1;
		words += w;
		words += strspn(words, " ");
	}
	return 0;
}

const char *
cli_args_credential(const char *api_key, const char *admin_token)
{
	if (api_key != NULL && api_key[0] != '\0')
		return api_key;
	if (admin_token != NULL && admin_token[0] != '\0')
		return admin_token;
	return NULL;
}
