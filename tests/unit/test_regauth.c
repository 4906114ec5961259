/*
 * test_regauth.c: the registry-auth contract both registry-svc and the agent
 * apply (services/lib/regauth.c), table by table: which hosts are loopback
 * by their spelling, where a Bearer realm may get credentials, the class of
 * every special address range and its edges, and SLIPWAY_ALLOW_PRIVATE_TARGETS
 * (parsing, canonical form, what it lets through, the refusal sentence).
 * Pure functions only: nothing here opens a socket (ARCHITECTURE.md §9).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <stdlib.h>
#include <cmocka.h>

#include "config.h"
#include "regauth.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* --- loopback hosts ------------------------------------------------------ */

static const struct {
	const char *host;
	int loopback;
} host_cases[] = {
	{ "127.0.0.1", 1 },
	{ "127.0.0.1:5057", 1 },
	{ "127.0.0.1:1", 1 },
	{ "127.0.0.1:65535", 1 },
	{ "127.255.255.254:39001", 1 },
	{ "127.1.2.3", 1 },
	{ "127.0.0.0:80", 1 },
	{ "[::1]:5000", 1 },
	{ "[::1]", 1 },
	{ "[0:0:0:0:0:0:0:1]:5000", 1 },
	{ "localhost", 1 },
	{ "localhost:5000", 1 },
	{ "LocalHost:5000", 1 },
	{ "127.0.0.1.evil.com", 0 },
	{ "127.0.0.1.evil.com:5000", 0 },
	{ "127.0.0.1.nip.io", 0 },
	{ "localhost.evil.com", 0 },
	{ "localhost.evil.com:5000", 0 },
	{ "localhost.", 0 },
	{ "registry.localhost", 0 },
	{ "evillocalhost", 0 },
	{ "localhostx:5000", 0 },
	{ "127-0-0-1.example.com", 0 },
	{ "docker.io", 0 },
	{ "ghcr.io", 0 },
	{ "127.0.0.1@evil.com", 0 },
	{ "evil.com@127.0.0.1", 0 },
	{ "127.0.0.1/evil", 0 },
	{ "0x7f.1", 0 },
	{ "0x7f.0.0.1", 0 },
	{ "0x7f000001", 0 },
	{ "0177.0.0.1", 0 },
	{ "127.000.000.001", 0 },
	{ "127.1", 0 },
	{ "127.0.1", 0 },
	{ "2130706433", 0 },
	{ "127.0.0.256", 0 },
	{ "127.0.0.1.1", 0 },
	{ " 127.0.0.1", 0 },
	{ "127.0.0.1 ", 0 },
	{ "128.0.0.1", 0 },
	{ "126.255.255.255:5000", 0 },
	{ "10.0.0.1:5000", 0 },
	{ "0.0.0.0:5000", 0 },
	{ "[::]:5000", 0 },
	{ "[::2]:5000", 0 },
	{ "[::ffff:127.0.0.1]:5000", 0 },
	{ "[::1%lo]:5000", 0 },
	{ "[fe80::1]:5000", 0 },
	{ "::1", 0 },
	{ "::1:5000", 0 },
	{ NULL, 0 },
	{ "", 0 },
	{ ":5000", 0 },
	{ "127.0.0.1:", 0 },
	{ "127.0.0.1:0", 0 },
	{ "127.0.0.1:65536", 0 },
	{ "127.0.0.1:123456", 0 },
	{ "127.0.0.1:50a0", 0 },
	{ "127.0.0.1:-1", 0 },
	{ "127.0.0.1:+80", 0 },
	{ "127.0.0.1:5000:6000", 0 },
	{ "localhost:5000/x", 0 },
	{ "[::1]5000", 0 },
	{ "[::1]:", 0 },
	{ "[::1", 0 },
	{ "[]:5000", 0 },
	{ "[127.0.0.1]:5000", 0 },
	{ "[localhost]:5000", 0 },
};

static void
test_host_loopback(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(host_cases); i++) {
		if (regauth_host_loopback(host_cases[i].host) !=
		    host_cases[i].loopback)
			fail_msg("regauth_host_loopback(\"%s\") should be %d",
			    host_cases[i].host ? host_cases[i].host : "NULL",
			    host_cases[i].loopback);
	}
}

