/*
 * sqlarray.h: Postgres array literals ("{\"a\",NULL,\"\\\\x0a\"}") built in
 * memory, to pass a whole batch's column as ONE text parameter of a
 * prepared statement (... FROM unnest($1::text[], $2::bytea[]) ...): one
 * round trip and one statement text whatever the batch's size.
 *
 * Every element is quoted and escaped, so any string is safe; a NULL
 * pointer is SQL NULL. Out of memory is sticky: sqlarray_finish then
 * returns NULL.
 */
#ifndef SLIPWAY_SQLARRAY_H
#define SLIPWAY_SQLARRAY_H

#include <stddef.h>

struct sqlarray {
	char *s;         /* the literal so far, NUL-terminated */
	size_t len, cap;
	size_t n;        /* elements added */
	int failed;      /* out of memory: the literal is unusable */
};

void sqlarray_init(struct sqlarray *a);
/* Appends a text element (NULL: SQL NULL). */
void sqlarray_text(struct sqlarray *a, const char *v);
/* Appends a bytea element in hex input form (NULL: SQL NULL). */
void sqlarray_bytes(struct sqlarray *a, const void *v, size_t len);
/* Appends an integer element. */
void sqlarray_int(struct sqlarray *a, long long v);
/*
 * The finished literal, valid until sqlarray_free; NULL when memory ran
 * short on the way.
 */
const char *sqlarray_finish(struct sqlarray *a);
void sqlarray_free(struct sqlarray *a);

/*
 * The other half of such a statement: marks[i] = 1 for the first place i
 * of each key that column col of r's rows (its RETURNING list) holds; a
 * later place of the same key is a duplicate of the first and stays 0.
 * nocase compares ASCII letters either case (a uuid Postgres writes in
 * lower case, ours in either). -1 when memory is short. Callers zero marks.
 */
struct store_result;
int sqlarray_mark_returned(const struct store_result *r, int col,
    const char *const *keys, size_t n, int nocase, int *marks);

#endif
