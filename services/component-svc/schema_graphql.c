/*
 * schema_graphql.c: a GraphQL schema file (SDL), checked with a lexer and a
 * recursive-descent parser of the type-system grammar of the GraphQL
 * specification (October 2021): schema, scalar, type, interface, union,
 * enum, input and directive definitions, their extensions, descriptions
 * (strings and block strings) and comments. Operations and fragments are
 * refused: a schema file describes an API, it does not call one.
 *
 * The check is syntactic and builds nothing; every error carries the line
 * and column (in characters) where it was found. Recursion (list types,
 * nested values) has a depth cap, so no input can exhaust the stack.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "component.h"

#define GQL_DEPTH_MAX 64

enum gql_tok {
	GQL_EOF, GQL_PUNCT, GQL_NAME, GQL_INT, GQL_FLOAT, GQL_STRING,
	GQL_BLOCK_STRING
};

struct gql {
	const unsigned char *s;
	size_t len, pos;
	size_t line, col;          /* of pos */
	/* The current token. */
	enum gql_tok tok;
	size_t tstart, tlen, tline, tcol;
	int depth;
	const char *file;
	struct error *err;
};

static int gql_fail_at(struct gql *g, size_t line, size_t col,
    const char *fmt, ...) LOG_PRINTF(4, 5);

static int
gql_fail_at(struct gql *g, size_t line, size_t col, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	if (g->err->code[0] != '\0')
		return -1;   /* the first error is the one reported */
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	error_set(g->err, "invalid_schema", "schemas", "%s line %zu, column %zu: "
	    "%s", g->file, line, col, why);
	return -1;
}

/* ---- lexer -------------------------------------------------------------- */

static int
gql_peekc(const struct gql *g, size_t off)
{
	return g->pos + off < g->len ? g->s[g->pos + off] : -1;
}

/* Moves one byte on; a line ends at LF, CR or CRLF. */
static void
gql_advance(struct gql *g)
{
	int c = g->s[g->pos++];

	if (c == '\n' || (c == '\r' && gql_peekc(g, 0) != '\n')) {
		g->line++;
		g->col = 1;
	} else if ((c & 0xc0) != 0x80) {
		g->col++;   /* columns count characters, not UTF-8 bytes */
	}
}

static int
gql_name_start(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int
gql_name_char(int c)
{
	return gql_name_start(c) || (c >= '0' && c <= '9');
}

/* Whitespace, line ends, commas, comments and a BOM are insignificant. */
static void
gql_skip_ignored(struct gql *g)
{
	for (;;) {
		int c = gql_peekc(g, 0);
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
			gql_advance(g);
		} else if (c == 0xef && gql_peekc(g, 1) == 0xbb &&
		    gql_peekc(g, 2) == 0xbf) {
			g->pos += 3;
		} else if (c == '#') {
			while ((c = gql_peekc(g, 0)) != -1 && c != '\n' && c != '\r')
				gql_advance(g);
		} else {
			return;
		}
	}
}

static int
gql_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* \uXXXX or \u{X...}, pos at the 'u'. */
static int
gql_unicode_escape(struct gql *g)
{
	size_t n = 0;

	gql_advance(g);
	if (gql_peekc(g, 0) == '{') {
		gql_advance(g);
		while (gql_hex(gql_peekc(g, 0)) && n < 7) {
			gql_advance(g);
			n++;
		}
		if (n == 0 || n > 6 || gql_peekc(g, 0) != '}')
			return gql_fail_at(g, g->line, g->col, "malformed \\u{...} "
			    "escape");
		gql_advance(g);
		return 0;
	}
	for (n = 0; n < 4; n++) {
		if (!gql_hex(gql_peekc(g, 0)))
			return gql_fail_at(g, g->line, g->col, "\\u must be "
			    "followed by four hex digits");
		gql_advance(g);
	}
	return 0;
}

