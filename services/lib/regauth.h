/*
 * regauth.h: the registry-auth contract registry-svc (the registry test) and
 * the data-plane agent (the OCI resolver) share, so the two sides cannot
 * drift: how a WWW-Authenticate challenge is read, which registry hosts are
 * loopback, where credentials may follow a Bearer realm, and which resolved
 * addresses may be connected to at all (SLIPWAY_ALLOW_PRIVATE_TARGETS).
 *
 * regauth.c is pure (no I/O, no allocation, every length checked);
 * regauth_guard.c applies the address policy to a libcurl handle at connect
 * time, on the exact address curl is about to connect to.
 */
#ifndef SLIPWAY_REGAUTH_H
#define SLIPWAY_REGAUTH_H

#include <stddef.h>
#include <sys/socket.h>
#include "error.h"

/* --- WWW-Authenticate (RFC 7235) ----------------------------------------- */

enum regauth_scheme { REGAUTH_SCHEME_NONE, REGAUTH_SCHEME_BASIC,
	REGAUTH_SCHEME_BEARER, REGAUTH_SCHEME_OTHER };

struct regauth_challenge {
	enum regauth_scheme scheme;
	char realm[1024];
	char service[256];
	char scope[512];
};

/*
 * Parses the first challenge of a header value (len bytes, no NUL needed);
 * -1 when malformed, a value does not fit, or a Bearer challenge has no
 * realm. Unknown parameters are skipped.
 */
int regauth_challenge_parse(const char *hdr, size_t len,
    struct regauth_challenge *out);
/*
 * When line is "Name: value" with Name equal to name (case-insensitive),
 * copies the trimmed value into out and returns 1; 0 otherwise, -1 when the
 * value does not fit or holds a NUL.
 */
int regauth_header(const char *line, size_t len, const char *name,
    char *out, size_t outlen);

/* --- registry hosts and the realm rule ----------------------------------- */

/*
 * 1 when host ("host[:port]", as in an image reference) is this machine's
 * loopback by its spelling: dotted-decimal 127.0.0.0/8, [::1] or localhost,
 * any valid port. No lookup: what a name resolves to is the address
 * policy's business (regauth_policy_allows).
 */
int regauth_host_loopback(const char *host);
/* 1 when host is an entry of the comma list (case-insensitive; NULL = ""). */
int regauth_host_listed(const char *list, const char *host);
/*
 * Copies the authority ("host[:port]") of an http:// or https:// URL into
 * out; -1 for another scheme, an empty or oversized authority.
 */
int regauth_url_host(const char *url, char *out, size_t len);
/*
 * 1 when registry credentials may go to the Bearer realm URL: https, or
 * plain http only when both the registry and the realm's host are loopback
 * or in the insecure list (NULL = none). Never anything else in the clear.
 */
int regauth_realm_allowed(const char *realm, const char *registry,
    const char *insecure);

/* --- identity tokens (OAuth2 refresh tokens) ----------------------------- */

/*
 * The username that marks the password as an identity token (a docker
 * config's "identitytoken", what `az acr login --expose-token` writes):
 * Docker's credential-store convention, used from registry-svc's parse to
 * the agent's pull, so a credential pair can carry one unchanged.
 */
#define REGAUTH_IDENTITY_USER "<token>"

/* 1 when username is REGAUTH_IDENTITY_USER. */
int regauth_identity(const char *username);
/*
 * The body of the refresh-token exchange at a Bearer realm (distribution
 * token spec, OAuth2 form, POSTed as application/x-www-form-urlencoded):
 * "grant_type=refresh_token&service=S&scope=repository:R:pull&client_id=
 * slipway&refresh_token=T", every value percent-encoded. repo NULL asks for
 * no scope (a login check). -1 when out is too small or a value is empty.
 */
int regauth_refresh_form(const char *service, const char *repo,
    const char *refresh_token, char *out, size_t len);

/* --- resolved addresses -------------------------------------------------- */

enum regauth_addr_class {
	REGAUTH_ADDR_PUBLIC,
	REGAUTH_ADDR_LOOPBACK,     /* 127/8, ::1 */
	REGAUTH_ADDR_PRIVATE,      /* 10/8, 172.16/12, 192.168/16, 100.64/10,
	                              fc00::/7, fec0::/10 */
	REGAUTH_ADDR_LINK_LOCAL,   /* 169.254/16, fe80::/10 */
	REGAUTH_ADDR_RESERVED,     /* documentation, benchmarking, 240/4, ... */
	REGAUTH_ADDR_UNSPECIFIED,  /* 0/8, :: */
	REGAUTH_ADDR_MULTICAST,    /* 224/4, ff00::/8 */
	REGAUTH_ADDR_BROADCAST,    /* 255.255.255.255 */
	REGAUTH_ADDR_INVALID,      /* not AF_INET/AF_INET6, or too short */
};

