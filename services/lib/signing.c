/*
 * signing.c: the Standard Webhooks signature (HMAC-SHA256 through
 * libsodium's crypto_auth_hmacsha256, which takes a key of any length) and
 * the sealed box a signing secret is stored in (signing.h says why).
 *
 * Box layout, base64 of: 1 byte version (1) | 24 bytes nonce |
 * XChaCha20-Poly1305 of the key bytes, associated data = the token id.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "signing.h"

#define SIGNING_PREFIX      "whsec_"
#define SIGNING_PREFIX_LEN  6
#define SIGNING_BOX_VERSION 0x01
#define SIGNING_NONCE       crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SIGNING_TAG         crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SIGNING_BOX_RAW_MAX (1 + SIGNING_NONCE + SIGNING_KEY_MAX + SIGNING_TAG)

/* Domain separation: the wrap key is no hash anyone else computes. */
static const char signing_wrap_context[] = "slipway signing-secret wrap v1";

void
signing_key_wipe(struct signing_key *key)
{
	sodium_memzero(key, sizeof(*key));
}

void
signing_secret_generate(struct signing_key *key,
    char text[SIGNING_SECRET_MAX + 1])
{
	key->len = SIGNING_KEY_BYTES;
	randombytes_buf(key->bytes, key->len);
	memcpy(text, SIGNING_PREFIX, SIGNING_PREFIX_LEN);
	sodium_bin2base64(text + SIGNING_PREFIX_LEN,
	    SIGNING_SECRET_MAX + 1 - SIGNING_PREFIX_LEN, key->bytes, key->len,
	    sodium_base64_VARIANT_ORIGINAL);
}

/* Strict standard base64 of at most max bytes; the whole text is used. */
static int
signing_b64_decode(const char *s, size_t n, unsigned char *out, size_t max,
    size_t *len)
{
	const char *end = NULL;

	if (n == 0 || n > sodium_base64_ENCODED_LEN(max,
	    sodium_base64_VARIANT_ORIGINAL) - 1)
		return -1;
	if (sodium_base642bin(out, max, s, n, NULL, len, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != s + n)
		return -1;
	return 0;
}

int
signing_secret_decode(const char *text, struct signing_key *key)
{
	memset(key, 0, sizeof(*key));
	if (text == NULL || strncmp(text, SIGNING_PREFIX, SIGNING_PREFIX_LEN) != 0 ||
	    signing_b64_decode(text + SIGNING_PREFIX_LEN,
	    strlen(text + SIGNING_PREFIX_LEN), key->bytes, sizeof(key->bytes),
	    &key->len) == -1 || key->len < SIGNING_KEY_MIN) {
		signing_key_wipe(key);
		return -1;
	}
	return 0;
}

/* The raw HMAC-SHA256 of "<id>.<timestamp>.<body>", fed in order. */
static int
signing_mac(const struct signing_key *key, const char *id, const char *ts,
    const void *body, size_t len, unsigned char mac[32])
{
	crypto_auth_hmacsha256_state st;
	int rc = 0;

	if (crypto_auth_hmacsha256_init(&st, key->bytes, key->len) != 0)
		rc = -1;
	else if (crypto_auth_hmacsha256_update(&st, (const unsigned char *)id,
	    strlen(id)) != 0 ||
	    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1) != 0 ||
	    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts,
	    strlen(ts)) != 0 ||
	    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1) != 0 ||
	    crypto_auth_hmacsha256_update(&st, body, len) != 0 ||
	    crypto_auth_hmacsha256_final(&st, mac) != 0)
		rc = -1;
	sodium_memzero(&st, sizeof(st));
	return rc;
}

int
signing_sign(const struct signing_key *key, const char *id,
    const char *timestamp, const void *body, size_t len,
    char out[SIGNING_SIG_LEN + 1])
{
	unsigned char mac[32];

	if (signing_mac(key, id, timestamp, body, len, mac) == -1)
		return -1;
	memcpy(out, "v1,", 3);
	sodium_bin2base64(out + 3, SIGNING_SIG_LEN + 1 - 3, mac, sizeof(mac),
	    sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

/* webhook-id: 1 to 256 printable ASCII characters without spaces. */
static int
signing_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > SIGNING_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f)
			return 0;
	return 1;
}

/* webhook-timestamp: decimal Unix seconds, digits only; -1 when not. */
static int
signing_timestamp_parse(const char *ts, long long *out)
{
	size_t n = strlen(ts);
	long long v = 0;

	if (n == 0 || n > SIGNING_TIMESTAMP_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (ts[i] < '0' || ts[i] > '9')
			return -1;
		v = v * 10 + (ts[i] - '0');   /* 18 digits cannot overflow */
	}
	*out = v;
	return 0;
}

