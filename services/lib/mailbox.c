/*
 * mailbox.c: a mutex-guarded list and an eventfd (see mailbox.h).
 *
 * Only a post into an empty box writes the eventfd: under load the loop
 * takes many items per wake-up and posters make no system call. The loop
 * reads (resets) the eventfd before it takes the list, so an item posted
 * after the take always finds the box empty and wakes the loop again; a
 * wake-up that finds nothing is harmless.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "mailbox.h"

struct mailbox {
	pthread_mutex_t lock;
	struct mailbox_link *head, *tail;
	int fd;
	struct event *ev;
	mailbox_fn fn;
	void *arg;
};

struct mailbox_link *
mailbox_take(struct mailbox *mb)
{
	struct mailbox_link *all;

	pthread_mutex_lock(&mb->lock);
	all = mb->head;
	mb->head = mb->tail = NULL;
	pthread_mutex_unlock(&mb->lock);
	return all;
}

static void
mailbox_on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct mailbox *mb = arg;
	struct mailbox_link *l, *next;
	uint64_t n;

	(void)what;
	while (read(fd, &n, sizeof(n)) == -1 && errno == EINTR)
		;
	for (l = mailbox_take(mb); l != NULL; l = next) {
		next = l->next;   /* fn may free or re-post the item */
		mb->fn(l, mb->arg);
	}
}

void
mailbox_post(struct mailbox *mb, struct mailbox_link *item)
{
	uint64_t one = 1;
	int was_empty;

	item->next = NULL;
	pthread_mutex_lock(&mb->lock);
	was_empty = mb->head == NULL;
	if (was_empty)
		mb->head = item;
	else
		mb->tail->next = item;
	mb->tail = item;
	pthread_mutex_unlock(&mb->lock);
	/* The counter cannot overflow in practice; EAGAIN would still wake. */
	if (was_empty)
		while (write(mb->fd, &one, sizeof(one)) == -1 && errno == EINTR)
			;
}

struct mailbox *
mailbox_new(struct event_base *base, mailbox_fn fn, void *arg)
{
	struct mailbox *mb = calloc(1, sizeof(*mb));

	if (mb == NULL)
		return NULL;
	mb->fn = fn;
	mb->arg = arg;
	pthread_mutex_init(&mb->lock, NULL);
	mb->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (mb->fd == -1) {
		pthread_mutex_destroy(&mb->lock);
		free(mb);
		return NULL;
	}
	mb->ev = event_new(base, mb->fd, EV_READ | EV_PERSIST, mailbox_on_wake, mb);
	if (mb->ev == NULL || event_add(mb->ev, NULL) != 0) {
		mailbox_free(mb);
		return NULL;
	}
	return mb;
}

void
mailbox_free(struct mailbox *mb)
{
	if (mb == NULL)
		return;
	if (mb->ev != NULL)
		event_free(mb->ev);
	close(mb->fd);
	pthread_mutex_destroy(&mb->lock);
	free(mb);
}
