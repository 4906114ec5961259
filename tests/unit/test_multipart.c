/*
 * test_multipart.c: lib multipart.c, the boundary of a Content-Type and
 * bodies good and bad (table-driven: each bad body and the message it must
 * fail with).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "multipart.h"

#define B "xYz-0"
#define CD "Content-Disposition: form-data; "

static const struct multipart_limits lim = { .max_parts = 4,
	.max_part = 64 };

static int
parse(const char *body, struct multipart_part *parts, size_t *n,
    struct error *err)
{
	memset(err, 0, sizeof(*err));
	return multipart_parse((const unsigned char *)body, strlen(body), B,
	    &lim, parts, n, err);
}

static void
test_boundary(void **state)
{
	static const struct { const char *ct, *want; } good[] = {
		{ "multipart/form-data; boundary=abc", "abc" },
		{ "Multipart/Form-Data;boundary=\"a b'()+_,-./:=?\"", "a b'()+_,-./:=?" },
		{ "multipart/form-data; charset=utf-8; boundary=----x1", "----x1" },
		{ "multipart/form-data ; boundary = z", "z" },
	};
	static const struct { const char *ct, *msg; } bad[] = {
		{ "application/json", "not multipart/form-data" },
		{ "multipart/form-datax; boundary=a", "not multipart/form-data" },
		{ "multipart/form-data", "no boundary parameter" },
		{ "multipart/form-data; boundary=", "missing its name or value" },
		{ "multipart/form-data; boundary=\"a \"", "not ending in a space" },
		{ "multipart/form-data; boundary=\"a\"; boundary=b", "two boundaries" },
		{ "multipart/form-data; boundary=\"abc", "no closing quote" },
		{ "multipart/form-data; boundary=a;", "missing its name" },
		{ "multipart/form-data; boundary=\"a<b\"", "1-70 letters" },
		{ "multipart/form-data boundary=a", "separated by ';'" },
		{ "multipart/form-data; boundary="
		  "12345678901234567890123456789012345678901234567890123456789012345678901",
		  "1-70 letters" },
	};
	char b[MULTIPART_BOUNDARY_MAX + 1];
	struct error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (multipart_boundary(good[i].ct, b, &err) != 0)
			fail_msg("%s: %s", good[i].ct, err.msg);
		assert_string_equal(b, good[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (multipart_boundary(bad[i].ct, b, &err) == 0)
			fail_msg("accepted %s", bad[i].ct);
		assert_string_equal(err.code, "malformed_multipart");
		if (strstr(err.msg, bad[i].msg) == NULL)
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].ct, err.msg,
			    bad[i].msg);
	}
	assert_int_equal(multipart_boundary(NULL, b, &err), -1);
}

static void
test_parts(void **state)
{
	const char *body =
	    "preamble, ignored\r\n"
	    "--" B "\r\n"
	    CD "name=\"endpoints\"; filename=\"endpoints.yaml\"\r\n"
	    "Content-Type: application/yaml \r\n"
	    "X-Other: ignored\r\n"
	    "\r\n"
	    "version: 0.1\r\n\r\n"
	    "--" B "  \r\n"
	    "content-disposition: FORM-DATA;name=schema;filename=\"a\\\"b.graphql\"\r\n"
	    "Content-Transfer-Encoding: binary\r\n"
	    "\r\n"
	    "type Query { a: Int }\n--" B "x\n"
	    "\r\n--" B "\r\n"
	    CD "name=\"empty\"\r\n"
	    "\r\n"
	    "\r\n--" B "--\r\n"
	    "epilogue, ignored\r\n";
	struct multipart_part p[4];
	struct error err;
	size_t n;

	(void)state;
	if (parse(body, p, &n, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(n, 3);
	assert_string_equal(p[0].name, "endpoints");
	assert_string_equal(p[0].filename, "endpoints.yaml");
	assert_true(p[0].has_filename);
	assert_string_equal(p[0].content_type, "application/yaml");
	assert_int_equal(p[0].len, strlen("version: 0.1\r\n"));
	assert_memory_equal(p[0].data, "version: 0.1\r\n", p[0].len);
	assert_string_equal(p[1].name, "schema");
	assert_string_equal(p[1].filename, "a\"b.graphql");
	assert_string_equal(p[1].content_type, "");
	/* "--boundary" not at a line start is content. */
	assert_int_equal(p[1].len, strlen("type Query { a: Int }\n--" B "x\n"));
	assert_string_equal(p[2].name, "empty");
	assert_false(p[2].has_filename);
	assert_int_equal(p[2].len, 0);
	/* The parts point into the body: nothing copied. */
	assert_ptr_equal(p[0].data, (const unsigned char *)strstr(body,
	    "version: 0.1"));
}

/* A part whose empty line is also its closing delimiter's CRLF. */
static void
test_no_content(void **state)
{
	struct multipart_part p[4];
	struct error err;
	size_t n;

	(void)state;
	assert_int_equal(parse("--" B "\r\n" CD "name=a\r\n\r\n--" B "--", p, &n,
	    &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].len, 0);
}

