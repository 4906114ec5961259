/*
 * multipart.c: multipart/form-data (RFC 7578, RFC 2046 section 5.1), parsed
 * in place. See multipart.h for the contract.
 *
 * The body is walked once: find a delimiter, read the part's header lines,
 * find the next delimiter (memmem on CRLF "--" boundary, so content is
 * never scanned byte by byte in C), record the content span. Header values
 * are parsed by one small parameter reader shared by Content-Type (the
 * boundary) and Content-Disposition (name, filename).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "multipart.h"

#define MP_LINE_MAX    1024   /* one header line, CRLF excluded */
#define MP_HEADERS_MAX 8      /* header lines per part */
#define MP_DELIM_MAX   (2 + 2 + MULTIPART_BOUNDARY_MAX)

static int
mp_fail(struct error *err, const char *fmt, ...) LOG_PRINTF(2, 3);

static int
mp_fail(struct error *err, const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	error_set(err, "malformed_multipart", "", "multipart body: %s", msg);
	return -1;
}

/* RFC 7230 tchar: the characters of a header or parameter name. */
static int
mp_tchar(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* ---- header parameters: ; name=token | ; name="quoted" ---------------- */

struct mp_param {
	char name[32];
	char value[MULTIPART_VALUE_MAX + 1];
};

static const char *
mp_skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A quoted-string (p at the opening quote) into out; NULL when malformed. */
static const char *
mp_quoted(const char *p, char *out, size_t outlen, const char **why)
{
	size_t n = 0;

	for (p++; *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (*p == '\0') {
			*why = "a quoted value has no closing quote";
			return NULL;
		}
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*why = "a quoted value holds a control character";
			return NULL;
		}
		if (n + 1 >= outlen) {
			*why = "a parameter value is longer than 255 bytes";
			return NULL;
		}
		out[n++] = *p;
	}
	out[n] = '\0';
	return p + 1;
}

/* A token value into out; NULL when empty or too long. */
static const char *
mp_token(const char *p, char *out, size_t outlen, const char **why)
{
	size_t n = 0;

	while (mp_tchar((unsigned char)p[n])) {
		if (n + 1 >= outlen) {
			*why = "a parameter name or value is too long";
			return NULL;
		}
		out[n] = p[n];
		n++;
	}
	if (n == 0) {
		*why = "a parameter is missing its name or value";
		return NULL;
	}
	out[n] = '\0';
	return p + n;
}

/*
 * One "; name=value" at p (OWS allowed around ';' and '='). Returns the
 * position after it, or NULL with why. *p == '\0' is the caller's end.
 */
static const char *
mp_param_next(const char *p, struct mp_param *prm, const char **why)
{
	p = mp_skip_ows(p);
	if (*p != ';') {
		*why = "parameters must be separated by ';'";
		return NULL;
	}
	p = mp_skip_ows(p + 1);
	if ((p = mp_token(p, prm->name, sizeof(prm->name), why)) == NULL)
		return NULL;
	p = mp_skip_ows(p);
	if (*p != '=') {
		*why = "a parameter has no '=' and value";
		return NULL;
	}
	p = mp_skip_ows(p + 1);
	if (*p == '"')
		p = mp_quoted(p, prm->value, sizeof(prm->value), why);
	else
		p = mp_token(p, prm->value, sizeof(prm->value), why);
	return p == NULL ? NULL : mp_skip_ows(p);
}

/* Past the media type when it is want (case-insensitive), else NULL. */
static const char *
mp_media_type(const char *value, const char *want)
{
	const char *p = mp_skip_ows(value);
	size_t n = strlen(want);

	if (strncasecmp(p, want, n) != 0)
		return NULL;
	p += n;
	if (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t')
		return NULL;
	return p;
}

/* ---- the boundary ----------------------------------------------------- */

/* RFC 2046 bchars, not ending in a space. */
static int
mp_boundary_valid(const char *b)
{
	static const char extra[] = "'()+_,-./:=? ";
	size_t i, n = strlen(b);

	if (n == 0 || n > MULTIPART_BOUNDARY_MAX || b[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)b[i]) && strchr(extra, b[i]) == NULL)
			return 0;
	return 1;
}

