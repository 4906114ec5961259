/*
 * crypto.c: libsodium helpers — ids, CI tokens, hashes, base64, sealed boxes,
 * and envelope encryption of secrets at rest under a versioned keyring.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"

#define TOKEN_PREFIX "slp_"
#define TOKEN_RANDOM_LEN 32
#define TOKEN_CHECK_LEN 6

#define KEK_LEN 32
#define KEYRING_MAX_KEYS 256
#define KEYRING_LINE_MAX 512

/* Secret blob layout (see crypto.h): all offsets in bytes. */
#define BLOB_MAGIC 0x01
#define AEAD_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define AEAD_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define DEK_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define BLOB_WRAP_OFF 5
#define BLOB_VALUE_OFF (BLOB_WRAP_OFF + AEAD_NONCE + DEK_LEN + AEAD_TAG)
#define BLOB_HEADER_LEN (BLOB_VALUE_OFF + AEAD_NONCE)
#define SECRET_MAX (16u * 1024 * 1024)

static const char base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

struct kek {
	uint32_t version;
	unsigned char key[KEK_LEN];
};

struct keyring {
	size_t n;
	struct kek keys[KEYRING_MAX_KEYS];
};

void
crypto_init(void)
{
	if (sodium_init() < 0)
		fatal("libsodium initialisation failed");
}

void
crypto_uuid(char out[37])
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0x0f];
	}
	out[o] = '\0';
}

