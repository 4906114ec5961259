/*
 * dedup.c: processed-event records. The primary key on event_id does the
 * work: a second insert of the same id affects no row.
 */
#include "dedup.h"
#include "store.h"

const char dedup_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS processed_events ("
    " event_id text PRIMARY KEY, consumer text NOT NULL,"
    " processed_at timestamptz NOT NULL DEFAULT now());";

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
