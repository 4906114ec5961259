/*
 * sqlarray.c: Postgres array literals for unnest() batches (sqlarray.h).
 * Array input syntax: elements between braces, separated by commas; inside
 * double quotes a backslash escapes the next character.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlarray.h"
#include "store.h"

/* Room for n more bytes and the NUL; 0, or -1 (sticky) without memory. */
static int
sqlarray_reserve(struct sqlarray *a, size_t n)
{
	size_t cap;
	char *s;

	if (a->failed)
		return -1;
	if (a->len + n + 1 <= a->cap)
		return 0;
	cap = a->cap > 0 ? a->cap : 256;
	while (cap < a->len + n + 1)
		cap *= 2;
	if ((s = realloc(a->s, cap)) == NULL) {
		a->failed = 1;
		return -1;
	}
	a->s = s;
	a->cap = cap;
	return 0;
}

static void
sqlarray_put(struct sqlarray *a, const char *p, size_t n)
{
	if (sqlarray_reserve(a, n) == -1)
		return;
	memcpy(a->s + a->len, p, n);
	a->len += n;
	a->s[a->len] = '\0';
}

void
sqlarray_init(struct sqlarray *a)
{
	memset(a, 0, sizeof(*a));
	sqlarray_put(a, "{", 1);
}

/* The comma before every element but the first. */
static void
sqlarray_next(struct sqlarray *a)
{
	if (a->n++ > 0)
		sqlarray_put(a, ",", 1);
}

void
sqlarray_text(struct sqlarray *a, const char *v)
{
	size_t n;
	char *p;

	sqlarray_next(a);
	if (v == NULL) {
		sqlarray_put(a, "NULL", 4);
		return;
	}
	n = strlen(v);
	/* Worst case every byte escaped, plus the two quotes. */
	if (sqlarray_reserve(a, 2 * n + 2) == -1)
		return;
	p = a->s + a->len;
	*p++ = '"';
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '"' || v[i] == '\\')
			*p++ = '\\';
		*p++ = v[i];
	}
	*p++ = '"';
	*p = '\0';
	a->len = (size_t)(p - a->s);
}

void
sqlarray_bytes(struct sqlarray *a, const void *v, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b = v;
	char *p;

	sqlarray_next(a);
	if (v == NULL) {
		sqlarray_put(a, "NULL", 4);
		return;
	}
	/* "\\x" then two digits a byte: bytea's hex format, escaped once. */
	if (sqlarray_reserve(a, 2 * len + 5) == -1)
		return;
	p = a->s + a->len;
	memcpy(p, "\"\\\\x", 4);
	p += 4;
	for (size_t i = 0; i < len; i++) {
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 15];
	}
	*p++ = '"';
	*p = '\0';
	a->len = (size_t)(p - a->s);
}

void
sqlarray_int(struct sqlarray *a, long long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", v);

	sqlarray_next(a);
	sqlarray_put(a, num, (size_t)n);
}

const char *
sqlarray_finish(struct sqlarray *a)
{
	sqlarray_put(a, "}", 1);
	return a->failed ? NULL : a->s;
}

void
sqlarray_free(struct sqlarray *a)
{
	free(a->s);
	memset(a, 0, sizeof(*a));
}

/* A key and its place in the batch, sorted by key then place. */
struct sqlarray_slot {
	const char *key;
	size_t i;
};

static int
sqlarray_slot_order(int c, const struct sqlarray_slot *x,
    const struct sqlarray_slot *y)
{
	return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

static int
sqlarray_slot_cmp(const void *a, const void *b)
{
	const struct sqlarray_slot *x = a, *y = b;

	return sqlarray_slot_order(strcmp(x->key, y->key), x, y);
}

static int
sqlarray_slot_casecmp(const void *a, const void *b)
{
	const struct sqlarray_slot *x = a, *y = b;

	return sqlarray_slot_order(strcasecmp(x->key, y->key), x, y);
}

int
sqlarray_mark_returned(const struct store_result *r, int col,
    const char *const *keys, size_t n, int nocase, int *marks)
{
	int (*cmp)(const char *, const char *) = nocase ? strcasecmp : strcmp;
	struct sqlarray_slot *slots;

	if (n == 0)
		return 0;
	if ((slots = calloc(n, sizeof(*slots))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		slots[i] = (struct sqlarray_slot){ keys[i], i };
	qsort(slots, n, sizeof(*slots), nocase ? sqlarray_slot_casecmp :
	    sqlarray_slot_cmp);
	for (int row = 0; row < store_result_rows(r); row++) {
		const char *key = store_result_get(r, row, col);
		size_t lo = 0, hi = n;

		/* The first slot not below key: its first place in the batch. */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (cmp(slots[mid].key, key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < n && cmp(slots[lo].key, key) == 0)
			marks[slots[lo].i] = 1;
	}
	free(slots);
	return 0;
}