static void
test_host_overlong(void **state)
{
	char big[600];

	(void)state;
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "127.0.0.1:", 10);
	assert_false(regauth_host_loopback(big));
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "localhost", 9);
	assert_false(regauth_host_loopback(big));
}

static void
test_host_listed(void **state)
{
	static const struct {
		const char *list, *host;
		int listed;
	} cases[] = {
		{ "reg.lan:5000", "reg.lan:5000", 1 },
		{ " a:1 , REG.lan:5000 ", "reg.lan:5000", 1 },
		{ "reg.lan:5000", "reg.lan", 0 },
		{ "reg.lan", "reg.lan:5000", 0 },
		{ "reg.lan:50001", "reg.lan:5000", 0 },
		{ ",,", "", 0 },
		{ "", "reg.lan:5000", 0 },
		{ NULL, "reg.lan:5000", 0 },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		if (regauth_host_listed(cases[i].list, cases[i].host) !=
		    cases[i].listed)
			fail_msg("case %zu: \"%s\" in \"%s\"", i, cases[i].host,
			    cases[i].list ? cases[i].list : "NULL");
}

static void
test_url_host(void **state)
{
	static const struct {
		const char *url, *host;    /* host NULL: -1 */
	} cases[] = {
		{ "https://auth.docker.io/token", "auth.docker.io" },
		{ "http://127.0.0.1:5001?x=1", "127.0.0.1:5001" },
		{ "http://[::1]:5001#f", "[::1]:5001" },
		{ "https://u:p@h/", "u:p@h" },
		{ "https://", NULL },
		{ "http:///x", NULL },
		{ "ftp://h/", NULL },
		{ "HTTPS://h/", NULL },
		{ "h/", NULL },
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		int rc = regauth_url_host(cases[i].url, out, sizeof(out));
		if (cases[i].host == NULL) {
			assert_int_equal(rc, -1);
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(out, cases[i].host);
		}
	}
	assert_int_equal(regauth_url_host("https://0123456789", out, 10), -1);
}

/* --- the realm rule ------------------------------------------------------ */

static const struct {
	const char *realm, *registry, *insecure;
	int allowed;
} realm_cases[] = {
	{ "https://auth.docker.io/token", "docker.io", "", 1 },
	{ "https://127.0.0.1:5001/token", "127.0.0.1:5000", NULL, 1 },
	{ "https://ghcr.io/token", "ghcr.io", "ghcr.io", 1 },
	{ "http://127.0.0.1:5001/token", "127.0.0.1:5000", "", 1 },
	{ "http://localhost:5001/token", "127.0.0.2:5000", NULL, 1 },
	{ "http://[::1]:5001?x=1", "[::1]:5000", "", 1 },
	{ "http://127.0.0.1:5001", "localhost:5000", "", 1 },
	{ "http://reg.lan:5001/token", "reg.lan:5000",
	  "reg.lan:5000, reg.lan:5001", 1 },
	{ "http://auth.lan/token", "reg.lan:5000", "reg.lan:5000", 0 },
	{ "http://reg.lan:5001/token", "reg.lan:5000", "reg.lan:5001", 0 },
	{ "http://auth.docker.io/token", "docker.io", "", 0 },
	{ "http://evil.com/token", "127.0.0.1:5000", "", 0 },
	{ "http://127.0.0.1.evil.com/t", "127.0.0.1:5000", "", 0 },
	{ "http://127.0.0.1@evil.com/t", "127.0.0.1:5000", "", 0 },
	{ "http://localhost.evil.com/t", "localhost:5000", NULL, 0 },
	{ "http://127.0.0.1:5001/token", "ghcr.io", "", 0 },
	{ "http://127.0.0.1:5001/token", "ghcr.io", NULL, 0 },
	{ "", "127.0.0.1:5000", "", 0 },
	{ "slipway-local", "127.0.0.1:5000", "", 0 },
	{ "ftp://127.0.0.1/token", "127.0.0.1:5000", "", 0 },
	{ "http:///token", "127.0.0.1:5000", "", 0 },
	{ "https://", "docker.io", "", 0 },
	{ "HTTP://127.0.0.1:5001/t", "127.0.0.1:5000", "", 0 },
	/* registry-svc passes no insecure list: only loopback may be plain. */
	{ "http://127.0.0.1:5001/token", "10.0.0.5:5000", NULL, 0 },
	{ "http://localhost:1@evil.com/t", "127.0.0.1:5000", NULL, 0 },
	{ "http://[::1]@evil.com/t", "[::1]:5000", NULL, 0 },
	{ "https://10.0.0.5/token", "10.0.0.5:5000", NULL, 1 },
};

static void
test_realm_allowed(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(realm_cases); i++)
		if (regauth_realm_allowed(realm_cases[i].realm,
		    realm_cases[i].registry, realm_cases[i].insecure) !=
		    realm_cases[i].allowed)
			fail_msg("realm \"%s\" for %s (insecure \"%s\") should be %d",
			    realm_cases[i].realm, realm_cases[i].registry,
			    realm_cases[i].insecure ? realm_cases[i].insecure :
			    "NULL", realm_cases[i].allowed);
}

