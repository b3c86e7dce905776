/*
 * engine.c -- watch.h's API: start the sources, read them, join tracepoint
 * flows with sock_diag messages by cookie, and hand out records.
 *
 * A destroyed flow waits `hold_ms` (20 ms by default) before it becomes a
 * record: the RST for data that arrives after our close is sent after the
 * destroy, and the diag message comes from a workqueue 0.2-5 ms later. A
 * flow whose diag message never comes (another namespace, or a message
 * lost to ENOBUFS) is let go after diag_wait (300 ms): with --all-netns it
 * becomes a record with the counts unknown; otherwise it is counted
 * (unmatched_trace) and dropped, since it most likely belongs to a
 * namespace we were not asked to watch.
 */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

uint64_t watch_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void on_task(void *arg, uint32_t pid, uint32_t ppid, const char *comm,
		    uint64_t time)
{
	(void)arg;
	ev_task(pid, ppid, comm, time);
}

static int start_trace(struct engine *g, char *why, size_t len)
{
	if (tp_load(g->fmt, &g->syms, why, len) < 0)
		return -1;
	g->perf.on_task = on_task;
	if (perf_open(&g->perf, g->fmt, why, len) < 0)
		return -1;
	for (int c = 0; c < g->perf.ncpus; c++)
		if (g->perf.ring[c].base)
			epoll_add(g->epfd, g->perf.ring[c].fd);
	return 0;
}

static void say_missing(char *m, size_t mlen, const char *what, const char *why)
{
	size_t n = strlen(m);

	if (n < mlen)
		snprintf(m + n, mlen - n, "%s%s (%s)", n ? "; " : "", what,
			 why);
}

struct watch *watch_open(const struct watch_opts *o, char *err, size_t len,
			 char *missing, size_t mlen, int *usage)
{
	struct engine *g = calloc(1, sizeof(*g));
	char why[256], dummy[1];

	*usage = 0;
	if (!missing) {
		missing = dummy;
		mlen = sizeof(dummy);
	}
	missing[0] = '\0';
	if (!g || flow_table_init(&g->flows) < 0) {
		free(g);
		snprintf(err, len, "out of memory");
		return NULL;
	}
	g->opts = *o;
	g->debug = getenv("HANGUP_WATCH_DEBUG") != NULL;
	g->hold_ns = (o->hold_ms ? o->hold_ms : 20) * 1000000ull;
	g->diag_wait_ns = 300 * 1000000ull;
	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < TP_COUNT; i++)
		g->fmt[i].id = -1;
	if (!o->no_diag) {
		int r = diag_open(&g->diag, o, why, sizeof(why));
		if (r == -2) {
			snprintf(err, len, "%s", why);
			*usage = 1;
			watch_close((struct watch *)g);
			return NULL;
		}
		g->diag_ok = r == 0;
		if (!g->diag_ok)
			say_missing(missing, mlen,
				    "sock_diag: no bytes or queues", why);
		for (int i = 0; i < g->diag.n; i++)
			epoll_add(g->epfd, g->diag.fd[i]);
	}
	if (!o->no_trace) {
		g->trace_ok = start_trace(g, why, sizeof(why)) == 0;
		if (!g->trace_ok)
			say_missing(missing, mlen,
				    "tracepoints: no who, why or process", why);
	}
	if (!g->trace_ok && !g->diag_ok) {
		snprintf(err, len, "cannot watch: %s",
			 missing[0] ? missing : "no source chosen");
		watch_close((struct watch *)g);
		return NULL;
	}
	g->st.trace_ok = g->trace_ok;
	g->st.diag_ok = g->diag_ok;
	g->st.ncpus = g->perf.ncpus;
	return (struct watch *)g;
}

int watch_fd(const struct watch *w)
{
	return ((const struct engine *)w)->epfd;
}

/* Room for cap samples in ev and in the arrays that sort them. */
static int ev_grow(struct engine *g)
{
	size_t cap = g->cap ? g->cap * 2 : 4096;
	struct tp_event *ev = realloc(g->ev, cap * sizeof(*ev));
	if (ev)
		g->ev = ev;
	struct tp_event *ev2 = realloc(g->ev2, cap * sizeof(*ev2));
	if (ev2)
		g->ev2 = ev2;
	struct ev_key *key = realloc(g->key, 2 * cap * sizeof(*key));
	if (key)
		g->key = key;
	if (!ev || !ev2 || !key)
		return -1;
	g->cap = cap;
	return 0;
}

static void on_sample(void *arg, int cpu, uint32_t pid, uint64_t time,
		      const uint8_t *raw, uint32_t n)
{
	struct engine *g = arg;

	if (g->nev == g->cap && ev_grow(g) < 0)
		return;
	ev_decode(g, cpu, pid, time, raw, n, &g->ev[g->nev]);
	if (g->ev[g->nev].type >= 0)
		g->nev++;
	g->st.samples++;
}

static int key_before(const struct ev_key *x, const struct ev_key *y)
{
	return x->time < y->time || (x->time == y->time && x->i < y->i);
}

