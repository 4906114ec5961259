// uses: services/dataplane-agent/oci_resolve.c
// uses: services/dataplane-agent/oci_challenge.c
/*
 * test_oci_loopback.c: which registry hosts count as loopback (reached over
 * plain HTTP when they have no TLS, as Docker does), the look-alikes that
 * must not, and which bearer realms may be fetched over plain HTTP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane-agent/agent.h"

static void
test_ipv4_loopback(void **state)
{
	(void)state;
	assert_true(oci_resolve_loopback("127.0.0.1"));
	assert_true(oci_resolve_loopback("127.0.0.1:5057"));
	assert_true(oci_resolve_loopback("127.0.0.1:1"));
	assert_true(oci_resolve_loopback("127.0.0.1:65535"));
	assert_true(oci_resolve_loopback("127.255.255.254:39001"));
	assert_true(oci_resolve_loopback("127.1.2.3"));
	assert_true(oci_resolve_loopback("127.0.0.0:80"));
}

static void
test_ipv6_and_localhost(void **state)
{
	(void)state;
	assert_true(oci_resolve_loopback("[::1]:5000"));
	assert_true(oci_resolve_loopback("[::1]"));
	assert_true(oci_resolve_loopback("[0:0:0:0:0:0:0:1]:5000"));
	assert_true(oci_resolve_loopback("localhost"));
	assert_true(oci_resolve_loopback("localhost:5000"));
	assert_true(oci_resolve_loopback("LocalHost:5000"));
}

static void
test_lookalike_names(void **state)
{
	(void)state;
	assert_false(oci_resolve_loopback("127.0.0.1.evil.com"));
	assert_false(oci_resolve_loopback("127.0.0.1.evil.com:5000"));
	assert_false(oci_resolve_loopback("127.0.0.1.nip.io"));
	assert_false(oci_resolve_loopback("localhost.evil.com"));
	assert_false(oci_resolve_loopback("localhost.evil.com:5000"));
	assert_false(oci_resolve_loopback("localhost."));
	assert_false(oci_resolve_loopback("registry.localhost"));
	assert_false(oci_resolve_loopback("evillocalhost"));
	assert_false(oci_resolve_loopback("localhostx:5000"));
	assert_false(oci_resolve_loopback("127-0-0-1.example.com"));
	assert_false(oci_resolve_loopback("docker.io"));
	assert_false(oci_resolve_loopback("ghcr.io"));
	assert_false(oci_resolve_loopback("127.0.0.1@evil.com"));
	assert_false(oci_resolve_loopback("evil.com@127.0.0.1"));
	assert_false(oci_resolve_loopback("127.0.0.1/evil"));
}

/* Shorthands inet_aton and some resolvers take: not loopback to us. */
static void
test_numeric_shorthands(void **state)
{
	(void)state;
	assert_false(oci_resolve_loopback("0x7f.1"));
	assert_false(oci_resolve_loopback("0x7f.0.0.1"));
	assert_false(oci_resolve_loopback("0x7f000001"));
	assert_false(oci_resolve_loopback("0177.0.0.1"));
	assert_false(oci_resolve_loopback("127.000.000.001"));
	assert_false(oci_resolve_loopback("127.1"));
	assert_false(oci_resolve_loopback("127.0.1"));
	assert_false(oci_resolve_loopback("2130706433"));
	assert_false(oci_resolve_loopback("127.0.0.256"));
	assert_false(oci_resolve_loopback("127.0.0.1.1"));
	assert_false(oci_resolve_loopback(" 127.0.0.1"));
	assert_false(oci_resolve_loopback("127.0.0.1 "));
}

static void
test_other_addresses(void **state)
{
	(void)state;
	assert_false(oci_resolve_loopback("128.0.0.1"));
	assert_false(oci_resolve_loopback("126.255.255.255:5000"));
	assert_false(oci_resolve_loopback("10.0.0.1:5000"));
	assert_false(oci_resolve_loopback("0.0.0.0:5000"));
	assert_false(oci_resolve_loopback("[::]:5000"));
	assert_false(oci_resolve_loopback("[::2]:5000"));
	assert_false(oci_resolve_loopback("[::ffff:127.0.0.1]:5000"));
	assert_false(oci_resolve_loopback("[::1%lo]:5000"));
	assert_false(oci_resolve_loopback("[fe80::1]:5000"));
	assert_false(oci_resolve_loopback("::1"));
	assert_false(oci_resolve_loopback("::1:5000"));
}

