/*
 * mailbox.h: hands items from any thread to one event loop.
 *
 * The items are the caller's structs with a struct mailbox_link inside
 * (no allocation per post). A post appends under a mutex and, when the box
 * was empty, wakes the loop through an eventfd; the loop then takes all
 * that waits at once and calls the mailbox's function on each item in the
 * order they were posted, on the loop's thread.
 *
 * Used where a thread must not run the other's work: the HTTP server's
 * connection thread hands requests to the service's loop and gets the
 * replies back (lib http.h, io_thread).
 */
#ifndef SLIPWAY_MAILBOX_H
#define SLIPWAY_MAILBOX_H

struct event_base;
struct mailbox;

struct mailbox_link {
	struct mailbox_link *next;
};

typedef void (*mailbox_fn)(struct mailbox_link *item, void *arg);

/* NULL when out of memory or file descriptors. */
struct mailbox *mailbox_new(struct event_base *base, mailbox_fn fn, void *arg);
/* From any thread. fn will be called on item on the loop's thread. */
void mailbox_post(struct mailbox *mb, struct mailbox_link *item);
/*
 * Takes every item waiting, oldest first, without calling fn (e.g. at
 * shutdown, once the loop no longer runs). NULL when empty.
 */
struct mailbox_link *mailbox_take(struct mailbox *mb);
/* Items still waiting are not freed: take them first. */
void mailbox_free(struct mailbox *mb);

#endif