/* A "string" (pos after the opening quote). */
static int
gql_lex_string(struct gql *g)
{
	int c;

	for (;;) {
		c = gql_peekc(g, 0);
		if (c == -1 || c == '\n' || c == '\r')
			return gql_fail_at(g, g->tline, g->tcol, "unterminated "
			    "string");
		if (c < 0x20 && c != '\t')
			return gql_fail_at(g, g->line, g->col, "control character "
			    "in a string");
		if (c == '"') {
			gql_advance(g);
			return 0;
		}
		if (c != '\\') {
			gql_advance(g);
			continue;
		}
		gql_advance(g);
		c = gql_peekc(g, 0);
		if (c == 'u') {
			if (gql_unicode_escape(g) < 0)
				return -1;
		} else if (c != -1 && strchr("\"\\/bfnrt", c) != NULL) {
			gql_advance(g);
		} else {
			return gql_fail_at(g, g->line, g->col, "invalid escape "
			    "sequence in a string");
		}
	}
}

/* A """block string""" (pos after the opening quotes); \""" is a quote. */
static int
gql_lex_block_string(struct gql *g)
{
	int c;

	for (;;) {
		c = gql_peekc(g, 0);
		if (c == -1)
			return gql_fail_at(g, g->tline, g->tcol, "unterminated "
			    "block string");
		if (c == '"' && gql_peekc(g, 1) == '"' && gql_peekc(g, 2) == '"') {
			g->pos += 3;
			g->col += 3;
			return 0;
		}
		if (c == '\\' && gql_peekc(g, 1) == '"' && gql_peekc(g, 2) == '"' &&
		    gql_peekc(g, 3) == '"') {
			g->pos += 4;
			g->col += 4;
			continue;
		}
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return gql_fail_at(g, g->line, g->col, "control character "
			    "in a block string");
		gql_advance(g);
	}
}

static void
gql_digits(struct gql *g)
{
	while (gql_peekc(g, 0) >= '0' && gql_peekc(g, 0) <= '9')
		gql_advance(g);
}

/* IntValue or FloatValue: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
gql_lex_number(struct gql *g)
{
	int c;

	g->tok = GQL_INT;
	if (gql_peekc(g, 0) == '-')
		gql_advance(g);
	c = gql_peekc(g, 0);
	if (c == '0') {
		gql_advance(g);
		if (gql_peekc(g, 0) >= '0' && gql_peekc(g, 0) <= '9')
			return gql_fail_at(g, g->tline, g->tcol, "numbers must not "
			    "start with 0");
	} else if (c >= '1' && c <= '9') {
		gql_digits(g);
	} else {
		return gql_fail_at(g, g->tline, g->tcol, "'-' must be followed by "
		    "a digit");
	}
	if (gql_peekc(g, 0) == '.') {
		gql_advance(g);
		g->tok = GQL_FLOAT;
		if (gql_peekc(g, 0) < '0' || gql_peekc(g, 0) > '9')
			return gql_fail_at(g, g->line, g->col, "a digit must "
			    "follow '.'");
		gql_digits(g);
	}
	if (gql_peekc(g, 0) == 'e' || gql_peekc(g, 0) == 'E') {
		gql_advance(g);
		g->tok = GQL_FLOAT;
		if (gql_peekc(g, 0) == '+' || gql_peekc(g, 0) == '-')
			gql_advance(g);
		if (gql_peekc(g, 0) < '0' || gql_peekc(g, 0) > '9')
			return gql_fail_at(g, g->line, g->col, "a digit must "
			    "follow the exponent");
		gql_digits(g);
	}
	c = gql_peekc(g, 0);
	if (c == '.' || gql_name_start(c))
		return gql_fail_at(g, g->line, g->col, "a number must not be "
		    "followed by '%c'", c);
	return 0;
}

/* Reads the next token into g->tok / tstart / tlen. */
static int
gql_lex(struct gql *g)
{
	int c;

	gql_skip_ignored(g);
	g->tstart = g->pos;
	g->tline = g->line;
	g->tcol = g->col;
	c = gql_peekc(g, 0);
	if (c == -1) {
		g->tok = GQL_EOF;
		g->tlen = 0;
		return 0;
	}
	if (gql_name_start(c)) {
		g->tok = GQL_NAME;
		while (gql_name_char(gql_peekc(g, 0)))
			gql_advance(g);
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		if (gql_lex_number(g) < 0)
			return -1;
	} else if (c == '"' && gql_peekc(g, 1) == '"' && gql_peekc(g, 2) == '"') {
		g->tok = GQL_BLOCK_STRING;
		g->pos += 3;
		g->col += 3;
		if (gql_lex_block_string(g) < 0)
			return -1;
	} else if (c == '"') {
		g->tok = GQL_STRING;
		gql_advance(g);
		if (gql_lex_string(g) < 0)
			return -1;
	} else if (c == '.' && gql_peekc(g, 1) == '.' && gql_peekc(g, 2) == '.') {
		g->tok = GQL_PUNCT;
		g->pos += 3;
		g->col += 3;
	} else if (strchr("!$&()=:@[]{}|", c) != NULL) {
		g->tok = GQL_PUNCT;
		gql_advance(g);
	} else {
		return gql_fail_at(g, g->tline, g->tcol, c >= 0x20 && c < 0x7f ?
		    "unexpected character '%c'" : "unexpected character (byte "
		    "0x%02x)", c);
	}
	g->tlen = g->pos - g->tstart;
	return 0;
}

