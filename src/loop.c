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

#include <errno.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdatomic.h>
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

struct hu__cfg *hu__cfg_new(hu_loop *loop, const struct hu_conn_config *c)
{
	struct hu__cfg *cfg = hu__calloc(sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	cfg->refs = 1;
	cfg->loop = loop;
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

/* ---- sets ---- */

int hu__set_reserve(struct hu__set *s)
{
	if (s->n < s->cap)
		return 0;
	unsigned ncap = s->cap ? s->cap * 2 : 4;
	void **v = hu__realloc(s->v, ncap * sizeof(*v));

	if (v == NULL)
		return HU_ERROR;
	s->v = v;
	s->cap = ncap;
	return 0;
}

unsigned hu__set_add(struct hu__set *s, void *obj)
{
	s->v[s->n] = obj;
	return s->n++;
}

void *hu__set_del(struct hu__set *s, unsigned slot)
{
	void *last = s->v[--s->n];

	if (slot == s->n)
		return NULL;
	s->v[slot] = last;
	return last;
}

void hu__set_free(struct hu__set *s)
{
	hu__free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

/* ---- fork ---- */

/*
 * Forks since the process started, counted by a pthread_atfork() prepare
 * handler (in the parent, before the child exists, so both see the new
 * count). After a fork every fd the loop has is also the child's: a
 * close() of ours no longer removes the epoll registration, so those
 * connections must EPOLL_CTL_DEL first (loop.h, "Why a generation").
 */
static atomic_uint forks;
static pthread_once_t fork_hook = PTHREAD_ONCE_INIT;

static void count_fork(void)
{
	atomic_fetch_add_explicit(&forks, 1, memory_order_relaxed);
}

static void hook_fork(void)
{
	(void)pthread_atfork(count_fork, NULL, NULL);
}

void hu__loop_check_fork(hu_loop *loop)
{
	unsigned now = atomic_load_explicit(&forks, memory_order_relaxed);

	if (now == loop->forks_seen)
		return;
	loop->forks_seen = now;
	for (unsigned fd = 0; fd < loop->capconns; fd++)
		if (loop->conns[fd] != NULL)
			loop->conns[fd]->flags |= HU__C_SHARED;
}

/* ---- the loop ---- */

/* HANGUP_BACKEND, unless the program said HU_LOOP_NOENV: the operator's
 * switch, like libev's LIBEV_FLAGS. Anything else in it is ignored (the
 * loop says which backend it got: hu_loop_backend()). */
static int backend_from_env(int asked)
{
	const char *v = secure_getenv("HANGUP_BACKEND");

	if (v == NULL)
		return asked;
	if (strcmp(v, "io_uring") == 0 || strcmp(v, "uring") == 0)
		return HU_BACKEND_IO_URING;
	if (strcmp(v, "epoll") == 0)
		return HU_BACKEND_EPOLL;
	return asked;
}

/* The ring polls the epoll fd that listeners and watches stay on. */
static void arm_epoll_poll(hu_loop *loop)
{
	hu__ur_poll_fd(loop->ur, loop->epfd, HU__UR_EPOLL);
	loop->ep_armed = 1;
}

hu_loop *hu_loop_new_with(const struct hu_loop_config *cfg)
{
	int backend = cfg ? cfg->backend : HU_BACKEND_AUTO;

	if (backend < HU_BACKEND_AUTO || backend > HU_BACKEND_IO_URING ||
	    (cfg && (cfg->flags & ~HU_LOOP_NOENV))) {
		hu__errno_set(EINVAL);
		return NULL;
	}
	if (!(cfg && (cfg->flags & HU_LOOP_NOENV)))
		backend = backend_from_env(backend);

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
	if (backend == HU_BACKEND_IO_URING) {
		/* Where io_uring is missing or refused, epoll: the program
		 * asks hu_loop_backend() and hu_loop_backend_error(). */
		loop->ur = hu__ur_new(&loop->backend_err);
		if (loop->ur != NULL)
			arm_epoll_poll(loop);
	}
	loop->now = hu__now_ms();
	(void)pthread_once(&fork_hook, hook_fork);
	loop->forks_seen = atomic_load_explicit(&forks, memory_order_relaxed);
	return loop;
}

hu_loop *hu_loop_new(void)
{
	return hu_loop_new_with(NULL);
}

int hu_loop_backend(const hu_loop *loop)
{
	if (loop == NULL)
		return HU_INVAL;
	return loop->ur != NULL ? HU_BACKEND_IO_URING : HU_BACKEND_EPOLL;
}

int hu_loop_backend_error(const hu_loop *loop)
{
	return loop ? loop->backend_err : 0;
}

const char *hu_backend_name(int backend)
{
	switch (backend) {
	case HU_BACKEND_AUTO:
		return "auto";
	case HU_BACKEND_EPOLL:
		return "epoll";
	case HU_BACKEND_IO_URING:
		return "io_uring";
	default:
		return "unknown";
	}
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

/* A new block of n pointers holding the first `used` of *v (the rest is
 * left untouched: room that is never used is never made resident). */
static int grow(hu_conn ***v, unsigned used, unsigned n)
{
	hu_conn **nv = hu__malloc(n * sizeof(*nv));

	if (nv == NULL)
		return HU_ERROR;
	if (used)
		memcpy(nv, *v, used * sizeof(*nv));
	hu__free(*v);
	*v = nv;
	return 0;
}

int hu__loop_add_conn(hu_loop *loop, hu_conn *c)
{
	unsigned fd = (unsigned)c->fd;

	if (fd >= loop->capconns) {
		unsigned ncap = loop->capconns ? loop->capconns : 64;

		while (ncap <= fd)
			ncap *= 2;
		hu_conn **v = hu__realloc(loop->conns, ncap * sizeof(*v));
		if (v == NULL)
			return HU_ERROR;
		memset(v + loop->capconns, 0,
		       (ncap - loop->capconns) * sizeof(*v));
		loop->conns = v;
		loop->capconns = ncap;
	}
	if (loop->nconns == loop->roomconns) {
		unsigned room = loop->roomconns ? loop->roomconns * 2 : 64;

		if (grow(&loop->ready, loop->nready, 2 * room) < 0 ||
		    grow(&loop->closed, loop->nclosed, 2 * room) < 0)
			return HU_ERROR;
		loop->roomconns = room;
	}
	/* A finished connection may still hold the entry (fd reuse before
	 * the safe point): it is on the closed queue, and its events no
	 * longer match (hu__conn_key()). */
	loop->conns[fd] = c;
	loop->nconns++;
	return 0;
}

void hu__loop_del_conn(hu_loop *loop, hu_conn *c)
{
	if (loop->conns[c->fd] == c)
		loop->conns[c->fd] = NULL;
	loop->nconns--;
}

/* Tagged (bit 63: no user-space pointer has it), the generation in bits
 * 32..62, the fd below. */
#define KEY_CONN (1ull << 63)
#define KEY_GEN(id) ((uint64_t)((id)&0x7fffffffu) << 32)

uint64_t hu__conn_key(const hu_conn *c)
{
	return KEY_CONN | KEY_GEN(c->id) | (uint32_t)c->fd;
}

/* The connection an event (or, with the request's bits masked off, a
 * completion) names, or NULL for a stale one. */
static hu_conn *conn_of(const hu_loop *loop, uint64_t key)
{
	uint32_t fd = (uint32_t)key;
	hu_conn *c = fd < loop->capconns ? loop->conns[fd] : NULL;

	if (c == NULL || (KEY_CONN | KEY_GEN(c->id) | fd) != key)
		return NULL;
	return c;
}

void hu__loop_ready(hu_conn *c)
{
	hu_loop *loop = hu__loop_of(c);

	if (c->flags & (HU__C_READY | HU__C_FINISHED))
		return;
	c->flags |= HU__C_READY;
	loop->ready[loop->nready++] = c;
}

void hu__loop_closed(hu_conn *c)
{
	hu_loop *loop = hu__loop_of(c);

	/* A finished connection owes no read; its ready entry, if any, is
	 * skipped (hu__conn_read_ready() checks). */
	c->flags &= ~HU__C_READY;
	loop->closed[loop->nclosed++] = c;
}

/*
 * The safe point. Only what was queued when it began is handled, so a
 * callback that keeps queueing (on_close starting a connect that fails at
 * once, every time) cannot hold the loop here: the rest waits for the next
 * iteration, after I/O.
 */
static void run_deferred(hu_loop *loop)
{
	unsigned n = loop->nready;

	/* Reads first: one may end its connection, whose on_close then
	 * runs below in this same pass. A connection queued again while
	 * served lands after n; it is kept for the next pass. */
	for (unsigned i = 0; i < n; i++) {
		hu_conn *c = loop->ready[i];

		if (!(c->flags & HU__C_READY))
			continue; /* finished meanwhile */
		c->flags &= ~HU__C_READY;
		hu__conn_read_ready(c);
	}
	loop->nready -= n;
	if (loop->nready) /* queued while served: first for the next pass */
		memmove(loop->ready, loop->ready + n,
			loop->nready * sizeof(hu_conn *));

	n = loop->nclosed;
	/* io_uring: the cancels and closes of these connections go to the
	 * kernel before their on_close runs, so that the peer has its FIN or
	 * RST when the report is made (uring.c). */
	if (n && loop->ur != NULL)
		(void)hu__ur_enter(loop->ur, 0, 0);
	for (unsigned i = 0; i < n; i++)
		hu__conn_free(loop->closed[i]);
	loop->nclosed -= n;
	if (loop->nclosed)
		memmove(loop->closed, loop->closed + n,
			loop->nclosed * sizeof(hu_conn *));

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
	return loop->nconns > 0 || loop->listeners.n > 0 ||
	       loop->watches.n > 0 || loop->user_timers > 0 || loop->nready ||
	       loop->nclosed || loop->dead || loop->dead_watches;
}

/* epoll's events: connections (on epoll), listeners and watches. */
static void ep_dispatch(hu_loop *loop, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t key = loop->events[i].data.u64;
		uint32_t ev = loop->events[i].events;

		if (key & KEY_CONN) {
			hu_conn *c = conn_of(loop, key);

			if (c != NULL) /* else stale: see loop.h */
				hu__conn_event(c, ev);
			continue;
		}
		struct hu__io *io = loop->events[i].data.ptr;
		if (io->kind == HU__IO_LISTENER) {
			hu__listener_event((hu_listener *)io, ev);
		} else {
			/* Level-triggered: the ring's poll on epfd will not
			 * fire again for it, so look again next time. */
			loop->ep_again = 1;
			hu__watch_event((hu_watch *)io, ev);
		}
	}
}

/* One batch of io_uring completions (at most what the completion queue
 * held when it began, so timers are not starved). */
static void uring_batch(hu_loop *loop)
{
	struct io_uring_cqe cqe;
	int ep = loop->ep_again;

	loop->ep_again = 0;
	for (unsigned i = 0; i < 4096 && hu__ur_next(loop->ur, &cqe); i++) {
		char *buf = NULL;
		unsigned bid = cqe.flags >> IORING_CQE_BUFFER_SHIFT;

		if (cqe.flags & IORING_CQE_F_BUFFER)
			buf = hu__ur_buf(loop->ur, bid);
		if (cqe.user_data & KEY_CONN) {
			uint64_t key = cqe.user_data;
			hu_conn *c =
			    conn_of(loop, key & ~(0xffull << HU__UR_SEQ_BIT));

			if (c != NULL)
				hu__conn_cqe(c, key, cqe.res, cqe.flags, buf);
		} else if (cqe.user_data == HU__UR_EPOLL) {
			ep = 1;
			if (!(cqe.flags & IORING_CQE_F_MORE))
				loop->ep_armed = 0;
		}
		if (buf != NULL)
			hu__ur_buf_put(loop->ur, bid);
	}
	if (ep) {
		int n = hu__ep_wait(loop->epfd, loop->events, HU__EVENTS, 0);

		if (n > 0)
			ep_dispatch(loop, n);
		if (n == HU__EVENTS)
			loop->ep_again = 1;
	}
	if (!loop->ep_armed && !loop->freeing)
		arm_epoll_poll(loop);
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
		if (loop->nready || loop->nclosed || loop->dead ||
		    loop->dead_watches)
			timeout = 0;
		if (loop->ur != NULL) {
			if (loop->ep_again)
				timeout = 0;
			rc = hu__ur_enter(loop->ur, 1, timeout);
			if (rc < 0)
				break;
			loop->now = hu__now_ms();
			uring_batch(loop);
			hu__timer_run(loop);
			continue;
		}
		int n =
		    hu__ep_wait(loop->epfd, loop->events, HU__EVENTS, timeout);
		if (n < 0) {
			rc = n;
			break;
		}
		loop->now = hu__now_ms();
		ep_dispatch(loop, n);
		hu__timer_run(loop);
	}
	loop->in_run = 0;
	return rc;
}

/* io_uring: every request cancelled (the connections' were, when they
 * ended), and every last completion taken, so that no socket outlives the
 * loop inside the ring (the kernel would close it later, on its own). */
static void uring_drain(hu_loop *loop)
{
	struct io_uring_cqe cqe;

	if (loop->ep_armed)
		hu__ur_cancel_key(loop->ur, HU__UR_EPOLL);
	for (int i = 0; i < 1000 && hu__ur_inflight(loop->ur) > 0; i++) {
		if (hu__ur_enter(loop->ur, 1, 10) < 0)
			break;
		while (hu__ur_next(loop->ur, &cqe))
			if (cqe.flags & IORING_CQE_F_BUFFER)
				hu__ur_buf_put(loop->ur,
					       cqe.flags >>
						   IORING_CQE_BUFFER_SHIFT);
	}
	hu__ur_free(loop->ur);
	loop->ur = NULL;
}

void hu_loop_free(hu_loop *loop)
{
	/* Not from a callback: neither hu_loop_run()'s nor those that this
	 * very call runs (an on_close that frees its loop). */
	if (loop == NULL || loop->in_run || loop->freeing)
		return;
	loop->freeing = 1; /* no new listener, connection or timer now */
	while (loop->listeners.n > 0)
		hu_listener_close(loop->listeners.v[loop->listeners.n - 1]);
	for (unsigned fd = 0; fd < loop->capconns; fd++)
		if (loop->conns[fd] != NULL)
			hu__conn_finish(loop->conns[fd], HU_CLOSE_ABORT, 0, 1);
	/* Every connection is finished now; their on_close calls cannot
	 * start new ones (loop->freeing), but may close each other. */
	while (loop->nready || loop->nclosed || loop->dead) {
		run_deferred(loop);
	}
	hu__watch_stop_all(loop);
	if (loop->ur != NULL)
		uring_drain(loop);
	hu__timer_free_all(loop);
	hu__free(loop->conns);
	hu__free(loop->ready);
	hu__free(loop->closed);
	hu__set_free(&loop->listeners);
	hu__free(loop->rbuf);
	close(loop->epfd);
	hu__free(loop);
}
