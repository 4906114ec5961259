/*
 * oci_challenge.c: parsing of registry WWW-Authenticate challenges (RFC 7235)
 * and of raw HTTP header lines. Pure functions over untrusted bytes: every
 * length is checked and nothing is read past len.
 */
#include <string.h>
#include <strings.h>

#include "agent.h"

/* A cursor over the header bytes. */
struct cursor {
	const char *p;
	const char *end;
};

static int
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static int
is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static void
skip_ws(struct cursor *c)
{
	while (c->p < c->end && is_ws(*c->p))
		c->p++;
}

/* Reads an RFC 7230 token into out; -1 when empty or too long. */
static int
read_token(struct cursor *c, char *out, size_t outlen)
{
	size_t n = 0;

	while (c->p < c->end && is_tchar(*c->p)) {
		if (n + 1 >= outlen)
			return -1;
		out[n++] = *c->p++;
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* Reads a quoted-string (with \-escapes) or a token as a parameter value. */
static int
read_value(struct cursor *c, char *out, size_t outlen)
{
	size_t n = 0;

	if (c->p >= c->end || *c->p != '"')
		return read_token(c, out, outlen);
	c->p++;
	while (c->p < c->end && *c->p != '"') {
		if (*c->p == '\\' && c->p + 1 < c->end)
			c->p++;
		if (*c->p == '\0' || n + 1 >= outlen)
			return -1;
		out[n++] = *c->p++;
	}
	if (c->p >= c->end)
		return -1;          /* unterminated */
	c->p++;
	out[n] = '\0';
	return 0;
}

/* Stores a known parameter; unknown ones are read and dropped. */
static int
store_param(struct oci_challenge *out, const char *name, struct cursor *c)
{
	char scratch[1024];

	if (strcasecmp(name, "realm") == 0)
		return read_value(c, out->realm, sizeof(out->realm));
	if (strcasecmp(name, "service") == 0)
		return read_value(c, out->service, sizeof(out->service));
	if (strcasecmp(name, "scope") == 0)
		return read_value(c, out->scope, sizeof(out->scope));
	return read_value(c, scratch, sizeof(scratch));
}

/*
 * Reads "name=value" pairs separated by commas. A bare token after a comma
 * starts the next challenge, which we do not need: stop there.
 */
static int
read_params(struct cursor *c, struct oci_challenge *out)
{
	char name[64];
	int nparams = 0;

	for (;;) {
		skip_ws(c);
		if (c->p >= c->end)
			return 0;
		if (*c->p == ',') {
			c->p++;
			continue;
		}
		if (read_token(c, name, sizeof(name)) == -1)
			return -1;
		skip_ws(c);
		if (c->p >= c->end || *c->p != '=')
			return nparams > 0 ? 0 : -1;
		c->p++;
		skip_ws(c);
		if (store_param(out, name, c) == -1)
			return -1;
		if (++nparams > 32)
			return -1;
		skip_ws(c);
		if (c->p < c->end && *c->p != ',')
			return -1;
	}
}

int
oci_challenge_parse(const char *hdr, size_t len, struct oci_challenge *out)
{
	struct cursor c = { hdr, hdr + len };
	char scheme[32];

	memset(out, 0, sizeof(*out));
	if (hdr == NULL || memchr(hdr, '\0', len) != NULL)
		return -1;
	skip_ws(&c);
	if (read_token(&c, scheme, sizeof(scheme)) == -1)
		return -1;
	if (strcasecmp(scheme, "basic") == 0)
		out->scheme = OCI_SCHEME_BASIC;
	else if (strcasecmp(scheme, "bearer") == 0)
		out->scheme = OCI_SCHEME_BEARER;
	else
		out->scheme = OCI_SCHEME_OTHER;
	if (c.p < c.end && !is_ws(*c.p))
		return -1;
	if (read_params(&c, out) == -1)
		return -1;
	/* A bearer challenge is useless without somewhere to get the token. */
	if (out->scheme == OCI_SCHEME_BEARER && out->realm[0] == '\0')
		return -1;
	return 0;
}

int
oci_challenge_header(const char *line, size_t len, const char *name,
    char *out, size_t outlen)
{
	size_t nlen = strlen(name), vlen;
	const char *v, *end = line + len;

	if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
		return 0;
	v = line + nlen + 1;
	while (v < end && is_ws(*v))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || is_ws(end[-1])))
		end--;
	vlen = (size_t)(end - v);
	if (vlen + 1 > outlen || memchr(v, '\0', vlen) != NULL)
		return -1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return 1;
}
