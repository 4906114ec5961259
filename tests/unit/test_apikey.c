/*
 * test_apikey.c: org keys — their format and roles, and the table a service
 * fills from slipway.orgkeys through apikeys_apply (what apikeys_handle
 * does with a message): records add and replace, revoked records and
 * tombstones remove, and every malformed record is refused without
 * changing anything.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "apikey.h"
#include "crypto.h"
#include "envelope.h"
#include "log.h"

#define ID1 "0b7c1a52-3c1e-4e8a-9a57-3f8d2b1c4e01"
#define ID2 "0b7c1a52-3c1e-4e8a-9a57-3f8d2b1c4e02"

/* One OrgKey record; NULL fields take the defaults of rec_defaults. */
struct rec {
	const char *id, *org, *role, *hash, *prefix, *name, *env_org;
	int revoked;
	int64_t created_at_ms;
};

/* A fresh key and the record that publishes it. */
struct issued {
	char key[APIKEY_LEN + 1];
	char hash[65];
	char prefix[APIKEY_SHOWN_PREFIX_LEN + 1];
};

static void
issue(struct issued *is)
{
	apikey_generate(is->key);
	crypto_sha256_hex(is->key, strlen(is->key), is->hash);
	snprintf(is->prefix, sizeof(is->prefix), "%.*s", APIKEY_SHOWN_PREFIX_LEN,
	    is->key);
}

static unsigned char *
pack_rec(const struct rec *r, size_t *len)
{
	Slipway__V1__OrgKey ok;
	Envelope env;
	char eid[37];

	slipway__v1__org_key__init(&ok);
	ok.key_id = (char *)(uintptr_t)r->id;
	ok.org = (char *)(uintptr_t)r->org;
	ok.name = (char *)(uintptr_t)(r->name != NULL ? r->name : "ci");
	ok.role = (char *)(uintptr_t)r->role;
	ok.key_hash = (char *)(uintptr_t)r->hash;
	ok.prefix = (char *)(uintptr_t)r->prefix;
	ok.revoked = r->revoked;
	ok.created_at_ms = r->created_at_ms;
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_ORG_KEY, eid,
	    r->env_org != NULL ? r->env_org : r->org, NULL);
	env.org_key = &ok;
	return envelope_pack(&env, len);
}

/* A valid record of is under id, for org and role. */
static struct rec
rec_of(const struct issued *is, const char *id, const char *org,
    const char *role)
{
	struct rec r = { .id = id, .org = org, .role = role, .hash = is->hash,
	    .prefix = is->prefix, .created_at_ms = 1700000000000 };

	return r;
}

/* Applies r with the Kafka key msg_key; returns apikeys_apply's answer. */
static int
apply(struct apikeys *k, const char *msg_key, const struct rec *r,
    struct error *err)
{
	unsigned char *buf;
	size_t len = 0;
	int rc;

	error_clear(err);
	buf = pack_rec(r, &len);
	assert_non_null(buf);
	rc = apikeys_apply(k, msg_key, buf, len, "OrgKey", err);
	free(buf);
	return rc;
}

static const struct apikey *
find(const struct apikeys *k, const char *key)
{
	return apikeys_find(k, key, strlen(key));
}

/* ---- format and roles ------------------------------------------------- */

static void
test_format(void **state)
{
	char key[APIKEY_LEN + 1], tok[TOKEN_LEN + 1], bad[APIKEY_LEN + 1];

	(void)state;
	apikey_generate(key);
	assert_int_equal(strlen(key), APIKEY_LEN);
	assert_memory_equal(key, "slk_", 4);
	assert_true(apikey_format_valid(key, strlen(key)));
	/* A key is not a CI token, nor the other way round. */
	assert_false(token_format_valid(key, strlen(key)));
	token_generate(tok);
	assert_true(token_format_valid(tok, strlen(tok)));
	assert_false(apikey_format_valid(tok, strlen(tok)));
	/* One character changed breaks the checksum. */
	memcpy(bad, key, sizeof(bad));
	bad[10] = bad[10] == 'a' ? 'b' : 'a';
	assert_false(apikey_format_valid(bad, strlen(bad)));
	/* Length, NUL inside, non-base62, NULL. */
	assert_false(apikey_format_valid(key, strlen(key) - 1));
	memcpy(bad, key, sizeof(bad));
	bad[20] = '\0';
	assert_false(apikey_format_valid(bad, APIKEY_LEN));
	bad[20] = '-';
	assert_false(apikey_format_valid(bad, APIKEY_LEN));
	assert_false(apikey_format_valid(NULL, APIKEY_LEN));
	assert_false(token_format_valid_prefixed("slk", key, strlen(key)));
}