struct bad_body {
	const char *body;
	const char *code;
	const char *msg;   /* substring of err.msg */
};

static const struct bad_body bad_bodies[] = {
	{ "", "malformed_multipart", "does not contain the boundary" },
	{ "--other\r\n", "malformed_multipart", "does not contain the boundary" },
	{ "--" B "--", "malformed_multipart", "has no parts" },
	{ "--" B "\r\n" CD "name=a\r\n\r\nxx", "malformed_multipart",
	  "is not closed by a boundary" },
	{ "--" B "x\r\n" CD "name=a\r\n\r\nx\r\n--" B "--", "malformed_multipart",
	  "not followed by CRLF" },
	{ "--" B "\r\n" CD "name=a\n\nx\r\n--" B "--", "malformed_multipart",
	  "end in CRLF" },
	{ "--" B "\r\n" CD "name=a\r\n", "malformed_multipart", "never end" },
	{ "--" B "\r\nContent-Type: text/plain\r\n\r\nx\r\n--" B "--",
	  "malformed_multipart", "has no Content-Disposition" },
	{ "--" B "\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--" B "--",
	  "malformed_multipart", "must be form-data" },
	{ "--" B "\r\n" CD "filename=a\r\n\r\nx\r\n--" B "--",
	  "malformed_multipart", "has no name" },
	{ "--" B "\r\n" CD "name=\"\"\r\n\r\nx\r\n--" B "--",
	  "malformed_multipart", "has no name" },
	{ "--" B "\r\n" CD "name=a; name=b\r\n\r\nx\r\n--" B "--",
	  "malformed_multipart", "name given twice" },
	{ "--" B "\r\n" CD "name=a; filename*=UTF-8''x\r\n\r\nx\r\n--" B "--",
	  "malformed_multipart", "filename* (RFC 5987)" },
	{ "--" B "\r\n" CD "name=\"a\tb\"\r\n\r\nx\r\n--" B "--",
	  "malformed_multipart", "control character" },
	{ "--" B "\r\n" CD "name=a\r\n" CD "name=b\r\n\r\nx\r\n--" B "--",
	  "malformed_multipart", "Content-Disposition given twice" },
	{ "--" B "\r\n" CD "name=a\r\n continued\r\n\r\nx\r\n--" B "--",
	  "malformed_multipart", "folded header lines" },
	{ "--" B "\r\n" CD "name=a\r\nno colon here\r\n\r\nx\r\n--" B "--",
	  "malformed_multipart", "not a \"Name: value\" line" },
	{ "--" B "\r\n" CD "name=a\r\nContent-Transfer-Encoding: base64\r\n\r\nx"
	  "\r\n--" B "--", "malformed_multipart", "must be 7bit, 8bit or binary" },
	{ "--" B "\r\n" CD "name=a\r\nContent-Type: \r\n\r\nx\r\n--" B "--",
	  "malformed_multipart", "Content-Type must be 1-127 bytes" },
	{ "--" B "\r\n" CD "name=a\r\n\r\n"
	  "12345678901234567890123456789012345678901234567890123456789012345"
	  "\r\n--" B "--", "part_too_large", "larger than 64 bytes" },
	{ "--" B "\r\n" CD "name=a\r\n\r\n\r\n--" B "\r\n" CD "name=b\r\n\r\n\r\n--"
	  B "\r\n" CD "name=c\r\n\r\n\r\n--" B "\r\n" CD "name=d\r\n\r\n\r\n--" B
	  "\r\n" CD "name=e\r\n\r\n\r\n--" B "--", "too_many_parts",
	  "more than 4 parts" },
};

static void
test_bad_bodies(void **state)
{
	struct multipart_part p[4];
	struct error err;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
		if (parse(bad_bodies[i].body, p, &n, &err) == 0)
			fail_msg("case %zu accepted", i);
		if (strcmp(err.code, bad_bodies[i].code) != 0 ||
		    strstr(err.msg, bad_bodies[i].msg) == NULL)
			fail_msg("case %zu: got %s \"%s\", want %s \"%s\"", i,
			    err.code, err.msg, bad_bodies[i].code, bad_bodies[i].msg);
	}
}

/* NUL bytes are content like any other; in a header they are refused. */
static void
test_binary(void **state)
{
	static const char body[] = "--" B "\r\n" CD "name=f\r\n\r\na\0b\r\n--" B
	    "--";
	static const char nul_hdr[] = "--" B "\r\n" CD "name=f\0x\r\n\r\nab\r\n--"
	    B "--";
	struct multipart_part p[4];
	struct error err;
	size_t n;

	(void)state;
	assert_int_equal(multipart_parse((const unsigned char *)body,
	    sizeof(body) - 1, B, &lim, p, &n, &err), 0);
	assert_int_equal(p[0].len, 3);
	assert_int_equal(multipart_parse((const unsigned char *)nul_hdr,
	    sizeof(nul_hdr) - 1, B, &lim, p, &n, &err), -1);
	assert_non_null(strstr(err.msg, "NUL"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_no_content),
		cmocka_unit_test(test_bad_bodies),
		cmocka_unit_test(test_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