/* --- address classes ----------------------------------------------------- */

/* A sockaddr for a literal address; its length is returned. */
static socklen_t
sockaddr_of(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(443);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(443);
		return sizeof(*s6);
	}
	fail_msg("test address %s does not parse", text);
	return 0;
}

#define PUB REGAUTH_ADDR_PUBLIC
#define LO  REGAUTH_ADDR_LOOPBACK
#define PRV REGAUTH_ADDR_PRIVATE
#define LL  REGAUTH_ADDR_LINK_LOCAL
#define RSV REGAUTH_ADDR_RESERVED
#define UNS REGAUTH_ADDR_UNSPECIFIED
#define MC  REGAUTH_ADDR_MULTICAST
#define BC  REGAUTH_ADDR_BROADCAST

static const struct {
	const char *addr;
	enum regauth_addr_class cls;
} addr_cases[] = {
	/* IPv4: each range and the addresses just outside it. */
	{ "0.0.0.0", UNS }, { "0.1.2.3", UNS }, { "1.0.0.0", PUB },
	{ "1.1.1.1", PUB }, { "8.8.8.8", PUB },
	{ "9.255.255.255", PUB }, { "10.0.0.0", PRV }, { "10.0.0.5", PRV },
	{ "10.255.255.255", PRV }, { "11.0.0.0", PUB },
	{ "100.63.255.255", PUB }, { "100.64.0.0", PRV },
	{ "100.127.255.255", PRV }, { "100.128.0.0", PUB },
	{ "126.255.255.255", PUB }, { "127.0.0.0", LO }, { "127.0.0.1", LO },
	{ "127.255.255.255", LO }, { "128.0.0.0", PUB },
	{ "169.253.255.255", PUB }, { "169.254.0.0", LL },
	{ "169.254.169.254", LL }, { "169.254.255.255", LL },
	{ "169.255.0.0", PUB },
	{ "172.15.255.255", PUB }, { "172.16.0.0", PRV }, { "172.20.1.1", PRV },
	{ "172.31.255.255", PRV }, { "172.32.0.0", PUB },
	{ "191.255.255.255", PUB }, { "192.0.0.1", RSV }, { "192.0.1.1", PUB },
	{ "192.0.2.1", RSV }, { "192.0.3.0", PUB },
	{ "192.167.255.255", PUB }, { "192.168.0.0", PRV },
	{ "192.168.255.255", PRV }, { "192.169.0.0", PUB },
	{ "198.17.255.255", PUB }, { "198.18.0.0", RSV },
	{ "198.19.255.255", RSV }, { "198.20.0.0", PUB },
	{ "198.51.100.1", RSV }, { "203.0.113.1", RSV }, { "203.0.114.1", PUB },
	{ "223.255.255.255", PUB }, { "224.0.0.1", MC },
	{ "239.255.255.255", MC }, { "240.0.0.0", RSV },
	{ "255.255.255.254", RSV }, { "255.255.255.255", BC },
	/* IPv6. */
	{ "::", UNS }, { "::1", LO }, { "::2", RSV }, { "::10.0.0.5", RSV },
	{ "ff::1", RSV }, { "100::1", RSV }, { "100:0:0:1::1", PUB },
	{ "2001:db8::1", RSV }, { "2001:db9::1", PUB },
	{ "2606:4700:4700::1111", PUB },
	{ "fbff:ffff::1", PUB }, { "fc00::", PRV }, { "fd12:3456::1", PRV },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PRV },
	{ "fe00::1", PUB }, { "fe7f:ffff::1", PUB }, { "fe80::", LL },
	{ "fe80::1", LL }, { "febf:ffff::1", LL }, { "fec0::1", PRV },
	{ "feff:ffff::1", PRV }, { "ff00::", MC }, { "ff02::1", MC },
	/* IPv6 carrying IPv4: judged as the IPv4 address. */
	{ "::ffff:10.0.0.5", PRV }, { "::ffff:127.0.0.1", LO },
	{ "::ffff:8.8.8.8", PUB }, { "::ffff:0.0.0.0", UNS },
	{ "::ffff:169.254.169.254", LL }, { "::ffff:172.15.0.1", PUB },
	{ "::ffff:172.16.0.1", PRV }, { "::ffff:255.255.255.255", BC },
	{ "::ffff:0:10.0.0.5", PRV }, { "::ffff:0:8.8.8.8", PUB },
	{ "64:ff9b::10.0.0.5", PRV }, { "64:ff9b::127.0.0.1", LO },
	{ "64:ff9b::8.8.8.8", PUB }, { "64:ff9b:1::1", PRV },
	{ "2002:a00:5::1", PRV }, { "2002:7f00:1::", LO },
	{ "2002:808:808::1", PUB },
};