static void
test_roles(void **state)
{
	(void)state;
	assert_int_equal(apikey_role_parse("viewer"), APIKEY_VIEWER);
	assert_int_equal(apikey_role_parse("deployer"), APIKEY_DEPLOYER);
	assert_int_equal(apikey_role_parse("admin"), APIKEY_ADMIN);
	assert_int_equal(apikey_role_parse("Admin"), APIKEY_NONE);
	assert_int_equal(apikey_role_parse("owner"), APIKEY_NONE);
	assert_int_equal(apikey_role_parse(""), APIKEY_NONE);
	assert_int_equal(apikey_role_parse(NULL), APIKEY_NONE);
	assert_string_equal(apikey_role_name(APIKEY_VIEWER), "viewer");
	assert_string_equal(apikey_role_name(APIKEY_DEPLOYER), "deployer");
	assert_string_equal(apikey_role_name(APIKEY_ADMIN), "admin");
	assert_string_equal(apikey_role_name(APIKEY_NONE), "none");
	assert_true(APIKEY_VIEWER < APIKEY_DEPLOYER && APIKEY_DEPLOYER < APIKEY_ADMIN);
}

/* ---- the table ---------------------------------------------------------- */

static void
test_add_find(void **state)
{
	struct apikeys *k = apikeys_new();
	struct issued a, other;
	struct rec r;
	struct error err;
	const struct apikey *got;

	(void)state;
	issue(&a);
	issue(&other);
	r = rec_of(&a, ID1, "acme", "deployer");
	assert_int_equal(apply(k, ID1, &r, &err), 0);
	assert_int_equal(apikeys_count(k), 1);
	got = find(k, a.key);
	assert_non_null(got);
	assert_string_equal(got->id, ID1);
	assert_string_equal(got->org, "acme");
	assert_int_equal(got->role, APIKEY_DEPLOYER);
	assert_string_equal(got->hash, a.hash);
	/* A well-formed key nobody issued, garbage, a prefix of the key. */
	assert_null(find(k, other.key));
	assert_null(find(k, "slk_garbage"));
	assert_null(apikeys_find(k, a.key, APIKEY_LEN - 1));
	assert_null(find(k, a.hash));
	assert_null(apikeys_find(NULL, a.key, APIKEY_LEN));
	apikeys_free(k);
}

static void
test_replace(void **state)
{
	struct apikeys *k = apikeys_new();
	struct issued a, b;
	struct rec r;
	struct error err;

	(void)state;
	issue(&a);
	issue(&b);
	r = rec_of(&a, ID1, "acme", "viewer");
	assert_int_equal(apply(k, ID1, &r, &err), 0);
	r.role = "admin";
	assert_int_equal(apply(k, ID1, &r, &err), 0);
	assert_int_equal(apikeys_count(k), 1);
	assert_int_equal(find(k, a.key)->role, APIKEY_ADMIN);
	/* The same id with another hash: the old key stops working. */
	r = rec_of(&b, ID1, "acme", "viewer");
	assert_int_equal(apply(k, ID1, &r, &err), 0);
	assert_int_equal(apikeys_count(k), 1);
	assert_null(find(k, a.key));
	assert_non_null(find(k, b.key));
	/* Another id with a hash already taken is refused. */
	r = rec_of(&b, ID2, "acme", "admin");
	assert_int_equal(apply(k, ID2, &r, &err), -1);
	assert_string_equal(err.field, "key_hash");
	assert_int_equal(find(k, b.key)->role, APIKEY_VIEWER);
	apikeys_free(k);
}

