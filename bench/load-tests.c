/*
 * load-tests.c -- the generator's connections and the four tests. The
 * mass-disconnect and latency tests run against one server, echo and churn
 * against all of them in alternating slices; each fills res[][si][r] and
 * leaves the servers as it found them, every connection it opened closed.
 */
#include "load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Dialing from explicit source ports                                   */
/* ------------------------------------------------------------------ */

/*
 * With kernel-chosen source ports, connect() scans the ephemeral range past
 * every TIME_WAIT socket and the generator collapses (BENCHMARKING.md).
 * So each client socket binds its own port, round-robin over
 * [port_lo, port_hi], with SO_REUSEADDR: bind() then ignores our TIME_WAIT
 * sockets on that port, and connect() checks only the one 4-tuple. A
 * TIME_WAIT on that exact 4-tuple is taken over if it is older than
 * net.ipv4.tcp_tw_reuse_delay (1 s; tcp_tw_reuse=2 allows it on loopback);
 * otherwise connect() says EADDRNOTAVAIL and we take the next port.
 */
static unsigned port_next;

static int dial(uint16_t dport, int rst)
{
	struct sockaddr_in a;
	int one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int tries = 0; tries < 1000; tries++) {
		int fd = socket(AF_INET,
				SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0)
			die("socket");
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (rst) {
			struct linger lg = {1, 0};
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		for (;;) {
			if (port_next < port_lo || port_next > port_hi)
				port_next = port_lo;
			a.sin_port = htons((uint16_t)port_next++);
			if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
				break;
			if (errno != EADDRINUSE)
				die("bind");
			stats.port_skips++;
		}
		a.sin_port = htons(dport);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ||
		    errno == EINPROGRESS)
			return fd;
		if (errno != EADDRNOTAVAIL && errno != EADDRINUSE)
			die("connect 127.0.0.1:%u", dport);
		stats.port_skips++;
		close(fd);
	}
	errno = 0;
	die("no usable source port in %u-%u", port_lo, port_hi);
}

/* Wait until *counter reaches target; 50 us naps, not a spin, so that the
 * cache line the server writes is not pulled back at every store. */
static void wait_count(struct server *s, int which, uint64_t target,
		       unsigned timeout_ms, const char *what)
{
	uint64_t t0 = now_ns();

	for (;;) {
		uint64_t v = which ? closes(s) : opens(s);

		if (v >= target)
			return;
		if (now_ns() - t0 > timeout_ms * MS) {
			errno = 0;
			die("%s: %s: %llu of %llu after %u ms", s->name, what,
			    (unsigned long long)v, (unsigned long long)target,
			    timeout_ms);
		}
		sleep_ns(50000);
	}
}

/* Every connection the server accepted has been closed. */
static void wait_quiet(struct server *s)
{
	wait_count(s, 1, opens(s), 30000, "closing");
}

/* n connections, accepted by the server, idle. In batches well under the
 * accept backlog (SOMAXCONN) so no SYN waits for a retransmit. */
static int *open_idle(struct server *s, int n, int rst)
{
	int *fds = malloc((size_t)n * sizeof(*fds));
	uint64_t base = opens(s);

	if (!fds)
		die("malloc");
	for (int i = 0; i < n;) {
		int end = i + 500 < n ? i + 500 : n;

		for (; i < end; i++)
			fds[i] = dial(s->port, rst);
		wait_count(s, 0, base + (uint64_t)i, 20000, "accepting");
	}
	return fds;
}

