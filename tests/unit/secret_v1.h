/*
 * secret_v1.h: writes a secret blob in format 1, the layout rows written
 * before the KEK version was authenticated still have (crypto.h): the same
 * bytes as format 2, but the data key's wrap has the row id alone as its
 * associated data. Built here from libsodium, not from crypto.c, so the
 * tests pin the old format itself.
 */
#ifndef SLIPWAY_TEST_SECRET_V1_H
#define SLIPWAY_TEST_SECRET_V1_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define V1_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define V1_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define V1_DEK crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define V1_VALUE_OFF (5 + V1_NONCE + V1_DEK + V1_TAG)

/* AEAD of pt under key with the row id as associated data, into out. */
static void
v1_seal(unsigned char *out, const unsigned char *key, const void *pt,
    size_t len, const char *row_id)
{
	randombytes_buf(out, V1_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + V1_NONCE, NULL, pt, len,
	    (const unsigned char *)row_id, strlen(row_id), NULL, out, key);
}

/* A format-1 blob of pt for row_id under the 32-byte kek of that version. */
static unsigned char *
secret_v1_blob(const unsigned char kek[32], uint32_t version,
    const char *row_id, const void *pt, size_t len, size_t *outlen)
{
	unsigned char dek[V1_DEK], *b;

	*outlen = V1_VALUE_OFF + V1_NONCE + len + V1_TAG;
	if ((b = malloc(*outlen)) == NULL)
		return NULL;
	b[0] = 0x01;
	b[1] = (unsigned char)(version >> 24);
	b[2] = (unsigned char)(version >> 16);
	b[3] = (unsigned char)(version >> 8);
	b[4] = (unsigned char)version;
	crypto_aead_xchacha20poly1305_ietf_keygen(dek);
	v1_seal(b + 5, kek, dek, sizeof(dek), row_id);
	v1_seal(b + V1_VALUE_OFF, dek, pt, len, row_id);
	sodium_memzero(dek, sizeof(dek));
	return b;
}

#endif
