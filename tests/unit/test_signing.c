/*
 * test_signing.c: signed webhooks (lib signing.c). The Standard Webhooks
 * specification's published example first (the test vector of the
 * reference libraries, e.g. standard-webhooks libraries/python
 * tests/test_webhooks.py test_sign_function), then tolerance, rotation
 * (several signatures), malformed headers, the secret's text form, and
 * the sealed box the secret is stored in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"
#include "signing.h"

#define SPEC_SECRET  "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SPEC_ID      "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SPEC_TS      "1614265330"
#define SPEC_NOW     1614265330LL
#define SPEC_BODY    "{\"test\": 2432232314}"
#define SPEC_SIG     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/* The reference suite's "invalid signature": the last byte differs. */
#define SPEC_SIG_BAD "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
/* Another (wrong) v1 signature, from the reference's multi-signature test. */
#define OTHER_SIG    "Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="

static struct signing_key spec_key;

static int
setup(void **state)
{
	(void)state;
	crypto_init();
	return signing_secret_decode(SPEC_SECRET, &spec_key);
}

/* Verifies SPEC_BODY with the spec's id and timestamp and the given list. */
static int
verify_spec(const char *sig, long long now, struct error *err)
{
	const struct signing_headers h = { SPEC_ID, SPEC_TS, sig };

	error_clear(err);
	return signing_verify(&spec_key, &h, SPEC_BODY, strlen(SPEC_BODY), now,
	    err);
}

static void
test_spec_vector(void **state)
{
	(void)state;
	char sig[SIGNING_SIG_LEN + 1];
	struct error err;

	assert_int_equal(spec_key.len, 24);
	assert_int_equal(signing_sign(&spec_key, SPEC_ID, SPEC_TS, SPEC_BODY,
	    strlen(SPEC_BODY), sig), 0);
	assert_string_equal(sig, SPEC_SIG);
	assert_int_equal(verify_spec(SPEC_SIG, SPEC_NOW, &err), 0);
	assert_int_equal(verify_spec(SPEC_SIG_BAD, SPEC_NOW, &err), -1);
	assert_string_equal(err.code, "bad_signature");
	/* One changed byte of body, id or timestamp: no longer signed. */
	{
		const struct signing_headers h = { SPEC_ID, SPEC_TS, SPEC_SIG };
		const struct signing_headers hid = { "msg_p5jXN8AQM9LWM0D4loKWxJeK",
		    SPEC_TS, SPEC_SIG };
		const struct signing_headers hts = { SPEC_ID, "1614265331", SPEC_SIG };

		assert_int_equal(signing_verify(&spec_key, &h, "{\"test\": 2432232315}",
		    strlen(SPEC_BODY), SPEC_NOW, &err), -1);
		assert_string_equal(err.code, "bad_signature");
		assert_int_equal(signing_verify(&spec_key, &hid, SPEC_BODY,
		    strlen(SPEC_BODY), SPEC_NOW, &err), -1);
		assert_string_equal(err.code, "bad_signature");
		assert_int_equal(signing_verify(&spec_key, &hts, SPEC_BODY,
		    strlen(SPEC_BODY), SPEC_NOW, &err), -1);
		assert_string_equal(err.code, "bad_signature");
	}
}

static void
test_tolerance(void **state)
{
	(void)state;
	struct error err;

	assert_int_equal(verify_spec(SPEC_SIG, SPEC_NOW + 300, &err), 0);
	assert_int_equal(verify_spec(SPEC_SIG, SPEC_NOW - 300, &err), 0);
	assert_int_equal(verify_spec(SPEC_SIG, SPEC_NOW + 301, &err), -1);
	assert_string_equal(err.code, "signature_expired");
	assert_string_equal(err.field, "webhook-timestamp");
	assert_int_equal(verify_spec(SPEC_SIG, SPEC_NOW - 301, &err), -1);
	assert_string_equal(err.code, "signature_expired");
	/* Expired is said before the signature is looked at. */
	assert_int_equal(verify_spec(SPEC_SIG_BAD, SPEC_NOW + 3600, &err), -1);
	assert_string_equal(err.code, "signature_expired");
}

struct list_case {
	const char *list;
	int ok;
};

/* Rotation: any one v1 entry may match; other versions are ignored. */
static const struct list_case list_cases[] = {
	{ SPEC_SIG, 1 },
	{ "v1," OTHER_SIG " v2," OTHER_SIG " " SPEC_SIG " v1," OTHER_SIG, 1 },
	{ SPEC_SIG " v1," OTHER_SIG, 1 },
	{ "v1," OTHER_SIG " " SPEC_SIG, 1 },
	{ "  " SPEC_SIG "  ", 1 },
	{ "v1a," OTHER_SIG " garbage " SPEC_SIG, 1 },
	{ "v1," OTHER_SIG, 0 },
	{ "v1," OTHER_SIG " v1," OTHER_SIG, 0 },
	{ "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", 0 },
	{ "V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", 0 },
	{ "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", 0 },
	{ "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", 0 },      /* no padding */
	{ "v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=", 0 },     /* url-safe */
	{ "v1, g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", 0 },
	{ "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=,", 0 },
	{ "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\t", 0 },
	{ "v1,AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", 0 },     /* 31 bytes */
	{ "v1,", 0 },
	{ "v1", 0 },
	{ ",", 0 },
	{ "", 0 },
	{ " ", 0 },
};