static void
test_bad_ports_and_shapes(void **state)
{
	(void)state;
	assert_false(oci_resolve_loopback(NULL));
	assert_false(oci_resolve_loopback(""));
	assert_false(oci_resolve_loopback(":5000"));
	assert_false(oci_resolve_loopback("127.0.0.1:"));
	assert_false(oci_resolve_loopback("127.0.0.1:0"));
	assert_false(oci_resolve_loopback("127.0.0.1:65536"));
	assert_false(oci_resolve_loopback("127.0.0.1:123456"));
	assert_false(oci_resolve_loopback("127.0.0.1:50a0"));
	assert_false(oci_resolve_loopback("127.0.0.1:-1"));
	assert_false(oci_resolve_loopback("127.0.0.1:+80"));
	assert_false(oci_resolve_loopback("127.0.0.1:5000:6000"));
	assert_false(oci_resolve_loopback("localhost:5000/x"));
	assert_false(oci_resolve_loopback("[::1]5000"));
	assert_false(oci_resolve_loopback("[::1]:"));
	assert_false(oci_resolve_loopback("[::1"));
	assert_false(oci_resolve_loopback("[]:5000"));
	assert_false(oci_resolve_loopback("[127.0.0.1]:5000"));
	assert_false(oci_resolve_loopback("[localhost]:5000"));
}

static void
test_overlong(void **state)
{
	char big[600];

	(void)state;
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "127.0.0.1:", 10);
	assert_false(oci_resolve_loopback(big));
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "localhost", 9);
	assert_false(oci_resolve_loopback(big));
}

static void
test_realm_https_always(void **state)
{
	(void)state;
	assert_true(oci_resolve_realm_allowed("https://auth.docker.io/token",
	    "docker.io", ""));
	assert_true(oci_resolve_realm_allowed("https://127.0.0.1:5001/token",
	    "127.0.0.1:5000", NULL));
	assert_true(oci_resolve_realm_allowed("https://ghcr.io/token",
	    "ghcr.io", "ghcr.io"));
}

static void
test_realm_plain_http_loopback(void **state)
{
	(void)state;
	assert_true(oci_resolve_realm_allowed("http://127.0.0.1:5001/token",
	    "127.0.0.1:5000", ""));
	assert_true(oci_resolve_realm_allowed("http://localhost:5001/token",
	    "127.0.0.2:5000", NULL));
	assert_true(oci_resolve_realm_allowed("http://[::1]:5001?x=1",
	    "[::1]:5000", ""));
	assert_true(oci_resolve_realm_allowed("http://127.0.0.1:5001",
	    "localhost:5000", ""));
}

static void
test_realm_plain_http_insecure_listed(void **state)
{
	(void)state;
	assert_true(oci_resolve_realm_allowed("http://reg.lan:5001/token",
	    "reg.lan:5000", "reg.lan:5000, reg.lan:5001"));
	/* The registry is listed, the realm's host is not. */
	assert_false(oci_resolve_realm_allowed("http://auth.lan/token",
	    "reg.lan:5000", "reg.lan:5000"));
	/* The realm's host is listed, the registry is not. */
	assert_false(oci_resolve_realm_allowed("http://reg.lan:5001/token",
	    "reg.lan:5000", "reg.lan:5001"));
}

/* Credentials must never travel in the clear to a host off this machine. */
static void
test_realm_plain_http_refused(void **state)
{
	(void)state;
	assert_false(oci_resolve_realm_allowed("http://auth.docker.io/token",
	    "docker.io", ""));
	assert_false(oci_resolve_realm_allowed("http://evil.com/token",
	    "127.0.0.1:5000", ""));
	assert_false(oci_resolve_realm_allowed("http://127.0.0.1.evil.com/t",
	    "127.0.0.1:5000", ""));
	assert_false(oci_resolve_realm_allowed("http://127.0.0.1@evil.com/t",
	    "127.0.0.1:5000", ""));
	assert_false(oci_resolve_realm_allowed("http://localhost.evil.com/t",
	    "localhost:5000", NULL));
	assert_false(oci_resolve_realm_allowed("http://127.0.0.1:5001/token",
	    "ghcr.io", ""));
	assert_false(oci_resolve_realm_allowed("http://127.0.0.1:5001/token",
	    "ghcr.io", NULL));
}

static void
test_realm_malformed(void **state)
{
	(void)state;
	assert_false(oci_resolve_realm_allowed("", "127.0.0.1:5000", ""));
	assert_false(oci_resolve_realm_allowed("slipway-local",
	    "127.0.0.1:5000", ""));
	assert_false(oci_resolve_realm_allowed("ftp://127.0.0.1/token",
	    "127.0.0.1:5000", ""));
	assert_false(oci_resolve_realm_allowed("http:///token",
	    "127.0.0.1:5000", ""));
	assert_false(oci_resolve_realm_allowed("https://", "docker.io", ""));
	assert_false(oci_resolve_realm_allowed("HTTP://127.0.0.1:5001/t",
	    "127.0.0.1:5000", ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_loopback),
		cmocka_unit_test(test_ipv6_and_localhost),
		cmocka_unit_test(test_lookalike_names),
		cmocka_unit_test(test_numeric_shorthands),
		cmocka_unit_test(test_other_addresses),
		cmocka_unit_test(test_bad_ports_and_shapes),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_realm_https_always),
		cmocka_unit_test(test_realm_plain_http_loopback),
		cmocka_unit_test(test_realm_plain_http_insecure_listed),
		cmocka_unit_test(test_realm_plain_http_refused),
		cmocka_unit_test(test_realm_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