static void
test_addr_classify(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;

	(void)state;
	for (size_t i = 0; i < N(addr_cases); i++) {
		len = sockaddr_of(addr_cases[i].addr, &ss);
		if (regauth_addr_classify((struct sockaddr *)&ss, len) !=
		    addr_cases[i].cls)
			fail_msg("%s: class %d, expected %d", addr_cases[i].addr,
			    (int)regauth_addr_classify((struct sockaddr *)&ss, len),
			    (int)addr_cases[i].cls);
	}
}

static void
test_addr_not_ip(void **state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct sockaddr_storage ss;
	socklen_t len;
	char text[REGAUTH_ADDR_STRLEN];

	(void)state;
	assert_int_equal(regauth_addr_classify((struct sockaddr *)&un,
	    sizeof(un)), REGAUTH_ADDR_INVALID);
	assert_int_equal(regauth_addr_classify(NULL, 0), REGAUTH_ADDR_INVALID);
	/* A length too short for the family is never read past. */
	len = sockaddr_of("8.8.8.8", &ss);
	assert_int_equal(regauth_addr_classify((struct sockaddr *)&ss, len - 1),
	    REGAUTH_ADDR_INVALID);
	len = sockaddr_of("2606:4700::1", &ss);
	assert_int_equal(regauth_addr_classify((struct sockaddr *)&ss, len - 1),
	    REGAUTH_ADDR_INVALID);
	assert_false(regauth_policy_allows(NULL, (struct sockaddr *)&un,
	    sizeof(un), NULL));
	regauth_addr_text((struct sockaddr *)&un, sizeof(un), text, sizeof(text));
	assert_string_equal(text, "?");
	len = sockaddr_of("::ffff:10.0.0.5", &ss);
	regauth_addr_text((struct sockaddr *)&ss, len, text, sizeof(text));
	assert_string_equal(text, "::ffff:10.0.0.5");
	assert_string_equal(regauth_addr_class_phrase((enum regauth_addr_class)99),
	    "not an IP address");
}

/* --- SLIPWAY_ALLOW_PRIVATE_TARGETS --------------------------------------- */