static void
test_signature_lists(void **state)
{
	(void)state;
	struct error err;

	for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
		int rc = verify_spec(list_cases[i].list, SPEC_NOW, &err);

		if (list_cases[i].ok && rc != 0)
			fail_msg("case %zu (%s) refused: %s", i, list_cases[i].list,
			    err.msg);
		if (!list_cases[i].ok && (rc != -1 ||
		    strcmp(err.code, "bad_signature") != 0))
			fail_msg("case %zu (%s): rc %d code %s", i, list_cases[i].list,
			    rc, err.code);
	}
}

struct header_case {
	const char *id, *ts, *sig;
	const char *code, *field;
};

static const struct header_case header_cases[] = {
	{ NULL, SPEC_TS, SPEC_SIG, "signature_required", "webhook-signature" },
	{ SPEC_ID, NULL, SPEC_SIG, "signature_required", "webhook-signature" },
	{ SPEC_ID, SPEC_TS, NULL, "signature_required", "webhook-signature" },
	{ NULL, NULL, NULL, "signature_required", "webhook-signature" },
	{ "", SPEC_TS, SPEC_SIG, "bad_signature", "webhook-id" },
	{ "msg 1", SPEC_TS, SPEC_SIG, "bad_signature", "webhook-id" },
	{ "msg\x01", SPEC_TS, SPEC_SIG, "bad_signature", "webhook-id" },
	{ "msg\xc3\xa9", SPEC_TS, SPEC_SIG, "bad_signature", "webhook-id" },
	{ SPEC_ID, "", SPEC_SIG, "bad_signature", "webhook-timestamp" },
	{ SPEC_ID, "hello", SPEC_SIG, "bad_signature", "webhook-timestamp" },
	{ SPEC_ID, "-1614265330", SPEC_SIG, "bad_signature", "webhook-timestamp" },
	{ SPEC_ID, "+1614265330", SPEC_SIG, "bad_signature", "webhook-timestamp" },
	{ SPEC_ID, "1614265330.5", SPEC_SIG, "bad_signature", "webhook-timestamp" },
	{ SPEC_ID, " 1614265330", SPEC_SIG, "bad_signature", "webhook-timestamp" },
	{ SPEC_ID, "9999999999999999999", SPEC_SIG, "bad_signature",
	    "webhook-timestamp" },
	{ SPEC_ID, "999999999999999999", SPEC_SIG, "signature_expired",
	    "webhook-timestamp" },
	{ SPEC_ID, "0", SPEC_SIG, "signature_expired", "webhook-timestamp" },
};

static void
test_malformed_headers(void **state)
{
	(void)state;
	struct error err;

	for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
		const struct header_case *c = &header_cases[i];
		const struct signing_headers h = { c->id, c->ts, c->sig };

		error_clear(&err);
		if (signing_verify(&spec_key, &h, SPEC_BODY, strlen(SPEC_BODY),
		    SPEC_NOW, &err) != -1 || strcmp(err.code, c->code) != 0 ||
		    strcmp(err.field, c->field) != 0)
			fail_msg("case %zu: code %s field %s, want %s %s", i, err.code,
			    err.field, c->code, c->field);
	}
}

/* The caps: an id of 256 bytes passes, 257 does not; a 4 KiB list at most. */
static void
test_header_sizes(void **state)
{
	(void)state;
	char id[SIGNING_ID_MAX + 2], sig[SIGNING_SIG_LEN + 1];
	char *list = malloc(SIGNING_HEADER_MAX + 64);
	struct signing_headers h = { id, SPEC_TS, sig };
	struct error err;
	size_t n;

	memset(id, 'i', SIGNING_ID_MAX);
	id[SIGNING_ID_MAX] = '\0';
	assert_int_equal(signing_sign(&spec_key, id, SPEC_TS, "", 0, sig), 0);
	assert_int_equal(signing_verify(&spec_key, &h, "", 0, SPEC_NOW, &err), 0);
	id[SIGNING_ID_MAX] = 'i';
	id[SIGNING_ID_MAX + 1] = '\0';
	assert_int_equal(signing_verify(&spec_key, &h, "", 0, SPEC_NOW, &err), -1);
	assert_string_equal(err.field, "webhook-id");

	/* The valid signature last, behind padding up to the cap and past it. */
	h.id = SPEC_ID;
	h.signature = list;
	n = SIGNING_HEADER_MAX - strlen(SPEC_SIG);
	memset(list, ' ', n);
	strcpy(list + n, SPEC_SIG);
	assert_int_equal(signing_verify(&spec_key, &h, SPEC_BODY,
	    strlen(SPEC_BODY), SPEC_NOW, &err), 0);
	memset(list, ' ', n + 1);
	strcpy(list + n + 1, SPEC_SIG);
	assert_int_equal(signing_verify(&spec_key, &h, SPEC_BODY,
	    strlen(SPEC_BODY), SPEC_NOW, &err), -1);
	assert_string_equal(err.code, "bad_signature");
	free(list);
}