/* ---- parser helpers -------------------------------------------------- */

/* 1 when the current token is the punctuator or name text. */
static int
gql_is(const struct gql *g, enum gql_tok tok, const char *text)
{
	return g->tok == tok && g->tlen == strlen(text) &&
	    memcmp(g->s + g->tstart, text, g->tlen) == 0;
}

static int
gql_is_punct(const struct gql *g, const char *p)
{
	return gql_is(g, GQL_PUNCT, p);
}

static int
gql_is_name(const struct gql *g, const char *n)
{
	return gql_is(g, GQL_NAME, n);
}

/* The current token, quoted for a message. */
static const char *
gql_shown(const struct gql *g, char *buf, size_t len)
{
	size_t n = g->tlen < 24 ? g->tlen : 24;

	if (g->tok == GQL_EOF)
		return "the end of the file";
	if (g->tok == GQL_STRING || g->tok == GQL_BLOCK_STRING)
		return "a string";
	snprintf(buf, len, "\"%.*s\"", (int)n, (const char *)g->s + g->tstart);
	return buf;
}

static int
gql_unexpected(struct gql *g, const char *want)
{
	char shown[40];

	return gql_fail_at(g, g->tline, g->tcol, "expected %s, found %s", want,
	    gql_shown(g, shown, sizeof(shown)));
}

static int
gql_expect_punct(struct gql *g, const char *p)
{
	char want[8];

	if (!gql_is_punct(g, p)) {
		snprintf(want, sizeof(want), "'%s'", p);
		return gql_unexpected(g, want);
	}
	return gql_lex(g);
}

/* A Name; want says what it names, for the message. */
static int
gql_name(struct gql *g, const char *want)
{
	if (g->tok != GQL_NAME)
		return gql_unexpected(g, want);
	return gql_lex(g);
}

/* Skips p when it is the current punctuator: 1 skipped, 0 not, -1 error. */
static int
gql_optional(struct gql *g, const char *p)
{
	if (!gql_is_punct(g, p))
		return 0;
	return gql_lex(g) < 0 ? -1 : 1;
}

static int
gql_enter(struct gql *g)
{
	if (++g->depth > GQL_DEPTH_MAX)
		return gql_fail_at(g, g->tline, g->tcol, "nested deeper than %d "
		    "levels", GQL_DEPTH_MAX);
	return 0;
}

/* ---- values, types, directives --------------------------------------- */

static int gql_value(struct gql *g);

/* [Value*] or {Name: Value*} (the opening punctuator is current). */
static int
gql_compound_value(struct gql *g, int object)
{
	const char *close = object ? "}" : "]";

	if (gql_enter(g) < 0 || gql_lex(g) < 0)
		return -1;
	while (!gql_is_punct(g, close)) {
		if (object && (gql_name(g, "a field name") < 0 ||
		    gql_expect_punct(g, ":") < 0))
			return -1;
		if (gql_value(g) < 0)
			return -1;
	}
	g->depth--;
	return gql_lex(g);
}

