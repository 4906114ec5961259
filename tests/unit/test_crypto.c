/*
 * test_crypto.c: uuids, hashes, base64, sealed boxes, the keyring file format
 * and envelope encryption of secrets (wrong row, flipped byte, rotation).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "crypto.h"

#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	crypto_init();
	snprintf(dir, sizeof(dir), "/tmp/test_crypto.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to dir/name and returns the path (static buffer). */
static const char *
write_file(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void
test_uuid(void **state)
{
	char a[37], b[37];

	(void)state;
	crypto_uuid(a);
	crypto_uuid(b);
	assert_int_equal(strlen(a), 36);
	assert_true(crypto_uuid_valid(a));
	assert_string_not_equal(a, b);
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89ab", a[19]));
	assert_false(crypto_uuid_valid("not-a-uuid"));
	assert_false(crypto_uuid_valid("0123456789abcdef0123456789abcdef0123"));
	assert_false(crypto_uuid_valid(NULL));
	a[35] = 'g';
	assert_false(crypto_uuid_valid(a));
}

static void
test_sha256_equal(void **state)
{
	char h[65];

	(void)state;
	crypto_sha256_hex("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(crypto_equal("abcd", "abcd", 4));
	assert_false(crypto_equal("abcd", "abce", 4));
}

static void
test_base64(void **state)
{
	unsigned char *d;
	char *e;
	size_t len;

	(void)state;
	e = crypto_b64_encode("hello", 5);
	assert_string_equal(e, "aGVsbG8=");
	d = crypto_b64_decode(e, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(d, "hello", 5);
	free(d);
	free(e);
	assert_null(crypto_b64_decode("aGVsbG8", &len));     /* no padding */
	assert_null(crypto_b64_decode("aGVs bG8=", &len));   /* space */
	assert_null(crypto_b64_decode("aGVsbG8=x", &len));   /* trailing junk */
	assert_null(crypto_b64_decode("aGV_bG8=", &len));    /* url alphabet */
	d = crypto_b64_decode("", &len);
	assert_non_null(d);
	assert_int_equal(len, 0);
	free(d);
}

static void
test_seal(void **state)
{
	unsigned char pk[CRYPTO_PK_LEN], sk[CRYPTO_SK_LEN], pk2[CRYPTO_PK_LEN], sk2[CRYPTO_SK_LEN];
	unsigned char *c, *m;
	size_t clen, mlen;

	(void)state;
	crypto_box_keygen(pk, sk);
	crypto_box_keygen(pk2, sk2);
	assert_int_equal(crypto_seal(pk, "secret", 6, &c, &clen), 0);
	assert_int_equal(clen, 6 + 48);
	assert_int_equal(crypto_seal_open(pk, sk, c, clen, &m, &mlen), 0);
	assert_int_equal(mlen, 6);
	assert_memory_equal(m, "secret", 6);
	crypto_free_secret(m, mlen);
	assert_int_equal(crypto_seal_open(pk2, sk2, c, clen, &m, &mlen), -1);
	assert_null(m);
	c[clen - 1] ^= 1;
	assert_int_equal(crypto_seal_open(pk, sk, c, clen, &m, &mlen), -1);
	assert_int_equal(crypto_seal_open(pk, sk, c, 10, &m, &mlen), -1);
	free(c);
}

static void
test_keyring_generate_load(void **state)
{
	char path[128];
	struct stat st;
	struct error err;
	struct keyring *k;

	(void)state;
	snprintf(path, sizeof(path), "%s/kek", dir);
	assert_int_equal(keyring_generate(path, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Never overwrite: that would orphan every stored secret. */
	assert_int_equal(keyring_generate(path, &err), -1);
	k = keyring_load(path, &err);
	assert_non_null(k);
	keyring_free(k);
}

static void
test_keyring_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "", "no keys" },
		{ "# only a comment\n\n", "no keys" },
		{ "1:" KEY_A "\nbogus\n", ":2: expected" },
		{ "0:" KEY_A "\n", ":1: expected" },
		{ "x:" KEY_A "\n", ":1: expected" },
		{ "99999999999:" KEY_A "\n", ":1: expected" },
		{ "1:" KEY_A "\n\n# c\n1:" KEY_B "\n", ":4: version 1 is listed twice" },
		{ "1:AAECAw==\n", ":1: the key must be base64 of exactly 32 bytes" },
		{ "1:" KEY_A "AAAA\n", ":1: the key must be" },
		{ "1:" KEY_A "!\n", ":1: the key must be" },
		{ "1:\n", ":1: the key must be" },
	};
	struct error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_null(keyring_load(write_file("bad", cases[i].text), &err));
		if (strstr(err.msg, cases[i].want) == NULL)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, err.msg, cases[i].want);
		assert_string_equal(err.code, "invalid_keyring");
	}
	assert_null(keyring_load("/nonexistent/kek", &err));
}

