/*
 * cli_out.c: human output — aligned tables and "key: value" blocks. With
 * --json the handlers print the API's JSON instead (cli_http_call does).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define CELL_MAX 80

const char *
cli_out_text(json_t *v)
{
	static char buf[CELL_MAX + 1];

	if (v == NULL || json_is_null(v))
		return "-";
	if (json_is_string(v))
		snprintf(buf, sizeof(buf), "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_true(v) || json_is_false(v))
		snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "true" : "false");
	else if (json_is_array(v))
		snprintf(buf, sizeof(buf), "[%zu]", json_array_size(v));
	else
		snprintf(buf, sizeof(buf), "...");
	/* One line per row: a newline in a value would break the table. */
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
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
