/*
 * buf.c: capped, NUL-terminated byte buffers for network replies.
 */
#include <stdlib.h>
#include <string.h>
#include "buf.h"

int
buf_append(char **body, size_t *len, size_t max, const void *data, size_t n)
{
	char *nb;

	if (n > max || *len > max - n)
		return -1;
	if ((nb = realloc(*body, *len + n + 1)) == NULL)
		return -1;
	memcpy(nb + *len, data, n);
	*len += n;
	nb[*len] = '\0';
	*body = nb;
	return 0;
}
