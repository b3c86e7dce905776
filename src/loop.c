/*
 * loop.c -- the event loop: run, stop, free, and the safe points at which
 * deferred work happens.
 *
 * One iteration:
 *   1. deferred work: reads owed to resumed connections, then on_close and
 *      free for every connection finished since the last safe point, then
 *      listeners closed meanwhile are freed;
 *   2. epoll_wait, for no longer than the earliest timer (0 if step 1 left
 *      work queued);
 *   3. every event of the batch, in order; objects finished during the
 *      batch stay allocated (flagged) until step 1 of the next iteration;
 *   4. every timer that is due.
 * So on_close never runs inside another callback of the same connection,
 * and nothing is freed while a pointer to it may still be on the stack or
 * in the batch (STYLE.md, "Lifetime").
 */
#include "loop.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- allocation ---- */

static struct hu_allocator allocator = {malloc, realloc, free};

void hu_set_allocator(const struct hu_allocator *a)
{
	static const struct hu_allocator libc = {malloc, realloc, free};

	if (a != NULL && a->malloc && a->realloc && a->free)
		allocator = *a;
	else
		allocator = libc;
}

void *hu__malloc(size_t n)
{
	return allocator.malloc(n);
}

void *hu__calloc(size_t n)
{
	void *p = allocator.malloc(n);

	if (p != NULL)
		memset(p, 0, n);
	return p;
}

void *hu__realloc(void *p, size_t n)
{
	return allocator.realloc(p, n);
}

void hu__free(void *p)
{
	if (p != NULL)
		allocator.free(p);
}

/* ---- shared connection configuration ---- */

