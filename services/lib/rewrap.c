/*
 * rewrap.c: the passes of `<service> rewrap` (rewrap.h); what a row is and
 * how it is locked belongs to the service.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rewrap.h"
#include "store.h"

#define REWRAP_PAUSE_NS (200 * 1000 * 1000L)

struct rewrap_tx {
	const struct rewrap_ops *ops;
	struct rewrap_batch *b;
};

static int
rewrap_batch_tx(struct store *s, void *arg, struct error *err)
{
	struct rewrap_tx *t = arg;

	t->b->seen = 0;
	t->b->rewrapped = t->b->failed = 0;
	return t->ops->batch(s, t->b, err);
}

/* One pass over the stale rows in cursor order; st->failed counts this pass's. */
static int
rewrap_pass(struct store *s, const struct rewrap_ops *ops,
    struct rewrap_batch *b, struct rewrap_stats *st, struct error *err)
{
	struct rewrap_tx t = { ops, b };

	b->cursor[0] = '\0';
	st->failed = 0;
	do {
		if (store_tx(s, rewrap_batch_tx, &t, err) < 0)
			return -1;
		st->rewrapped += b->rewrapped;
		st->failed += b->failed;
	} while (b->seen == REWRAP_BATCH);
	return 0;
}

int
rewrap_run(struct store *s, const struct keyring *k,
    const struct rewrap_ops *ops, struct rewrap_stats *st, struct error *err)
{
	static const struct timespec pause = { 0, REWRAP_PAUSE_NS };
	struct rewrap_batch b;
	long current;
	int pass;

	memset(st, 0, sizeof(*st));
	memset(&b, 0, sizeof(b));
	b.k = k;
	secret_current_header(k, b.hdr);
	st->version = keyring_newest(k);
	if (ops->census(s, b.hdr, sizeof(b.hdr), &st->current, &st->left,
	    err) < 0)
		return -1;
	for (pass = 0; pass < REWRAP_PASSES && st->left > st->failed; pass++) {
		/* Rows skipped as locked: give their transactions time to end. */
		if (pass > 0)
			nanosleep(&pause, NULL);
		if (rewrap_pass(s, ops, &b, st, err) < 0 ||
		    ops->census(s, b.hdr, sizeof(b.hdr), &current, &st->left,
		    err) < 0)
			return -1;
	}
	return 0;
}

int
rewrap_report(const char *service, const struct rewrap_stats *st)
{
	printf("%s rewrap: %ld re-wrapped, %ld already current, %ld failed, "
	    "%ld left under an older key (newest KEK version %u)\n", service,
	    st->rewrapped, st->current, st->failed, st->left, st->version);
	fflush(stdout);
	if (st->failed > 0)
		fprintf(stderr, "%s rewrap: %ld row(s) do not open with this "
		    "keyring (their ids are logged above): keep their KEK version "
		    "in the file\n", service, st->failed);
	else if (st->left > 0)
		fprintf(stderr, "%s rewrap: %ld row(s) were locked or written "
		    "under an older KEK meanwhile (is every %s reloaded?): run "
		    "rewrap again\n", service, st->left, service);
	return st->failed == 0 && st->left == 0 ? 0 : 1;
}
