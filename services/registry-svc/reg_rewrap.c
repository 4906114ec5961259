/*
 * reg_rewrap.c: `registry-svc rewrap`: moves every registry's data key under
 * the newest KEK of the keyring (lib rewrap.h runs the passes). A row is a
 * registry, its cursor the registry id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "registry.h"
#include "crypto.h"

#define REWRAP_ID_FIRST "00000000-0000-0000-0000-000000000000"

/*
 * Re-wraps one row and writes it back. A row that does not open is counted
 * and named in the log (never its secret), and the batch goes on.
 */
static int
reg_rewrap_row(struct store *s, struct rewrap_batch *b,
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
reg_rewrap_batch(struct store *s, struct rewrap_batch *b, struct error *err)
{
	struct reg_row *rows;
	size_t n, i;
	int rc = 0;

	if (reg_store_stale_lock(s, b->hdr, sizeof(b->hdr), b->cursor[0] ?
	    b->cursor : REWRAP_ID_FIRST, REWRAP_BATCH, &rows, &n, err) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++)
		rc = reg_rewrap_row(s, b, &rows[i], err);
	if (n > 0)
		snprintf(b->cursor, sizeof(b->cursor), "%s", rows[n - 1].id);
	b->seen = n;
	reg_store_rows_free(rows, n);
	return rc;
}

const struct rewrap_ops reg_rewrap_ops = { reg_store_secret_census,
	reg_rewrap_batch };

int
reg_rewrap_run(struct store *s, const struct keyring *k,
    struct rewrap_stats *st, struct error *err)
{
	return rewrap_run(s, k, &reg_rewrap_ops, st, err);
}