/* A constant Value (a schema has no variables). */
static int
gql_value(struct gql *g)
{
	switch (g->tok) {
	case GQL_INT:
	case GQL_FLOAT:
	case GQL_STRING:
	case GQL_BLOCK_STRING:
	case GQL_NAME:   /* true, false, null or an enum value */
		return gql_lex(g);
	case GQL_PUNCT:
		if (gql_is_punct(g, "["))
			return gql_compound_value(g, 0);
		if (gql_is_punct(g, "{"))
			return gql_compound_value(g, 1);
		if (gql_is_punct(g, "$"))
			return gql_fail_at(g, g->tline, g->tcol, "variables are not "
			    "allowed in a schema");
		break;
	default:
		break;
	}
	return gql_unexpected(g, "a value");
}

/* Type: Name | [Type] followed by an optional '!'. */
static int
gql_type(struct gql *g)
{
	if (gql_is_punct(g, "[")) {
		if (gql_enter(g) < 0 || gql_lex(g) < 0 || gql_type(g) < 0 ||
		    gql_expect_punct(g, "]") < 0)
			return -1;
		g->depth--;
	} else if (gql_name(g, "a type") < 0) {
		return -1;
	}
	return gql_optional(g, "!") < 0 ? -1 : 0;
}

/* Directives: (@ Name Arguments?)* */
static int
gql_directives(struct gql *g)
{
	int rc;

	while (gql_is_punct(g, "@")) {
		if (gql_lex(g) < 0 || gql_name(g, "a directive name") < 0 ||
		    (rc = gql_optional(g, "(")) < 0)
			return -1;
		if (rc == 0)
			continue;
		do {
			if (gql_name(g, "an argument name") < 0 ||
			    gql_expect_punct(g, ":") < 0 || gql_value(g) < 0)
				return -1;
		} while (!gql_is_punct(g, ")"));
		if (gql_lex(g) < 0)
			return -1;
	}
	return 0;
}

/* An optional description: a string or block string before a definition. */
static int
gql_description(struct gql *g)
{
	if (g->tok == GQL_STRING || g->tok == GQL_BLOCK_STRING)
		return gql_lex(g);
	return 0;
}

/* InputValueDefinition: Description? Name : Type DefaultValue? Directives? */
static int
gql_input_value(struct gql *g)
{
	int rc;

	if (gql_description(g) < 0 || gql_name(g, "an argument or field name") < 0 ||
	    gql_expect_punct(g, ":") < 0 || gql_type(g) < 0 ||
	    (rc = gql_optional(g, "=")) < 0 || (rc == 1 && gql_value(g) < 0))
		return -1;
	return gql_directives(g);
}

/* ( InputValueDefinition+ ) or { InputValueDefinition+ } */
static int
gql_input_values(struct gql *g, const char *open, const char *close)
{
	if (gql_expect_punct(g, open) < 0)
		return -1;
	do {
		if (gql_input_value(g) < 0)
			return -1;
	} while (!gql_is_punct(g, close));
	return gql_lex(g);
}

/* FieldDefinition: Description? Name Arguments? : Type Directives? */
static int
gql_field(struct gql *g)
{
	if (gql_description(g) < 0 || gql_name(g, "a field name") < 0)
		return -1;
	if (gql_is_punct(g, "(") && gql_input_values(g, "(", ")") < 0)
		return -1;
	if (gql_expect_punct(g, ":") < 0 || gql_type(g) < 0)
		return -1;
	return gql_directives(g);
}

/* { FieldDefinition+ } */
static int
gql_fields(struct gql *g)
{
	if (gql_expect_punct(g, "{") < 0)
		return -1;
	do {
		if (gql_field(g) < 0)
			return -1;
	} while (!gql_is_punct(g, "}"));
	return gql_lex(g);
}

/* implements &? Name (& Name)* */
static int
gql_implements(struct gql *g)
{
	if (!gql_is_name(g, "implements"))
		return 0;
	if (gql_lex(g) < 0 || gql_optional(g, "&") < 0 ||
	    gql_name(g, "an interface name") < 0)
		return -1;
	while (gql_is_punct(g, "&"))
		if (gql_lex(g) < 0 || gql_name(g, "an interface name") < 0)
			return -1;
	return 0;
}

/* |? Name (| Name)*: union members and directive locations. */
static int
gql_bar_list(struct gql *g, const char *want,
    int (*check)(struct gql *))
{
	if (gql_optional(g, "|") < 0)
		return -1;
	for (;;) {
		if (check != NULL && check(g) < 0)
			return -1;
		if (gql_name(g, want) < 0)
			return -1;
		if (!gql_is_punct(g, "|"))
			return 0;
		if (gql_lex(g) < 0)
			return -1;
	}
}

