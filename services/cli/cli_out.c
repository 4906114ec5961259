/*
 * cli_out.c: human output — aligned tables and "key: value" blocks. With
 * --json the handlers print the API's JSON instead (cli_http_call does).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define CELL_MAX 80

/* A scalar (or a nested value, summarised) as text. */
static void
out_scalar(json_t *v, char *buf, size_t len)
{
	if (v == NULL || json_is_null(v))
		snprintf(buf, len, "-");
	else if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_true(v) || json_is_false(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
	else if (json_is_array(v))
		snprintf(buf, len, "[%zu]", json_array_size(v));
	else
		snprintf(buf, len, "...");
}

/* Appends s to buf (len bytes, n used) as far as it fits; the new length. */
static size_t
out_append(char *buf, size_t len, size_t n, const char *s)
{
	while (*s != '\0' && n + 1 < len)
		buf[n++] = *s++;
	buf[n] = '\0';
	return n;
}

/* A small object such as a health check: "path=/healthz timeout_s=60". */
static void
out_object(json_t *v, char *buf, size_t len)
{
	char one[CELL_MAX + 1];
	const char *key;
	size_t n = 0;
	json_t *m;

	buf[0] = '\0';
	json_object_foreach(v, key, m) {
		out_scalar(m, one, sizeof(one));
		if (n > 0)
			n = out_append(buf, len, n, " ");
		n = out_append(buf, len, n, key);
		n = out_append(buf, len, n, "=");
		n = out_append(buf, len, n, one);
	}
	/* {} is an object with every value at its default, not "none". */
	if (n == 0)
		snprintf(buf, len, "(defaults)");
}

/*
 * In place: one line per cell (a newline would break the table) and no
 * terminal control from values an agent or a tenant wrote (reasons, log
 * lines): C0 bytes, DEL and C1 sequences become '?' (whitespace ' ').
 */
static void
out_neutralize(char *buf)
{
	unsigned char *p = (unsigned char *)buf;

	for (; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
		else if (*p < 0x20 || *p == 0x7f)
			*p = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			p[0] = p[1] = '?';
	}
}

const char *
cli_out_text(json_t *v)
{
	static char buf[CELL_MAX + 1];

	if (v == NULL || json_is_null(v))
		return "-";
	if (json_is_object(v))
		out_object(v, buf, sizeof(buf));
	else
		out_scalar(v, buf, sizeof(buf));
	out_neutralize(buf);
	return buf[0] != '\0' ? buf : "-";
}

/* Width of each column: the widest of its header and its cells. */
static void
table_widths(json_t *arr, const struct cli_column *cols, size_t ncols, int *w)
{
	size_t i, c, n;
	json_t *row;

	for (c = 0; c < ncols; c++)
		w[c] = (int)strlen(cols[c].header);
	json_array_foreach(arr, i, row) {
		for (c = 0; c < ncols; c++) {
			n = strlen(cli_out_text(json_object_get(row, cols[c].key)));
			if ((int)n > w[c])
				w[c] = (int)n;
		}
	}
}

void
cli_out_table(json_t *arr, const struct cli_column *cols, size_t ncols)
{
	cli_out_table_rows(arr, cols, ncols, NULL);
}

void
cli_out_table_rows(json_t *arr, const struct cli_column *cols, size_t ncols,
    void (*after_row)(json_t *row))
{
	int w[16];
	size_t i, c;
	json_t *row;

	if (ncols > sizeof(w) / sizeof(w[0]))
		ncols = sizeof(w) / sizeof(w[0]);
	if (!json_is_array(arr))
		arr = NULL;
	table_widths(arr, cols, ncols, w);
	for (c = 0; c < ncols; c++)
		printf("%-*s%s", c + 1 < ncols ? w[c] : 0, cols[c].header,
		    c + 1 < ncols ? "  " : "\n");
	json_array_foreach(arr, i, row) {
		for (c = 0; c < ncols; c++)
			printf("%-*s%s", c + 1 < ncols ? w[c] : 0,
			    cli_out_text(json_object_get(row, cols[c].key)),
			    c + 1 < ncols ? "  " : "\n");
		if (after_row != NULL)
			after_row(row);
	}
}

/*
 * Writes s with the control characters a terminal would act on (C0 but
 * tab, DEL, and C1 as UTF-8) shown as '?': log tails and probe answers are
 * the tenant's text, and must not be able to drive the user's terminal.
 */
void
cli_out_clean(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n && p[i] != '\0'; i++) {
		if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
			fputc('?', f);
			i++;
		} else if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
			fputc('?', f);
		} else {
			fputc(p[i], f);
		}
	}
}

void
cli_out_fields(json_t *obj, const char *const *keys)
{
	size_t i, w = 0;

	for (i = 0; keys[i] != NULL; i++)
		if (strlen(keys[i]) > w)
			w = strlen(keys[i]);
	for (i = 0; keys[i] != NULL; i++)
		printf("%s:%*s %s\n", keys[i], (int)(w - strlen(keys[i])), "",
		    cli_out_text(json_object_get(obj, keys[i])));
}
