// uses: services/registry-svc/reg_rewrap.c
/*
 * test_reg_rewrap.c: `registry-svc rewrap` on a keyring with two versions,
 * against a fake of the four reg_store calls it makes and of store_tx (a
 * failed batch puts its rows back, as a rollback would). Rows may be locked
 * by "another transaction" for the first passes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "registry-svc/registry.h"
#include "crypto.h"
#include "secret_v1.h"

#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
#define KEY_C "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="
#define MAX_ROWS 300

/* --- the fake store --------------------------------------------------------- */

struct fake_row {
	char id[37];
	unsigned char *secret;
	size_t len;
	int locked_passes;   /* skipped as locked during the first N passes */
};

static struct fake_row rows[MAX_ROWS];
static size_t nrows;
static int censuses;          /* a census ends every pass: pass N sees N */
static int batches;
static char cursors[8][37];   /* `after` of the first batches */
static const char *fail_set;  /* reg_store_secret_set fails for this id */

int
store_tx(struct store *s, int (*fn)(struct store *, void *, struct error *),
    void *arg, struct error *err)
{
	unsigned char *saved[MAX_ROWS];
	size_t i;
	int rc;

	for (i = 0; i < nrows; i++) {
		saved[i] = malloc(rows[i].len);
		memcpy(saved[i], rows[i].secret, rows[i].len);
	}
	rc = fn(s, arg, err);
	for (i = 0; i < nrows; i++) {
		if (rc < 0)
			memcpy(rows[i].secret, saved[i], rows[i].len);
		free(saved[i]);
	}
	return rc;
}

int
reg_store_secret_census(struct store *s, const unsigned char *hdr, size_t hlen,
    long *current, long *stale, struct error *err)
{
	size_t i;

	(void)s;
	(void)err;
	*current = *stale = 0;
	for (i = 0; i < nrows; i++) {
		if (rows[i].len >= hlen && memcmp(rows[i].secret, hdr, hlen) == 0)
			(*current)++;
		else
			(*stale)++;
	}
	censuses++;
	return 0;
}

int
reg_store_stale_lock(struct store *s, const unsigned char *hdr, size_t hlen,
    const char *after, int limit, struct reg_row **out, size_t *n,
    struct error *err)
{
	struct reg_row *r = calloc((size_t)limit, sizeof(*r));
	size_t i;

	(void)s;
	(void)err;
	assert_int_equal(limit, 100);
	if (batches < 8)
		snprintf(cursors[batches], sizeof(cursors[0]), "%s", after);
	batches++;
	*n = 0;
	for (i = 0; i < nrows && *n < (size_t)limit; i++) {
		if (strcmp(rows[i].id, after) <= 0 ||
		    (rows[i].len >= hlen && memcmp(rows[i].secret, hdr, hlen) == 0) ||
		    censuses <= rows[i].locked_passes)
			continue;
		memcpy(r[*n].id, rows[i].id, sizeof(r[*n].id));
		r[*n].secret = malloc(rows[i].len);
		memcpy(r[*n].secret, rows[i].secret, rows[i].len);
		r[*n].secret_len = rows[i].len;
		(*n)++;
	}
	*out = r;
	return 0;
}

int
reg_store_secret_set(struct store *s, const char *id,
    const unsigned char *secret, size_t len, struct error *err)
{
	size_t i;

	(void)s;
	if (fail_set != NULL && strcmp(id, fail_set) == 0) {
		error_set(err, "db_error", "", "injected failure");
		return -1;
	}
	for (i = 0; i < nrows; i++) {
		if (strcmp(rows[i].id, id) == 0) {
			assert_int_equal(len, rows[i].len);
			memcpy(rows[i].secret, secret, len);
			return 0;
		}
	}
	fail_msg("update of unknown row %s", id);
	return -1;
}

void
reg_store_rows_free(struct reg_row *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(r[i].secret);
	free(r);
}

/* --- fixtures ---------------------------------------------------------------- */

static char dir[64];
static struct keyring *k1, *k12, *k2, *k3;

static struct keyring *
keyring_from(const char *name, const char *text)
{
	char path[128];
	struct error err;
	struct keyring *k;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
	if ((k = keyring_load(path, &err)) == NULL)
		fail_msg("%s: %s", name, err.msg);
	return k;
}

