/*
 * imageref.c: a hand-written parser for the distribution reference grammar
 * (github.com/distribution/reference), with Docker Hub normalisation.
 *
 * The grammar, as regular expressions in the upstream project:
 *   path-component  := [a-z0-9]+ ( ( [._] | __ | [-]+ ) [a-z0-9]+ )*
 *   domain-component:= [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
 *   host            := domain-component ( "." domain-component )* | "[" [a-fA-F0-9:]+ "]"
 *   domain          := host [ ":" [0-9]+ ]
 *   tag             := [\w][\w.-]{0,127}
 *   digest          := algorithm ":" hex, algorithm := [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*
 *
 * It works on bounded copies of the input (IMAGE_REF_MAX) and never on the
 * caller's string, so every failure is a reason, never a crash.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imageref.h"

#define NAME_TOTAL_MAX 255
#define TAG_MAX 128

/* Docker Hub's other names; all of them mean docker.io. */
static const char *const hub_aliases[] = {
	"docker.io", "index.docker.io", "registry-1.docker.io",
	"registry.hub.docker.com",
};

/* Digest algorithms we can verify, with their hex length (go-digest's set). */
static const struct {
	const char *name;
	size_t hexlen;
} digest_algs[] = {
	{ "sha256", 64 },
	{ "sha384", 96 },
	{ "sha512", 128 },
};

