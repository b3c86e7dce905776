/*
 * timer.c -- timers on a binary min-heap keyed on the loop's monotonic
 * clock (ms), and the public hu_timer.
 *
 * Each connection embeds one node for all its deadlines (connect, linger,
 * idle, heartbeat): conn.c arms it at the earliest. Idle timeouts are lazy
 * (libev's advice for timeouts that are mostly refreshed, never reached):
 * reading or writing only stores the time of the last activity, and the
 * node, when it fires, re-arms itself at last activity + idle if the
 * connection was busy meanwhile. So the data path never touches the heap.
 */
#include "loop.h"

#include <stdlib.h>

static int before(const struct hu__tnode *a, const struct hu__tnode *b)
{
	return a->due < b->due;
}

static void place(struct hu__heap *h, unsigned i, struct hu__tnode *n)
{
	h->v[i] = n;
	n->idx = i + 1;
}

static void sift_up(struct hu__heap *h, unsigned i)
{
	struct hu__tnode *n = h->v[i];

	while (i > 0) {
		unsigned parent = (i - 1) / 2;

		if (!before(n, h->v[parent]))
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, n);
}

static void sift_down(struct hu__heap *h, unsigned i)
{
	struct hu__tnode *n = h->v[i];

	for (;;) {
		unsigned child = 2 * i + 1;

		if (child >= h->n)
			break;
		if (child + 1 < h->n && before(h->v[child + 1], h->v[child]))
			child++;
		if (!before(h->v[child], n))
			break;
		place(h, i, h->v[child]);
		i = child;
	}
	place(h, i, n);
}

static void heap_remove(struct hu__heap *h, struct hu__tnode *n)
{
	unsigned i = n->idx - 1;
	struct hu__tnode *last = h->v[--h->n];

	n->idx = 0;
	if (i == h->n)
		return;
	place(h, i, last);
	if (i > 0 && before(last, h->v[(i - 1) / 2]))
		sift_up(h, i);
	else
		sift_down(h, i);
}

int hu__timer_arm(hu_loop *loop, struct hu__tnode *n, uint64_t due)
{
	struct hu__heap *h = &loop->heap;

	if (n->idx) {
		uint64_t old = n->due;

		n->due = due;
		if (due < old)
			sift_up(h, n->idx - 1);
		else if (due > old)
			sift_down(h, n->idx - 1);
		return 0;
	}
	if (h->n == h->cap) {
		unsigned ncap = h->cap ? h->cap * 2 : 64;
		struct hu__tnode **v = hu__realloc(h->v, ncap * sizeof(*v));

		if (v == NULL)
			return HU_ERROR;
		h->v = v;
		h->cap = ncap;
	}
	n->due = due;
	place(h, h->n++, n);
	sift_up(h, h->n - 1);
	return 0;
}

void hu__timer_disarm(hu_loop *loop, struct hu__tnode *n)
{
	if (n->idx)
		heap_remove(&loop->heap, n);
}

int hu__timer_wait_ms(hu_loop *loop)
{
	struct hu__heap *h = &loop->heap;

	if (h->n == 0)
		return -1;
	uint64_t due = h->v[0]->due;
	if (due <= loop->now)
		return 0;
	uint64_t d = due - loop->now;
	return d > 1000000 ? 1000000 : (int)d;
}

void hu__timer_run(hu_loop *loop)
{
	struct hu__heap *h = &loop->heap;

	/* At most as many as were armed when the pass began: a callback that
	 * starts a 0 ms timer each time cannot keep this pass going forever
	 * (what is still due runs in the next iteration, after I/O). */
	unsigned budget = h->n;

	while (budget-- > 0 && h->n > 0 && h->v[0]->due <= loop->now) {
		struct hu__tnode *n = h->v[0];

		heap_remove(h, n);
		if (n->fire)
			n->fire(loop, n);
		else /* a connection's (conn-end.c, hu__conn_more) */
			hu__conn_timer(loop, n);
	}
}

/* ---- public timers ---- */

static void user_fire(hu_loop *loop, struct hu__tnode *n)
{
	hu_timer *t = (hu_timer *)n;

	t->running = 1;
	t->cb(t, t->arg);
	t->running = 0;
	if (!t->stopped && t->repeat > 0 &&
	    hu__timer_arm(loop, &t->node, loop->now + t->repeat) == 0)
		return;
	/* One-shot, stopped inside its callback, or no memory to re-arm. */
	loop->user_timers--;
	hu__free(t);
}

hu_timer *hu_timer_start(hu_loop *loop, unsigned after_ms, unsigned repeat_ms,
			 void (*cb)(hu_timer *t, void *arg), void *arg)
{
	if (loop == NULL || cb == NULL || loop->freeing)
		return NULL;
	hu_timer *t = hu__calloc(sizeof(*t));
	if (t == NULL)
		return NULL;
	t->node.fire = user_fire;
	t->loop = loop;
	t->repeat = repeat_ms;
	t->cb = cb;
	t->arg = arg;
	if (hu__timer_arm(loop, &t->node, loop->now + after_ms) < 0) {
		hu__free(t);
		return NULL;
	}
	loop->user_timers++;
	return t;
}

void hu_timer_stop(hu_timer *t)
{
	if (t == NULL || t->stopped)
		return;
	t->stopped = 1;
	if (t->running)
		return; /* user_fire() frees it when the callback returns */
	hu__timer_disarm(t->loop, &t->node);
	t->loop->user_timers--;
	hu__free(t);
}

void hu__timer_free_all(hu_loop *loop)
{
	struct hu__heap *h = &loop->heap;

	/* What is left in the heap now: user timers (connections, freed
	 * first, took their nodes out). */
	for (unsigned i = 0; i < h->n; i++) {
		h->v[i]->idx = 0;
		if (h->v[i]->fire == user_fire)
			hu__free(h->v[i]);
	}
	hu__free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
	loop->user_timers = 0;
}
