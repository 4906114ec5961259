/*
 * crypto.c: libsodium helpers — ids, CI tokens, hashes, base64, sealed boxes,
 * and envelope encryption of secrets at rest under a versioned keyring.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"

#define TOKEN_PREFIX "slp_"
#define TOKEN_PREFIX_CHARS 4   /* every token kind's prefix: "slp_", "slk_" */
#define TOKEN_RANDOM_LEN 32
#define TOKEN_CHECK_LEN 6

#define KEK_LEN 32
#define KEYRING_MAX_KEYS 256
#define KEYRING_LINE_MAX 512

/* Secret blob layout (see crypto.h): all offsets in bytes. */
#define BLOB_FORMAT_LEGACY 0x01   /* the wrap's associated data: the row id */
#define BLOB_FORMAT 0x02          /* the wrap's: the header, then the row id */
#define AEAD_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define AEAD_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define DEK_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define BLOB_WRAP_OFF SECRET_HEADER_LEN
#define BLOB_VALUE_OFF (BLOB_WRAP_OFF + AEAD_NONCE + DEK_LEN + AEAD_TAG)
#define BLOB_HEADER_LEN (BLOB_VALUE_OFF + AEAD_NONCE)
#define ROW_ID_MAX 128
#define BLOB_AD_MAX (SECRET_HEADER_LEN + ROW_ID_MAX)
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

/*
 * Ids need unpredictable bytes, not a system call each: a thread takes
 * them from its own pool, 64 ids to one getrandom. A forked child's pool
 * would repeat its parent's ids, so the child starts an empty one.
 */
#define ID_POOL_LEN 1024
static _Thread_local unsigned char id_pool[ID_POOL_LEN];
static _Thread_local size_t id_pool_used = ID_POOL_LEN;

static void
crypto_id_pool_reset(void)
{
	id_pool_used = ID_POOL_LEN;
}

static void
crypto_id_pool_atfork(void)
{
	if (pthread_atfork(NULL, NULL, crypto_id_pool_reset) != 0)
		fatal("pthread_atfork failed");
}

static void
crypto_id_bytes(unsigned char *out, size_t n)
{
	if (ID_POOL_LEN - id_pool_used < n) {
		randombytes_buf(id_pool, sizeof(id_pool));
		id_pool_used = 0;
	}
	memcpy(out, id_pool + id_pool_used, n);
	sodium_memzero(id_pool + id_pool_used, n);
	id_pool_used += n;
}

void
crypto_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	if (sodium_init() < 0)
		fatal("libsodium initialisation failed");
	/* Once: each call would register the handler again. */
	pthread_once(&once, crypto_id_pool_atfork);
}

void
crypto_uuid(char out[37])
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	crypto_id_bytes(b, sizeof(b));
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
token_generate_prefixed(const char *prefix, char out[TOKEN_LEN + 1])
{
	char *random = out + TOKEN_PREFIX_CHARS;
	size_t i;

	/* A caller passing another length would get a token of another shape. */
	if (prefix == NULL || strlen(prefix) != TOKEN_PREFIX_CHARS)
		fatal("token_generate_prefixed: prefix must be %d characters",
		    TOKEN_PREFIX_CHARS);
	memcpy(out, prefix, TOKEN_PREFIX_CHARS);
	for (i = 0; i < TOKEN_RANDOM_LEN; i++)
		random[i] = base62[randombytes_uniform(62)];
	token_checksum(random, random + TOKEN_RANDOM_LEN);
	out[TOKEN_LEN] = '\0';
}

void
token_generate(char out[TOKEN_LEN + 1])
{
	token_generate_prefixed(TOKEN_PREFIX, out);
}

int
token_format_valid_prefixed(const char *prefix, const char *tok, size_t len)
{
	const char *random;
	char check[TOKEN_CHECK_LEN];
	size_t i;

	if (prefix == NULL || strlen(prefix) != TOKEN_PREFIX_CHARS ||
	    tok == NULL || len != TOKEN_LEN ||
	    memcmp(tok, prefix, TOKEN_PREFIX_CHARS) != 0)
		return 0;
	random = tok + TOKEN_PREFIX_CHARS;
	for (i = 0; i < TOKEN_RANDOM_LEN + TOKEN_CHECK_LEN; i++)
		if (random[i] == '\0' || strchr(base62, random[i]) == NULL)
			return 0;
	token_checksum(random, check);
	return memcmp(check, random + TOKEN_RANDOM_LEN, TOKEN_CHECK_LEN) == 0;
}

