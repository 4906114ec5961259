/*
 * test_crypto.c: uuids, hashes, base64, sealed boxes, the keyring file format,
 * key-file permissions and envelope encryption of secrets (wrong row,
 * flipped byte, the KEK version bound, format-1 rows, rotation and rewrap).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "crypto.h"
#include "secret_v1.h"

/* KEY_A is the bytes 0..31, KEY_B the bytes 32..63. */
#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
#define VALUE_OFF 77

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

/* Writes text to dir/name, mode 0600, and returns the path (static buffer). */
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
	assert_int_equal(chmod(path, 0600), 0);
	return path;
}

/* The raw 32 bytes behind KEY_A (first = 0) or KEY_B (first = 32). */
static void
key_bytes(unsigned char out[32], unsigned char first)
{
	int i;

	for (i = 0; i < 32; i++)
		out[i] = (unsigned char)(first + i);
}

static struct keyring *
load_keyring(const char *name, const char *text)
{
	struct error err;
	struct keyring *k = keyring_load(write_file(name, text), &err);

	if (k == NULL)
		fail_msg("keyring %s: %s", name, err.msg);
	return k;
}

/* 1 when blob opens for row_id with k and holds want. */
static int
opens_to(const struct keyring *k, const char *row_id, const unsigned char *blob,
    size_t len, const char *want)
{
	struct error err;
	unsigned char *pt;
	size_t plen;
	int ok;

	if (secret_decrypt(k, row_id, blob, len, &pt, &plen, &err) < 0)
		return 0;
	ok = plen == strlen(want) && memcmp(pt, want, plen) == 0;
	crypto_free_secret(pt, plen);
	return ok;
}

/* Ids come from a per-thread pool: across refills, and in a forked child
 * (which must not hand out its parent's next ids), every one is new. */