static const struct {
	const char *text;
	const char *canonical;      /* NULL: refused */
	const char *error;          /* a part of the refusal */
} policy_cases[] = {
	{ "", "", NULL },
	{ "  \t ", "", NULL },
	{ "loopback", "loopback", NULL },
	{ "LOOPBACK, Private ,link-local", "loopback,private,link-local", NULL },
	{ "link-local,loopback,loopback", "loopback,link-local", NULL },
	{ "10.1.0.0/16", "10.1.0.0/16", NULL },
	{ "10.1.2.3", "10.1.2.3/32", NULL },
	{ " 10.1.0.0/16 ,loopback, fd00::/8 ", "loopback,10.1.0.0/16,fd00::/8",
	  NULL },
	{ "0.0.0.0/0", "0.0.0.0/0", NULL },
	{ "::/0", "::/0", NULL },
	{ "172.16.0.0/12", "172.16.0.0/12", NULL },
	{ "fe80::1", "fe80::1/128", NULL },
	{ "10.1.2.0/16", NULL, "host bits set; the range is 10.1.0.0/16" },
	{ "172.17.0.1/12", NULL, "the range is 172.16.0.0/12" },
	{ "fd00::/7", NULL, "the range is fc00::/7" },
	{ "10.0.0.0/33", NULL, "prefix length must be 0-32" },
	{ "::/129", NULL, "prefix length must be 0-128" },
	{ "10.0.0.0/", NULL, "prefix length" },
	{ "10.0.0.0/08", NULL, "prefix length" },
	{ "10.0.0.0/-1", NULL, "prefix length" },
	{ "10.0.0.0/+8", NULL, "prefix length" },
	{ "10.0.0.0/1a", NULL, "prefix length" },
	{ "10.0.0.0/8/8", NULL, "prefix length" },
	{ "10.0.0.0/0008", NULL, "prefix length" },
	{ "10.0.0/8", NULL, "is not loopback, private, link-local or a CIDR" },
	{ "010.0.0.0/8", NULL, "is not loopback" },
	{ "10.0.0.256", NULL, "is not loopback" },
	{ "/8", NULL, "is not loopback" },
	{ "fe80::1%eth0", NULL, "is not loopback" },
	{ "public", NULL, "\"public\" is not loopback" },
	{ "linklocal", NULL, "is not loopback" },
	{ "loopback;private", NULL, "is not loopback" },
	{ "loopback,,private", NULL, "an empty entry" },
	{ "loopback,", NULL, "an empty entry" },
	{ ",loopback", NULL, "an empty entry" },
	{ "loopback, ,private", NULL, "an empty entry" },
	{ "::ffff:10.0.0.0/104", NULL, "write IPv4 ranges as IPv4" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  NULL, "longer than 63" },
};

static void
test_policy_parse(void **state)
{
	struct regauth_policy p;
	struct error err;
	char text[512];

	(void)state;
	for (size_t i = 0; i < N(policy_cases); i++) {
		error_clear(&err);
		int rc = regauth_policy_parse(policy_cases[i].text, &p, &err);
		if (policy_cases[i].canonical == NULL) {
			if (rc != -1 || strstr(err.msg, policy_cases[i].error) == NULL)
				fail_msg("\"%s\": rc %d, \"%s\"", policy_cases[i].text,
				    rc, err.msg);
			assert_string_equal(err.code, "invalid_policy");
			/* A refused text leaves the policy at public-only. */
			assert_int_equal(p.allow, 0);
			assert_int_equal(p.ncidr, 0);
			continue;
		}
		if (rc != 0)
			fail_msg("\"%s\": %s", policy_cases[i].text, err.msg);
		assert_int_equal(regauth_policy_format(&p, text, sizeof(text)), 0);
		assert_string_equal(text, policy_cases[i].canonical);
	}
	assert_int_equal(regauth_policy_parse(NULL, &p, &err), 0);
	assert_int_equal(p.allow, 0);
}

static void
test_policy_limits(void **state)
{
	struct regauth_policy p;
	struct error err;
	char text[2048], small[8];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < REGAUTH_CIDR_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s10.%d.0.0/16",
		    i ? "," : "", i);
	assert_int_equal(regauth_policy_parse(text, &p, &err), 0);
	assert_int_equal(p.ncidr, REGAUTH_CIDR_MAX);
	snprintf(text + n, sizeof(text) - n, ",10.200.0.0/16");
	assert_int_equal(regauth_policy_parse(text, &p, &err), -1);
	assert_non_null(strstr(err.msg, "more than 32 ranges"));
	/* The words do not count as ranges. */
	snprintf(text + n, sizeof(text) - n, ",loopback,private");
	assert_int_equal(regauth_policy_parse(text, &p, &err), 0);
	assert_int_equal(regauth_policy_parse("loopback,10.0.0.0/8", &p, &err), 0);
	assert_int_equal(regauth_policy_format(&p, small, sizeof(small)), -1);
	assert_int_equal(regauth_policy_format(&p, small, 0), -1);
}