int
multipart_boundary(const char *content_type,
    char boundary[MULTIPART_BOUNDARY_MAX + 1], struct error *err)
{
	struct mp_param prm;
	const char *p, *why = NULL;
	int found = 0;

	boundary[0] = '\0';
	if (content_type == NULL ||
	    (p = mp_media_type(content_type, "multipart/form-data")) == NULL)
		return mp_fail(err, "Content-Type is not multipart/form-data");
	while (*(p = mp_skip_ows(p)) != '\0') {
		if ((p = mp_param_next(p, &prm, &why)) == NULL)
			return mp_fail(err, "Content-Type: %s", why);
		if (strcasecmp(prm.name, "boundary") != 0)
			continue;
		if (found++)
			return mp_fail(err, "Content-Type has two boundaries");
		if (!mp_boundary_valid(prm.value))
			return mp_fail(err, "the boundary must be 1-70 letters, "
			    "digits or '()+_,-./:=? (not ending in a space)");
		memcpy(boundary, prm.value, strlen(prm.value) + 1);
	}
	if (!found)
		return mp_fail(err, "Content-Type has no boundary parameter");
	return 0;
}

/* ---- one part's headers ----------------------------------------------- */

/* The headers a part may carry, each at most once (mp_header_kinds). */
#define MP_KINDS 3

/* What the headers of one part said, and which were seen. */
struct mp_headers {
	struct multipart_part *part;
	int seen[MP_KINDS];      /* by mp_header_kinds index */
	size_t offset;           /* of the line being read, for messages */
	struct error *err;
};

static int
mp_disposition_param(struct mp_headers *h, const struct mp_param *prm,
    unsigned *seen)
{
	struct multipart_part *pt = h->part;

	if (strcasecmp(prm->name, "filename*") == 0)
		return mp_fail(h->err, "header at byte %zu: filename* (RFC 5987) "
		    "is not supported, send filename", h->offset);
	if (strcasecmp(prm->name, "name") == 0) {
		if (*seen & 1)
			return mp_fail(h->err, "header at byte %zu: name given twice",
			    h->offset);
		*seen |= 1;
		memcpy(pt->name, prm->value, strlen(prm->value) + 1);
	} else if (strcasecmp(prm->name, "filename") == 0) {
		if (*seen & 2)
			return mp_fail(h->err, "header at byte %zu: filename given "
			    "twice", h->offset);
		*seen |= 2;
		pt->has_filename = 1;
		memcpy(pt->filename, prm->value, strlen(prm->value) + 1);
	}
	return 0;   /* other parameters are ignored */
}

static int
mp_disposition(struct mp_headers *h, const char *value)
{
	struct mp_param prm;
	const char *p, *why = NULL;
	unsigned seen = 0;

	if ((p = mp_media_type(value, "form-data")) == NULL)
		return mp_fail(h->err, "header at byte %zu: Content-Disposition "
		    "must be form-data", h->offset);
	while (*(p = mp_skip_ows(p)) != '\0') {
		if ((p = mp_param_next(p, &prm, &why)) == NULL)
			return mp_fail(h->err, "header at byte %zu: "
			    "Content-Disposition: %s", h->offset, why);
		if (mp_disposition_param(h, &prm, &seen) < 0)
			return -1;
	}
	if (!(seen & 1) || h->part->name[0] == '\0')
		return mp_fail(h->err, "header at byte %zu: Content-Disposition "
		    "has no name", h->offset);
	return 0;
}

