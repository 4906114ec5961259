/*
 * dedup.c: processed-event records. The primary key on event_id does the
 * work: a second insert of the same id affects no row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "sqlarray.h"
#include "store.h"

const char dedup_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS processed_events ("
    " event_id text PRIMARY KEY, consumer text NOT NULL,"
    " processed_at timestamptz NOT NULL DEFAULT now());";

const char dedup_index_sql[] =
    "CREATE INDEX IF NOT EXISTS processed_events_at ON processed_events "
    "(processed_at);";

int
dedup_claim(struct store *s, const char *event_id, const char *consumer,
    struct error *err)
{
	const char *vals[2] = { event_id, consumer };
	struct store_result *r;
	long n;

	if (event_id == 0 || *event_id == '\0') {
		error_set(err, "bad_event", "event_id", "event without an id");
		return -1;
	}
	if (store_exec(s, &r, "INSERT INTO processed_events (event_id, consumer) "
	    "VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING", 2, vals, NULL,
	    err) == -1)
		return -1;
	n = store_result_affected(r);
	store_result_free(r);
	return n > 0 ? 1 : 0;
}

int
dedup_claim_many(struct store *s, const char *const *event_ids, size_t n,
    const char *consumer, int *fresh, size_t *bad, struct error *err)
{
	struct sqlarray ids;
	struct store_result *r;
	const char *vals[2];
	int rc = -1;

	*bad = n;
	for (size_t i = 0; i < n; i++) {
		fresh[i] = 0;
		if (event_ids[i] == NULL || *event_ids[i] == '\0') {
			*bad = i;
			error_set(err, "bad_event", "event_id", "event without an id");
			return -1;
		}
	}
	if (n == 0)
		return 0;
	sqlarray_init(&ids);
	for (size_t i = 0; i < n; i++)
		sqlarray_text(&ids, event_ids[i]);
	vals[0] = sqlarray_finish(&ids);
	vals[1] = consumer;
	if (vals[0] == NULL)
		error_set(err, "internal", "", "out of memory");
	else if (store_exec(s, &r, "INSERT INTO processed_events (event_id, "
	    "consumer) SELECT e, $2 FROM unnest($1::text[]) AS e "
	    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id", 2, vals,
	    NULL, err) == 0) {
		/* A second place of an id in the batch repeats the first. */
		rc = sqlarray_mark_returned(r, 0, event_ids, n, 0, fresh);
		if (rc == -1)
			error_set(err, "internal", "", "out of memory");
		store_result_free(r);
	}
	sqlarray_free(&ids);
	return rc;
}

long
dedup_purge(struct store *s, long retention_s, struct error *err)
{
	char secs[24], lim[16];
	const char *vals[2] = { secs, lim };
	struct store_result *r;
	long n;

	snprintf(secs, sizeof(secs), "%ld", retention_s);
	snprintf(lim, sizeof(lim), "%d", DEDUP_PURGE_BATCH);
	/* Oldest first, by the index; a batch at a time keeps each short. */
	if (store_exec(s, &r, "DELETE FROM processed_events WHERE event_id IN "
	    "(SELECT event_id FROM processed_events WHERE processed_at < now() - "
	    "$1::bigint * interval '1 second' ORDER BY processed_at LIMIT "
	    "$2::integer)", 2, vals, NULL, err) == -1)
		return -1;
	n = store_result_affected(r);
	store_result_free(r);
	return n;
}
