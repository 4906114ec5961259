/*
 * crypto.h: libsodium helpers — ids, CI tokens, hashes, sealing, and the
 * envelope encryption of secrets at rest.
 */
#ifndef SLIPWAY_CRYPTO_H
#define SLIPWAY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

/* Must be called once before anything else here; fatal on failure. */
void crypto_init(void);

/* Random UUID v4, lower-case, 36 chars + NUL. */
void crypto_uuid(char out[37]);
/* 1 when s is a UUID in canonical 8-4-4-4-12 hex form. */
int crypto_uuid_valid(const char *s);

/*
 * CI tokens: "slp_" + 32 random base62 chars + 6 base62 chars of the CRC32
 * of the random part (42 chars). The checksum lets the ingress reject garbage
 * without a lookup.
 */
#define TOKEN_LEN 42
#define TOKEN_PREFIX_LEN 8   /* "slp_" + 4: shown in listings */
void token_generate(char out[TOKEN_LEN + 1]);
/* 1 when tok has the right shape and checksum. */
int token_format_valid(const char *tok, size_t len);
/*
 * The same shape under another 4-character prefix (org keys: "slk_", lib
 * apikey.h); prefix must be exactly 4 characters (fatal otherwise when
 * generating, never valid when checking).
 */
void token_generate_prefixed(const char *prefix, char out[TOKEN_LEN + 1]);
int token_format_valid_prefixed(const char *prefix, const char *tok, size_t len);

/* Hex SHA-256 (64 chars + NUL). */
void crypto_sha256_hex(const void *data, size_t len, char out[65]);
/* Constant-time comparison of equal-length buffers; 1 when equal. */
int crypto_equal(const void *a, const void *b, size_t len);

/* Standard base64 (with padding). malloc'd results; caller frees. */
char *crypto_b64_encode(const void *data, size_t len);
unsigned char *crypto_b64_decode(const char *s, size_t *len);

/* crypto_box keypairs for data planes (32-byte keys). */
#define CRYPTO_PK_LEN 32
#define CRYPTO_SK_LEN 32
void crypto_box_keygen(unsigned char pk[CRYPTO_PK_LEN], unsigned char sk[CRYPTO_SK_LEN]);
/* Anonymous sealing to a public key; out malloc'd (len + 48). */
int crypto_seal(const unsigned char pk[CRYPTO_PK_LEN], const void *msg,
    size_t len, unsigned char **out, size_t *outlen);
int crypto_seal_open(const unsigned char pk[CRYPTO_PK_LEN],
    const unsigned char sk[CRYPTO_SK_LEN], const void *c, size_t clen,
    unsigned char **out, size_t *outlen);

/*
 * Key files (the KEK keyring, a data plane's keypair) must be private: owned
 * by this process's user with no permission for group or others (0600, 0400),
 * or owned by root with at most read for the group (0640, 0440: what
 * Kubernetes makes of a secret volume with an fsGroup). Opens path for
 * reading and returns the descriptor, or -1 with err (code "invalid_key_file"
 * when it cannot be read, "insecure_key_file" when others may read or change
 * it).
 */
int crypto_key_file_open(const char *path, struct error *err);

/*
 * Secrets at rest: each value gets a fresh data key; the value is encrypted
 * with XChaCha20-Poly1305 under the data key, and the data key is wrapped by
 * the newest key-encryption key (KEK) of the keyring. The blob:
 *
 *   [0]       format: 2 (1: written before the KEK version was authenticated)
 *   [1..4]    KEK version, big-endian
 *   [5..76]   wrapped data key: nonce (24) || ciphertext (32) || tag (16)
 *   [77..]    value: nonce (24) || ciphertext (len) || tag (16)
 *
 * Associated data: the wrap is bound to bytes [0..4] followed by the row id
 * (format 1: the row id alone), so neither the format nor the version can be
 * changed and the blob cannot move to another row; the value is bound to the
 * row id in both formats, so a re-wrap rewrites bytes [0..76] only.
 *
 * Keyring file: one KEK per line, "<version>:<base64 32 bytes>"; the highest
 * version encrypts, any listed version decrypts. The file must pass
 * crypto_key_file_open.
 */
#define SECRET_HEADER_LEN 5
struct keyring;
struct keyring *keyring_load(const char *path, struct error *err);
void keyring_free(struct keyring *k);
/* The version that encrypts: the highest one listed. */
uint32_t keyring_newest(const struct keyring *k);
/* Writes a new keyring file with one random KEK (version 1), mode 0600. */
int keyring_generate(const char *path, struct error *err);
int secret_encrypt(const struct keyring *k, const char *row_id,
    const void *pt, size_t len, unsigned char **out, size_t *outlen,
    struct error *err);
/*
 * Fails (err code "decrypt_failed") on a wrong row id, key or tampering, or a
 * KEK version the keyring does not list (the message says which).
 */
int secret_decrypt(const struct keyring *k, const char *row_id,
    const void *blob, size_t len, unsigned char **out, size_t *outlen,
    struct error *err);
/* The first bytes of every blob in the newest format under the newest KEK. */
void secret_current_header(const struct keyring *k,
    unsigned char out[SECRET_HEADER_LEN]);
/*
 * Re-wraps the blob's data key under the newest KEK in the newest format,
 * after checking that the whole secret opens. Returns 1 when the blob is
 * already current (*out NULL), 0 with *out (malloc'd, len bytes) when it was
 * re-wrapped, -1 with err as secret_decrypt when it does not open.
 */
int secret_rewrap(const struct keyring *k, const char *row_id,
    const void *blob, size_t len, unsigned char **out, struct error *err);
/* Zeroes and frees a secret buffer. */
void crypto_free_secret(void *p, size_t len);

#endif