/* 1 when what follows can only start a new definition (or is the end). */
static int
gql_at_definition(const struct gql *g)
{
	return g->tok == GQL_EOF || g->tok == GQL_STRING ||
	    g->tok == GQL_BLOCK_STRING || g->tok == GQL_NAME ||
	    gql_is_punct(g, "{");
}

/* ---- type-system definitions ---------------------------------------- */

/*
 * Each definition is called with the keyword current; ext is 1 for an
 * "extend" form, which must add something (the grammar's "at least one").
 */
static int
gql_def_schema(struct gql *g, int ext)
{
	static const char *const ops[] = { "query", "mutation", "subscription" };
	size_t i;

	if (gql_lex(g) < 0 || gql_directives(g) < 0)
		return -1;
	if (ext && !gql_is_punct(g, "{"))
		return 0;
	if (gql_expect_punct(g, "{") < 0)
		return -1;
	do {
		for (i = 0; i < 3 && !gql_is_name(g, ops[i]); i++)
			;
		if (i == 3)
			return gql_unexpected(g, "query, mutation or subscription");
		if (gql_lex(g) < 0 || gql_expect_punct(g, ":") < 0 ||
		    gql_name(g, "a type name") < 0)
			return -1;
	} while (!gql_is_punct(g, "}"));
	return gql_lex(g);
}

static int
gql_def_scalar(struct gql *g, int ext)
{
	if (gql_lex(g) < 0 || gql_name(g, "a scalar name") < 0)
		return -1;
	if (ext && !gql_is_punct(g, "@"))
		return gql_unexpected(g, "a directive (extend scalar adds "
		    "directives)");
	return gql_directives(g);
}

/* type and interface: implements, directives, fields. */
static int
gql_def_object(struct gql *g, int ext)
{
	if (gql_lex(g) < 0 || gql_name(g, "a type name") < 0 ||
	    gql_implements(g) < 0 || gql_directives(g) < 0)
		return -1;
	if (gql_is_punct(g, "{"))
		return gql_fields(g);
	(void)ext;
	return 0;
}

static int
gql_def_union(struct gql *g, int ext)
{
	(void)ext;
	if (gql_lex(g) < 0 || gql_name(g, "a union name") < 0 ||
	    gql_directives(g) < 0)
		return -1;
	if (!gql_is_punct(g, "="))
		return 0;
	if (gql_lex(g) < 0)
		return -1;
	return gql_bar_list(g, "a member type name", NULL);
}

/* An enum value is a Name but not true, false or null. */
static int
gql_enum_value_check(struct gql *g)
{
	if (gql_is_name(g, "true") || gql_is_name(g, "false") ||
	    gql_is_name(g, "null"))
		return gql_fail_at(g, g->tline, g->tcol, "true, false and null "
		    "cannot be enum values");
	return 0;
}

static int
gql_def_enum(struct gql *g, int ext)
{
	(void)ext;
	if (gql_lex(g) < 0 || gql_name(g, "an enum name") < 0 ||
	    gql_directives(g) < 0)
		return -1;
	if (!gql_is_punct(g, "{"))
		return 0;
	if (gql_lex(g) < 0)
		return -1;
	do {
		if (gql_description(g) < 0 || gql_enum_value_check(g) < 0 ||
		    gql_name(g, "an enum value") < 0 || gql_directives(g) < 0)
			return -1;
	} while (!gql_is_punct(g, "}"));
	return gql_lex(g);
}

static int
gql_def_input(struct gql *g, int ext)
{
	(void)ext;
	if (gql_lex(g) < 0 || gql_name(g, "an input type name") < 0 ||
	    gql_directives(g) < 0)
		return -1;
	if (!gql_is_punct(g, "{"))
		return 0;
	return gql_input_values(g, "{", "}");
}