/* Sort a[0..n) by (time, index), tmp[0..n) as scratch; returns where the
 * result is (a or tmp). A natural merge sort: ev holds the samples kept
 * from the last round (sorted), then each ring's (nearly sorted: a ring is
 * written in time order but for interrupts), so there are a few long runs
 * to merge, not n log n comparisons through qsort()'s function pointer
 * (by_time() and glibc's indirect sort of 130-byte elements were 6% of
 * watch's CPU). */
static struct ev_key *sort_keys(struct ev_key *a, struct ev_key *tmp, size_t n)
{
	for (;;) {
		size_t runs = 0, i = 0, o = 0;
		while (i < n) {
			size_t m = i + 1;
			while (m < n && !key_before(&a[m], &a[m - 1]))
				m++;
			size_t e = m + 1;
			while (e < n && !key_before(&a[e], &a[e - 1]))
				e++;
			if (m >= n)
				e = n;
			/* Merge a[i..m) and a[m..e) into tmp[o..). */
			size_t x = i, y = m;
			while (x < m && y < e)
				tmp[o++] =
				    key_before(&a[y], &a[x]) ? a[y++] : a[x++];
			while (x < m)
				tmp[o++] = a[x++];
			while (y < e)
				tmp[o++] = a[y++];
			i = e;
			runs++;
		}
		struct ev_key *t = a;
		a = tmp;
		tmp = t;
		if (runs <= 1)
			return a;
	}
}

/* Give m its flow: the destroyed one with its cookie, else one of its own
 * (a socket whose tracepoints we never saw: sock_diag alone, or a sample
 * lost). */
static void attach_diag(struct engine *g, const struct diag_msg *m,
			struct flow *f)
{
	if (f && f->destroyed) {
		f->diag = *m;
		f->have_diag = 1;
		return;
	}
	f = flow_new(&g->flows, m->cookie ^ 1); /* not a real skaddr */
	if (!f)
		return;
	f->diag = *m;
	f->have_diag = 1;
	flow_set_cookie(&g->flows, f, m->cookie);
	flow_enqueue(&g->flows, f, watch_now_ns());
}

static void on_diag(void *arg, const struct diag_msg *m)
{
	struct engine *g = arg;
	struct flow *f = flow_by_cookie(&g->flows, m->cookie);

	if (g->debug)
		fprintf(stderr,
			"diag cookie=%llx state=%d rq=%u wq=%u acked=%llu "
			"received=%llu sent=%llu retrans=%llu dport=%u\n",
			(unsigned long long)m->cookie, m->state, m->rqueue,
			m->wqueue, (unsigned long long)m->bytes_acked,
			(unsigned long long)m->bytes_received,
			(unsigned long long)m->bytes_sent,
			(unsigned long long)m->bytes_retrans,
			watch_port(&m->peer));
	if (m->state == TS_LISTEN)
		return;
	if ((f && f->destroyed) || !g->trace_ok) {
		attach_diag(g, m, f);
		return;
	}
	/* Its destroy sample is most likely read but not applied yet: wait
	 * for it (retry_diag) rather than make a flow of its own that the
	 * destroy then has to find, merge and free (a third of the join's
	 * cost at 20k ends/s). */
	if (g->npend == g->pcap) {
		size_t cap = g->pcap ? g->pcap * 2 : 1024;
		struct diag_pending *p = realloc(g->pend, cap * sizeof(*p));
		if (!p) {
			attach_diag(g, m, f);
			return;
		}
		g->pend = p;
		g->pcap = cap;
	}
	g->pend[g->npend].m = *m;
	g->pend[g->npend++].read_ns = watch_now_ns();
}

/* After the samples stamped up to `cut` are applied: a message read before
 * `cut` came after its socket's destroy (stamped before it, so applied by
 * now); if its flow is not there, it gets one of its own. The others wait
 * for the next round. */
static void retry_diag(struct engine *g, uint64_t cut)
{
	size_t k = 0;

	for (size_t i = 0; i < g->npend; i++) {
		struct diag_pending *p = &g->pend[i];
		struct flow *f = flow_by_cookie(&g->flows, p->m.cookie);
		if ((f && f->destroyed) || p->read_ns <= cut)
			attach_diag(g, &p->m, f);
		else if (k != i)
			g->pend[k++] = *p;
		else
			k++;
	}
	g->npend = k;
}

static void push(struct engine *g, const struct watch_record *r)
{
	if (g->rcount == g->rcap) {
		size_t cap = g->rcap ? g->rcap * 2 : 256;
		struct watch_record *n = malloc(cap * sizeof(*n));
		if (!n)
			return;
		for (size_t i = 0; i < g->rcount; i++)
			n[i] = g->ready[(g->rhead + i) % g->rcap];
		free(g->ready);
		g->ready = n;
		g->rcap = cap;
		g->rhead = 0;
	}
	g->ready[(g->rhead + g->rcount++) % g->rcap] = *r;
	g->st.records++;
}