/* 1 when the entry (n bytes) is "v1,<base64 of 32 bytes>" equal to mac. */
static int
signing_entry_matches(const char *e, size_t n, const unsigned char mac[32])
{
	unsigned char sig[32];
	size_t len = 0;
	int ok;

	if (n < 3 || memcmp(e, "v1,", 3) != 0 ||
	    signing_b64_decode(e + 3, n - 3, sig, sizeof(sig), &len) == -1 ||
	    len != sizeof(sig))
		return 0;
	ok = crypto_verify_32(sig, mac) == 0;
	sodium_memzero(sig, sizeof(sig));
	return ok;
}

/* Walks the space-separated list; 1 when one entry matches. */
static int
signing_list_matches(const char *list, const unsigned char mac[32])
{
	const char *p = list;

	while (*p != '\0') {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n > 0 && signing_entry_matches(p, n, mac))
			return 1;
		p += n;
	}
	return 0;
}

/* The headers are there and well-formed; *ts gets the timestamp. */
static int
signing_headers_check(const struct signing_headers *h, long long *ts,
    struct error *err)
{
	if (h->id == NULL || h->timestamp == NULL || h->signature == NULL) {
		error_set(err, "signature_required", "webhook-signature",
		    "this token requires signed calls: webhook-id, "
		    "webhook-timestamp and webhook-signature headers");
		return -1;
	}
	if (!signing_id_valid(h->id)) {
		error_set(err, "bad_signature", "webhook-id", "webhook-id must be "
		    "1 to %d printable characters without spaces", SIGNING_ID_MAX);
		return -1;
	}
	if (signing_timestamp_parse(h->timestamp, ts) == -1) {
		error_set(err, "bad_signature", "webhook-timestamp",
		    "webhook-timestamp must be Unix seconds");
		return -1;
	}
	if (strlen(h->signature) > SIGNING_HEADER_MAX) {
		error_set(err, "bad_signature", "webhook-signature",
		    "webhook-signature over %d bytes", SIGNING_HEADER_MAX);
		return -1;
	}
	return 0;
}

int
signing_verify(const struct signing_key *key,
    const struct signing_headers *h, const void *body, size_t len,
    long long now_s, struct error *err)
{
	unsigned char mac[32];
	long long ts;
	int ok;

	if (signing_headers_check(h, &ts, err) == -1)
		return -1;
	if (ts < now_s - SIGNING_TOLERANCE_S || ts > now_s + SIGNING_TOLERANCE_S) {
		error_set(err, "signature_expired", "webhook-timestamp",
		    "webhook-timestamp is more than %d s away from the server's "
		    "clock", SIGNING_TOLERANCE_S);
		return -1;
	}
	if (signing_mac(key, h->id, h->timestamp, body, len, mac) == -1) {
		error_set(err, "bad_signature", "webhook-signature",
		    "signature cannot be computed");
		return -1;
	}
	ok = signing_list_matches(h->signature, mac);
	sodium_memzero(mac, sizeof(mac));
	if (!ok) {
		error_set(err, "bad_signature", "webhook-signature",
		    "no v1 signature in webhook-signature matches");
		return -1;
	}
	return 0;
}

void
signing_wrap_key(const char *token, size_t len,
    unsigned char out[SIGNING_WRAP_LEN])
{
	crypto_generichash(out, SIGNING_WRAP_LEN, (const unsigned char *)token,
	    len, (const unsigned char *)signing_wrap_context,
	    sizeof(signing_wrap_context) - 1);
}

int
signing_seal(const unsigned char wrap[SIGNING_WRAP_LEN],
    const char *token_id, const struct signing_key *key, char *box,
    size_t boxlen)
{
	unsigned char raw[SIGNING_BOX_RAW_MAX];
	unsigned long long clen = 0;
	size_t n;

	if (key->len < SIGNING_KEY_MIN || key->len > SIGNING_KEY_MAX)
		return -1;
	raw[0] = SIGNING_BOX_VERSION;
	randombytes_buf(raw + 1, SIGNING_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(raw + 1 + SIGNING_NONCE, &clen,
	    key->bytes, key->len, (const unsigned char *)token_id,
	    strlen(token_id), NULL, raw + 1, wrap);
	n = 1 + SIGNING_NONCE + (size_t)clen;
	if (sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) > boxlen)
		return -1;
	sodium_bin2base64(box, boxlen, raw, n, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

int
signing_open(const unsigned char wrap[SIGNING_WRAP_LEN],
    const char *token_id, const char *box, struct signing_key *key)
{
	unsigned char raw[SIGNING_BOX_RAW_MAX];
	unsigned long long mlen = 0;
	size_t n = 0;

	memset(key, 0, sizeof(*key));
	if (box == NULL || signing_b64_decode(box, strlen(box), raw, sizeof(raw),
	    &n) == -1 || n < 1 + SIGNING_NONCE + SIGNING_TAG + SIGNING_KEY_MIN ||
	    raw[0] != SIGNING_BOX_VERSION)
		return -1;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key->bytes, &mlen, NULL,
	    raw + 1 + SIGNING_NONCE, n - 1 - SIGNING_NONCE,
	    (const unsigned char *)token_id, strlen(token_id), raw + 1,
	    wrap) != 0) {
		signing_key_wipe(key);
		return -1;
	}
	key->len = (size_t)mlen;
	return 0;
}