static int
mp_content_type(struct mp_headers *h, const char *value)
{
	size_t n = strlen(value);

	while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
		n--;
	if (n == 0 || n > MULTIPART_TYPE_MAX)
		return mp_fail(h->err, "header at byte %zu: Content-Type must be "
		    "1-%d bytes", h->offset, MULTIPART_TYPE_MAX);
	memcpy(h->part->content_type, value, n);
	h->part->content_type[n] = '\0';
	return 0;
}

static int
mp_encoding(struct mp_headers *h, const char *value)
{
	static const char *const ok[] = { "7bit", "8bit", "binary", NULL };
	char v[16];
	size_t i, n = strcspn(value, " \t");

	if (n < sizeof(v) && value[n + strspn(value + n, " \t")] == '\0') {
		memcpy(v, value, n);
		v[n] = '\0';
		for (i = 0; ok[i] != NULL; i++)
			if (strcasecmp(v, ok[i]) == 0)
				return 0;
	}
	return mp_fail(h->err, "header at byte %zu: Content-Transfer-Encoding "
	    "must be 7bit, 8bit or binary", h->offset);
}

/* Content-Disposition first: mp_headers requires it by index 0. */
static const struct mp_header_kind {
	const char *name;
	int (*parse)(struct mp_headers *, const char *);
} mp_header_kinds[MP_KINDS] = {
	{ "Content-Disposition", mp_disposition },
	{ "Content-Type", mp_content_type },
	{ "Content-Transfer-Encoding", mp_encoding },
};

/* One header line (NUL-terminated, no CRLF). */
static int
mp_header_line(struct mp_headers *h, const char *line)
{
	size_t i, n = 0;

	if (line[0] == ' ' || line[0] == '\t')
		return mp_fail(h->err, "header at byte %zu: folded header lines "
		    "are not allowed", h->offset);
	while (mp_tchar((unsigned char)line[n]))
		n++;
	if (n == 0 || line[n] != ':')
		return mp_fail(h->err, "header at byte %zu: not a \"Name: value\" "
		    "line", h->offset);
	for (i = 0; i < MP_KINDS; i++) {
		const struct mp_header_kind *k = &mp_header_kinds[i];
		if (strlen(k->name) != n || strncasecmp(line, k->name, n) != 0)
			continue;
		if (h->seen[i]++)
			return mp_fail(h->err, "header at byte %zu: %s given twice",
			    h->offset, k->name);
		return k->parse(h, mp_skip_ows(line + n + 1));
	}
	return 0;   /* RFC 7578 4.8: other header fields are ignored */
}

/*
 * The header lines from *pos up to and including the empty line; *pos ends
 * at the content's first byte.
 */
static int
mp_headers(const unsigned char *body, size_t len, size_t *pos,
    struct multipart_part *part, struct error *err)
{
	struct mp_headers h = { .part = part, .err = err };
	char line[MP_LINE_MAX + 1];
	const unsigned char *eol;
	size_t n, count = 0;

	for (;;) {
		h.offset = *pos;
		eol = memchr(body + *pos, '\n', len - *pos);
		if (eol == NULL)
			return mp_fail(err, "the headers at byte %zu never end",
			    *pos);
		n = (size_t)(eol - (body + *pos));
		if (n == 0 || body[*pos + n - 1] != '\r')
			return mp_fail(err, "header at byte %zu: lines must end "
			    "in CRLF", *pos);
		n--;
		if (n == 0) {
			*pos += 2;
			break;
		}
		if (n > MP_LINE_MAX || ++count > MP_HEADERS_MAX)
			return mp_fail(err, "header at byte %zu: at most %d header "
			    "lines of %d bytes", *pos, MP_HEADERS_MAX, MP_LINE_MAX);
		memcpy(line, body + *pos, n);
		line[n] = '\0';
		if (strlen(line) != n)
			return mp_fail(err, "header at byte %zu: holds a NUL byte",
			    *pos);
		if (mp_header_line(&h, line) < 0)
			return -1;
		*pos += n + 2;
	}
	if (!h.seen[0])
		return mp_fail(err, "the part at byte %zu has no "
		    "Content-Disposition", h.offset);
	return 0;
}