static int
setup(void **state)
{
	(void)state;
	crypto_init();
	log_init("test_reg_rewrap");
	snprintf(dir, sizeof(dir), "/tmp/test_reg_rewrap.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	k1 = keyring_from("k1", "1:" KEY_A "\n");
	k12 = keyring_from("k12", "1:" KEY_A "\n2:" KEY_B "\n");
	k2 = keyring_from("k2", "2:" KEY_B "\n");
	k3 = keyring_from("k3", "3:" KEY_C "\n");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	keyring_free(k1);
	keyring_free(k12);
	keyring_free(k2);
	keyring_free(k3);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
reset(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nrows; i++)
		free(rows[i].secret);
	memset(rows, 0, sizeof(rows));
	nrows = 0;
	censuses = batches = 0;
	fail_set = NULL;
	return 0;
}

/* Adds a row (ids ascend with i) holding `value` encrypted under k. */
static struct fake_row *
add_row(const struct keyring *k, const char *value)
{
	struct fake_row *r = &rows[nrows];
	struct error err;

	snprintf(r->id, sizeof(r->id), "00000000-0000-4000-8000-%012zu", nrows);
	assert_int_equal(secret_encrypt(k, r->id, value, strlen(value),
	    &r->secret, &r->len, &err), 0);
	nrows++;
	return r;
}

/* 1 when the row opens with k (and only the newest version) to value. */
static int
row_opens(const struct keyring *k, const struct fake_row *r, const char *value)
{
	unsigned char *pt;
	size_t len;
	struct error err;
	int ok;

	if (secret_decrypt(k, r->id, r->secret, r->len, &pt, &len, &err) < 0)
		return 0;
	ok = len == strlen(value) && memcmp(pt, value, len) == 0;
	crypto_free_secret(pt, len);
	return ok;
}

/* --- tests ------------------------------------------------------------------- */

/*
 * Old version, format 1, current, locked for one pass, a KEK not in the
 * keyring, garbage: every row that opens ends under version 2, the others
 * are counted and left as they were; a second run has nothing to do.
 */
static void
test_rewrap_two_versions(void **state)
{
	unsigned char key[32], *before4, *before5;
	struct rewrap_stats st;
	struct fake_row *r[6];
	struct error err;
	int i;

	(void)state;
	for (i = 0; i < 32; i++)
		key[i] = (unsigned char)i;
	r[0] = add_row(k1, "zero");
	r[1] = add_row(k1, "one");
	free(r[1]->secret);
	r[1]->secret = secret_v1_blob(key, 1, r[1]->id, "one", 3, &r[1]->len);
	r[2] = add_row(k12, "two");
	r[3] = add_row(k1, "three");
	r[3]->locked_passes = 1;
	r[4] = add_row(k3, "four");
	r[5] = add_row(k1, "five");
	r[5]->len = 20;   /* truncated */
	before4 = malloc(r[4]->len);
	memcpy(before4, r[4]->secret, r[4]->len);
	before5 = malloc(r[5]->len);
	memcpy(before5, r[5]->secret, r[5]->len);

	assert_int_equal(reg_rewrap_run(NULL, k12, &st, &err), 0);
	assert_int_equal(st.version, 2);
	assert_int_equal(st.rewrapped, 3);
	assert_int_equal(st.current, 1);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.left, 2);
	assert_int_equal(censuses, 3);   /* before, after pass 1 (r3 locked), 2 */
	assert_true(row_opens(k2, r[0], "zero"));
	assert_true(row_opens(k2, r[1], "one"));
	assert_true(row_opens(k2, r[2], "two"));
	assert_true(row_opens(k2, r[3], "three"));
	assert_memory_equal(r[4]->secret, before4, r[4]->len);
	assert_memory_equal(r[5]->secret, before5, r[5]->len);
	assert_true(row_opens(k3, r[4], "four"));

	/* Idempotent: nothing more to re-wrap, the same two rows fail. */
	assert_int_equal(reg_rewrap_run(NULL, k12, &st, &err), 0);
	assert_int_equal(st.rewrapped, 0);
	assert_int_equal(st.current, 4);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.left, 2);
	free(before4);
	free(before5);
}

/* 250 rows: three batches of at most 100, each after the last one's id. */
static void
test_rewrap_batches(void **state)
{
	struct rewrap_stats st;
	struct error err;
	size_t i;

	(void)state;
	for (i = 0; i < 250; i++)
		add_row(k1, "v");
	assert_int_equal(reg_rewrap_run(NULL, k12, &st, &err), 0);
	assert_int_equal(st.rewrapped, 250);
	assert_int_equal(st.current, 0);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.left, 0);
	assert_int_equal(batches, 3);
	assert_string_equal(cursors[0], "00000000-0000-0000-0000-000000000000");
	assert_string_equal(cursors[1], rows[99].id);
	assert_string_equal(cursors[2], rows[199].id);
	for (i = 0; i < 250; i++)
		assert_true(row_opens(k2, &rows[i], "v"));

	batches = 0;
	assert_int_equal(reg_rewrap_run(NULL, k12, &st, &err), 0);
	assert_int_equal(st.rewrapped, 0);
	assert_int_equal(st.current, 250);
	assert_int_equal(batches, 0);   /* the census found nothing stale */
}

/*
 * A database error stops the run: the batches committed before stay
 * re-wrapped, the failed batch is rolled back, and a second run finishes.
 */
static void
test_rewrap_database_error(void **state)
{
	unsigned char hdr[SECRET_HEADER_LEN];
	struct rewrap_stats st;
	struct error err;
	size_t i;

	(void)state;
	for (i = 0; i < 150; i++)
		add_row(k1, "v");
	fail_set = rows[120].id;
	assert_int_equal(reg_rewrap_run(NULL, k12, &st, &err), -1);
	assert_string_equal(err.code, "db_error");
	secret_current_header(k12, hdr);
	for (i = 0; i < 150; i++)
		assert_int_equal(memcmp(rows[i].secret, hdr, sizeof(hdr)) == 0,
		    i < 100);
	fail_set = NULL;
	assert_int_equal(reg_rewrap_run(NULL, k12, &st, &err), 0);
	assert_int_equal(st.rewrapped, 50);
	assert_int_equal(st.current, 100);
	assert_int_equal(st.left, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rewrap_two_versions, reset, reset),
		cmocka_unit_test_setup_teardown(test_rewrap_batches, reset, reset),
		cmocka_unit_test_setup_teardown(test_rewrap_database_error, reset, reset),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