struct hu__cfg *hu__cfg_new(const struct hu_conn_config *c)
{
	struct hu__cfg *cfg = hu__calloc(sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	cfg->refs = 1;
	if (c != NULL)
		cfg->c = *c;
	if (cfg->c.linger_ms == 0)
		cfg->c.linger_ms = 5000;
	if (cfg->c.high_water == 0)
		cfg->c.high_water = 64 * 1024;
	return cfg;
}

void hu__cfg_unref(struct hu__cfg *cfg)
{
	if (cfg != NULL && --cfg->refs == 0)
		hu__free(cfg);
}

/* ---- the loop ---- */

hu_loop *hu_loop_new(void)
{
	hu_loop *loop = hu__calloc(sizeof(*loop));

	if (loop == NULL)
		return NULL;
	loop->rbuf = hu__malloc(HU__RBUF);
	loop->epfd = hu__ep_create();
	if (loop->rbuf == NULL || loop->epfd < 0) {
		if (loop->epfd >= 0)
			close(loop->epfd);
		hu__free(loop->rbuf);
		hu__free(loop);
		return NULL;
	}
	loop->now = hu__now_ms();
	return loop;
}

unsigned long long hu_loop_now(hu_loop *loop)
{
	return loop ? loop->now : 0;
}

void hu_loop_stop(hu_loop *loop)
{
	if (loop != NULL)
		loop->stop = 1;
}

int hu__loop_add_conn(hu_loop *loop, hu_conn *c)
{
	if (loop->nconns == loop->capconns) {
		unsigned ncap = loop->capconns ? loop->capconns * 2 : 64;
		hu_conn **v = hu__realloc(loop->conns, ncap * sizeof(*v));

		if (v == NULL)
			return HU_ERROR;
		loop->conns = v;
		loop->capconns = ncap;
	}
	c->slot = loop->nconns;
	loop->conns[loop->nconns++] = c;
	return 0;
}

void hu__loop_del_conn(hu_loop *loop, hu_conn *c)
{
	hu_conn *last = loop->conns[--loop->nconns];

	loop->conns[c->slot] = last;
	last->slot = c->slot;
}

void hu__loop_ready(hu_conn *c)
{
	hu_loop *loop = c->loop;

	if (c->flags & (HU__C_READY | HU__C_FINISHED))
		return;
	c->flags |= HU__C_READY;
	c->next = NULL;
	if (loop->ready_tail)
		loop->ready_tail->next = c;
	else
		loop->ready = c;
	loop->ready_tail = c;
}

static void unlink_ready(hu_loop *loop, hu_conn *c)
{
	hu_conn **pp = &loop->ready, *prev = NULL;

	while (*pp && *pp != c) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = c->next;
	if (loop->ready_tail == c)
		loop->ready_tail = prev;
	c->flags &= ~HU__C_READY;
}

void hu__loop_closed(hu_conn *c)
{
	hu_loop *loop = c->loop;

	/* A finished connection owes no read. */
	if (c->flags & HU__C_READY)
		unlink_ready(loop, c);
	c->next = NULL;
	if (loop->closed_tail)
		loop->closed_tail->next = c;
	else
		loop->closed = c;
	loop->closed_tail = c;
}

/*
 * The safe point. Only what was queued when it began is handled, so a
 * callback that keeps queueing (on_close starting a connect that fails at
 * once, every time) cannot hold the loop here: the rest waits for the next
 * iteration, after I/O.
 */
static void run_deferred(hu_loop *loop)
{
	hu_conn *c = loop->ready;

	loop->ready = loop->ready_tail = NULL;
	while (c != NULL) {
		hu_conn *next = c->next;

		c->flags &= ~HU__C_READY;
		hu__conn_read_ready(c);
		c = next;
	}

	c = loop->closed;
	loop->closed = loop->closed_tail = NULL;
	while (c != NULL) {
		hu_conn *next = c->next;

		hu__conn_free(c);
		c = next;
	}

	hu_listener *l = loop->dead;
	loop->dead = NULL;
	while (l != NULL) {
		hu_listener *next = l->next_dead;

		hu__listener_free(l);
		l = next;
	}
	hu__watch_reap(loop);
}

static int alive(const hu_loop *loop)
{
	return loop->nconns > 0 || loop->nlisteners > 0 || loop->nwatches > 0 ||
	       loop->user_timers > 0 || loop->ready || loop->closed ||
	       loop->dead || loop->dead_watches;
}

int hu_loop_run(hu_loop *loop)
{
	int rc = 0;

	if (loop == NULL || loop->in_run)
		return HU_INVAL;
	loop->in_run = 1;
	loop->stop = 0;
	loop->now = hu__now_ms();
	for (;;) {
		run_deferred(loop);
		if (loop->stop || !alive(loop))
			break;
		int timeout = hu__timer_wait_ms(loop);
		if (loop->ready || loop->closed || loop->dead ||
		    loop->dead_watches)
			timeout = 0;
		int n =
		    hu__ep_wait(loop->epfd, loop->events, HU__EVENTS, timeout);
		if (n < 0) {
			rc = n;
			break;
		}
		loop->now = hu__now_ms();
		for (int i = 0; i < n; i++) {
			struct hu__io *io = loop->events[i].data.ptr;
			uint32_t ev = loop->events[i].events;

			if (io->kind == HU__IO_CONN)
				hu__conn_event((hu_conn *)io, ev);
			else if (io->kind == HU__IO_LISTENER)
				hu__listener_event((hu_listener *)io, ev);
			else
				hu__watch_event((hu_watch *)io, ev);
		}
		hu__timer_run(loop);
	}
	loop->in_run = 0;
	return rc;
}

void hu_loop_free(hu_loop *loop)
{
	/* Not from a callback: neither hu_loop_run()'s nor those that this
	 * very call runs (an on_close that frees its loop). */
	if (loop == NULL || loop->in_run || loop->freeing)
		return;
	loop->freeing = 1; /* no new listener, connection or timer now */
	while (loop->nlisteners > 0)
		hu_listener_close(loop->listeners[loop->nlisteners - 1]);
	for (unsigned i = 0; i < loop->nconns; i++)
		hu__conn_finish(loop->conns[i], HU_CLOSE_ABORT, 0, 1);
	/* Every connection is finished now; their on_close calls cannot
	 * start new ones (loop->freeing), but may close each other. */
	while (loop->ready || loop->closed || loop->dead) {
		run_deferred(loop);
	}
	hu__watch_stop_all(loop);
	hu__timer_free_all(loop);
	hu__free(loop->conns);
	hu__free(loop->listeners);
	hu__free(loop->rbuf);
	close(loop->epfd);
	hu__free(loop);
}
