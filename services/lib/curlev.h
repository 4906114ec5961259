/*
 * curlev.h: libcurl transfers driven by a libevent loop.
 *
 * A curl multi handle whose sockets and timer are libevent events
 * (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION): the loop wakes when a
 * socket is ready or curl's own deadline is due, never to poll. Each
 * transfer's done function runs on the loop once it ends, after the handle
 * left the multi (so it may re-use, re-add or clean up the handle).
 */
#ifndef SLIPWAY_CURLEV_H
#define SLIPWAY_CURLEV_H

#include <curl/curl.h>

struct event_base;
struct curlev;

typedef void (*curlev_done_fn)(CURL *easy, CURLcode result, void *arg);

/* NULL when out of memory. */
struct curlev *curlev_new(struct event_base *base);
/*
 * Ends every transfer still running (no done calls) and frees the multi;
 * the easy handles stay the caller's. Safe from inside a done function.
 */
void curlev_free(struct curlev *cv);
/* Starts easy; done(easy, result, arg) is called exactly once, later. */
int curlev_add(struct curlev *cv, CURL *easy, curlev_done_fn done, void *arg);
/* Stops easy if it runs (done is not called). */
void curlev_remove(struct curlev *cv, CURL *easy);

#endif
