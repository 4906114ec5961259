/*
 * buf.h: bodies read from the network, capped. Every HTTP client here
 * (registry, engine, CLI) collects a reply the same way; the cap is what
 * keeps a hostile or broken peer from growing it without bound.
 */
#ifndef SLIPWAY_BUF_H
#define SLIPWAY_BUF_H

#include <stddef.h>

/*
 * Appends n bytes to the malloc'd buffer *body of *len bytes and keeps it
 * NUL-terminated. Returns 0, or -1 with nothing appended when the result
 * would pass max bytes or memory is short. The caller frees *body.
 */
int buf_append(char **body, size_t *len, size_t max, const void *data,
    size_t n);

#endif