/* 1: the flow's record may be made now. */
static int ripe(const struct engine *g, const struct flow *f, uint64_t now,
		int flush)
{
	if (flush)
		return 1;
	if (f->traced) /* waits for its diag message, and a late RST */
		return now >= f->queued_ns + g->hold_ns &&
		       (f->have_diag || !g->diag_ok ||
			now >= f->queued_ns + g->diag_wait_ns);
	/* A diag message alone waits for its tracepoints. */
	return !g->trace_ok || now >= f->queued_ns + g->diag_wait_ns;
}

static void make_record(struct engine *g, const struct flow *f)
{
	struct watch_record r;
	const struct diag_msg *d = &f->diag;

	if (f->traced && (f->listener || !f->moved))
		return; /* a listener, or a socket that never connected */
	if (!f->traced && watch_port(&d->peer) == 0 && !d->rqueue &&
	    !d->wqueue && !d->bytes_received && !d->bytes_acked)
		return; /* the same, as sock_diag alone shows it */
	if (f->traced && !f->have_diag && g->diag_ok) {
		g->st.unmatched_trace++;
		if (!g->opts.all_netns) {
			g->st.other_netns++;
			return;
		}
	}
	if (!f->traced && g->trace_ok)
		g->st.unmatched_diag++;
	flow_to_record(f, &g->syms, &r);
	if (g->opts.port && watch_port(&r.local) != g->opts.port &&
	    watch_port(&r.peer) != g->opts.port)
		return;
	r.ready_ns = watch_now_ns();
	push(g, &r);
}

static void harvest(struct engine *g, int flush)
{
	uint64_t now = watch_now_ns();
	struct flow *prev = NULL, *f = g->flows.qhead;

	while (f) {
		struct flow *next = f->qnext;
		if (!flush && now < f->queued_ns + g->hold_ns)
			break; /* the rest are younger */
		if (ripe(g, f, now, flush)) {
			make_record(g, f);
			flow_drop_after(&g->flows, prev, f);
		} else {
			prev = f;
		}
		f = next;
	}
}

/* Apply the samples stamped up to `cut`, in time order (read order for
 * equal times); keep the rest, in that order, for the next round. Index
 * order stays read order: the kept ones go first, in order, and new ones
 * are appended. */
static void apply_until(struct engine *g, uint64_t cut)
{
	size_t i, n = g->nev;

	if (!n)
		return;
	for (i = 0; i < n; i++)
		g->key[i] = (struct ev_key){g->ev[i].time, i};
	struct ev_key *k = sort_keys(g->key, g->key + g->cap, n);
	for (i = 0; i < n && k[i].time <= cut; i++) {
		if (g->debug)
			ev_debug(&g->ev[k[i].i]);
		ev_apply(g, &g->ev[k[i].i]);
	}
	for (size_t j = i; j < n; j++)
		g->ev2[j - i] = g->ev[k[j].i];
	struct tp_event *t = g->ev;
	g->ev = g->ev2;
	g->ev2 = t;
	g->nev = n - i;
}

int watch_poll(struct watch *w, int timeout_ms)
{
	struct engine *g = (struct engine *)w;
	struct epoll_event ev[16];

	int n = epoll_wait(g->epfd, ev, 16, timeout_ms);
	if (n < 0 && errno != EINTR)
		return -1;
	if (g->trace_ok) {
		/* Rings are read one after the other: a sample stamped after
		 * this instant may have a predecessor on a ring already read
		 * (a socket destroyed on CPU 1, its memory reused on CPU 0),
		 * and a sample is stamped a little before its ring shows it
		 * (more when the writer is preempted: 1 ms was not enough
		 * on a busy VM). Those wait for the next round. */
		uint64_t cut = watch_now_ns() - 10000000; /* 10 ms */
		perf_read(&g->perf, on_sample, g);
		apply_until(g, cut);
		retry_diag(g, cut);
		g->st.lost_samples = g->perf.lost;
	}
	for (int i = 0; i < g->diag.n; i++)
		diag_read(&g->diag, i, on_diag, g);
	g->st.netlink_overruns = g->diag.overruns;
	g->st.replaced = g->flows.replaced;
	harvest(g, 0);
	return (int)g->rcount;
}

int watch_next(struct watch *w, struct watch_record *r)
{
	struct engine *g = (struct engine *)w;

	if (!g->rcount)
		return 0;
	*r = g->ready[g->rhead];
	g->rhead = (g->rhead + 1) % g->rcap;
	g->rcount--;
	return 1;
}

void watch_flush(struct watch *w)
{
	apply_until((struct engine *)w, UINT64_MAX);
	retry_diag((struct engine *)w, UINT64_MAX);
	harvest((struct engine *)w, 1);
}

void watch_get_stats(const struct watch *w, struct watch_stats *s)
{
	*s = ((const struct engine *)w)->st;
}

void watch_close(struct watch *w)
{
	struct engine *g = (struct engine *)w;

	if (!g)
		return;
	perf_close(&g->perf);
	diag_close(&g->diag);
	if (g->epfd >= 0)
		close(g->epfd);
	flow_table_free(&g->flows);
	free(g->ev);
	free(g->ev2);
	free(g->key);
	free(g->pend);
	free(g->ready);
	free(g);
}
