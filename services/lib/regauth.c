/*
 * regauth.c: the registry-auth contract (regauth.h) — WWW-Authenticate
 * parsing, loopback hosts, the Bearer realm rule, the class of a resolved
 * address and the SLIPWAY_ALLOW_PRIVATE_TARGETS policy. Pure functions over
 * untrusted bytes: every length is checked and nothing is read past len.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "regauth.h"

/* --- WWW-Authenticate ---------------------------------------------------- */

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
store_param(struct regauth_challenge *out, const char *name, struct cursor *c)
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
read_params(struct cursor *c, struct regauth_challenge *out)
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
regauth_challenge_parse(const char *hdr, size_t len,
    struct regauth_challenge *out)
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
		out->scheme = REGAUTH_SCHEME_BASIC;
	else if (strcasecmp(scheme, "bearer") == 0)
		out->scheme = REGAUTH_SCHEME_BEARER;
	else
		out->scheme = REGAUTH_SCHEME_OTHER;
	if (c.p < c.end && !is_ws(*c.p))
		return -1;
	if (read_params(&c, out) == -1)
		return -1;
	/* A bearer challenge is useless without somewhere to get the token. */
	if (out->scheme == REGAUTH_SCHEME_BEARER && out->realm[0] == '\0')
		return -1;
	return 0;
}

int
regauth_header(const char *line, size_t len, const char *name, char *out,
    size_t outlen)
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

/* --- registry hosts and the realm rule ----------------------------------- */

