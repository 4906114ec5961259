/*
 * curlev.c: curl's multi socket API on libevent (see curlev.h).
 *
 * curl tells which sockets to watch for what (curlev_on_socket) and when
 * to call it back at the latest (curlev_on_timer_set); both become events
 * that hand the readiness to curl_multi_socket_action. Finished transfers
 * are collected after every action. A done function may free the whole
 * curlev: the free then waits until the collection loop has returned.
 */
#include <stdlib.h>
#include <sys/queue.h>
#include <event2/event.h>

#include "curlev.h"

/* One transfer's done function, kept as the easy handle's CURLOPT_PRIVATE. */
struct curlev_xfer {
	LIST_ENTRY(curlev_xfer) link;
	CURL *easy;
	curlev_done_fn done;
	void *arg;
};

/* A socket curl watches; kept in a list so a free leaves none behind. */
struct curlev_sock {
	LIST_ENTRY(curlev_sock) link;
	struct event *ev;
};

struct curlev {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	LIST_HEAD(, curlev_xfer) xfers;
	LIST_HEAD(, curlev_sock) socks;
	int busy;       /* inside curlev_collect: a free waits for it */
	int dead;       /* curlev_free was called while busy */
};

/* Takes easy out of the multi and forgets its transfer. */
static void
curlev_detach(struct curlev *cv, struct curlev_xfer *x)
{
	curl_multi_remove_handle(cv->multi, x->easy);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
	LIST_REMOVE(x, link);
	free(x);
}

static void curlev_destroy(struct curlev *cv);

/* Calls the done function of every transfer that has ended. */
static void
curlev_collect(struct curlev *cv)
{
	struct curlev_xfer *x;
	CURLMsg *msg;
	CURL *easy;
	CURLcode result;
	int left;

	cv->busy = 1;
	while (!cv->dead && (msg = curl_multi_info_read(cv->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		easy = msg->easy_handle;
		result = msg->data.result;
		x = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		if (x != NULL) {
			curlev_done_fn done = x->done;
			void *arg = x->arg;

			curlev_detach(cv, x);
			done(easy, result, arg);
		}
	}
	cv->busy = 0;
	if (cv->dead)
		curlev_destroy(cv);
}

static void
curlev_act(struct curlev *cv, curl_socket_t fd, int what)
{
	int running;

	curl_multi_socket_action(cv->multi, fd, what, &running);
	curlev_collect(cv);
}

static void
curlev_on_ready(evutil_socket_t fd, short events, void *arg)
{
	int what = ((events & EV_READ) ? CURL_CSELECT_IN : 0) |
	    ((events & EV_WRITE) ? CURL_CSELECT_OUT : 0);

	curlev_act(arg, fd, what);
}

static void
curlev_on_timeout(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	curlev_act(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer; 0 means as soon as possible. */
static int
curlev_on_timer_set(CURLM *multi, long ms, void *arg)
{
	struct curlev *cv = arg;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	(void)multi;
	if (ms < 0)
		return event_del(cv->timer) == 0 ? 0 : -1;
	return event_add(cv->timer, &tv) == 0 ? 0 : -1;
}

static void
curlev_sock_free(struct curlev_sock *sk)
{
	if (sk->ev != NULL)
		event_free(sk->ev);
	LIST_REMOVE(sk, link);
	free(sk);
}

/*
 * CURLMOPT_SOCKETFUNCTION: one persistent event per socket, re-armed with
 * what curl now waits for, freed when curl is done with the socket.
 */
static int
curlev_on_socket(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct curlev *cv = arg;
	struct curlev_sock *sk = sockp;
	short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL)
			curlev_sock_free(sk);
		return 0;
	}
	if (sk == NULL) {
		if ((sk = calloc(1, sizeof(*sk))) == NULL)
			return -1;
		LIST_INSERT_HEAD(&cv->socks, sk, link);
		curl_multi_assign(cv->multi, fd, sk);
		sk->ev = event_new(cv->base, fd, kind, curlev_on_ready, cv);
		if (sk->ev == NULL)
			return -1;
	} else {
		event_del(sk->ev);
		event_assign(sk->ev, cv->base, fd, kind, curlev_on_ready, cv);
	}
	return event_add(sk->ev, NULL) == 0 ? 0 : -1;
}

struct curlev *
curlev_new(struct event_base *base)
{
	struct curlev *cv = calloc(1, sizeof(*cv));

	if (cv == NULL)
		return NULL;
	cv->base = base;
	LIST_INIT(&cv->xfers);
	LIST_INIT(&cv->socks);
	cv->multi = curl_multi_init();
	cv->timer = evtimer_new(base, curlev_on_timeout, cv);
	if (cv->multi == NULL || cv->timer == NULL) {
		curlev_destroy(cv);
		return NULL;
	}
	curl_multi_setopt(cv->multi, CURLMOPT_SOCKETFUNCTION, curlev_on_socket);
	curl_multi_setopt(cv->multi, CURLMOPT_SOCKETDATA, cv);
	curl_multi_setopt(cv->multi, CURLMOPT_TIMERFUNCTION, curlev_on_timer_set);
	curl_multi_setopt(cv->multi, CURLMOPT_TIMERDATA, cv);
	return cv;
}

int
curlev_add(struct curlev *cv, CURL *easy, curlev_done_fn done, void *arg)
{
	struct curlev_xfer *x = malloc(sizeof(*x));

	if (x == NULL)
		return -1;
	x->easy = easy;
	x->done = done;
	x->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
	/* curl arms the timer (0 ms): the transfer starts on the loop. */
	if (curl_multi_add_handle(cv->multi, easy) != CURLM_OK) {
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(x);
		return -1;
	}
	LIST_INSERT_HEAD(&cv->xfers, x, link);
	return 0;
}

void
curlev_remove(struct curlev *cv, CURL *easy)
{
	struct curlev_xfer *x = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
	if (x != NULL)   /* else not running: never added, or already done */
		curlev_detach(cv, x);
}

/*
 * Detaches the transfers still running, lets curl close its sockets, and
 * frees the events of any socket curl did not report removed.
 */
static void
curlev_destroy(struct curlev *cv)
{
	while (!LIST_EMPTY(&cv->xfers))
		curlev_detach(cv, LIST_FIRST(&cv->xfers));
	if (cv->multi != NULL)
		curl_multi_cleanup(cv->multi);
	while (!LIST_EMPTY(&cv->socks))
		curlev_sock_free(LIST_FIRST(&cv->socks));
	if (cv->timer != NULL)
		event_free(cv->timer);
	free(cv);
}

void
curlev_free(struct curlev *cv)
{
	if (cv == NULL)
		return;
	if (cv->busy)
		cv->dead = 1;
	else
		curlev_destroy(cv);
}
