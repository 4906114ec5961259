/*
 * signing.h: signed webhooks, the Standard Webhooks scheme
 * (https://www.standardwebhooks.com), and how a CI token's signing secret
 * is kept.
 *
 * A signed call carries three headers:
 *   webhook-id: <message id>
 *   webhook-timestamp: <Unix seconds>
 *   webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">
 * with the key = the base64-decoded part of the secret "whsec_<base64>".
 * The signature header may list several space-separated signatures (a
 * sender rotating its secret signs with both); one match is enough, and
 * entries of other versions are ignored.
 *
 * Keeping the secret: the webhook must verify, so it must read the secret;
 * component-svc shows it once and stores it only sealed. The sealing key is
 * derived from the CI token itself (keyed BLAKE2b, a function unrelated to
 * the SHA-256 that is stored), and the token is stored only as that hash:
 * so the box in Postgres and in Redis is useless to a reader of either, and
 * only a caller presenting the token lets the webhook open it. The token id is the associated data, so a box cannot be moved
 * to another token's row. The trade-off, chosen over a key of the
 * webhook's own: no new key to distribute and rotate between component-svc
 * and every webhook replica, at the price that a thief with BOTH the token
 * and read access to Postgres or Redis can open the box (with the token
 * alone he still cannot sign).
 */
#ifndef SLIPWAY_SIGNING_H
#define SLIPWAY_SIGNING_H

#include <stddef.h>
#include "error.h"

#define SIGNING_TOLERANCE_S  300    /* a timestamp further off is expired */
#define SIGNING_KEY_BYTES    32     /* what component-svc issues */
#define SIGNING_KEY_MIN      24     /* what a "whsec_" secret may decode to */
#define SIGNING_KEY_MAX      64
#define SIGNING_SECRET_MAX   94     /* "whsec_" + base64 of 64 bytes */
#define SIGNING_SIG_LEN      47     /* "v1," + base64 of 32 bytes */
#define SIGNING_ID_MAX       256    /* webhook-id: printable ASCII, no space */
#define SIGNING_TIMESTAMP_MAX 18    /* digits: no overflow of a long long */
#define SIGNING_HEADER_MAX   4096   /* webhook-signature */
#define SIGNING_WRAP_LEN     32
#define SIGNING_BOX_MAX      160    /* base64 of nonce + sealed key + tag */

struct signing_key {
	unsigned char bytes[SIGNING_KEY_MAX];
	size_t len;
};

/* The three headers of a call, NULL when absent (valid during the call). */
struct signing_headers {
	const char *id;
	const char *timestamp;
	const char *signature;
};

/* A fresh secret: SIGNING_KEY_BYTES random bytes, and "whsec_<base64>". */
void signing_secret_generate(struct signing_key *key,
    char text[SIGNING_SECRET_MAX + 1]);
/* "whsec_<base64 of 24 to 64 bytes>" into key; -1 when malformed. */
int signing_secret_decode(const char *text, struct signing_key *key);
/* Zeroes a key (call it on every copy before it goes out of scope). */
void signing_key_wipe(struct signing_key *key);

/* "v1,<base64>" of id.timestamp.body; -1 on a library failure. */
int signing_sign(const struct signing_key *key, const char *id,
    const char *timestamp, const void *body, size_t len,
    char out[SIGNING_SIG_LEN + 1]);
/*
 * Verifies a call against key at now_s (Unix seconds). 0 when one v1
 * signature matches (compared in constant time); else -1 with err code
 * "signature_required" (a header is missing), "signature_expired" (the
 * timestamp is more than SIGNING_TOLERANCE_S away from now_s) or
 * "bad_signature" (a malformed header, or no signature matches).
 */
int signing_verify(const struct signing_key *key,
    const struct signing_headers *h, const void *body, size_t len,
    long long now_s, struct error *err);

/* The key that seals a token's secret, derived from the token's value. */
void signing_wrap_key(const char *token, size_t len,
    unsigned char out[SIGNING_WRAP_LEN]);
/* Seals key for the token token_id: base64 text into box; -1 if no room. */
int signing_seal(const unsigned char wrap[SIGNING_WRAP_LEN],
    const char *token_id, const struct signing_key *key, char *box,
    size_t boxlen);
/* Opens a box made by signing_seal; -1 on a wrong token, id or tampering. */
int signing_open(const unsigned char wrap[SIGNING_WRAP_LEN],
    const char *token_id, const char *box, struct signing_key *key);

#endif
