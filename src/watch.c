/*
 * watch.c -- hu_watch: any other file descriptor on the loop (a terminal,
 * a pipe, a signalfd), level-triggered.
 *
 * Connections are edge-triggered because the loop itself reads them to
 * the end; a watched fd is read by the application, which may take a
 * part and come back later, so it is level-triggered: the callback runs
 * again while data waits, and nothing is lost if it reads less than all.
 */
#include "loop.h"

static uint32_t to_epoll(unsigned events)
{
	return (events & HU_READABLE ? EPOLLIN | EPOLLRDHUP : 0) |
	       (events & HU_WRITABLE ? EPOLLOUT : 0);
}

int hu_watch_start(hu_loop *loop, int fd, unsigned events,
		   void (*cb)(hu_watch *w, unsigned events, void *arg),
		   void *arg, hu_watch **out)
{
	/* A watch for nothing would be a paused watch nobody asked for:
	 * events 0 is a bad argument here (hu_watch_set() may pause). */
	if (loop == NULL || cb == NULL || out == NULL || loop->freeing ||
	    events == 0 || (events & ~(HU_READABLE | HU_WRITABLE)) != 0)
		return HU_INVAL;
	if (fd < 0)
		return HU_BADF;
	if (hu__set_reserve(&loop->watches) < 0)
		return HU_ERROR;
	hu_watch *w = hu__calloc(sizeof(*w));
	if (w == NULL)
		return HU_ERROR;
	w->io.kind = HU__IO_WATCH;
	w->io.fd = fd;
	w->loop = loop;
	w->events = events;
	w->cb = cb;
	w->arg = arg;
	int rc = hu__ep_lt(loop->epfd, EPOLL_CTL_ADD, fd, w, to_epoll(events));
	if (rc < 0) {
		hu__free(w);
		return rc;
	}
	w->slot = hu__set_add(&loop->watches, w);
	*out = w;
	return 0;
}

int hu_watch_set(hu_watch *w, unsigned events)
{
	if (w == NULL || w->stopped ||
	    (events & ~(HU_READABLE | HU_WRITABLE)) != 0)
		return HU_INVAL;
	if (events == w->events)
		return 0;
	int rc = hu__ep_lt(w->loop->epfd, EPOLL_CTL_MOD, w->io.fd, w,
			   to_epoll(events));
	if (rc == 0)
		w->events = events;
	return rc;
}

void hu_watch_stop(hu_watch *w)
{
	if (w == NULL || w->stopped)
		return;
	hu_loop *loop = w->loop;
	hu_watch *moved = hu__set_del(&loop->watches, w->slot);

	w->stopped = 1;
	hu__ep_del(loop->epfd, w->io.fd);
	if (moved)
		moved->slot = w->slot;
	/* Freed at the next safe point: its event may be later in this
	 * batch, and this may be its own callback. */
	w->next_dead = loop->dead_watches;
	loop->dead_watches = w;
}

void hu__watch_event(hu_watch *w, uint32_t ev)
{
	unsigned got = 0;

	if (w->stopped)
		return;
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		got |= HU_READABLE;
	if (ev & EPOLLOUT)
		got |= HU_WRITABLE;
	/* A hang-up is reported even when only writing was asked for: say
	 * so as readable, so the application reads the EOF or error. */
	if (got)
		w->cb(w, got, w->arg);
}

void hu__watch_reap(hu_loop *loop)
{
	hu_watch *w = loop->dead_watches;

	loop->dead_watches = NULL;
	while (w != NULL) {
		hu_watch *next = w->next_dead;

		hu__free(w);
		w = next;
	}
}

void hu__watch_stop_all(hu_loop *loop)
{
	while (loop->watches.n > 0)
		hu_watch_stop(loop->watches.v[loop->watches.n - 1]);
	hu__watch_reap(loop);
	hu__set_free(&loop->watches);
}
