/*
 * rewrap.h: `<service> rewrap`, moving a service's secrets at rest under the
 * newest KEK of its keyring, online, while the service runs.
 *
 * A secret is stale when its blob does not start with the newest header
 * (format and KEK version, crypto.h). The service says how to count and
 * lock its rows (struct rewrap_ops); this module runs the passes: each
 * batch is its own transaction that locks up to REWRAP_BATCH stale rows
 * after the previous batch's cursor FOR UPDATE SKIP LOCKED, re-wraps them
 * and commits. A row the service holds at that moment is skipped rather
 * than waited for, so a pass may leave stale rows that did not fail; then
 * another pass follows, up to REWRAP_PASSES. Only the header and the
 * wrapped data key change, so a concurrent reader opens the old blob or the
 * new one with the same keyring.
 */
#ifndef SLIPWAY_REWRAP_H
#define SLIPWAY_REWRAP_H

#include <stddef.h>
#include <stdint.h>
#include "crypto.h"
#include "error.h"

struct store;

#define REWRAP_BATCH 100
#define REWRAP_PASSES 5
#define REWRAP_CURSOR_MAX 256

struct rewrap_stats {
	uint32_t version;   /* the newest KEK version, the one wrapped under */
	long rewrapped;     /* rows this run moved to it */
	long current;       /* rows already under it when the run began */
	long failed;        /* rows whose secret does not open (ids logged) */
	long left;          /* rows under an older key at the end, failed included */
};

/* One batch, inside its transaction: what the service's batch fills in. */
struct rewrap_batch {
	const struct keyring *k;
	unsigned char hdr[SECRET_HEADER_LEN];
	char cursor[REWRAP_CURSOR_MAX];   /* "" at the start of a pass */
	size_t seen;                      /* rows locked by this batch */
	long rewrapped;
	long failed;
};

struct rewrap_ops {
	/* Rows whose every secret is under hdr (current), and the others. */
	int (*census)(struct store *s, const unsigned char *hdr, size_t hlen,
	    long *current, long *stale, struct error *err);
	/*
	 * Locks up to REWRAP_BATCH stale rows after b->cursor, re-wraps each
	 * (one that does not open is counted in b->failed, named in the log,
	 * and left as it is), writes them back and moves b->cursor to the
	 * last. -1 only on a database error.
	 */
	int (*batch)(struct store *s, struct rewrap_batch *b, struct error *err);
};

/* Re-wraps every stale row, batch by batch; -1 only on a database error. */
int rewrap_run(struct store *s, const struct keyring *k,
    const struct rewrap_ops *ops, struct rewrap_stats *st, struct error *err);
/* Prints the outcome for service; the exit status: 0 when nothing is left. */
int rewrap_report(const char *service, const struct rewrap_stats *st);
/*
 * The whole `<service> rewrap` command against schema of the database at
 * pg_url with the keyring file kek_file: runs, prints, returns the exit
 * status (fatal on a database error; the batches committed stay re-wrapped).
 */
int rewrap_main(const char *service, const char *pg_url, const char *schema,
    const char *kek_file, const struct rewrap_ops *ops);

struct event_base;
struct event;
/*
 * Reloads *k from path on SIGHUP, so new secrets are wrapped under a new
 * KEK version without a restart; a file that does not load changes
 * nothing. The event is the caller's to free.
 */
struct event *rewrap_keyring_on_sighup(struct event_base *base,
    const char *path, struct keyring **k);

#endif