/* 1 when p is "" or ":" and a port number 1-65535. */
static int
port_valid(const char *p)
{
	size_t n;
	long v = 0;

	if (*p == '\0')
		return 1;
	if (*p++ != ':' || (n = strlen(p)) == 0 || n > 5 ||
	    strspn(p, "0123456789") != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (p[i] - '0');
	return v >= 1 && v <= 65535;
}

int
regauth_host_loopback(const char *host)
{
	char name[64];
	const char *port, *end;
	struct in_addr a4;
	struct in6_addr a6;
	int v6;
	size_t n;

	if (host == NULL)
		return 0;
	if ((v6 = host[0] == '[')) {
		if ((end = strchr(host, ']')) == NULL)
			return 0;
		host++;
		port = end + 1;
	} else {
		end = port = host + strcspn(host, ":");
	}
	if ((n = (size_t)(end - host)) == 0 || n >= sizeof(name) ||
	    !port_valid(port))
		return 0;
	memcpy(name, host, n);
	name[n] = '\0';
	if (v6)
		return inet_pton(AF_INET6, name, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	/* inet_pton takes dotted decimal only: no 127.1, 0x7f.1, 0177.0.0.1 */
	if (inet_pton(AF_INET, name, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return strcasecmp(name, "localhost") == 0;
}

int
regauth_host_listed(const char *list, const char *host)
{
	size_t hlen = strlen(host), n;
	const char *p = list, *comma;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == hlen && n > 0 && strncasecmp(p, host, n) == 0)
			return 1;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return 0;
}

int
regauth_url_host(const char *url, char *out, size_t len)
{
	size_t skip, n;

	if (strncmp(url, "https://", 8) == 0)
		skip = 8;
	else if (strncmp(url, "http://", 7) == 0)
		skip = 7;
	else
		return -1;
	url += skip;
	n = strcspn(url, "/?#");
	if (n == 0 || n >= len)
		return -1;
	memcpy(out, url, n);
	out[n] = '\0';
	return 0;
}

/* 1 when host may be reached over plain HTTP: loopback or listed. */
static int
plain_http_ok(const char *host, const char *insecure)
{
	return regauth_host_loopback(host) || regauth_host_listed(insecure, host);
}

int
regauth_realm_allowed(const char *realm, const char *registry,
    const char *insecure)
{
	char host[256];

	if (regauth_url_host(realm, host, sizeof(host)) == -1)
		return 0;
	if (strncmp(realm, "https://", 8) == 0)
		return 1;
	return plain_http_ok(registry, insecure) && plain_http_ok(host, insecure);
}

/* --- identity tokens ----------------------------------------------------- */

int
regauth_identity(const char *username)
{
	return username != NULL && strcmp(username, REGAUTH_IDENTITY_USER) == 0;
}

/* Appends s percent-encoded (RFC 3986 unreserved kept); -1 when full. */
static int
form_escape(const char *s, char *out, size_t len, size_t *n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		int keep = (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
		    *p == '~';

		if (*n + (keep ? 1 : 3) >= len)
			return -1;
		if (keep) {
			out[(*n)++] = (char)*p;
		} else {
			out[(*n)++] = '%';
			out[(*n)++] = hex[*p >> 4];
			out[(*n)++] = hex[*p & 0xf];
		}
	}
	out[*n] = '\0';
	return 0;
}

/* Appends the literal s; -1 when full. */
static int
form_literal(const char *s, char *out, size_t len, size_t *n)
{
	size_t l = strlen(s);

	if (*n + l >= len)
		return -1;
	memcpy(out + *n, s, l + 1);
	*n += l;
	return 0;
}

int
regauth_refresh_form(const char *service, const char *repo,
    const char *refresh_token, char *out, size_t len)
{
	size_t n = 0;

	if (len == 0 || refresh_token == NULL || refresh_token[0] == '\0')
		return -1;
	out[0] = '\0';
	if (form_literal("grant_type=refresh_token&service=", out, len, &n) < 0 ||
	    form_escape(service != NULL ? service : "", out, len, &n) < 0)
		return -1;
	if (repo != NULL && (repo[0] == '\0' ||
	    form_literal("&scope=", out, len, &n) < 0 ||
	    form_escape("repository:", out, len, &n) < 0 ||
	    form_escape(repo, out, len, &n) < 0 ||
	    form_escape(":pull", out, len, &n) < 0))
		return -1;
	if (form_literal("&client_id=slipway&refresh_token=", out, len, &n) < 0 ||
	    form_escape(refresh_token, out, len, &n) < 0)
		return -1;
	return 0;
}

/* --- resolved addresses -------------------------------------------------- */

/* An address as bytes: IPv4 in the first 4 of b. */
struct ip {
	int family;
	unsigned char b[16];
};

/* One special-purpose range and its class (first match wins). */
struct range {
	int family;
	unsigned char pfx[16];
	unsigned plen;
	enum regauth_addr_class cls;
};

static const struct range ranges[] = {
	{ AF_INET, { 0 }, 8, REGAUTH_ADDR_UNSPECIFIED },             /* 0/8 */
	{ AF_INET, { 10 }, 8, REGAUTH_ADDR_PRIVATE },
	{ AF_INET, { 100, 64 }, 10, REGAUTH_ADDR_PRIVATE },          /* CGNAT */
	{ AF_INET, { 127 }, 8, REGAUTH_ADDR_LOOPBACK },
	{ AF_INET, { 169, 254 }, 16, REGAUTH_ADDR_LINK_LOCAL },
	{ AF_INET, { 172, 16 }, 12, REGAUTH_ADDR_PRIVATE },
	{ AF_INET, { 192, 0, 0 }, 24, REGAUTH_ADDR_RESERVED },       /* IETF */
	{ AF_INET, { 192, 0, 2 }, 24, REGAUTH_ADDR_RESERVED },     /* TEST-NET-1 */
	{ AF_INET, { 192, 168 }, 16, REGAUTH_ADDR_PRIVATE },
	{ AF_INET, { 198, 18 }, 15, REGAUTH_ADDR_RESERVED },       /* benchmarks */
	{ AF_INET, { 198, 51, 100 }, 24, REGAUTH_ADDR_RESERVED },  /* TEST-NET-2 */
	{ AF_INET, { 203, 0, 113 }, 24, REGAUTH_ADDR_RESERVED },   /* TEST-NET-3 */
	{ AF_INET, { 224 }, 4, REGAUTH_ADDR_MULTICAST },
	{ AF_INET, { 255, 255, 255, 255 }, 32, REGAUTH_ADDR_BROADCAST },
	{ AF_INET, { 240 }, 4, REGAUTH_ADDR_RESERVED },
	{ AF_INET6, { 0 }, 128, REGAUTH_ADDR_UNSPECIFIED },          /* :: */
	{ AF_INET6, { [15] = 1 }, 128, REGAUTH_ADDR_LOOPBACK },      /* ::1 */
	{ AF_INET6, { 0, 0x64, 0xff, 0x9b, 0, 1 }, 48,           /* local NAT64 */
	  REGAUTH_ADDR_PRIVATE },
	{ AF_INET6, { 0 }, 8, REGAUTH_ADDR_RESERVED },               /* ::/8 */
	{ AF_INET6, { 1 }, 64, REGAUTH_ADDR_RESERVED },              /* discard */
	{ AF_INET6, { 0x20, 0x01, 0x0d, 0xb8 }, 32, REGAUTH_ADDR_RESERVED },
	{ AF_INET6, { 0xfc }, 7, REGAUTH_ADDR_PRIVATE },             /* ULA */
	{ AF_INET6, { 0xfe, 0x80 }, 10, REGAUTH_ADDR_LINK_LOCAL },
	{ AF_INET6, { 0xfe, 0xc0 }, 10, REGAUTH_ADDR_PRIVATE },    /* site-local */
	{ AF_INET6, { 0xff }, 8, REGAUTH_ADDR_MULTICAST },
};

/* IPv6 ranges that carry an IPv4 address at byte off. */
static const struct embedding {
	unsigned char pfx[16];
	unsigned plen;
	unsigned off;
} embeddings[] = {
	{ { [10] = 0xff, [11] = 0xff }, 96, 12 },       /* mapped ::ffff:a.b.c.d */
	{ { [8] = 0xff, [9] = 0xff }, 96, 12 },         /* translated */
	{ { 0, 0x64, 0xff, 0x9b }, 96, 12 },            /* NAT64 64:ff9b:: */
	{ { 0x20, 0x02 }, 16, 2 },                      /* 6to4 2002::/16 */
};

/* 1 when the first plen bits of a and pfx are equal. */
static int
prefix_match(const unsigned char *a, const unsigned char *pfx, unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;
	unsigned char mask;

	if (memcmp(a, pfx, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (pfx[full] & mask);
}

/* The address of sa; IPv4 carried in IPv6 becomes IPv4. -1: not an IP. */
static int
ip_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct ip *ip)
{
	const struct sockaddr_in6 *s6;
	size_t i;

	memset(ip, 0, sizeof(*ip));
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		ip->family = AF_INET;
		memcpy(ip->b, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6 || len < sizeof(struct sockaddr_in6))
		return -1;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	ip->family = AF_INET6;
	memcpy(ip->b, &s6->sin6_addr, 16);
	for (i = 0; i < sizeof(embeddings) / sizeof(embeddings[0]); i++) {
		if (prefix_match(ip->b, embeddings[i].pfx, embeddings[i].plen)) {
			ip->family = AF_INET;
			memmove(ip->b, ip->b + embeddings[i].off, 4);
			memset(ip->b + 4, 0, 12);
			break;
		}
	}
	return 0;
}

static enum regauth_addr_class
ip_classify(const struct ip *ip)
{
	size_t i;

	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (ranges[i].family == ip->family &&
		    prefix_match(ip->b, ranges[i].pfx, ranges[i].plen))
			return ranges[i].cls;
	return REGAUTH_ADDR_PUBLIC;
}

enum regauth_addr_class
regauth_addr_classify(const struct sockaddr *sa, socklen_t len)
{
	struct ip ip;

	if (ip_from_sockaddr(sa, len, &ip) == -1)
		return REGAUTH_ADDR_INVALID;
	return ip_classify(&ip);
}

const char *
regauth_addr_class_phrase(enum regauth_addr_class c)
{
	static const char *const phrase[] = {
		[REGAUTH_ADDR_PUBLIC] = "a public address",
		[REGAUTH_ADDR_LOOPBACK] = "a loopback address",
		[REGAUTH_ADDR_PRIVATE] = "a private address",
		[REGAUTH_ADDR_LINK_LOCAL] = "a link-local address",
		[REGAUTH_ADDR_RESERVED] = "a reserved address",
		[REGAUTH_ADDR_UNSPECIFIED] = "an unspecified address",
		[REGAUTH_ADDR_MULTICAST] = "a multicast address",
		[REGAUTH_ADDR_BROADCAST] = "a broadcast address",
		[REGAUTH_ADDR_INVALID] = "not an IP address",
	};

	if ((unsigned)c >= sizeof(phrase) / sizeof(phrase[0]))
		return phrase[REGAUTH_ADDR_INVALID];
	return phrase[c];
}

void
regauth_addr_text(const struct sockaddr *sa, socklen_t len, char *out,
    size_t outlen)
{
	const void *a = NULL;

	if (outlen == 0)
		return;
	if (sa != NULL && sa->sa_family == AF_INET &&
	    len >= sizeof(struct sockaddr_in))
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa != NULL && sa->sa_family == AF_INET6 &&
	    len >= sizeof(struct sockaddr_in6))
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, out,
	    (socklen_t)outlen) == NULL)
		snprintf(out, outlen, "?");
}

/* --- SLIPWAY_ALLOW_PRIVATE_TARGETS --------------------------------------- */

#define POLICY_ENTRY_MAX 64

static const struct {
	const char *word;
	unsigned bit;
} policy_words[] = {
	{ "loopback", REGAUTH_ALLOW_LOOPBACK },
	{ "private", REGAUTH_ALLOW_PRIVATE },
	{ "link-local", REGAUTH_ALLOW_LINK_LOCAL },
};
#define POLICY_NWORDS (sizeof(policy_words) / sizeof(policy_words[0]))

/* A prefix length: decimal, no sign, no leading zero; -1 when bad. */
static int
cidr_prefix(const char *s, unsigned max)
{
	size_t n = strlen(s);
	unsigned v = 0;

	if (n == 0 || n > 3 || strspn(s, "0123456789") != n ||
	    (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v <= max ? (int)v : -1;
}

/* Clears the bits past c->prefix; returns 1 when any was set. */
static int
cidr_mask(struct regauth_cidr *c)
{
	unsigned bytes = c->family == AF_INET ? 4 : 16, i;
	int dirty = 0;
	unsigned char keep;

	for (i = 0; i < bytes; i++) {
		if (c->prefix >= (i + 1) * 8)
			continue;
		keep = c->prefix <= i * 8 ? 0 :
		    (unsigned char)(0xff << (8 - (c->prefix - i * 8)));
		dirty |= (c->addr[i] & (unsigned char)~keep) != 0;
		c->addr[i] &= keep;
	}
	return dirty;
}

static void
cidr_text(const struct regauth_cidr *c, char *out, size_t len)
{
	char a[REGAUTH_ADDR_STRLEN];

	if (inet_ntop(c->family, c->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(out, len, "%s/%u", a, c->prefix);
}

/* Parses "addr[/prefix]" (entry, NUL-terminated, trimmed) into c. */
static int
cidr_parse(const char *entry, struct regauth_cidr *c, struct error *err)
{
	char addr[POLICY_ENTRY_MAX], fixed[POLICY_ENTRY_MAX + 8];
	const char *slash = strchr(entry, '/');
	size_t n = slash != NULL ? (size_t)(slash - entry) : strlen(entry);
	int prefix;
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(c, 0, sizeof(*c));
	memcpy(addr, entry, n);
	addr[n] = '\0';
	c->family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(c->family, addr, c->addr) != 1) {
		error_set(err, "invalid_policy", "", "\"%s\" is not loopback, "
		    "private, link-local or a CIDR (e.g. 10.1.0.0/16)", entry);
		return -1;
	}
	if (c->family == AF_INET6 && memcmp(c->addr, mapped, 12) == 0) {
		error_set(err, "invalid_policy", "", "\"%s\": write IPv4 ranges "
		    "as IPv4 (mapped addresses are judged as IPv4)", entry);
		return -1;
	}
	prefix = slash == NULL ? (c->family == AF_INET ? 32 : 128) :
	    cidr_prefix(slash + 1, c->family == AF_INET ? 32 : 128);
	if (prefix < 0) {
		error_set(err, "invalid_policy", "", "\"%s\": the prefix length "
		    "must be 0-%d", entry, c->family == AF_INET ? 32 : 128);
		return -1;
	}
	c->prefix = (unsigned)prefix;
	if (cidr_mask(c)) {
		cidr_text(c, fixed, sizeof(fixed));
		error_set(err, "invalid_policy", "", "\"%s\" has host bits set; "
		    "the range is %s", entry, fixed);
		return -1;
	}
	return 0;
}

/* One trimmed entry of n bytes at s. */
static int
policy_entry(const char *s, size_t n, struct regauth_policy *p,
    struct error *err)
{
	char entry[POLICY_ENTRY_MAX];

	if (n == 0) {
		error_set(err, "invalid_policy", "", "an empty entry (two commas, "
		    "or one at an end)");
		return -1;
	}
	if (n >= sizeof(entry)) {
		error_set(err, "invalid_policy", "", "an entry longer than %zu "
		    "characters: \"%.40s...\"", sizeof(entry) - 1, s);
		return -1;
	}
	memcpy(entry, s, n);
	entry[n] = '\0';
	for (size_t i = 0; i < POLICY_NWORDS; i++) {
		if (strcasecmp(entry, policy_words[i].word) == 0) {
			p->allow |= policy_words[i].bit;
			return 0;
		}
	}
	if (p->ncidr == REGAUTH_CIDR_MAX) {
		error_set(err, "invalid_policy", "", "more than %d ranges",
		    REGAUTH_CIDR_MAX);
		return -1;
	}
	if (cidr_parse(entry, &p->cidr[p->ncidr], err) == -1)
		return -1;
	p->ncidr++;
	return 0;
}

int
regauth_policy_parse(const char *text, struct regauth_policy *out,
    struct error *err)
{
	const char *p = text, *end;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (p == NULL || p[strspn(p, " \t")] == '\0')
		return 0;
	for (;;) {
		n = strcspn(p, ",");
		end = p + n;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (policy_entry(p, (size_t)(end - p), out, err) == -1) {
			memset(out, 0, sizeof(*out));
			return -1;
		}
		p += strcspn(p, ",");
		if (*p == '\0')
			return 0;
		p++;
	}
}

int
regauth_policy_format(const struct regauth_policy *p, char *out, size_t len)
{
	char item[REGAUTH_ADDR_STRLEN + 8];
	size_t used = 0, n;

	if (len == 0)
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < POLICY_NWORDS + p->ncidr; i++) {
		if (i < POLICY_NWORDS && !(p->allow & policy_words[i].bit))
			continue;
		if (i < POLICY_NWORDS)
			snprintf(item, sizeof(item), "%s", policy_words[i].word);
		else
			cidr_text(&p->cidr[i - POLICY_NWORDS], item, sizeof(item));
		n = strlen(item) + (used > 0);
		if (used + n >= len)
			return -1;
		snprintf(out + used, len - used, "%s%s", used > 0 ? "," : "", item);
		used += n;
	}
	return 0;
}

/* 1 when one of the policy's ranges holds ip. */
static int
policy_cidr_match(const struct regauth_policy *p, const struct ip *ip)
{
	for (size_t i = 0; i < p->ncidr; i++)
		if (p->cidr[i].family == ip->family &&
		    prefix_match(ip->b, p->cidr[i].addr, p->cidr[i].prefix))
			return 1;
	return 0;
}

int
regauth_policy_allows(const struct regauth_policy *p,
    const struct sockaddr *sa, socklen_t len, enum regauth_addr_class *cls)
{
	struct ip ip;
	enum regauth_addr_class c = REGAUTH_ADDR_INVALID;
	unsigned allow = p != NULL ? p->allow : 0;
	int ok = 0;

	if (ip_from_sockaddr(sa, len, &ip) == 0)
		c = ip_classify(&ip);
	switch (c) {
	case REGAUTH_ADDR_PUBLIC:
		ok = 1;
		break;
	case REGAUTH_ADDR_LOOPBACK:
		ok = (allow & REGAUTH_ALLOW_LOOPBACK) != 0;
		break;
	case REGAUTH_ADDR_PRIVATE:
		ok = (allow & REGAUTH_ALLOW_PRIVATE) != 0;
		break;
	case REGAUTH_ADDR_LINK_LOCAL:
		ok = (allow & REGAUTH_ALLOW_LINK_LOCAL) != 0;
		break;
	case REGAUTH_ADDR_RESERVED:
		break;
	default:
		/* Unspecified (0.0.0.0 reaches this host), multicast, broadcast. */
		if (cls != NULL)
			*cls = c;
		return 0;
	}
	if (!ok && p != NULL)
		ok = policy_cidr_match(p, &ip);
	if (cls != NULL)
		*cls = c;
	return ok;
}

void
regauth_refusal(const char *what, const char *addr,
    enum regauth_addr_class cls, char *out, size_t len)
{
	const char *advice;

	switch (cls) {
	case REGAUTH_ADDR_LOOPBACK:
		advice = "; set " REGAUTH_POLICY_VAR "=loopback to allow it";
		break;
	case REGAUTH_ADDR_PRIVATE:
		advice = "; set " REGAUTH_POLICY_VAR "=private (or its CIDR) to "
		    "allow it";
		break;
	case REGAUTH_ADDR_LINK_LOCAL:
		advice = "; set " REGAUTH_POLICY_VAR "=link-local (or its CIDR) "
		    "to allow it";
		break;
	case REGAUTH_ADDR_RESERVED:
		advice = "; only a CIDR in " REGAUTH_POLICY_VAR " allows it";
		break;
	default:
		advice = ", which is never connected to";
		break;
	}
	snprintf(out, len, "%s resolves to %s, %s%s", what, addr,
	    regauth_addr_class_phrase(cls), advice);
}
