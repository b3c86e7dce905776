/*
 * flow.c -- the flows: two chained hashes (by the kernel's socket address,
 * which tracepoints carry, and by the socket cookie, which tcp_destroy_sock
 * and sock_diag carry) and a FIFO of destroyed flows on their way to
 * becoming records.
 *
 * skaddr is reused quickly by the slab allocator: a destroyed flow leaves
 * the skaddr hash as soon as a new socket starts at the same address
 * (flow_new), but stays in the queue until its record is made.
 */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

#define BUCKETS (1u << 16)

static size_t hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)(k & (BUCKETS - 1));
}

/* Cookies come from a counter (per CPU, in batches: net/core/net_namespace.c
 * gen_cookie_next()): the low bits spread them as well as a hash, and
 * sockets that end close together in time sit close together in the table,
 * in cache. A hash that scattered them missed the cache on most lookups:
 * the most expensive lines of the join at 20k ends/s. */
static size_t cookie_slot(uint64_t cookie)
{
	return (size_t)(cookie & (BUCKETS - 1));
}

int flow_table_init(struct flow_table *t)
{
	memset(t, 0, sizeof(*t));
	t->size = BUCKETS;
	t->h = calloc(BUCKETS, sizeof(*t->h));
	t->c = calloc(BUCKETS, sizeof(*t->c));
	if (!t->h || !t->c) {
		flow_table_free(t);
		return -1;
	}
	return 0;
}

/* Nothing may point at a flow that is freed. */
static void release(struct flow_table *t, struct flow *f)
{
	for (int i = 0; i < t->nlast; i++)
		if (t->last[i] == f)
			t->last[i] = NULL;
	t->count--;
	if (t->nspare < FLOW_SPARE_MAX) {
		f->hnext = t->spare;
		t->spare = f;
		t->nspare++;
	} else {
		free(f);
	}
}

static void unlink_skaddr(struct flow_table *t, struct flow *f)
{
	for (struct flow **p = &t->h[hash64(f->skaddr)]; *p; p = &(*p)->hnext)
		if (*p == f) {
			*p = f->hnext;
			f->hnext = NULL;
			f->hashed = 0;
			return;
		}
}

static void unlink_cookie(struct flow_table *t, struct flow *f)
{
	if (!f->cookie)
		return;
	for (struct flow **p = &t->c[cookie_slot(f->cookie)]; *p;
	     p = &(*p)->cnext)
		if (*p == f) {
			*p = f->cnext;
			f->cnext = NULL;
			return;
		}
}

void flow_table_free(struct flow_table *t)
{
	/* Every flow is in the skaddr hash or the queue (or both). */
	while (t->qhead)
		flow_drop_after(t, NULL, t->qhead);
	for (size_t i = 0; t->h && i < t->size; i++)
		while (t->h[i]) {
			struct flow *f = t->h[i];
			t->h[i] = f->hnext;
			free(f);
		}
	while (t->spare) {
		struct flow *f = t->spare;
		t->spare = f->hnext;
		free(f);
	}
	free(t->h);
	free(t->c);
	t->h = t->c = NULL;
}

struct flow *flow_by_skaddr(struct flow_table *t, uint64_t skaddr)
{
	for (struct flow *f = t->h[hash64(skaddr)]; f; f = f->hnext)
		if (f->skaddr == skaddr)
			return f;
	return NULL;
}

struct flow *flow_by_cookie(struct flow_table *t, uint64_t cookie)
{
	for (struct flow *f = t->c[cookie_slot(cookie)]; f; f = f->cnext)
		if (f->cookie == cookie)
			return f;
	return NULL;
}

struct flow *flow_new(struct flow_table *t, uint64_t skaddr)
{
	struct flow *old = flow_by_skaddr(t, skaddr);

	if (old) {
		unlink_skaddr(t, old);
		/* A live flow replaced before its destroy (an event lost):
		 * nothing will ever queue it. */
		if (!old->queued) {
			t->replaced++;
			unlink_cookie(t, old);
			release(t, old);
		}
	}
	struct flow *f = t->spare;
	if (f) {
		t->spare = f->hnext;
		t->nspare--;
		memset(f, 0, sizeof(*f));
	} else if (!(f = calloc(1, sizeof(*f)))) {
		return NULL;
	}
	f->skaddr = skaddr;
	f->pid = -1;
	f->rst_reason = -1;
	f->hnext = t->h[hash64(skaddr)];
	t->h[hash64(skaddr)] = f;
	f->hashed = 1;
	t->count++;
	return f;
}

void flow_set_cookie(struct flow_table *t, struct flow *f, uint64_t cookie)
{
	if (f->cookie == cookie)
		return;
	unlink_cookie(t, f);
	f->cookie = cookie;
	if (cookie) {
		f->cnext = t->c[cookie_slot(cookie)];
		t->c[cookie_slot(cookie)] = f;
	}
}

void flow_enqueue(struct flow_table *t, struct flow *f, uint64_t now)
{
	if (f->queued)
		return;
	f->queued = 1;
	f->queued_ns = now;
	f->qnext = NULL;
	if (t->qtail)
		t->qtail->qnext = f;
	else
		t->qhead = f;
	t->qtail = f;
}

void flow_drop_after(struct flow_table *t, struct flow *prev, struct flow *f)
{
	if (f->queued) {
		if (prev)
			prev->qnext = f->qnext;
		else
			t->qhead = f->qnext;
		if (t->qtail == f)
			t->qtail = prev;
	}
	if (f->hashed)
		unlink_skaddr(t, f);
	unlink_cookie(t, f);
	release(t, f);
}

void flow_drop(struct flow_table *t, struct flow *f)
{
	struct flow *prev = NULL;

	if (f->queued)
		for (struct flow *g = t->qhead; g && g != f; g = g->qnext)
			prev = g;
	flow_drop_after(t, prev, f);
}

void flow_touch(struct flow_table *t, int cpu, struct flow *f)
{
	cpu %= FLOW_MAX_CPUS;
	t->last[cpu] = f;
	if (cpu >= t->nlast)
		t->nlast = cpu + 1;
}
