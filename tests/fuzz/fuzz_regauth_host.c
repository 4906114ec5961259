/*
 * fuzz_regauth_host.c: libFuzzer target for the registry-auth predicates
 * that take hosts from users, realms from registries and the address policy
 * from the operator (services/lib/regauth.c). Never a crash or an
 * over-read; a host called loopback has one of the three accepted shapes; a
 * plain-HTTP realm is never allowed for a registry that is neither loopback
 * nor listed; a policy that parses formats to a text that parses to the
 * same policy; the input read as an IPv6 address that maps an IPv4 one is
 * judged as that IPv4 address.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>

#include "regauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_policy(const char *text)
{
	struct regauth_policy p, q;
	struct error err;
	char canon[4096];

	if (regauth_policy_parse(text, &p, &err) != 0)
		return;
	if (regauth_policy_format(&p, canon, sizeof(canon)) != 0 ||
	    regauth_policy_parse(canon, &q, &err) != 0 ||
	    memcmp(&p, &q, sizeof(p)) != 0)
		abort();
}

static void
check_mapped(const uint8_t *data, size_t size)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };

	if (size < 4)
		return;
	memcpy((unsigned char *)&s6.sin6_addr + 12, data, 4);
	((unsigned char *)&s6.sin6_addr)[10] = 0xff;
	((unsigned char *)&s6.sin6_addr)[11] = 0xff;
	memcpy(&s4.sin_addr, data, 4);
	if (regauth_addr_classify((struct sockaddr *)&s6, sizeof(s6)) !=
	    regauth_addr_classify((struct sockaddr *)&s4, sizeof(s4)))
		abort();
	if (size >= 16) {
		memcpy(&s6.sin6_addr, data, 16);
		(void)regauth_addr_classify((struct sockaddr *)&s6, sizeof(s6));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy so ASan catches any read past the NUL. */
	char *buf = malloc(size + 1);

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (regauth_host_loopback(buf) && strncmp(buf, "127.", 4) != 0 &&
	    buf[0] != '[' && strncasecmp(buf, "localhost", 9) != 0)
		abort();
	if (strncmp(buf, "http://", 7) == 0 &&
	    regauth_realm_allowed(buf, "ghcr.io", "reg.lan:5000"))
		abort();
	(void)regauth_realm_allowed(buf, "127.0.0.1:5000", buf);
	check_policy(buf);
	check_mapped(data, size);
	free(buf);
	return 0;
}