static const struct {
	const char *policy;     /* NULL: a NULL policy */
	const char *addr;
	int allowed;
} allow_cases[] = {
	{ NULL, "8.8.8.8", 1 }, { NULL, "10.0.0.1", 0 }, { NULL, "127.0.0.1", 0 },
	{ "", "8.8.8.8", 1 }, { "", "2606:4700::1", 1 },
	{ "", "10.0.0.5", 0 }, { "", "127.0.0.1", 0 }, { "", "::1", 0 },
	{ "", "169.254.169.254", 0 }, { "", "fd00::1", 0 },
	{ "", "100.64.0.1", 0 }, { "", "240.0.0.1", 0 }, { "", "0.0.0.0", 0 },
	{ "", "::ffff:10.0.0.5", 0 }, { "", "::ffff:127.0.0.1", 0 },
	{ "", "64:ff9b::a9fe:a9fe", 0 },
	{ "loopback", "127.0.0.1", 1 }, { "loopback", "127.9.9.9", 1 },
	{ "loopback", "::1", 1 }, { "loopback", "::ffff:127.0.0.1", 1 },
	{ "loopback", "10.0.0.5", 0 }, { "loopback", "0.0.0.0", 0 },
	{ "loopback", "::", 0 }, { "loopback", "169.254.1.1", 0 },
	{ "private", "10.0.0.5", 1 }, { "private", "172.16.0.1", 1 },
	{ "private", "192.168.1.1", 1 }, { "private", "100.64.0.1", 1 },
	{ "private", "fd00::1", 1 }, { "private", "::ffff:10.0.0.5", 1 },
	{ "private", "127.0.0.1", 0 }, { "private", "169.254.169.254", 0 },
	{ "private", "fe80::1", 0 }, { "private", "172.32.0.1", 1 },
	{ "link-local", "169.254.169.254", 1 }, { "link-local", "fe80::1", 1 },
	{ "link-local", "10.0.0.5", 0 },
	{ "10.1.0.0/16", "10.1.2.3", 1 }, { "10.1.0.0/16", "10.1.255.255", 1 },
	{ "10.1.0.0/16", "10.2.0.1", 0 }, { "10.1.0.0/16", "10.0.255.255", 0 },
	{ "10.1.0.0/16", "::ffff:10.1.2.3", 1 },
	{ "10.1.0.0/16", "127.0.0.1", 0 },
	{ "10.1.2.3", "10.1.2.3", 1 }, { "10.1.2.3", "10.1.2.4", 0 },
	{ "fd00::/8", "fd00::1", 1 }, { "fd00::/8", "fc00::1", 0 },
	{ "192.0.2.0/24", "192.0.2.7", 1 }, { "192.0.2.0/24", "192.0.3.7", 1 },
	/* Never, whatever the policy: 0.0.0.0 and :: reach this host. */
	{ "loopback,private,link-local", "0.0.0.0", 0 },
	{ "loopback,private,link-local", "::", 0 },
	{ "loopback,private,link-local", "224.0.0.1", 0 },
	{ "loopback,private,link-local", "255.255.255.255", 0 },
	{ "loopback,private,link-local", "240.0.0.1", 0 },
	{ "0.0.0.0/0", "0.0.0.0", 0 }, { "0.0.0.0/0", "224.0.0.1", 0 },
	{ "0.0.0.0/0", "255.255.255.255", 0 }, { "::/0", "ff02::1", 0 },
	{ "::/0", "::", 0 },
	/* A reserved range only by a CIDR. */
	{ "0.0.0.0/0", "240.0.0.1", 1 }, { "0.0.0.0/0", "10.0.0.5", 1 },
	{ "::/0", "2001:db8::1", 1 }, { "::/0", "10.0.0.5", 0 },
};

static void
test_policy_allows(void **state)
{
	struct regauth_policy p;
	struct sockaddr_storage ss;
	struct error err;
	enum regauth_addr_class cls;
	socklen_t len;

	(void)state;
	for (size_t i = 0; i < N(allow_cases); i++) {
		if (allow_cases[i].policy != NULL &&
		    regauth_policy_parse(allow_cases[i].policy, &p, &err) != 0)
			fail_msg("policy \"%s\": %s", allow_cases[i].policy, err.msg);
		len = sockaddr_of(allow_cases[i].addr, &ss);
		if (regauth_policy_allows(allow_cases[i].policy ? &p : NULL,
		    (struct sockaddr *)&ss, len, &cls) != allow_cases[i].allowed)
			fail_msg("policy \"%s\", %s: expected %d",
			    allow_cases[i].policy ? allow_cases[i].policy : "NULL",
			    allow_cases[i].addr, allow_cases[i].allowed);
		assert_int_equal(cls, regauth_addr_classify((struct sockaddr *)&ss,
		    len));
	}
}