static void
test_secret_round_trip(void **state)
{
	struct keyring *k;
	struct error err;
	unsigned char *blob, *pt, *bad;
	size_t blen, plen, i;

	(void)state;
	k = keyring_load(write_file("kr", "# keys\n1:" KEY_A "\r\n\n"), &err);
	assert_non_null(k);
	assert_int_equal(secret_encrypt(k, "row-1", "p4ss", 4, &blob, &blen, &err), 0);
	assert_int_equal(blen, 1 + 4 + 24 + 32 + 16 + 24 + 4 + 16);
	assert_int_equal(secret_decrypt(k, "row-1", blob, blen, &pt, &plen, &err), 0);
	assert_int_equal(plen, 4);
	assert_memory_equal(pt, "p4ss", 4);
	crypto_free_secret(pt, plen);

	/* The row id is bound: the blob cannot be moved to another row. */
	assert_int_equal(secret_decrypt(k, "row-2", blob, blen, &pt, &plen, &err), -1);
	assert_string_equal(err.code, "decrypt_failed");
	assert_null(pt);

	/* Any flipped byte is refused. */
	bad = malloc(blen);
	for (i = 0; i < blen; i++) {
		memcpy(bad, blob, blen);
		bad[i] ^= 0x01;
		memset(&err, 0, sizeof(err));
		assert_int_equal(secret_decrypt(k, "row-1", bad, blen, &pt, &plen, &err), -1);
		assert_string_equal(err.code, "decrypt_failed");
	}
	assert_int_equal(secret_decrypt(k, "row-1", blob, 20, &pt, &plen, &err), -1);
	free(bad);
	free(blob);

	assert_int_equal(secret_encrypt(k, "row-e", "", 0, &blob, &blen, &err), 0);
	assert_int_equal(secret_decrypt(k, "row-e", blob, blen, &pt, &plen, &err), 0);
	assert_int_equal(plen, 0);
	crypto_free_secret(pt, plen);
	free(blob);
	keyring_free(k);
}

/* After rotation the new (highest) version encrypts and old rows still open. */
static void
test_secret_rotation(void **state)
{
	struct keyring *k1, *k2, *konly2;
	struct error err;
	unsigned char *old, *fresh, *pt;
	size_t olen, flen, plen;

	(void)state;
	k1 = keyring_load(write_file("k1", "1:" KEY_A "\n"), &err);
	k2 = keyring_load(write_file("k2", "2:" KEY_B "\n1:" KEY_A "\n"), &err);
	konly2 = keyring_load(write_file("k3", "2:" KEY_B "\n"), &err);
	assert_non_null(k1);
	assert_non_null(k2);
	assert_non_null(konly2);
	assert_int_equal(secret_encrypt(k1, "r", "v1", 2, &old, &olen, &err), 0);
	assert_int_equal(secret_encrypt(k2, "r", "v2", 2, &fresh, &flen, &err), 0);
	assert_int_equal(fresh[4], 2);
	assert_int_equal(secret_decrypt(k2, "r", old, olen, &pt, &plen, &err), 0);
	assert_memory_equal(pt, "v1", 2);
	crypto_free_secret(pt, plen);
	assert_int_equal(secret_decrypt(konly2, "r", old, olen, &pt, &plen, &err), -1);
	assert_non_null(strstr(err.msg, "version 1"));
	assert_int_equal(secret_decrypt(k1, "r", fresh, flen, &pt, &plen, &err), -1);
	free(old);
	free(fresh);
	keyring_free(k1);
	keyring_free(k2);
	keyring_free(konly2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_sha256_equal),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_keyring_generate_load),
		cmocka_unit_test(test_keyring_errors),
		cmocka_unit_test(test_secret_round_trip),
		cmocka_unit_test(test_secret_rotation),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
