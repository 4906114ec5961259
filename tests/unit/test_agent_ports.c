// uses: services/dataplane-agent/agent_ports.c
/*
 * test_agent_ports.c: SLIPWAY_PORT_OFFSETS parsing — the offset an
 * environment gets, and every malformed list refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane-agent/agent.h"

static const struct {
	const char *list;
	const char *env;
	int rc;
	int offset;
} cases[] = {
	{ "", "production", 0, 0 },
	{ "production=1000", "production", 0, 1000 },
	{ "production=1000", "development", 0, 0 },
	{ "production=1000", "prod", 0, 0 },
	{ "prod=5,production=1000", "production", 0, 1000 },
	{ "staging=2000,production=1000", "staging", 0, 2000 },
	{ "production=0", "production", 0, 0 },
	{ "production=60000", "production", 0, 60000 },
	{ "production=60001", "production", -1, 0 },
	{ "production=100000", "production", -1, 0 },
	{ "production", "production", -1, 0 },
	{ "production=", "production", -1, 0 },
	{ "=1000", "production", -1, 0 },
	{ "production=-1", "production", -1, 0 },
	{ "production=10a", "production", -1, 0 },
	{ "production=1000,", "production", 0, 1000 },
	{ ",production=1000", "production", -1, 0 },
	{ "a=1,,b=2", "b", -1, 0 },
	{ "production= 1000", "production", -1, 0 },
};

static void
test_offsets(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int offset = -7;
		int rc = agent_ports_offset(cases[i].list, cases[i].env, &offset);

		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d", i, cases[i].list,
			    rc, cases[i].rc);
		if (rc == 0 && offset != cases[i].offset)
			fail_msg("case %zu (%s): offset %d, want %d", i,
			    cases[i].list, offset, cases[i].offset);
	}
}

static void
test_long_name_refused(void **state)
{
	char list[200];
	int offset;

	(void)state;
	memset(list, 'e', 100);
	strcpy(list + 100, "=5");
	assert_int_equal(agent_ports_offset(list, "e", &offset), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_long_name_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