static void
test_revoke(void **state)
{
	struct apikeys *k = apikeys_new();
	struct issued a, b;
	struct rec r;
	struct error err;

	(void)state;
	issue(&a);
	issue(&b);
	r = rec_of(&a, ID1, "acme", "admin");
	assert_int_equal(apply(k, ID1, &r, &err), 0);
	r = rec_of(&b, ID2, "acme", "viewer");
	assert_int_equal(apply(k, ID2, &r, &err), 0);
	assert_int_equal(apikeys_count(k), 2);
	r = rec_of(&a, ID1, "acme", "admin");
	r.revoked = 1;
	assert_int_equal(apply(k, ID1, &r, &err), 0);
	assert_int_equal(apikeys_count(k), 1);
	assert_null(find(k, a.key));
	assert_non_null(find(k, b.key));
	/* Replayed, or revoked before we ever saw it: nothing to do. */
	assert_int_equal(apply(k, ID1, &r, &err), 0);
	assert_int_equal(apikeys_count(k), 1);
	/* A malformed revocation is refused, but still revokes (fails closed). */
	r = rec_of(&b, ID2, "acme", "superuser");
	r.revoked = 1;
	assert_int_equal(apply(k, ID2, &r, &err), -1);
	assert_string_equal(err.field, "role");
	assert_int_equal(apikeys_count(k), 0);
	assert_null(find(k, b.key));
	apikeys_free(k);
}

static void
test_tombstone(void **state)
{
	struct apikeys *k = apikeys_new();
	struct issued a;
	struct rec r;
	struct error err;

	(void)state;
	issue(&a);
	r = rec_of(&a, ID1, "acme", "viewer");
	assert_int_equal(apply(k, ID1, &r, &err), 0);
	assert_int_equal(apikeys_apply(k, ID2, NULL, 0, NULL, &err), 0);
	assert_int_equal(apikeys_count(k), 1);
	assert_int_equal(apikeys_apply(k, ID1, NULL, 0, NULL, &err), 0);
	assert_int_equal(apikeys_count(k), 0);
	assert_null(find(k, a.key));
	/* A tombstone must still name a key id. */
	assert_int_equal(apikeys_apply(k, "not-a-uuid", NULL, 0, NULL, &err), -1);
	assert_int_equal(apikeys_apply(k, NULL, NULL, 0, NULL, &err), -1);
	apikeys_free(k);
}

/* r must be refused with err.field == field, and change nothing. */
static void
expect_refused(struct apikeys *k, const char *msg_key, const struct rec *r,
    const char *field, const char *live_key)
{
	struct error err;
	size_t before = apikeys_count(k);
	const struct apikey *still;

	assert_int_equal(apply(k, msg_key, r, &err), -1);
	if (strcmp(err.field, field) != 0)
		fail_msg("want field %s, got %s (%s)", field, err.field, err.msg);
	assert_int_equal(apikeys_count(k), before);
	still = find(k, live_key);
	assert_non_null(still);
	assert_string_equal(still->org, "acme");
	assert_int_equal(still->role, APIKEY_VIEWER);
}