static void
test_refusal_sentence(void **state)
{
	char out[512];

	(void)state;
	regauth_refusal("registry host reg.lan:5000", "10.0.0.5",
	    REGAUTH_ADDR_PRIVATE, out, sizeof(out));
	assert_string_equal(out, "registry host reg.lan:5000 resolves to "
	    "10.0.0.5, a private address; set SLIPWAY_ALLOW_PRIVATE_TARGETS="
	    "private (or its CIDR) to allow it");
	regauth_refusal("token realm host auth", "127.0.0.1",
	    REGAUTH_ADDR_LOOPBACK, out, sizeof(out));
	assert_string_equal(out, "token realm host auth resolves to 127.0.0.1, "
	    "a loopback address; set SLIPWAY_ALLOW_PRIVATE_TARGETS=loopback to "
	    "allow it");
	regauth_refusal("registry host x", "169.254.169.254",
	    REGAUTH_ADDR_LINK_LOCAL, out, sizeof(out));
	assert_non_null(strstr(out, "a link-local address; set "
	    "SLIPWAY_ALLOW_PRIVATE_TARGETS=link-local"));
	regauth_refusal("registry host x", "240.0.0.1", REGAUTH_ADDR_RESERVED,
	    out, sizeof(out));
	assert_non_null(strstr(out, "a reserved address; only a CIDR in "
	    "SLIPWAY_ALLOW_PRIVATE_TARGETS allows it"));
	regauth_refusal("registry host x", "0.0.0.0", REGAUTH_ADDR_UNSPECIFIED,
	    out, sizeof(out));
	assert_string_equal(out, "registry host x resolves to 0.0.0.0, an "
	    "unspecified address, which is never connected to");
	regauth_refusal("registry host x", "ff02::1", REGAUTH_ADDR_MULTICAST,
	    out, 16);
	assert_int_equal(strlen(out), 15);
}

/* The config row both services share parses the policy once, at load. */
static void
test_config_row(void **state)
{
	static struct regauth_policy p;
	static const struct config_var vars[] = {
		CONFIG_VAR_ALLOW_PRIVATE_TARGETS(&p),
	};
	struct error err;

	(void)state;
	unsetenv(REGAUTH_POLICY_VAR);
	p.allow = 7;
	assert_int_equal(config_load(vars, 1, &err), 0);
	assert_int_equal(p.allow, 0);
	assert_int_equal(p.ncidr, 0);
	setenv(REGAUTH_POLICY_VAR, "loopback, 10.1.0.0/16", 1);
	assert_int_equal(config_load(vars, 1, &err), 0);
	assert_int_equal(p.allow, REGAUTH_ALLOW_LOOPBACK);
	assert_int_equal(p.ncidr, 1);
	setenv(REGAUTH_POLICY_VAR, "", 1);
	assert_int_equal(config_load(vars, 1, &err), 0);
	assert_int_equal(p.allow, 0);
	setenv(REGAUTH_POLICY_VAR, "loopback,10.1.2.0/16", 1);
	assert_int_equal(config_load(vars, 1, &err), -1);
	assert_string_equal(err.code, "invalid_config");
	assert_string_equal(err.field, REGAUTH_POLICY_VAR);
	assert_non_null(strstr(err.msg, "SLIPWAY_ALLOW_PRIVATE_TARGETS: "
	    "\"10.1.2.0/16\" has host bits set; the range is 10.1.0.0/16"));
	config_free(vars, 1);
	unsetenv(REGAUTH_POLICY_VAR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_loopback),
		cmocka_unit_test(test_host_overlong),
		cmocka_unit_test(test_host_listed),
		cmocka_unit_test(test_url_host),
		cmocka_unit_test(test_realm_allowed),
		cmocka_unit_test(test_addr_classify),
		cmocka_unit_test(test_addr_not_ip),
		cmocka_unit_test(test_policy_parse),
		cmocka_unit_test(test_policy_limits),
		cmocka_unit_test(test_policy_allows),
		cmocka_unit_test(test_refusal_sentence),
		cmocka_unit_test(test_config_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
