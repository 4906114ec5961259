/*
 * service.c: process start-up and a clean shutdown on SIGINT/SIGTERM.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "crypto.h"
#include "envelope.h"
#include "log.h"
#include "service.h"
#include "store.h"

/*
 * librdkafka initialises Cyrus SASL once per process, and Cyrus then dlopens
 * every plugin in the system's sasl2 directory (sasldb brings libdb with it):
 * about 150 kB of private and 700 kB of resident memory in every service, for
 * nothing, as the mechanisms bus_security.c allows (SCRAM-SHA-256/512,
 * PLAIN) are librdkafka's own and never go through Cyrus. An empty plugin
 * path keeps them out; an operator's own SASL_PATH still wins. A mechanism
 * that needs Cyrus (GSSAPI) would have to drop this.
 */
static void
service_skip_sasl_plugins(void)
{
	if (setenv("SASL_PATH", "/dev/null", 0) != 0)
		log_warn("service: setenv SASL_PATH");
}

/*
 * epoll's changelist: an HTTP request turns its connection's read and
 * write events off and on several times within one loop pass, and libevent
 * then makes one epoll_ctl per fd per pass instead of one per change. Its
 * one caveat, fds made with dup(), does not apply: no event is on one.
 */
struct event_base *
service_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

struct event_base *
service_init(const char *name)
{
	struct event_base *base;

	log_init(name);
	service_skip_sasl_plugins();
	crypto_init();
	envelope_set_producer(name);
	/* A write to a closed socket must be an error return, not a death. */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Kafka delivery reports and other library threads wake the loop
	 * (event_active, loopexit), which needs libevent's locking.
	 */
	if (evthread_use_pthreads() != 0)
		fatal("service: evthread_use_pthreads failed");
	base = service_base_new();
	if (base == NULL)
		fatal("service: event_base_new failed");
	return base;
}

static void
service_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	(void)what;
	log_info("received signal %d, shutting down", (int)sig);
	event_base_loopexit(base, NULL);
}

void
service_run(struct event_base *base, void (*on_stop)(void *), void *arg)
{
	struct event *sigint, *sigterm;

	sigint = evsignal_new(base, SIGINT, service_on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, service_on_signal, base);
	if (sigint == NULL || sigterm == NULL ||
	    evsignal_add(sigint, NULL) != 0 || evsignal_add(sigterm, NULL) != 0)
		fatal("service: cannot install signal handlers");
	log_info("running");
	if (event_base_dispatch(base) < 0)
		log_warnx("service: event loop failed");
	event_free(sigint);
	event_free(sigterm);
	if (on_stop != NULL)
		on_stop(arg);
	event_base_free(base);
	log_info("stopped");
}

void
service_stop(struct event_base *base)
{
	event_base_loopexit(base, NULL);
}

int
service_ready(struct store *db, const struct bus_consumer *c, char *why,
    size_t whylen)
{
	if (!store_ping(db)) {
		snprintf(why, whylen, "postgres is unavailable");
		return 0;
	}
	if (c == NULL || !bus_consumer_ready(c)) {
		snprintf(why, whylen, "consumer has no partitions assigned yet");
		return 0;
	}
	return 1;
}
