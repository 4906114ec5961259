/*
 * cli_file.c: reading a file a user names on the command line
 * (endpoints.yaml, a Docker config.json), whole and size-capped.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

char *
cli_file_read(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "error: usage: cannot read %s\n", path);
		return NULL;
	}
	if ((buf = malloc(max + 2)) == NULL) {
		fclose(f);
		fprintf(stderr, "error: out of memory\n");
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		fprintf(stderr, "error: usage: %s is larger than %zu bytes\n", path, max);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}