/* Longest text regauth_addr_text writes ("ffff:...:255.255.255.255" + NUL). */
#define REGAUTH_ADDR_STRLEN 46

/*
 * The class of a resolved address. An IPv6 address that carries an IPv4
 * one (mapped ::ffff:0:0/96, translated ::ffff:0:0:0/96, NAT64 64:ff9b::/96,
 * 6to4 2002::/16) is the class of that IPv4 address.
 */
enum regauth_addr_class regauth_addr_classify(const struct sockaddr *sa,
    socklen_t len);
/* "a private address", ...: the phrase error messages use. */
const char *regauth_addr_class_phrase(enum regauth_addr_class c);
/* The address as text (inet_ntop), "?" when it cannot be shown. */
void regauth_addr_text(const struct sockaddr *sa, socklen_t len, char *out,
    size_t outlen);

/* --- SLIPWAY_ALLOW_PRIVATE_TARGETS --------------------------------------- */

#define REGAUTH_POLICY_VAR       "SLIPWAY_ALLOW_PRIVATE_TARGETS"
#define REGAUTH_ALLOW_LOOPBACK   0x1
#define REGAUTH_ALLOW_PRIVATE    0x2
#define REGAUTH_ALLOW_LINK_LOCAL 0x4
#define REGAUTH_CIDR_MAX         32

struct regauth_cidr {
	int family;                 /* AF_INET or AF_INET6 */
	unsigned char addr[16];     /* network order; IPv4 in the first 4 */
	unsigned prefix;
};

/*
 * Which non-public addresses may be reached. Plain data, copied by value;
 * all zero (or a NULL pointer) = public addresses only.
 */
struct regauth_policy {
	unsigned allow;             /* REGAUTH_ALLOW_* */
	size_t ncidr;
	struct regauth_cidr cidr[REGAUTH_CIDR_MAX];
};

/*
 * Parses a comma list of "loopback", "private", "link-local" (any case) and
 * CIDRs ("10.1.0.0/16", "fd00::/8"; a bare address is one host). "" = none.
 * -1 with err (code "invalid_policy") on an unknown word, an empty entry, a
 * bad or over-long prefix, host bits set, an IPv4-mapped IPv6 range (write
 * it as IPv4) or more than REGAUTH_CIDR_MAX ranges.
 */
int regauth_policy_parse(const char *text, struct regauth_policy *out,
    struct error *err);
/* The policy in its canonical text form; -1 when it does not fit. */
int regauth_policy_format(const struct regauth_policy *p, char *out,
    size_t len);
/*
 * 1 when p lets a connection go to sa: a public address always; loopback,
 * private and link-local ones when their word or a CIDR allows them; a
 * reserved one only by a CIDR; unspecified, multicast and broadcast never.
 * *cls (when not NULL) gets the address's class. NULL p = public only.
 */
int regauth_policy_allows(const struct regauth_policy *p,
    const struct sockaddr *sa, socklen_t len, enum regauth_addr_class *cls);
/*
 * The refusal sentence: "<what> resolves to <addr>, <a class>; set
 * SLIPWAY_ALLOW_PRIVATE_TARGETS=<word> to allow it" (or why it never is).
 * what names the target, e.g. "registry host 10.0.0.5:5000".
 */
void regauth_refusal(const char *what, const char *addr,
    enum regauth_addr_class cls, char *out, size_t len);

/* --- regauth_guard.c: the policy on a libcurl easy handle ---------------- */

/*
 * The state of one guarded transfer. The caller owns it and keeps it alive
 * (and unmoved) as long as the handle it is attached to.
 */
struct regauth_guard {
	const struct regauth_policy *policy;   /* NULL = public only */
	char what[300];                        /* for the refusal sentence */
	int refused;                           /* an address was refused */
	char addr[REGAUTH_ADDR_STRLEN];        /* the last refused address */
	enum regauth_addr_class cls;
};

/*
 * Sets up easy (a CURL *) so that every address it connects to passes the
 * policy (CURLOPT_OPENSOCKETFUNCTION: after DNS, on the address the socket
 * connects to, so the checked address is the one used), redirects are never
 * followed (a 3xx is the caller's failure, credentials never re-sent), and
 * no environment proxy is used (through a proxy the registry's address
 * would never be seen). what is formatted like printf. Returns 0, or -1
 * when libcurl refused an option.
 */
int regauth_guard_attach(void *easy, struct regauth_guard *g,
    const struct regauth_policy *policy, const char *what, ...)
    LOG_PRINTF(4, 5);
/*
 * After a failed transfer (curl_code its CURLcode): 1 with the refusal
 * sentence in out when the failure is the policy's doing, 0 otherwise.
 */
int regauth_guard_refused(const struct regauth_guard *g, int curl_code,
    char *out, size_t len);
/*
 * 1 when status is a redirect (3xx); out gets the host of its Location
 * ("" when none) for the error message. The target is never fetched.
 */
int regauth_guard_redirect(void *easy, long status, char *out, size_t len);

#endif