static void
test_secret_text(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",        /* no prefix */
		"whsec_",
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",   /* not base64 */
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ",
		"WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"whsec_AAECAwQFBgcICQoLDA0ODw==",          /* 16 bytes: too short */
		"whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss"
		    "LS4vMDEyMzQ1Njc4OTo7PD0+P0A=",          /* 65 bytes: too long */
	};
	struct signing_key a, b;
	char text[SIGNING_SECRET_MAX + 1], other[SIGNING_SECRET_MAX + 1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (signing_secret_decode(bad[i], &a) != -1)
			fail_msg("secret %zu (%s) accepted", i, bad[i]);
	assert_int_equal(signing_secret_decode("whsec_AAECAwQFBgcICQoLDA0ODxAR"
	    "EhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==",
	    &a), 0);
	assert_int_equal(a.len, 64);

	signing_secret_generate(&a, text);
	assert_int_equal(a.len, SIGNING_KEY_BYTES);
	assert_int_equal(strlen(text), 6 + 44);
	assert_memory_equal(text, "whsec_", 6);
	assert_int_equal(signing_secret_decode(text, &b), 0);
	assert_int_equal(b.len, a.len);
	assert_memory_equal(a.bytes, b.bytes, a.len);
	signing_secret_generate(&b, other);
	assert_string_not_equal(text, other);
	signing_key_wipe(&a);
	assert_int_equal(a.len, 0);
}

/* The box opens with the token and the token id it was sealed for only. */
static void
test_seal_open(void **state)
{
	(void)state;
	const char *token = "slp_0123456789ABCDEFGHIJKLMNOPQRSTUVabcdef";
	const char *tid = "6f1c2d3e-0000-4000-8000-000000000001";
	unsigned char wrap[SIGNING_WRAP_LEN], other[SIGNING_WRAP_LEN];
	char box[SIGNING_BOX_MAX + 1], b64[SIGNING_SECRET_MAX + 1];
	struct signing_key key, out;
	size_t n;

	signing_secret_generate(&key, b64);
	signing_wrap_key(token, strlen(token), wrap);
	assert_int_equal(signing_seal(wrap, tid, &key, box, sizeof(box)), 0);
	assert_true(strlen(box) < SIGNING_BOX_MAX);
	/* The secret's text is nowhere in the box. */
	assert_null(strstr(box, b64 + 6));
	assert_int_equal(signing_open(wrap, tid, box, &out), 0);
	assert_int_equal(out.len, key.len);
	assert_memory_equal(out.bytes, key.bytes, key.len);

	/* Another token, another token id, a changed byte: nothing opens. */
	signing_wrap_key("slp_0123456789ABCDEFGHIJKLMNOPQRSTUVabcdeg",
	    strlen(token), other);
	assert_int_equal(signing_open(other, tid, box, &out), -1);
	assert_int_equal(out.len, 0);
	assert_int_equal(signing_open(wrap, "6f1c2d3e-0000-4000-8000-000000000002",
	    box, &out), -1);
	n = strlen(box);
	box[n / 2] = box[n / 2] == 'A' ? 'B' : 'A';
	assert_int_equal(signing_open(wrap, tid, box, &out), -1);
	assert_int_equal(signing_open(wrap, tid, "", &out), -1);
	assert_int_equal(signing_open(wrap, tid, "AQID", &out), -1);
	assert_int_equal(signing_open(wrap, tid, "not base64!", &out), -1);
	assert_int_equal(signing_open(wrap, tid, NULL, &out), -1);
	/* The wrap key is not the SHA-256 the token row stores. */
	{
		char hex[65], wrap_hex[65];

		crypto_sha256_hex(token, strlen(token), hex);
		for (size_t i = 0; i < SIGNING_WRAP_LEN; i++)
			snprintf(wrap_hex + 2 * i, 3, "%02x", wrap[i]);
		assert_string_not_equal(hex, wrap_hex);
	}
	/* A key too short to be a secret is not sealed. */
	key.len = SIGNING_KEY_MIN - 1;
	assert_int_equal(signing_seal(wrap, tid, &key, box, sizeof(box)), -1);
	key.len = SIGNING_KEY_BYTES;
	assert_int_equal(signing_seal(wrap, tid, &key, box, 16), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_vector),
		cmocka_unit_test(test_tolerance),
		cmocka_unit_test(test_signature_lists),
		cmocka_unit_test(test_malformed_headers),
		cmocka_unit_test(test_header_sizes),
		cmocka_unit_test(test_secret_text),
		cmocka_unit_test(test_seal_open),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