/* ---- the body ----------------------------------------------------------- */

/*
 * After a delimiter at *pos: 1 for the close delimiter ("--"), 0 for one
 * that opens a part (optional transport padding, then CRLF; *pos moves
 * past it), -1 for anything else.
 */
static int
mp_after_delimiter(const unsigned char *body, size_t len, size_t *pos,
    struct error *err)
{
	size_t p = *pos;

	if (len - p >= 2 && body[p] == '-' && body[p + 1] == '-')
		return 1;
	while (p < len && (body[p] == ' ' || body[p] == '\t'))
		p++;
	if (len - p < 2 || body[p] != '\r' || body[p + 1] != '\n')
		return mp_fail(err, "the boundary at byte %zu is not followed by "
		    "CRLF or \"--\"", *pos);
	*pos = p + 2;
	return 0;
}

/* The first delimiter: at the very start, or at the start of a line. */
static int
mp_first_delimiter(const unsigned char *body, size_t len, const char *delim,
    size_t dlen, size_t *pos, struct error *err)
{
	const unsigned char *at;

	if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
		*pos = dlen - 2;
		return 0;
	}
	at = memmem(body, len, delim, dlen);
	if (at == NULL)
		return mp_fail(err, "the body does not contain the boundary");
	*pos = (size_t)(at - body) + dlen;
	return 0;
}

static int
mp_part(const unsigned char *body, size_t len, const char *delim,
    size_t dlen, size_t *pos, const struct multipart_limits *lim,
    struct multipart_part *part, struct error *err)
{
	const unsigned char *end;

	memset(part, 0, sizeof(*part));
	if (mp_headers(body, len, pos, part, err) < 0)
		return -1;
	/* The delimiter's CRLF belongs to it: content may be empty. */
	end = *pos >= 2 ? memmem(body + *pos - 2, len - *pos + 2, delim, dlen) :
	    NULL;
	if (end == NULL)
		return mp_fail(err, "the part \"%.64s\" at byte %zu is not closed "
		    "by a boundary", part->name, *pos);
	/* Found at *pos - 2: the empty line was the delimiter's CRLF. */
	part->data = body + *pos;
	part->len = end > part->data ? (size_t)(end - part->data) : 0;
	if (part->len > lim->max_part) {
		error_set(err, "part_too_large", "", "the part \"%.64s\"%s%.64s%s "
		    "is larger than %zu bytes", part->name,
		    part->has_filename ? " (file " : "", part->filename,
		    part->has_filename ? ")" : "", lim->max_part);
		return -1;
	}
	*pos = (size_t)(end - body) + dlen;
	return 0;
}

int
multipart_parse(const unsigned char *body, size_t len, const char *boundary,
    const struct multipart_limits *lim, struct multipart_part *parts,
    size_t *nparts, struct error *err)
{
	char delim[MP_DELIM_MAX + 1];
	size_t dlen, pos = 0;
	int rc;

	*nparts = 0;
	if (!mp_boundary_valid(boundary))
		return mp_fail(err, "invalid boundary");
	dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	if (mp_first_delimiter(body, len, delim, dlen, &pos, err) < 0)
		return -1;
	for (;;) {
		if ((rc = mp_after_delimiter(body, len, &pos, err)) < 0)
			return -1;
		if (rc == 1)
			break;
		if (*nparts == lim->max_parts) {
			error_set(err, "too_many_parts", "", "the body has more than "
			    "%zu parts", lim->max_parts);
			return -1;
		}
		if (mp_part(body, len, delim, dlen, &pos, lim, &parts[*nparts],
		    err) < 0)
			return -1;
		(*nparts)++;
	}
	if (*nparts == 0)
		return mp_fail(err, "the body has no parts");
	return 0;
}