static int
is_lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int
is_alnum(int c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int
is_word(int c)
{
	return is_alnum(c) || c == '_';
}

static int
is_lower_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int
is_hex(int c)
{
	return is_lower_hex(c) || (c >= 'A' && c <= 'F');
}

/* Length of the separator at s ("." "_" "__" or "-"+), 0 when none. */
static size_t
separator_len(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return 0;
	if (s[0] == '.')
		return 1;
	if (s[0] == '_')
		return (n > 1 && s[1] == '_') ? 2 : 1;
	while (i < n && s[i] == '-')
		i++;
	return i;
}

/* 1 when s[0..n) is one path component. */
static int
path_component_valid(const char *s, size_t n)
{
	size_t i = 0, sep;

	for (;;) {
		if (i >= n || !is_lower_alnum((unsigned char)s[i]))
			return 0;
		while (i < n && is_lower_alnum((unsigned char)s[i]))
			i++;
		if (i == n)
			return 1;
		sep = separator_len(s + i, n - i);
		if (sep == 0)
			return 0;
		i += sep;
	}
}

/* 1 when s[0..n) is one domain-name component. */
static int
domain_component_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !is_alnum((unsigned char)s[0]) ||
	    !is_alnum((unsigned char)s[n - 1]))
		return 0;
	for (i = 1; i + 1 < n; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

/* Host part of a domain: dotted name or [IPv6]. Returns its length or 0. */
static size_t
host_len(const char *s, size_t n)
{
	size_t i = 0, start;

	if (n > 0 && s[0] == '[') {
		for (i = 1; i < n && (is_hex((unsigned char)s[i]) || s[i] == ':'); i++)
			;
		return (i > 1 && i < n && s[i] == ']') ? i + 1 : 0;
	}
	for (;;) {
		start = i;
		while (i < n && s[i] != '.' && s[i] != ':')
			i++;
		if (!domain_component_valid(s + start, i - start))
			return 0;
		if (i == n || s[i] == ':')
			return i;
		i++;    /* the '.' */
	}
}

/* 1 when s[0..n) is host [":" port]. */
static int
domain_valid(const char *s, size_t n)
{
	size_t h = host_len(s, n), i;

	if (h == 0)
		return 0;
	if (h == n)
		return 1;
	if (s[h] != ':' || h + 1 == n)
		return 0;
	for (i = h + 1; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int
image_ref_tag_valid(const char *s)
{
	size_t i, n = strnlen(s, TAG_MAX + 1);

	if (n == 0 || n > TAG_MAX || !is_word((unsigned char)s[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!is_word((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

/* 1 when s[0..n) matches the algorithm grammar. */
static int
digest_alg_valid(const char *s, size_t n)
{
	size_t i = 0;

	for (;;) {
		if (i >= n || !isalpha((unsigned char)s[i]))
			return 0;
		while (i < n && is_alnum((unsigned char)s[i]))
			i++;
		if (i == n)
			return 1;
		if (strchr("-_+.", s[i]) == NULL)
			return 0;
		i++;
	}
}

/* Checks a digest; returns NULL when valid, else the reason. */
static const char *
digest_check(const char *s)
{
	const char *colon = strchr(s, ':'), *hex;
	size_t i, alglen, hexlen;

	if (colon == NULL || !digest_alg_valid(s, (size_t)(colon - s)))
		return "invalid digest format";
	alglen = (size_t)(colon - s);
	hex = colon + 1;
	hexlen = strlen(hex);
	for (i = 0; i < hexlen; i++)
		if (!is_hex((unsigned char)hex[i]))
			return "invalid digest format";
	if (hexlen < 32)
		return "invalid digest format";
	for (i = 0; i < sizeof(digest_algs) / sizeof(digest_algs[0]); i++) {
		if (strlen(digest_algs[i].name) != alglen ||
		    strncmp(s, digest_algs[i].name, alglen) != 0)
			continue;
		if (hexlen != digest_algs[i].hexlen)
			return "digest has the wrong length for its algorithm";
		while (*hex != '\0')
			if (!is_lower_hex((unsigned char)*hex++))
				return "digest hex must be lower-case";
		return NULL;
	}
	return "unsupported digest algorithm";
}

int
image_ref_digest_valid(const char *s)
{
	if (strnlen(s, sizeof(((struct image_ref *)0)->digest)) >=
	    sizeof(((struct image_ref *)0)->digest))
		return 0;
	return digest_check(s) == NULL;
}

/* Checks the slash-separated path; returns NULL when valid, else the reason. */
static const char *
path_check(const char *s)
{
	const char *p = s, *slash;
	size_t n;
	char low[IMAGE_REF_MAX + 1];
	int upper = 0;

	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0)
			return "repository name has an empty path component";
		if (!path_component_valid(p, n)) {
			/* Say "lowercase" only when lower-casing would fix it. */
			for (size_t i = 0; i < n && i < IMAGE_REF_MAX; i++)
				low[i] = (char)tolower((unsigned char)p[i]);
			if (!path_component_valid(low, n < IMAGE_REF_MAX ? n : IMAGE_REF_MAX))
				return "invalid repository name";
			upper = 1;
		}
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return upper ? "repository name must be lowercase" : NULL;
}

/* 1 when s is 64 hex chars: a bare image id, refused as a name. */
static int
is_bare_id(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!is_lower_hex((unsigned char)s[i]))
			return 0;
	return s[64] == '\0';
}

/*
 * Docker's splitDockerDomain: the first component is a domain only when it
 * contains '.' or ':', is "localhost", or has upper-case letters.
 */
static int
first_is_domain(const char *name, size_t n)
{
	size_t i;

	if (n == 9 && strncmp(name, "localhost", 9) == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (name[i] == '.' || name[i] == ':' ||
		    (name[i] >= 'A' && name[i] <= 'Z'))
			return 1;
	return 0;
}

/* Splits "[domain/]path" and normalises; fills out->domain and ->path. */
static int
name_parse(const char *name, struct image_ref *out, struct error *err)
{
	const char *slash = strchr(name, '/'), *path = name, *why;
	size_t dlen;
	int official, n;

	if (slash != NULL && first_is_domain(name, (size_t)(slash - name))) {
		dlen = (size_t)(slash - name);
		if (dlen >= sizeof(out->domain) || !domain_valid(name, dlen)) {
			error_set(err, "invalid_image", "image",
			    "invalid registry domain \"%.*s\"", (int)(dlen > 64 ? 64 : dlen), name);
			return -1;
		}
		/* Keep the domain as written, but Docker Hub has one name. */
		memcpy(out->domain, name, dlen);
		out->domain[dlen] = '\0';
		if (image_ref_host_equal(out->domain, "docker.io")) {
			memset(out->domain, 0, sizeof(out->domain));
			snprintf(out->domain, sizeof(out->domain), "docker.io");
		}
		path = slash + 1;
	} else {
		snprintf(out->domain, sizeof(out->domain), "docker.io");
	}
	if ((why = path_check(path)) != NULL) {
		error_set(err, "invalid_image", "image", "%s", why);
		return -1;
	}
	/* Docker Hub's official images live under "library/". */
	official = strcmp(out->domain, "docker.io") == 0 && strchr(path, '/') == NULL;
	if (strlen(out->domain) + 1 + (official ? 8 : 0) + strlen(path) > NAME_TOTAL_MAX) {
		error_set(err, "invalid_image", "image",
		    "repository name must not be more than %d characters", NAME_TOTAL_MAX);
		return -1;
	}
	/* The total check above already bounds path; the copy checks its own
	 * result too, so a later change to the limits cannot truncate silently. */
	n = snprintf(out->path, sizeof(out->path), "%s%s", official ? "library/" : "", path);
	if (n < 0 || (size_t)n >= sizeof(out->path)) {
		error_set(err, "invalid_image", "image", "repository path is too long");
		return -1;
	}
	return 0;
}

/* Splits off and checks "@digest"; cuts it from buf. */
static int
digest_split(char *buf, struct image_ref *out, struct error *err)
{
	char *at = strchr(buf, '@');
	const char *why;

	if (at == NULL)
		return 0;
	*at = '\0';
	if (strlen(at + 1) >= sizeof(out->digest)) {
		error_set(err, "invalid_image", "digest", "digest is too long");
		return -1;
	}
	if ((why = digest_check(at + 1)) != NULL) {
		error_set(err, "invalid_image", "digest", "%s", why);
		return -1;
	}
	snprintf(out->digest, sizeof(out->digest), "%s", at + 1);
	return 0;
}

/* Splits off and checks ":tag" (a ':' after the last '/'); cuts it from buf. */
static int
tag_split(char *buf, struct image_ref *out, struct error *err)
{
	char *colon = strrchr(buf, ':'), *slash = strrchr(buf, '/');

	if (colon == NULL || (slash != NULL && slash > colon))
		return 0;
	*colon = '\0';
	if (strlen(colon + 1) > TAG_MAX) {
		error_set(err, "invalid_image", "tag",
		    "tag is longer than %d characters", TAG_MAX);
		return -1;
	}
	if (!image_ref_tag_valid(colon + 1)) {
		error_set(err, "invalid_image", "tag", "invalid tag format");
		return -1;
	}
	snprintf(out->tag, sizeof(out->tag), "%s", colon + 1);
	return 0;
}

int
image_ref_parse(const char *s, struct image_ref *out, struct error *err)
{
	char buf[IMAGE_REF_MAX + 1];
	size_t n;

	memset(out, 0, sizeof(*out));
	n = s ? strnlen(s, IMAGE_REF_MAX + 1) : 0;
	if (n == 0) {
		error_set(err, "invalid_image", "image", "image reference is empty");
		return -1;
	}
	if (n > IMAGE_REF_MAX) {
		error_set(err, "invalid_image", "image",
		    "image reference is longer than %d characters", IMAGE_REF_MAX);
		return -1;
	}
	memcpy(buf, s, n + 1);
	if (is_bare_id(buf)) {
		error_set(err, "invalid_image", "image",
		    "repository name cannot be a 64-character hexadecimal id");
		return -1;
	}
	if (digest_split(buf, out, err) < 0 || tag_split(buf, out, err) < 0)
		return -1;
	if (buf[0] == '\0') {
		error_set(err, "invalid_image", "image",
		    "repository name must have at least one component");
		return -1;
	}
	if (name_parse(buf, out, err) < 0)
		return -1;
	if (out->tag[0] == '\0' && out->digest[0] == '\0')
		snprintf(out->tag, sizeof(out->tag), "latest");
	/*
	 * Normalising adds "docker.io/", "library/" or ":latest": the limit
	 * holds for that form too, so every service stores and passes on what
	 * it accepted, whole.
	 */
	if (image_ref_format(out, buf, sizeof(buf)) == -1) {
		error_set(err, "invalid_image", "image", "image reference is "
		    "longer than %d characters once normalised (docker.io/, "
		    "library/, :latest added)", IMAGE_REF_MAX);
		return -1;
	}
	return 0;
}

int
image_ref_format(const struct image_ref *r, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s/%s%s%s%s%s", r->domain, r->path,
	    r->tag[0] ? ":" : "", r->tag, r->digest[0] ? "@" : "", r->digest);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return 0;
}

/* Cuts "https://" or "http://" (any case) off the front of s. */
static const char *
skip_scheme(const char *s)
{
	if (strncasecmp(s, "https://", 8) == 0)
		return s + 8;
	if (strncasecmp(s, "http://", 7) == 0)
		return s + 7;
	return s;
}

void
image_ref_host_canon(const char *host, char *out, size_t len)
{
	const char *h;
	size_t i, n;

	if (len == 0)
		return;
	h = skip_scheme(host ? host : "");
	/* A path ("/", "/v1/") follows the host in Docker config auths keys. */
	n = strcspn(h, "/");
	if (n >= len)
		n = len - 1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)h[i]);
	out[n] = '\0';
	for (i = 0; i < sizeof(hub_aliases) / sizeof(hub_aliases[0]); i++)
		if (strcmp(out, hub_aliases[i]) == 0)
			snprintf(out, len, "docker.io");
}

int
image_ref_host_equal(const char *a, const char *b)
{
	char ca[IMAGE_REF_MAX + 1], cb[IMAGE_REF_MAX + 1];

	image_ref_host_canon(a, ca, sizeof(ca));
	image_ref_host_canon(b, cb, sizeof(cb));
	return ca[0] != '\0' && strcmp(ca, cb) == 0;
}

/* Tags and digests aside; paths are lower-case by the grammar. */
int
image_ref_same_repository(const struct image_ref *a, const struct image_ref *b)
{
	return image_ref_host_equal(a->domain, b->domain) &&
	    strcmp(a->path, b->path) == 0;
}