static void
test_malformed(void **state)
{
	struct apikeys *k = apikeys_new();
	static const char *const bad_orgs[] = { "", ".acme", "-acme", "ac me",
	    "acme/x", "\xc3\xa9t\xc3\xa9",
	    "a123456789012345678901234567890123456789012345678901234567890123",
	};
	char upper[65];
	struct issued a, b;
	struct rec r;
	struct error err;
	size_t i;

	(void)state;
	issue(&a);
	issue(&b);
	r = rec_of(&a, ID1, "acme", "viewer");
	assert_int_equal(apply(k, ID1, &r, &err), 0);
	/* Every bad record below would replace ID1's key: none may. */
	r = rec_of(&b, ID1, "acme", "viewer");
	expect_refused(k, ID2, &r, "key_id", a.key);
	r.id = "";
	expect_refused(k, ID1, &r, "key_id", a.key);
	r = rec_of(&b, ID1, "acme", "root");
	expect_refused(k, ID1, &r, "role", a.key);
	r.role = "";
	expect_refused(k, ID1, &r, "role", a.key);
	for (i = 0; i < sizeof(bad_orgs) / sizeof(bad_orgs[0]); i++) {
		r = rec_of(&b, ID1, bad_orgs[i], "viewer");
		r.env_org = "";
		expect_refused(k, ID1, &r, "org", a.key);
	}
	r = rec_of(&b, ID1, "acme", "viewer");
	r.env_org = "globex";
	expect_refused(k, ID1, &r, "org", a.key);
	r = rec_of(&b, ID1, "acme", "viewer");
	r.hash = "abc";
	expect_refused(k, ID1, &r, "key_hash", a.key);
	for (i = 0; i < 64; i++)
		upper[i] = (char)(b.hash[i] >= 'a' ? b.hash[i] - 32 : b.hash[i]);
	upper[64] = '\0';
	r.hash = upper;
	expect_refused(k, ID1, &r, "key_hash", a.key);
	r = rec_of(&b, ID1, "acme", "viewer");
	r.prefix = "slp_abcd";
	expect_refused(k, ID1, &r, "prefix", a.key);
	r.prefix = "slk_ab";
	expect_refused(k, ID1, &r, "prefix", a.key);
	r = rec_of(&b, ID1, "acme", "viewer");
	r.created_at_ms = -1;
	expect_refused(k, ID1, &r, "created_at_ms", a.key);
	apikeys_free(k);
}

/* Not an OrgKey at all: undecodable, another payload, a lying header. */
static void
test_wrong_payload(void **state)
{
	struct apikeys *k = apikeys_new();
	Slipway__V1__ImagePushed ip;
	unsigned char *buf, junk[] = { 0xff, 0x01, 0x02, 0x03 };
	struct issued a;
	struct rec r;
	struct error err;
	Envelope env;
	char eid[37];
	size_t len;

	(void)state;
	slipway__v1__image_pushed__init(&ip);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_IMAGE_PUSHED, eid,
	    "acme", NULL);
	env.image_pushed = &ip;
	buf = envelope_pack(&env, &len);
	assert_int_equal(apikeys_apply(k, ID1, buf, len, NULL, &err), -1);
	assert_string_equal(err.field, "payload");
	free(buf);
	assert_int_equal(apikeys_apply(k, ID1, junk, sizeof(junk), NULL, &err), -1);
	assert_string_equal(err.code, "bad_envelope");
	assert_int_equal(apikeys_apply(k, ID1, junk, 0, NULL, &err), -1);
	issue(&a);
	r = rec_of(&a, ID1, "acme", "viewer");
	buf = pack_rec(&r, &len);
	assert_int_equal(apikeys_apply(k, ID1, buf, len, "ImagePushed", &err), -1);
	assert_string_equal(err.code, "bad_envelope");
	assert_int_equal(apikeys_apply(k, "", buf, len, "OrgKey", &err), -1);
	assert_string_equal(err.field, "key");
	assert_int_equal(apikeys_count(k), 0);
	free(buf);
	apikeys_free(k);
}

/* Enough keys to grow the buckets several times; all still found. */
static void
test_many(void **state)
{
	enum { N = 3000 };
	struct apikeys *k = apikeys_new();
	static struct issued is[N];
	static char ids[N][37];
	struct rec r;
	struct error err;
	size_t i;

	(void)state;
	for (i = 0; i < N; i++) {
		issue(&is[i]);
		crypto_uuid(ids[i]);
		r = rec_of(&is[i], ids[i], i % 2 ? "acme" : "globex", "deployer");
		assert_int_equal(apply(k, ids[i], &r, &err), 0);
	}
	assert_int_equal(apikeys_count(k), N);
	for (i = 0; i < N; i += 2)
		assert_int_equal(apikeys_apply(k, ids[i], NULL, 0, NULL, &err), 0);
	assert_int_equal(apikeys_count(k), N / 2);
	for (i = 0; i < N; i++) {
		const struct apikey *got = find(k, is[i].key);

		if (i % 2 == 0) {
			assert_null(got);
		} else {
			assert_non_null(got);
			assert_string_equal(got->id, ids[i]);
		}
	}
	apikeys_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_add_find),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_tombstone),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_wrong_payload),
		cmocka_unit_test(test_many),
	};

	log_init("test-apikey");
	crypto_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