/* The directive locations of the specification, executable and type system. */
static int
gql_location_check(struct gql *g)
{
	static const char *const locations[] = { "QUERY", "MUTATION",
		"SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD",
		"INLINE_FRAGMENT", "VARIABLE_DEFINITION", "SCHEMA", "SCALAR",
		"OBJECT", "FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INTERFACE",
		"UNION", "ENUM", "ENUM_VALUE", "INPUT_OBJECT",
		"INPUT_FIELD_DEFINITION", NULL };
	char shown[40];
	size_t i;

	for (i = 0; locations[i] != NULL; i++)
		if (gql_is_name(g, locations[i]))
			return 0;
	return gql_fail_at(g, g->tline, g->tcol, "%s is not a directive "
	    "location", gql_shown(g, shown, sizeof(shown)));
}

/* directive @Name Arguments? repeatable? on Locations */
static int
gql_def_directive(struct gql *g, int ext)
{
	(void)ext;
	if (gql_lex(g) < 0 || gql_expect_punct(g, "@") < 0 ||
	    gql_name(g, "a directive name") < 0)
		return -1;
	if (gql_is_punct(g, "(") && gql_input_values(g, "(", ")") < 0)
		return -1;
	if (gql_is_name(g, "repeatable") && gql_lex(g) < 0)
		return -1;
	if (!gql_is_name(g, "on"))
		return gql_unexpected(g, "on and the directive's locations");
	if (gql_lex(g) < 0)
		return -1;
	return gql_bar_list(g, "a directive location", gql_location_check);
}

static const struct gql_def {
	const char *keyword;
	int (*parse)(struct gql *, int ext);
	int extendable;
} gql_defs[] = {
	{ "schema", gql_def_schema, 1 },
	{ "scalar", gql_def_scalar, 1 },
	{ "type", gql_def_object, 1 },
	{ "interface", gql_def_object, 1 },
	{ "union", gql_def_union, 1 },
	{ "enum", gql_def_enum, 1 },
	{ "input", gql_def_input, 1 },
	{ "directive", gql_def_directive, 0 },
};

/* Executable definitions, named to say why they are refused. */
static int
gql_executable(const struct gql *g)
{
	return gql_is_name(g, "query") || gql_is_name(g, "mutation") ||
	    gql_is_name(g, "subscription") || gql_is_name(g, "fragment") ||
	    gql_is_punct(g, "{");
}

/* One definition: [Description] definition | extend definition. */
static int
gql_definition(struct gql *g)
{
	int ext = 0, described;
	size_t i;

	described = g->tok == GQL_STRING || g->tok == GQL_BLOCK_STRING;
	if (gql_description(g) < 0)
		return -1;
	if (!described && gql_is_name(g, "extend")) {
		ext = 1;
		if (gql_lex(g) < 0)
			return -1;
	}
	for (i = 0; i < sizeof(gql_defs) / sizeof(gql_defs[0]); i++) {
		if (!gql_is_name(g, gql_defs[i].keyword))
			continue;
		if (ext && !gql_defs[i].extendable)
			return gql_unexpected(g, "a type or schema to extend");
		if (gql_defs[i].parse(g, ext) < 0)
			return -1;
		if (!gql_at_definition(g))
			return gql_unexpected(g, "a new definition");
		return 0;
	}
	if (!ext && !described && gql_executable(g))
		return gql_fail_at(g, g->tline, g->tcol, "operations and fragments "
		    "are not allowed in a schema file");
	return gql_unexpected(g, ext ? "schema, scalar, type, interface, union, "
	    "enum or input" : "a definition (schema, scalar, type, interface, "
	    "union, enum, input, directive or extend)");
}

int
schema_graphql_check(const char *file, const unsigned char *text, size_t len,
    struct error *err)
{
	struct gql g = { .s = text, .len = len, .line = 1, .col = 1,
		.file = file, .err = err };

	error_clear(err);
	if (len > SCHEMA_FILE_MAX)
		return gql_fail_at(&g, 1, 1, "the file is larger than %d bytes",
		    SCHEMA_FILE_MAX);
	if (!schema_utf8_valid(text, len))
		return gql_fail_at(&g, 1, 1, "the file must be UTF-8 text");
	if (gql_lex(&g) < 0)
		return -1;
	if (g.tok == GQL_EOF)
		return gql_fail_at(&g, g.tline, g.tcol, "the file has no "
		    "definitions");
	while (g.tok != GQL_EOF)
		if (gql_definition(&g) < 0)
			return -1;
	return 0;
}
