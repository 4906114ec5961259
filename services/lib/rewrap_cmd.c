/*
 * rewrap_cmd.c: what a service with secrets at rest adds around rewrap.c:
 * the `rewrap` command and the keyring reload on SIGHUP (apart from
 * rewrap.c so a unit test of the passes can fake the store).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "log.h"
#include "rewrap.h"
#include "store.h"

int
rewrap_main(const char *service, const char *pg_url, const char *schema,
    const char *kek_file, const struct rewrap_ops *ops)
{
	struct rewrap_stats st;
	struct keyring *k;
	struct store *db;
	struct error err;
	int rc;

	error_clear(&err);
	if ((k = keyring_load(kek_file, &err)) == NULL)
		fatal("SLIPWAY_KEK_FILE: %s", err.msg);
	if ((db = store_new(pg_url, schema, &err)) == NULL)
		fatal("postgres: %s", err.msg);
	if (rewrap_run(db, k, ops, &st, &err) < 0)
		fatal("rewrap stopped (the batches committed so far stay "
		    "re-wrapped; run it again): %s", err.msg);
	rc = rewrap_report(service, &st);
	store_free(db);
	keyring_free(k);
	return rc;
}

struct rewrap_hup {
	const char *path;
	struct keyring **k;
};

static void
rewrap_on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct rewrap_hup *h = arg;
	struct keyring *k;
	struct error err;

	(void)sig;
	(void)what;
	if ((k = keyring_load(h->path, &err)) == NULL) {
		log_warnx("SIGHUP: the keyring stays as it was: %s", err.msg);
		return;
	}
	keyring_free(*h->k);
	*h->k = k;
	log_info("SIGHUP: keyring reloaded from %s; new secrets are wrapped "
	    "under KEK version %u", h->path, keyring_newest(k));
}

struct event *
rewrap_keyring_on_sighup(struct event_base *base, const char *path,
    struct keyring **k)
{
	/* One keyring per process: the argument outlives the loop. */
	static struct rewrap_hup h;
	struct event *ev;

	h.path = path;
	h.k = k;
	if ((ev = evsignal_new(base, SIGHUP, rewrap_on_sighup, &h)) == NULL)
		return NULL;
	if (evsignal_add(ev, NULL) != 0) {
		event_free(ev);
		return NULL;
	}
	return ev;
}