static void close_abort(int fd)
{
	struct linger lg = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */
/* ------------------------------------------------------------------ */

/* The CPU and wall-clock state at one instant of a measured window. */
struct mark {
	uint64_t t, srv, gen, ops, busy;
};

static struct mark mark(const struct server *s, uint64_t ops)
{
	struct mark m = {now_ns(), server_cpu_ns(s), gen_cpu_ns(), ops,
			 busy_ns()};

	return m;
}

/*
 * A server's slices of one churn or echo test, added up. Slices of the
 * servers alternate (A B C D E A B ...), so a slow drift of the machine --
 * this one is a shared VM -- falls on every server alike instead of on
 * whichever happened to run during it.
 */
struct tally {
	uint64_t t, srv, gen, busy, ops;
};

static void tally_add(struct tally *y, const struct mark *a,
		      const struct mark *b)
{
	y->t += b->t - a->t;
	y->srv += b->srv - a->srv;
	y->gen += b->gen - a->gen;
	y->busy += b->busy - a->busy;
	y->ops += b->ops - a->ops;
}

/* CPU % of one core that the rest of the machine took over [a, b]. */
static double others_pct(const struct mark *a, const struct mark *b)
{
	double busy = (double)(b->busy - a->busy);
	double ours = (double)(b->srv - a->srv) + (double)(b->gen - a->gen);

	return fmax(0, busy - ours) / 1e7 / ((double)(b->t - a->t) / 1e9);
}

/* Rate, server CPU per op and the CPU loads, from a tally. */
static void tally_store(const struct tally *y, int si, int r, enum metric rate)
{
	double secs = (double)y->t / 1e9, ops = (double)y->ops;

	res[rate][si][r] = ops / secs;
	res[rate + 1][si][r] = (double)y->srv / 1e3 / ops;
	res[rate + 2][si][r] = (double)y->srv / 1e7 / secs;
	res[rate + 3][si][r] = (double)y->gen / 1e7 / secs;
	res[rate + 4][si][r] =
	    fmax(0, (double)y->busy - (double)y->srv - (double)y->gen) / 1e7 /
	    secs;
	stats.windows++;
	if (res[rate + 3][si][r] >= 95)
		stats.gen_saturated++;
}

/*
 * Mass disconnect: n idle connections, closed back to back. The time is
 * from our first close() to the server's nth close callback: it includes
 * our own close() loop (which also runs the server's TCP receive path on
 * CPU 1), so it is reported with the server's CPU per close beside it.
 * With memory != NULL, also the RssAnon delta per connection (the caller
 * does this first, on a fresh server).
 */
/* Keep the mean of a round's repetitions in res[m][si][r]. */
static void keep(enum metric m, int si, int r, int rep, double v)
{
	res[m][si][r] = rep == 0 ? v : (res[m][si][r] * rep + v) / (rep + 1);
}

void test_mass(int si, int r, int rst, int rep)
{
	struct server *s = &servers[si];
	long kb0 = rss_anon_kb(s);
	double slab0 = slab_bytes();
	int *fds = open_idle(s, N, rst);

	sleep_ns(200 * MS);     /* let the server finish its accept work */
	if (!rst && rep == 0) { /* the server has never held a connection */
		res[M_MEM][si][r] = (double)(rss_anon_kb(s) - kb0) * 1024.0 / N;
		/* The kernel's side, for docs/bench.md's 1,000,000 idle
		 * connections: both ends' sockets, files, dentries, inodes
		 * and the server's epoll items. Noisy (other processes use
		 * slabs too), and only as root. */
		double slab1 = slab_bytes();
		if (slab0 >= 0 && slab1 >= 0)
			res[M_KMEM][si][r] = (slab1 - slab0) / N;
	}

	uint64_t base = closes(s);
	uint64_t cpu0 = server_cpu_ns(s);
	uint64_t t0 = now_ns();
	for (int i = 0; i < N; i++)
		close(fds[i]);
	uint64_t t1 = now_ns();
	wait_count(s, 1, base + (uint64_t)N, 60000, "mass close");
	uint64_t last = close_time(s, base + (uint64_t)N - 1);
	uint64_t cpu1 = server_cpu_ns(s);

	keep(rst ? M_RST_MS : M_FIN_MS, si, r, rep, (double)(last - t0) / 1e6);
	keep(rst ? M_RST_LOOP : M_FIN_LOOP, si, r, rep,
	     (double)(t1 - t0) / 1e6);
	keep(rst ? M_RST_CPU : M_FIN_CPU, si, r, rep,
	     (double)(cpu1 - cpu0) / 1e3 / N);
	fprintf(stderr,
		"  %-9s mass %s: %.1f ms (our close loop %.1f ms), "
		"%.2f us CPU/close\n",
		s->name, rst ? "RST" : "FIN", (double)(last - t0) / 1e6,
		(double)(t1 - t0) / 1e6, (double)(cpu1 - cpu0) / 1e3 / N);
	if (!rst && rep == 0)
		fprintf(stderr, "  %-9s memory: %.0f B per idle connection\n",
			s->name, res[M_MEM][si][r]);
	free(fds);
	wait_quiet(s);
}

/*
 * FIN to close callback on an idle server, one connection at a time:
 * our clock before close(), the server's clock in its close callback, the
 * same CLOCK_MONOTONIC. A pause between samples lets the server go back to
 * sleep in epoll_wait, so each sample includes the wakeup a real idle
 * server pays.
 */
void test_latency(int si, int r)
{
	struct server *s = &servers[si];
	int n = opt_lat_samples;
	int *fds = open_idle(s, n, 0);
	double *lat = malloc((size_t)n * sizeof(*lat));

	if (!lat)
		die("malloc");
	sleep_ns(50 * MS);
	for (int i = 0; i < n; i++) {
		sleep_ns(100000);
		uint64_t base = closes(s);
		uint64_t t0 = now_ns();
		close(fds[i]);
		/* Spin: a nap here would be part of the measurement. */
		while (closes(s) <= base)
			if (now_ns() - t0 > 2000 * MS) {
				errno = 0;
				die("%s: no close within 2 s of a FIN",
				    s->name);
			}
		lat[i] = (double)(close_time(s, base) - t0) / 1e3;
	}
	res[M_LAT50][si][r] = percentile(lat, n, 50);
	res[M_LAT99][si][r] = percentile(lat, n, 99);
	fprintf(stderr, "  %-9s FIN->close idle: p50 %.1f us, p99 %.1f us\n",
		s->name, res[M_LAT50][si][r], res[M_LAT99][si][r]);
	free(lat);
	free(fds);
	wait_quiet(s);
}

/* One generator-side connection of the echo and churn tests. */
struct gconn {
	int fd;
	uint32_t gen; /* bumped at every reuse: drops stale epoll events */
	uint16_t got; /* bytes of the echo received so far */
	uint8_t connecting;
};

static const char msg[MSG_LEN + 1] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static uint64_t tag(uint32_t i, uint32_t gen)
{
	return (uint64_t)gen << 32 | i;
}

static void gconn_dial(int ep, struct gconn *c, uint32_t i, uint16_t port,
		       uint32_t events)
{
	struct epoll_event ev = {.events = events};

	c->fd = dial(port, 0);
	c->gen++;
	c->got = 0;
	c->connecting = 1;
	ev.data.u64 = tag(i, c->gen);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl");
}

/* Read what has come of the echo. 1 = complete, 0 = not yet, -1 = error. */
static int gconn_read(struct gconn *c)
{
	char buf[MSG_LEN];

	while (c->got < MSG_LEN) {
		ssize_t n = recv(c->fd, buf, MSG_LEN - c->got, 0);

		if (n > 0)
			c->got = (uint16_t)(c->got + n);
		else if (n < 0 && errno == EAGAIN)
			return 0;
		else if (!(n < 0 && errno == EINTR))
			return -1;
	}
	c->got = 0;
	return 1;
}

static void send_msg(int fd)
{
	if (send(fd, msg, MSG_LEN, MSG_NOSIGNAL) != MSG_LEN)
		die("send (one 64-byte message never fills a socket buffer)");
}

/*
 * Run slices of `slice_ms` on every server in `order` until each has had
 * opt_run_ms of them, after one warm-up slice each (opt_warm_ms) that is
 * not counted. A slice in which other processes took more than
 * opt_max_others % of a core is not counted either and comes again on
 * the server's next turn (at most one extra pass per server in all).
 * `slice` runs one slice against server si and marks its start and end.
 */
static void run_slices(const int *order, int r, enum metric rate,
		       void (*slice)(void *ctx, int si, unsigned ms,
				     struct mark *a, struct mark *b),
		       void *ctx, const char *what)
{
	struct tally y[MAX_SERVERS];
	int want = opt_run_ms / opt_slice_ms > 0
		       ? (int)(opt_run_ms / opt_slice_ms)
		       : 1;
	int got[MAX_SERVERS] = {0}, spare[MAX_SERVERS];
	struct mark a, b;

	memset(y, 0, sizeof(y));
	for (int i = 0; i < nservers; i++) {
		spare[i] = want;
		slice(ctx, order[i], opt_warm_ms, &a, &b);
	}
	for (int busy = 1; busy;) {
		busy = 0;
		for (int i = 0; i < nservers; i++) {
			int si = order[i];

			if (got[si] >= want)
				continue;
			busy = 1;
			slice(ctx, si, opt_slice_ms, &a, &b);
			double o = others_pct(&a, &b);
			if (o > opt_max_others && spare[si] > 0) {
				spare[si]--;
				stats.retried++;
				continue;
			}
			tally_add(&y[si], &a, &b);
			got[si]++;
		}
	}
	for (int i = 0; i < nservers; i++) {
		int si = order[i];

		tally_store(&y[si], si, r, rate);
		fprintf(stderr,
			"  %-9s %s: %.0f/s, %.2f us CPU each (server %.0f%%, "
			"generator %.0f%%, others %.0f%%)\n",
			servers[si].name, what, res[rate][si][r],
			res[rate + 1][si][r], res[rate + 2][si][r],
			res[rate + 3][si][r], res[rate + 4][si][r]);
	}
}

/* Every server's echo connections. */
struct echo_ctx {
	struct gconn *cs[MAX_SERVERS];
	int ep[MAX_SERVERS];
	int n;
};

/*
 * One echo slice: a 64-byte message on each of the server's connections,
 * a complete echo sends the next until `ms` have passed; then the last
 * ones are drained, so a slice ends with the server idle.
 */
static void echo_slice(void *p, int si, unsigned ms, struct mark *a,
		       struct mark *b)
{
	struct echo_ctx *x = p;
	struct server *s = &servers[si];
	struct gconn *cs = x->cs[si];
	struct epoll_event evs[1024];
	uint64_t msgs = 0;
	int inflight = x->n, sending = 1;

	*a = mark(s, 0);
	uint64_t t_end = a->t + ms * MS;
	for (int i = 0; i < x->n; i++)
		send_msg(cs[i].fd);
	while (inflight > 0) {
		int ne = epoll_wait(x->ep[si], evs, 1024, 1000);

		if (ne < 0 && errno != EINTR)
			die("epoll_wait");
		if (ne == 0) {
			errno = 0;
			die("%s: echo stalled", s->name);
		}
		for (int e = 0; e < ne; e++) {
			struct gconn *c = &cs[(uint32_t)evs[e].data.u64];
			int st = evs[e].events & (EPOLLERR | EPOLLHUP)
				     ? -1
				     : gconn_read(c);

			if (st < 0) {
				errno = 0;
				die("%s: an echo connection ended", s->name);
			}
			if (st == 0)
				continue;
			msgs++;
			if (sending)
				send_msg(c->fd);
			else
				inflight--;
		}
		if (sending && now_ns() >= t_end)
			sending = 0;
	}
	*b = mark(s, msgs);
}

/*
 * Echo rate: opt_echo_conns connections to every server, each with one
 * 64-byte message in flight while its server's slice runs.
 * (A FIN-to-close latency under this load would only measure the queue: a
 * closed-loop load keeps every connection ready, so a FIN waits its turn
 * behind the other 999, about one echo round trip, whatever the loop.)
 */
void test_echo(int r, const int *order)
{
	struct echo_ctx x = {.n = opt_echo_conns};

	for (int si = 0; si < nservers; si++) {
		int *fds = open_idle(&servers[si], x.n, 0);

		x.cs[si] = calloc((size_t)x.n, sizeof(struct gconn));
		x.ep[si] = epoll_create1(EPOLL_CLOEXEC);
		if (!x.cs[si] || x.ep[si] < 0)
			die("echo setup");
		for (int i = 0; i < x.n; i++) {
			struct epoll_event ev = {
			    .events = EPOLLIN, .data.u64 = tag((uint32_t)i, 0)};
			x.cs[si][i].fd = fds[i];
			if (epoll_ctl(x.ep[si], EPOLL_CTL_ADD, fds[i], &ev) < 0)
				die("epoll_ctl");
		}
		free(fds);
	}
	run_slices(order, r, M_ECHO_RATE, echo_slice, &x, "echo msg");
	for (int si = 0; si < nservers; si++) {
		for (int i = 0; i < x.n; i++)
			close_abort(x.cs[si][i].fd);
		close(x.ep[si]);
		free(x.cs[si]);
		wait_quiet(&servers[si]);
	}
}

/*
 * One churn slice: opt_churn_conc connections at a time, each connect,
 * 64-byte echo, close, a finished one replaced at once until `ms` have
 * passed; then the last ones finish and the server closes them all, so
 * the slice ends with the server idle. Edge-triggered with EPOLLIN |
 * EPOLLOUT: EPOLLOUT says connected, EPOLLIN the echo.
 */
static void churn_slice(void *p, int si, unsigned ms, struct mark *a,
			struct mark *b)
{
	struct server *s = &servers[si];
	int n = opt_churn_conc, active = 0;
	struct gconn *cs = calloc((size_t)n, sizeof(*cs));
	struct epoll_event evs[256];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	uint64_t done = 0, errors = 0;

	(void)p;
	if (!cs || ep < 0)
		die("churn setup");
	/* Our TIME_WAIT sockets, if ss -K could not remove them: let them
	 * age out below half the kernel's cap first (BENCHMARKING.md). */
	uint64_t tw0 = now_ns();
	while (tw_count() > opt_tw_max &&
	       now_ns() - tw0 < opt_tw_wait_s * 1000 * MS)
		sleep_ns(1000 * MS);
	stats.tw_waited_s += (long)((now_ns() - tw0) / (1000 * MS));

	*a = mark(s, 0);
	uint64_t t_end = a->t + ms * MS;
	for (int i = 0; i < n; i++) {
		gconn_dial(ep, &cs[i], (uint32_t)i, s->port,
			   EPOLLIN | EPOLLOUT | EPOLLET);
		active++;
	}
	while (active > 0) {
		int ne = epoll_wait(ep, evs, 256, 1000);

		if (ne < 0 && errno != EINTR)
			die("epoll_wait");
		if (ne == 0) {
			errno = 0;
			die("%s: churn stalled", s->name);
		}
		int more = now_ns() < t_end;
		for (int e = 0; e < ne; e++) {
			uint32_t i = (uint32_t)evs[e].data.u64;
			struct gconn *c = &cs[i];
			uint32_t ev = evs[e].events;
			int st = 0;

			if ((uint32_t)(evs[e].data.u64 >> 32) != c->gen)
				continue;
			if (ev & EPOLLERR) {
				st = -1;
			} else {
				if (c->connecting && (ev & EPOLLOUT)) {
					c->connecting = 0;
					send_msg(c->fd);
				}
				if (!c->connecting && (ev & EPOLLIN))
					st = gconn_read(c);
			}
			if (st == 0)
				continue;
			close(c->fd);
			if (st > 0)
				done++;
			else
				errors++;
			if (more)
				gconn_dial(ep, c, i, s->port,
					   EPOLLIN | EPOLLOUT | EPOLLET);
			else
				active--;
		}
	}
	wait_quiet(s);
	*b = mark(s, done);
	close(ep);
	free(cs);
	if (errors) {
		errno = 0;
		die("%s: %llu churn connections failed", s->name,
		    (unsigned long long)errors);
	}
	purge_time_wait(s); /* after the mark: not measured */
}

/* Connection churn, slice by slice across the servers. */
void test_churn(int r, const int *order)
{
	run_slices(order, r, M_CHURN_RATE, churn_slice, NULL, "churn conn");
}
