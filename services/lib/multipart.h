/*
 * multipart.h: a strict multipart/form-data parser (RFC 7578 over RFC 2046).
 *
 * The body is parsed in place: each part's content points into it, and only
 * the small header values (field name, file name, content type) are copied.
 * Everything is capped (parts, bytes per part, header lines, header
 * values), line ends must be CRLF, and anything outside the grammar is
 * refused with a message that says what and where (byte offset), never
 * quoting the input.
 *
 * Errors (err->code): "malformed_multipart" (the client's 400),
 * "too_many_parts" and "part_too_large" (the caller decides 413 or 422).
 */
#ifndef SLIPWAY_MULTIPART_H
#define SLIPWAY_MULTIPART_H

#include <stddef.h>
#include "error.h"

#define MULTIPART_BOUNDARY_MAX 70    /* RFC 2046 */
#define MULTIPART_VALUE_MAX    255   /* a field name or file name, bytes */
#define MULTIPART_TYPE_MAX     127   /* a part's Content-Type, bytes */

struct multipart_part {
	char name[MULTIPART_VALUE_MAX + 1];       /* Content-Disposition name */
	char filename[MULTIPART_VALUE_MAX + 1];   /* "" when none (or empty) */
	int has_filename;                         /* filename= was given */
	char content_type[MULTIPART_TYPE_MAX + 1];/* as sent; "" when none */
	const unsigned char *data;                /* into the body */
	size_t len;
};

struct multipart_limits {
	size_t max_parts;   /* the room in the caller's parts array */
	size_t max_part;    /* bytes of one part's content */
};

/*
 * The boundary of a Content-Type value that must be multipart/form-data:
 * "boundary=" quoted or not, 1-70 characters of RFC 2046's bchars, not
 * ending in a space. 0, or -1 with err (malformed_multipart).
 */
int multipart_boundary(const char *content_type,
    char boundary[MULTIPART_BOUNDARY_MAX + 1], struct error *err);

/*
 * Parses body (len bytes) into parts[0..*nparts). A preamble before the
 * first delimiter and an epilogue after the last are ignored (RFC 2046);
 * every part needs Content-Disposition: form-data with a name; other
 * headers than Content-Type and Content-Transfer-Encoding (7bit, 8bit,
 * binary) are ignored as RFC 7578 asks. The parts point into body, which
 * must outlive them. 0, or -1 with err and *nparts undefined.
 */
int multipart_parse(const unsigned char *body, size_t len,
    const char *boundary, const struct multipart_limits *lim,
    struct multipart_part *parts, size_t *nparts, struct error *err);

#endif