static void
test_uuid_pool(void **state)
{
	char ids[200][37], child[37] = "", parent[37];
	int fds[2], st;
	pid_t pid;

	(void)state;
	crypto_init();
	for (size_t i = 0; i < 200; i++) {
		crypto_uuid(ids[i]);
		assert_true(crypto_uuid_valid(ids[i]));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		crypto_uuid(child);
		_exit(write(fds[1], child, 36) == 36 ? 0 : 1);
	}
	assert_true(pid > 0);
	crypto_uuid(parent);
	assert_int_equal(read(fds[0], child, 36), 36);
	child[36] = '\0';
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(crypto_uuid_valid(child));
	assert_string_not_equal(child, parent);
	close(fds[0]);
	close(fds[1]);
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

/* Format 2: the format byte and the KEK version are in the wrap's AD. */
static void
test_secret_version_bound(void **state)
{
	struct keyring *k;
	unsigned char *blob, *pt, hdr[SECRET_HEADER_LEN];
	struct error err;
	size_t blen, plen;

	(void)state;
	/* Two versions with one key: only the associated data tells them apart. */
	k = load_keyring("same", "1:" KEY_A "\n2:" KEY_A "\n");
	assert_int_equal(keyring_newest(k), 2);
	assert_int_equal(secret_encrypt(k, "row-1", "pw", 2, &blob, &blen, &err), 0);
	secret_current_header(k, hdr);
	assert_memory_equal(blob, "\x02\x00\x00\x00\x02", SECRET_HEADER_LEN);
	assert_memory_equal(blob, hdr, SECRET_HEADER_LEN);
	assert_true(opens_to(k, "row-1", blob, blen, "pw"));

	blob[4] = 1;   /* the version swapped: the same key, another AD */
	assert_false(opens_to(k, "row-1", blob, blen, "pw"));
	assert_int_equal(secret_decrypt(k, "row-1", blob, blen, &pt, &plen, &err), -1);
	assert_string_equal(err.code, "decrypt_failed");
	blob[4] = 2;
	blob[0] = 1;   /* downgraded to format 1: the row id alone is not the AD */
	assert_false(opens_to(k, "row-1", blob, blen, "pw"));
	blob[0] = 3;   /* an unknown format */
	assert_false(opens_to(k, "row-1", blob, blen, "pw"));
	blob[0] = 2;
	assert_true(opens_to(k, "row-1", blob, blen, "pw"));
	/* Moved to another row: the wrap and the value are bound to the id. */
	assert_false(opens_to(k, "row-2", blob, blen, "pw"));
	free(blob);
	keyring_free(k);
}

/* Rows written in format 1 still open, and only for their own row. */
static void
test_secret_v1_opens(void **state)
{
	unsigned char key[32], *blob;
	struct keyring *k;
	size_t blen;

	(void)state;
	k = load_keyring("v1", "1:" KEY_A "\n2:" KEY_B "\n");
	key_bytes(key, 0);
	blob = secret_v1_blob(key, 1, "row-1", "old pw", 6, &blen);
	assert_non_null(blob);
	assert_true(opens_to(k, "row-1", blob, blen, "old pw"));
	assert_false(opens_to(k, "row-2", blob, blen, "old pw"));
	blob[0] = 2;   /* upgraded by hand: the AD no longer matches */
	assert_false(opens_to(k, "row-1", blob, blen, "old pw"));
	free(blob);
	keyring_free(k);
}

/* Rewrap: format 1 and older versions move to the newest; the value stays. */
static void
test_secret_rewrap(void **state)
{
	struct keyring *k1, *k12, *k2;
	unsigned char key[32], *old, *v1, *out, *again;
	struct error err;
	size_t olen, v1len;

	(void)state;
	k1 = load_keyring("r1", "1:" KEY_A "\n");
	k12 = load_keyring("r12", "1:" KEY_A "\n2:" KEY_B "\n");
	k2 = load_keyring("r2", "2:" KEY_B "\n");
	key_bytes(key, 0);

	/* Format 2 under version 1. */
	assert_int_equal(secret_encrypt(k1, "row-a", "alpha", 5, &old, &olen, &err), 0);
	assert_int_equal(secret_rewrap(k1, "row-a", old, olen, &out, &err), 1);
	assert_null(out);
	assert_int_equal(secret_rewrap(k12, "row-a", old, olen, &out, &err), 0);
	assert_memory_equal(out, "\x02\x00\x00\x00\x02", SECRET_HEADER_LEN);
	assert_memory_equal(out + VALUE_OFF, old + VALUE_OFF, olen - VALUE_OFF);
	assert_true(opens_to(k2, "row-a", out, olen, "alpha"));
	assert_false(opens_to(k2, "row-a", old, olen, "alpha"));
	assert_int_equal(secret_rewrap(k12, "row-a", out, olen, &again, &err), 1);
	free(out);

	/* Format 1 under version 1, and format 1 under the newest version. */
	v1 = secret_v1_blob(key, 1, "row-b", "beta", 4, &v1len);
	assert_int_equal(secret_rewrap(k12, "row-b", v1, v1len, &out, &err), 0);
	assert_int_equal(out[0], 2);
	assert_memory_equal(out + VALUE_OFF, v1 + VALUE_OFF, v1len - VALUE_OFF);
	assert_true(opens_to(k2, "row-b", out, v1len, "beta"));
	free(out);
	free(v1);
	v1 = secret_v1_blob(key, 1, "row-c", "gamma", 5, &v1len);
	assert_int_equal(secret_rewrap(k1, "row-c", v1, v1len, &out, &err), 0);
	assert_memory_equal(out, "\x02\x00\x00\x00\x01", SECRET_HEADER_LEN);
	assert_true(opens_to(k1, "row-c", out, v1len, "gamma"));
	free(out);

	/* What does not open is refused, with the reason, and nothing written. */
	assert_int_equal(secret_rewrap(k2, "row-c", v1, v1len, &out, &err), -1);
	assert_null(out);
	assert_string_equal(err.code, "decrypt_failed");
	assert_non_null(strstr(err.msg, "key version 1 is not in the keyring"));
	assert_int_equal(secret_rewrap(k12, "row-x", v1, v1len, &out, &err), -1);
	assert_string_equal(err.code, "decrypt_failed");
	v1[v1len - 1] ^= 1;   /* the value's tag: the data key opens, the value not */
	assert_int_equal(secret_rewrap(k12, "row-c", v1, v1len, &out, &err), -1);
	assert_string_equal(err.code, "decrypt_failed");
	assert_null(out);
	free(v1);
	free(old);
	keyring_free(k1);
	keyring_free(k12);
	keyring_free(k2);
}

/* 0600 (or root's 0640) opens; anything group or others may use is refused. */
static void
test_key_file_modes(void **state)
{
	static const struct {
		mode_t mode;
		int ok;
	} cases[] = {
		{ 0600, 1 }, { 0400, 1 }, { 0644, 0 }, { 0604, 0 }, { 0660, 0 },
		{ 0620, 0 }, { 0606, 0 }, { 0640, -1 }, { 0440, -1 },
	};
	const char *path = write_file("modes", "1:" KEY_A "\n");
	char want[32];
	struct error err;
	size_t i;
	int fd, ok;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(chmod(path, cases[i].mode), 0);
		/* -1: group read is allowed on a root-owned file only. */
		ok = cases[i].ok >= 0 ? cases[i].ok : geteuid() == 0;
		memset(&err, 0, sizeof(err));
		fd = crypto_key_file_open(path, &err);
		if (ok != (fd >= 0))
			fail_msg("mode %04o: fd %d, %s", (unsigned)cases[i].mode, fd, err.msg);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		snprintf(want, sizeof(want), "has mode %04o", (unsigned)cases[i].mode);
		assert_string_equal(err.code, "insecure_key_file");
		assert_non_null(strstr(err.msg, want));
		assert_non_null(strstr(err.msg, "chmod 600"));
	}
	assert_int_equal(chmod(path, 0644), 0);
	assert_null(keyring_load(path, &err));
	assert_string_equal(err.code, "insecure_key_file");
	assert_int_equal(crypto_key_file_open(dir, &err), -1);
	assert_non_null(strstr(err.msg, "not a regular file"));
	assert_int_equal(crypto_key_file_open("/nonexistent/key", &err), -1);
	assert_string_equal(err.code, "invalid_key_file");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_uuid_pool),
		cmocka_unit_test(test_sha256_equal),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_keyring_generate_load),
		cmocka_unit_test(test_keyring_errors),
		cmocka_unit_test(test_secret_round_trip),
		cmocka_unit_test(test_secret_rotation),
		cmocka_unit_test(test_secret_version_bound),
		cmocka_unit_test(test_secret_v1_opens),
		cmocka_unit_test(test_secret_rewrap),
		cmocka_unit_test(test_key_file_modes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