int
token_format_valid(const char *tok, size_t len)
{
	return token_format_valid_prefixed(TOKEN_PREFIX, tok, len);
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

/* --- key files ----------------------------------------------------------- */

/* The ownership and mode rule of crypto_key_file_open (see crypto.h). */
static int
key_file_private(const char *path, const struct stat *st, struct error *err)
{
	unsigned mode = (unsigned)st->st_mode & 0777;
	uid_t me = geteuid();

	if (!S_ISREG(st->st_mode)) {
		error_set(err, "invalid_key_file", "", "%s is not a regular file",
		    path);
		return -1;
	}
	if ((st->st_uid == me && (mode & 077) == 0) ||
	    (st->st_uid == 0 && (mode & 037) == 0))
		return 0;
	if (st->st_uid != me && st->st_uid != 0)
		error_set(err, "insecure_key_file", "", "%s belongs to uid %u, "
		    "neither this process's user (uid %u) nor root", path,
		    (unsigned)st->st_uid, (unsigned)me);
	else
		error_set(err, "insecure_key_file", "", "%s has mode %04o: group "
		    "or others may read or change it; chmod 600 it", path, mode);
	return -1;
}

int
crypto_key_file_open(const char *path, struct error *err)
{
	struct stat st;
	int fd;

	/* O_NONBLOCK: a FIFO in the key's place must not hang the start. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0 ||
	    fstat(fd, &st) != 0) {
		error_set(err, "invalid_key_file", "", "%s: %s", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* fstat, not stat: the file checked is the file read. */
	if (key_file_private(path, &st, err) < 0) {
		close(fd);
		return -1;
	}
	return fd;
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
	int fd;

	if ((fd = crypto_key_file_open(path, err)) < 0)
		return NULL;
	if ((f = fdopen(fd, "r")) == NULL) {
		error_set(err, "invalid_keyring", "", "%s: %s", path, strerror(errno));
		close(fd);
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

uint32_t
keyring_newest(const struct keyring *k)
{
	return keyring_current(k)->version;
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
    size_t len, const unsigned char *ad, size_t adlen)
{
	randombytes_buf(out, AEAD_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + AEAD_NONCE, NULL, pt,
	    len, ad, adlen, NULL, out, key);
}

/* Opens nonce || ciphertext || tag of clen bytes (clen counts ct + tag). */
static int
aead_open(unsigned char *out, const unsigned char *key,
    const unsigned char *in, size_t clen, const unsigned char *ad, size_t adlen)
{
	return crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL,
	    in + AEAD_NONCE, clen, ad, adlen, in, key);
}

/* The associated data of the data key's wrap, by the blob's format. */
static int
blob_wrap_ad(const unsigned char *hdr, const char *row_id,
    unsigned char ad[BLOB_AD_MAX], size_t *adlen)
{
	size_t n = strlen(row_id), off = 0;

	if (n > ROW_ID_MAX)
		return -1;
	if (hdr[0] != BLOB_FORMAT_LEGACY) {
		memcpy(ad, hdr, SECRET_HEADER_LEN);
		off = SECRET_HEADER_LEN;
	}
	memcpy(ad + off, row_id, n);
	*adlen = off + n;
	return 0;
}

void
secret_current_header(const struct keyring *k,
    unsigned char out[SECRET_HEADER_LEN])
{
	uint32_t v = keyring_newest(k);

	out[0] = BLOB_FORMAT;
	out[1] = (unsigned char)(v >> 24);
	out[2] = (unsigned char)(v >> 16);
	out[3] = (unsigned char)(v >> 8);
	out[4] = (unsigned char)v;
}

/* Writes the newest header and dek wrapped under the newest KEK into b. */
static void
blob_wrap(unsigned char *b, const struct keyring *k,
    const unsigned char dek[DEK_LEN], const char *row_id)
{
	unsigned char ad[BLOB_AD_MAX];
	size_t adlen = 0;

	secret_current_header(k, b);
	(void)blob_wrap_ad(b, row_id, ad, &adlen);   /* callers check the id */
	aead_seal(b + BLOB_WRAP_OFF, keyring_current(k)->key, dek, DEK_LEN, ad,
	    adlen);
}

/* Checks the blob's shape and opens its data key into dek. */
static int
blob_unwrap(const struct keyring *k, const char *row_id,
    const unsigned char *b, size_t len, unsigned char dek[DEK_LEN],
    struct error *err)
{
	unsigned char ad[BLOB_AD_MAX];
	const struct kek *kek;
	size_t adlen;
	uint32_t version;

	if (k == NULL || row_id == NULL || b == NULL ||
	    len < BLOB_HEADER_LEN + AEAD_TAG ||
	    (b[0] != BLOB_FORMAT && b[0] != BLOB_FORMAT_LEGACY) ||
	    blob_wrap_ad(b, row_id, ad, &adlen) < 0) {
		error_set(err, "decrypt_failed", "", "not a secret blob");
		return -1;
	}
	version = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 8 | b[4];
	if ((kek = keyring_find(k, version)) == NULL) {
		error_set(err, "decrypt_failed", "", "key version %u is not in "
		    "the keyring", version);
		return -1;
	}
	if (aead_open(dek, kek->key, b + BLOB_WRAP_OFF, DEK_LEN + AEAD_TAG, ad,
	    adlen) != 0) {
		error_set(err, "decrypt_failed", "", "the data key does not open "
		    "(wrong row or key, or tampered)");
		return -1;
	}
	return 0;
}

/* Opens the value of a blob whose data key is dek; *out malloc'd. */
static int
blob_open_value(const unsigned char dek[DEK_LEN], const char *row_id,
    const unsigned char *b, size_t len, unsigned char **out, size_t *outlen,
    struct error *err)
{
	*outlen = len - BLOB_HEADER_LEN - AEAD_TAG;
	/* +1 so an empty value still gets a real allocation. */
	if ((*out = malloc(*outlen + 1)) == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	if (aead_open(*out, dek, b + BLOB_VALUE_OFF, *outlen + AEAD_TAG,
	    (const unsigned char *)row_id, strlen(row_id)) != 0) {
		crypto_free_secret(*out, *outlen + 1);
		*out = NULL;
		error_set(err, "decrypt_failed", "", "the value does not open "
		    "(wrong row, or tampered)");
		return -1;
	}
	return 0;
}

int
secret_encrypt(const struct keyring *k, const char *row_id,
    const void *pt, size_t len, unsigned char **out, size_t *outlen,
    struct error *err)
{
	unsigned char dek[DEK_LEN], *b;

	*out = NULL;
	if (k == NULL || k->n == 0 || row_id == NULL ||
	    strlen(row_id) > ROW_ID_MAX || len > SECRET_MAX) {
		error_set(err, "encrypt_failed", "", "no key, no row id, or value too large");
		return -1;
	}
	*outlen = BLOB_HEADER_LEN + len + AEAD_TAG;
	if ((b = malloc(*outlen)) == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	crypto_aead_xchacha20poly1305_ietf_keygen(dek);
	blob_wrap(b, k, dek, row_id);
	aead_seal(b + BLOB_VALUE_OFF, dek, pt, len, (const unsigned char *)row_id,
	    strlen(row_id));
	sodium_memzero(dek, sizeof(dek));
	*out = b;
	return 0;
}

int
secret_decrypt(const struct keyring *k, const char *row_id,
    const void *blob, size_t len, unsigned char **out, size_t *outlen,
    struct error *err)
{
	unsigned char dek[DEK_LEN];
	int rc;

	*out = NULL;
	if (blob_unwrap(k, row_id, blob, len, dek, err) < 0)
		return -1;
	rc = blob_open_value(dek, row_id, blob, len, out, outlen, err);
	sodium_memzero(dek, sizeof(dek));
	return rc;
}

/* The re-wrapped copy of a blob whose data key is dek, or NULL. */
static unsigned char *
blob_rewrapped(const struct keyring *k, const char *row_id,
    const unsigned char *b, size_t len, const unsigned char dek[DEK_LEN],
    struct error *err)
{
	unsigned char *nb;

	if ((nb = malloc(len)) == NULL) {
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	/* The value keeps its bytes: its associated data is the row id alone. */
	memcpy(nb, b, len);
	blob_wrap(nb, k, dek, row_id);
	return nb;
}

int
secret_rewrap(const struct keyring *k, const char *row_id, const void *blob,
    size_t len, unsigned char **out, struct error *err)
{
	unsigned char dek[DEK_LEN], hdr[SECRET_HEADER_LEN], *pt;
	size_t ptlen;
	int rc;

	*out = NULL;
	if (blob_unwrap(k, row_id, blob, len, dek, err) < 0)
		return -1;
	/* Open the value too: a re-wrap that succeeds means the row reads. */
	if ((rc = blob_open_value(dek, row_id, blob, len, &pt, &ptlen, err)) == 0) {
		crypto_free_secret(pt, ptlen + 1);
		secret_current_header(k, hdr);
		if (memcmp(blob, hdr, sizeof(hdr)) == 0)
			rc = 1;
		else if ((*out = blob_rewrapped(k, row_id, blob, len, dek, err)) == NULL)
			rc = -1;
	}
	sodium_memzero(dek, sizeof(dek));
	return rc;
}
