/*
 * reg_rewrap.c: `registry-svc rewrap`: moves every registry's data key under
 * the newest KEK of the keyring, online, while registry-svc runs.
 *
 * A row is stale when its secret does not start with the newest header
 * (format and KEK version, see crypto.h). Each batch is its own transaction:
 * it locks up to REWRAP_BATCH stale rows after the previous batch's last id
 * FOR UPDATE SKIP LOCKED, re-wraps them and commits. A row the service holds
 * at that moment (sealing to a new data plane, a delete) is skipped rather
 * than waited for, so a pass may leave stale rows that did not fail; then
 * another pass follows, up to REWRAP_PASSES. Only the header and the wrapped
 * data key change, so a concurrent reader opens the old blob or the new one
 * with the same keyring.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "registry.h"
#include "crypto.h"

#define REWRAP_BATCH 100
#define REWRAP_PASSES 5
#define REWRAP_PAUSE_NS (200 * 1000 * 1000L)
#define REWRAP_ID_FIRST "00000000-0000-0000-0000-000000000000"

/* One batch's state: the cursor carries over, the counts are the batch's. */
struct reg_rewrap_batch {
	const struct keyring *k;
	unsigned char hdr[SECRET_HEADER_LEN];
	char after[37];
	size_t seen;
	long rewrapped;
	long failed;
};

/*
 * Re-wraps one row and writes it back. A row that does not open is counted
 * and named in the log (never its secret), and the batch goes on.
 */
static int
reg_rewrap_row(struct store *s, struct reg_rewrap_batch *b,
    const struct reg_row *row, struct error *err)
{
	unsigned char *blob = NULL;
	struct error why;
	int rc;

	error_clear(&why);
	rc = row->secret == NULL ? -1 : secret_rewrap(b->k, row->id,
	    row->secret, row->secret_len, &blob, &why);
	if (rc < 0) {
		log_ctx_set("registry_id", row->id);
		log_warnx("registry %s: its secret does not open, it keeps its "
		    "old key: %s", row->id, row->secret == NULL ?
		    "the stored secret is not bytea" : why.msg);
		log_ctx_unset("registry_id");
		b->failed++;
		return 0;
	}
	if (rc == 1)
		return 0;   /* current: another rewrap committed it meanwhile */
	rc = reg_store_secret_set(s, row->id, blob, row->secret_len, err);
	free(blob);
	b->rewrapped += rc == 0;
	return rc;
}

static int
reg_rewrap_batch_tx(struct store *s, void *arg, struct error *err)
{
	struct reg_rewrap_batch *b = arg;
	struct reg_row *rows;
	size_t n, i;
	int rc = 0;

	b->seen = 0;
	b->rewrapped = b->failed = 0;
	if (reg_store_stale_lock(s, b->hdr, sizeof(b->hdr), b->after,
	    REWRAP_BATCH, &rows, &n, err) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++)
		rc = reg_rewrap_row(s, b, &rows[i], err);
	if (n > 0)
		snprintf(b->after, sizeof(b->after), "%s", rows[n - 1].id);
	b->seen = n;
	reg_store_rows_free(rows, n);
	return rc;
}

/* One pass over the stale rows in id order; st->failed counts this pass's. */
static int
reg_rewrap_pass(struct store *s, struct reg_rewrap_batch *b,
    struct reg_rewrap_stats *st, struct error *err)
{
	snprintf(b->after, sizeof(b->after), "%s", REWRAP_ID_FIRST);
	st->failed = 0;
	do {
		if (store_tx(s, reg_rewrap_batch_tx, b, err) < 0)
			return -1;
		st->rewrapped += b->rewrapped;
		st->failed += b->failed;
	} while (b->seen == REWRAP_BATCH);
	return 0;
}

int
reg_rewrap_run(struct store *s, const struct keyring *k,
    struct reg_rewrap_stats *st, struct error *err)
{
	static const struct timespec pause = { 0, REWRAP_PAUSE_NS };
	struct reg_rewrap_batch b;
	long current;
	int pass;

	memset(st, 0, sizeof(*st));
	memset(&b, 0, sizeof(b));
	b.k = k;
	secret_current_header(k, b.hdr);
	st->version = keyring_newest(k);
	if (reg_store_secret_census(s, b.hdr, sizeof(b.hdr), &st->current,
	    &st->left, err) < 0)
		return -1;
	for (pass = 0; pass < REWRAP_PASSES && st->left > st->failed; pass++) {
		/* Rows skipped as locked: give their transactions time to end. */
		if (pass > 0)
			nanosleep(&pause, NULL);
		if (reg_rewrap_pass(s, &b, st, err) < 0 ||
		    reg_store_secret_census(s, b.hdr, sizeof(b.hdr), &current,
		    &st->left, err) < 0)
			return -1;
	}
	return 0;
}