int
crypto_uuid_valid(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))) {
			return 0;
		}
	}
	return s[36] == '\0';
}

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320), table built on first use. */
static uint32_t
crc32_ieee(const void *data, size_t len)
{
	static uint32_t table[256];
	static int ready;
	const unsigned char *p = data;
	uint32_t c = 0xffffffffu;
	size_t i;

	if (!ready) {
		for (uint32_t n = 0; n < 256; n++) {
			uint32_t v = n;
			for (int k = 0; k < 8; k++)
				v = (v & 1) ? 0xedb88320u ^ (v >> 1) : v >> 1;
			table[n] = v;
		}
		ready = 1;
	}
	for (i = 0; i < len; i++)
		c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* The 6-char base62 checksum of the random part, most significant first. */
static void
token_checksum(const char *random, char out[TOKEN_CHECK_LEN])
{
	uint64_t v = crc32_ieee(random, TOKEN_RANDOM_LEN);
	int i;

	for (i = TOKEN_CHECK_LEN - 1; i >= 0; i--) {
		out[i] = base62[v % 62];
		v /= 62;
	}
}

void
token_generate(char out[TOKEN_LEN + 1])
{
	char *random = out + sizeof(TOKEN_PREFIX) - 1;
	size_t i;

	memcpy(out, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	for (i = 0; i < TOKEN_RANDOM_LEN; i++)
		random[i] = base62[randombytes_uniform(62)];
	token_checksum(random, random + TOKEN_RANDOM_LEN);
	out[TOKEN_LEN] = '\0';
}

int
token_format_valid(const char *tok, size_t len)
{
	const char *random;
	char check[TOKEN_CHECK_LEN];
	size_t i;

	if (tok == NULL || len != TOKEN_LEN ||
	    memcmp(tok, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1) != 0)
		return 0;
	random = tok + sizeof(TOKEN_PREFIX) - 1;
	for (i = 0; i < TOKEN_RANDOM_LEN + TOKEN_CHECK_LEN; i++)
		if (tok[sizeof(TOKEN_PREFIX) - 1 + i] == '\0' ||
		    strchr(base62, tok[sizeof(TOKEN_PREFIX) - 1 + i]) == NULL)
			return 0;
	token_checksum(random, check);
	return memcmp(check, random + TOKEN_RANDOM_LEN, TOKEN_CHECK_LEN) == 0;
}

void
crypto_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

int
crypto_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

char *
crypto_b64_encode(const void *data, size_t len)
{
	size_t n;
	char *out;

	if (len > SIZE_MAX / 2)
		return NULL;
	n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	if ((out = malloc(n)) == NULL)
		return NULL;
	sodium_bin2base64(out, n, data, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

unsigned char *
crypto_b64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s), cap = n / 4 * 3 + 3;
	unsigned char *out;
	const char *end = NULL;

	if ((out = malloc(cap)) == NULL)
		return NULL;
	/* Strict: no ignored characters, and the whole string must be used. */
	if (sodium_base642bin(out, cap, s, n, NULL, len, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != s + n) {
		free(out);
		return NULL;
	}
	return out;
}

void
crypto_box_keygen(unsigned char pk[CRYPTO_PK_LEN], unsigned char sk[CRYPTO_SK_LEN])
{
	crypto_box_keypair(pk, sk);
}

int
crypto_seal(const unsigned char pk[CRYPTO_PK_LEN], const void *msg,
    size_t len, unsigned char **out, size_t *outlen)
{
	*out = NULL;
	if (len > SECRET_MAX)
		return -1;
	*outlen = len + crypto_box_SEALBYTES;
	if ((*out = malloc(*outlen)) == NULL)
		return -1;
	if (crypto_box_seal(*out, msg, len, pk) != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int
crypto_seal_open(const unsigned char pk[CRYPTO_PK_LEN],
    const unsigned char sk[CRYPTO_SK_LEN], const void *c, size_t clen,
    unsigned char **out, size_t *outlen)
{
	*out = NULL;
	if (clen < crypto_box_SEALBYTES || clen > SECRET_MAX + crypto_box_SEALBYTES)
		return -1;
	*outlen = clen - crypto_box_SEALBYTES;
	/* +1 so an empty message still gets a real allocation. */
	if ((*out = malloc(*outlen + 1)) == NULL)
		return -1;
	if (crypto_box_seal_open(*out, c, clen, pk, sk) != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

void
crypto_free_secret(void *p, size_t len)
{
	if (p == NULL)
		return;
	sodium_memzero(p, len);
	free(p);
}

/* --- keyring ------------------------------------------------------------- */

void
keyring_free(struct keyring *k)
{
	if (k == NULL)
		return;
	sodium_memzero(k, sizeof(*k));
	free(k);
}

/* Parses a decimal KEK version in 1..UINT32_MAX. */
static int
keyring_version_parse(const char *s, size_t n, uint32_t *out)
{
	unsigned long long v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Parses one "<version>:<base64 32 bytes>" line into the keyring. */
static int
keyring_parse_line(struct keyring *k, char *line, const char *path,
    int lineno, struct error *err)
{
	char *colon = strchr(line, ':');
	size_t klen = 0, i;
	const char *end = NULL;
	struct kek *kek;

	if (k->n == KEYRING_MAX_KEYS) {
		error_set(err, "invalid_keyring", "", "%s:%d: more than %d keys",
		    path, lineno, KEYRING_MAX_KEYS);
		return -1;
	}
	kek = &k->keys[k->n];
	if (colon == NULL ||
	    keyring_version_parse(line, (size_t)(colon - line), &kek->version) < 0) {
		error_set(err, "invalid_keyring", "", "%s:%d: expected "
		    "<version>:<base64 key> with a version >= 1", path, lineno);
		return -1;
	}
	if (sodium_base642bin(kek->key, KEK_LEN, colon + 1, strlen(colon + 1),
	    NULL, &klen, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    *end != '\0' || klen != KEK_LEN) {
		error_set(err, "invalid_keyring", "", "%s:%d: the key must be "
		    "base64 of exactly %d bytes", path, lineno, KEK_LEN);
		return -1;
	}
	for (i = 0; i < k->n; i++) {
		if (k->keys[i].version == kek->version) {
			error_set(err, "invalid_keyring", "", "%s:%d: version %u "
			    "is listed twice", path, lineno, kek->version);
			return -1;
		}
	}
	k->n++;
	return 0;
}

/* Trims trailing whitespace; returns 1 when the line is blank or a comment. */
static int
keyring_line_skip(char *line)
{
	size_t n = strlen(line);
	char *p = line;

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
	    line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0' || *p == '#';
}

/* Reads every line of f into k; -1 with the line number on the first bad one. */
static int
keyring_read(struct keyring *k, FILE *f, const char *path, struct error *err)
{
	char line[KEYRING_LINE_MAX];
	int lineno = 0, rc = 0;

	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			error_set(err, "invalid_keyring", "", "%s:%d: line too long",
			    path, lineno);
			rc = -1;
		} else if (!keyring_line_skip(line)) {
			rc = keyring_parse_line(k, line, path, lineno, err);
		}
	}
	sodium_memzero(line, sizeof(line));
	if (rc == 0 && ferror(f)) {
		error_set(err, "invalid_keyring", "", "%s: read error", path);
		rc = -1;
	}
	if (rc == 0 && k->n == 0) {
		error_set(err, "invalid_keyring", "", "%s: no keys", path);
		rc = -1;
	}
	return rc;
}

struct keyring *
keyring_load(const char *path, struct error *err)
{
	struct keyring *k;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		error_set(err, "invalid_keyring", "", "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		fclose(f);
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	if (keyring_read(k, f, path, err) < 0) {
		keyring_free(k);
		k = NULL;
	}
	fclose(f);
	return k;
}

int
keyring_generate(const char *path, struct error *err)
{
	unsigned char key[KEK_LEN];
	char b64[sodium_base64_ENCODED_LEN(KEK_LEN, sodium_base64_VARIANT_ORIGINAL)];
	char line[sizeof(b64) + 16];
	int fd, n, rc = 0;

	/* O_EXCL: overwriting a keyring would make every stored secret unreadable. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0) {
		error_set(err, "keyring_write", "", "%s: %s", path, strerror(errno));
		return -1;
	}
	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key),
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(line, sizeof(line), "1:%s\n", b64);
	if (write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
		error_set(err, "keyring_write", "", "%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (close(fd) != 0 && rc == 0) {
		error_set(err, "keyring_write", "", "%s: %s", path, strerror(errno));
		rc = -1;
	}
	sodium_memzero(key, sizeof(key));
	sodium_memzero(b64, sizeof(b64));
	sodium_memzero(line, sizeof(line));
	if (rc < 0)
		unlink(path);
	return rc;
}

static const struct kek *
keyring_current(const struct keyring *k)
{
	const struct kek *best = &k->keys[0];
	size_t i;

	for (i = 1; i < k->n; i++)
		if (k->keys[i].version > best->version)
			best = &k->keys[i];
	return best;
}

static const struct kek *
keyring_find(const struct keyring *k, uint32_t version)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (k->keys[i].version == version)
			return &k->keys[i];
	return NULL;
}

/* --- secrets at rest -------------------------------------------------------- */

/* AEAD-encrypts pt with key into out (nonce || ciphertext || tag). */
static void
aead_seal(unsigned char *out, const unsigned char *key, const void *pt,
    size_t len, const char *ad)
{
	randombytes_buf(out, AEAD_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + AEAD_NONCE, NULL, pt,
	    len, (const unsigned char *)ad, strlen(ad), NULL, out, key);
}

/* Opens nonce || ciphertext || tag of clen bytes (clen counts ct + tag). */
static int
aead_open(unsigned char *out, const unsigned char *key,
    const unsigned char *in, size_t clen, const char *ad)
{
	return crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL,
	    in + AEAD_NONCE, clen, (const unsigned char *)ad, strlen(ad), in, key);
}

int
secret_encrypt(const struct keyring *k, const char *row_id,
    const void *pt, size_t len, unsigned char **out, size_t *outlen,
    struct error *err)
{
	const struct kek *kek;
	unsigned char dek[DEK_LEN], *b;

	*out = NULL;
	if (k == NULL || k->n == 0 || row_id == NULL || len > SECRET_MAX) {
		error_set(err, "encrypt_failed", "", "no key, no row id, or value too large");
		return -1;
	}
	kek = keyring_current(k);
	*outlen = BLOB_HEADER_LEN + len + AEAD_TAG;
	if ((b = malloc(*outlen)) == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	b[0] = BLOB_MAGIC;
	b[1] = (unsigned char)(kek->version >> 24);
	b[2] = (unsigned char)(kek->version >> 16);
	b[3] = (unsigned char)(kek->version >> 8);
	b[4] = (unsigned char)kek->version;
	crypto_aead_xchacha20poly1305_ietf_keygen(dek);
	aead_seal(b + BLOB_WRAP_OFF, kek->key, dek, sizeof(dek), row_id);
	aead_seal(b + BLOB_VALUE_OFF, dek, pt, len, row_id);
	sodium_memzero(dek, sizeof(dek));
	*out = b;
	return 0;
}

int
secret_decrypt(const struct keyring *k, const char *row_id,
    const void *blob, size_t len, unsigned char **out, size_t *outlen,
    struct error *err)
{
	const unsigned char *b = blob;
	const struct kek *kek;
	unsigned char dek[DEK_LEN];
	uint32_t version;
	int rc;

	*out = NULL;
	if (k == NULL || row_id == NULL || b == NULL ||
	    len < BLOB_HEADER_LEN + AEAD_TAG || b[0] != BLOB_MAGIC) {
		error_set(err, "decrypt_failed", "", "not a secret blob");
		return -1;
	}
	version = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 8 | b[4];
	if ((kek = keyring_find(k, version)) == NULL) {
		error_set(err, "decrypt_failed", "", "key version %u is not in the keyring", version);
		return -1;
	}
	if (aead_open(dek, kek->key, b + BLOB_WRAP_OFF, DEK_LEN + AEAD_TAG, row_id) != 0) {
		error_set(err, "decrypt_failed", "", "the data key does not open (wrong row or key, or tampered)");
		return -1;
	}
	*outlen = len - BLOB_HEADER_LEN - AEAD_TAG;
	/* +1 so an empty value still gets a real allocation. */
	if ((*out = malloc(*outlen + 1)) == NULL) {
		sodium_memzero(dek, sizeof(dek));
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	rc = aead_open(*out, dek, b + BLOB_VALUE_OFF, *outlen + AEAD_TAG, row_id);
	sodium_memzero(dek, sizeof(dek));
	if (rc != 0) {
		crypto_free_secret(*out, *outlen + 1);
		*out = NULL;
		error_set(err, "decrypt_failed", "", "the value does not open (wrong row, or tampered)");
		return -1;
	}
	return 0;
}
