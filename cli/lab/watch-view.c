/*
 * watch-view.c -- `hangup lab --watch`: the lab checks `hangup watch`.
 *
 * In each scenario's process (inside its namespace, if it has one) the
 * watch engine (cli/watch/watch.h) is opened before the scenario makes a
 * socket; lab_track() takes the SO_COOKIE of every TCP socket the scenario
 * makes or accepts. Once the scenario's fds are closed -- many of its
 * sockets end only there -- we wait for watch's record of each one and
 * put it beside what the lab's own capture says of the same socket (by
 * its ports): who sent the first FIN, who sent the first RST, whether this
 * end sent one and received one, and the payload bytes each way. A
 * difference fails the scenario like any other mismatch.
 *
 * The capture's view, from one end ("local"), follows what that socket
 * itself did:
 *  - a segment it sent counts even when nft dropped it (it was sent); one
 *    sent to it counts only when delivered (lab_dropped_at()), since a
 *    dropped FIN or RST never reached the socket watch speaks for;
 *  - only segments that arrived before the socket was destroyed (the
 *    record's end), and this end's RST answering the last of them (the
 *    kernel destroys an orphan, then sends TCP_ABORT_ON_DATA's RST). An
 *    orphan whose FIN was acknowledged outside the syscall becomes a
 *    TIME_WAIT remnant (tcp_time_wait(), substate FIN_WAIT2) and the full
 *    socket is destroyed: data arriving later is answered with RST by the
 *    remnant (tcp_timewait_state_process()), not by the socket, and the
 *    record -- made when the kernel is done with the socket -- rightly
 *    says nothing of it. Capture times (CLOCK_REALTIME) and the record's
 *    end (CLOCK_MONOTONIC) are put on one clock by their offset now;
 *  - payload bytes count each sequence number once (retransmissions are
 *    not new bytes); bytes in only when delivered and not refused: data
 *    this end answered with an RST (data after its close) was never
 *    received (tcpi_bytes_received does not count it);
 *  - "both" for the first FIN (a simultaneous close, FIN_WAIT1 ->
 *    CLOSING) is accepted when each end sent a FIN: on loopback the two
 *    cross inside one softirq and the capture's order says nothing.
 * A count watch marks unknown is not compared (tcp_disconnect() zeroes
 * the counters of an SO_LINGER abort: watch says it cannot know, which is
 * true); everything else is.
 *
 * A namespace scenario that ends with its network still cut (nft drops
 * every segment) leaves sockets whose FIN would be retransmitted for
 * minutes (tcp_orphan_retries), and watch's record would come only then:
 * with --watch the fixture closes those abortively (SO_LINGER {1,0}), and
 * the abort is what both views then describe.
 */
#include "lab.h"

#include "watch/watch.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 1500 /* for every record: 20 ms hold + the diag delay */
#define MAX_SEEN 64  /* distinct data segments per direction */

/*
 * The engine is read all along by a thread of the scenario process, not
 * only at the end: the tracepoints see every TCP socket on the host, and
 * a scenario that waits 4 s (dead-peer) while another program churns
 * connections would otherwise overflow the rings (measured: 3774 samples
 * lost, the records then sock_diag's alone). The thread keeps the records
 * of the scenario's cookies and drops the rest; the mutex guards the
 * cookie table and those records. A scenario's forked children (a peer
 * that holds a socket, a write() without MSG_NOSIGNAL) only make
 * syscalls: they never touch the mutex.
 */
#define MAX_SOCKS 16 /* TCP sockets of one scenario that watch follows */

struct lab_wview {
	struct watch *w;
	pthread_t reader;
	pthread_mutex_t mu;
	int stop;       /* under mu: the reader is to end */
	int joined;     /* the reader has ended: no lock needed any more */
	int reader_err; /* watch_poll failed: errno */
	struct {
		unsigned long long cookie;
		int conn; /* 0: a listener, a bound port (no record) */
		int got;  /* its record is in rec */
		struct watch_record rec;
	} s[MAX_SOCKS];
	int n, full;
};

/* The reader thread: records of the scenario's sockets, kept. */
static void *reader(void *arg)
{
	struct lab_wview *v = arg;
	int stop = 0;

	while (!stop) {
		struct watch_record w;

		if (watch_poll(v->w, 25) < 0 && errno != EINTR) {
			pthread_mutex_lock(&v->mu);
			v->reader_err = errno;
			pthread_mutex_unlock(&v->mu);
			break;
		}
		pthread_mutex_lock(&v->mu);
		while (watch_next(v->w, &w) == 1)
			for (int i = 0; i < v->n; i++)
				if (v->s[i].cookie == w.cookie &&
				    !v->s[i].got) {
					v->s[i].rec = w;
					v->s[i].got = 1;
				}
		stop = v->stop;
		pthread_mutex_unlock(&v->mu);
	}
	return NULL;
}

/* End the reader thread (once). */
static void stop_reader(struct lab_wview *v)
{
	if (v->joined)
		return;
	pthread_mutex_lock(&v->mu);
	v->stop = 1;
	pthread_mutex_unlock(&v->mu);
	pthread_join(v->reader, NULL);
	v->joined = 1;
}

/* End the reader thread and the engine. */
static void wview_close(struct lab *L)
{
	struct lab_wview *v = L->wv;

	if (v == NULL)
		return;
	stop_reader(v);
	pthread_mutex_destroy(&v->mu);
	watch_close(v->w);
	free(v);
	L->wv = NULL;
}

void lab_wview_open(struct lab *L)
{
	struct watch_opts o;
	struct watch_stats st;
	struct lab_wview *v;
	char err[160], missing[160] = "";
	int usage = 0, rc;

	if (!L->want_watch)
		return;
	wview_close(L); /* reopened in the scenario's namespace */
	/* `hangup lab` found the engine able to run before any scenario
	 * (lab.c: watch_ready()), so failing here is not a lacking privilege
	 * but a check that could not be made: the scenario fails. */
	L->r->watch = LAB_WATCH_NONE;
	memset(&o, 0, sizeof(o));
	o.hold_ms = 20;
	v = calloc(1, sizeof(*v));
	if (v == NULL) {
		lab_fail(L, "watch: out of memory");
		return;
	}
	v->w =
	    watch_open(&o, err, sizeof(err), missing, sizeof(missing), &usage);
	if (v->w == NULL) {
		snprintf(L->r->wnote, sizeof(L->r->wnote), "watch: %.100s",
			 err);
		lab_fail(L, "watch: cannot open the engine: %.150s", err);
		free(v);
		return;
	}
	watch_get_stats(v->w, &st);
	if (!st.trace_ok) {
		/* sock_diag alone knows bytes, not who or why. */
		snprintf(L->r->wnote, sizeof(L->r->wnote), "watch lacks %.100s",
			 missing);
		lab_fail(L, "watch: the engine lacks %.150s", missing);
		watch_close(v->w);
		free(v);
		return;
	}
	pthread_mutex_init(&v->mu, NULL);
	rc = pthread_create(&v->reader, NULL, reader, v);
	if (rc != 0) {
		lab_fail(L, "watch: cannot start its reader: %s",
			 lab_errno_name(rc));
		pthread_mutex_destroy(&v->mu);
		watch_close(v->w);
		free(v);
		return;
	}
	L->wv = v;
	L->r->watch = LAB_WATCH_ON;
}

void lab_wview_track(struct lab *L, int fd)
{
	struct lab_wview *v = L->wv;
	unsigned long long cookie = 0;
	socklen_t len = sizeof(int);
	int proto = 0;

	if (v == NULL ||
	    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0 ||
	    proto != IPPROTO_TCP)
		return;
	len = sizeof(cookie);
	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
		return;
	pthread_mutex_lock(&v->mu);
	if (v->n < MAX_SOCKS) {
		v->s[v->n].cookie = cookie;
		v->s[v->n].conn = 1;
		v->n++;
	} else {
		v->full = 1; /* said in the note, not silently left out */
	}
	pthread_mutex_unlock(&v->mu);
}

void lab_wview_not_conn(struct lab *L, int fd)
{
	struct lab_wview *v = L->wv;
	unsigned long long cookie = 0;
	socklen_t len = sizeof(cookie);

	if (v == NULL ||
	    getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
		return;
	pthread_mutex_lock(&v->mu);
	for (int i = 0; i < v->n; i++)
		if (v->s[i].cookie == cookie)
			v->s[i].conn = 0;
	pthread_mutex_unlock(&v->mu);
}

/* The segments of one socket as its end saw them (see the top). */
struct capview {
	enum watch_who fin, rst; /* first FIN, first RST */
	int fin_local, fin_peer; /* each end sent a FIN */
	int rst_sent, rst_received;
	long long in, out;
	int npk;
};

/* seq was not seen before in this direction: remember it. */
static int first_time(unsigned *seen, int *n, unsigned seq)
{
	for (int i = 0; i < *n; i++)
		if (seen[i] == seq)
			return 0;
	if (*n < MAX_SEEN)
		seen[(*n)++] = seq;
	return 1;
}

/* The next segment of the connection after pk[i] is this end's RST: it
 * refused pk[i] (data after its close). */
static int refused(const struct lab_pkt *pk, int npk, int i, unsigned lp,
		   unsigned pp)
{
	for (int k = i + 1; k < npk; k++) {
		if (pk[k].sport == lp && pk[k].dport == pp)
			return (pk[k].flags & LAB_TCP_RST) != 0;
		if (pk[k].sport == pp && pk[k].dport == lp)
			return 0;
	}
	return 0;
}

/* What the capture says of the socket lp -> pp that ended at `end`
 * (seconds on the scenario's clock; 0: unknown), see the top. */
static void cap_view(const struct lab_result *r, const struct lab_pkt *pk,
		     int npk, unsigned lp, unsigned pp, double end,
		     struct capview *c)
{
	unsigned seen_out[MAX_SEEN], seen_in[MAX_SEEN];
	int nout = 0, nin = 0, last_in_time = 1;

	memset(c, 0, sizeof(*c));
	c->fin = c->rst = WATCH_WHO_NONE;
	for (int i = 0; i < npk; i++) {
		const struct lab_pkt *p = &pk[i];
		int sent = p->sport == lp && p->dport == pp;
		enum watch_who by = sent ? WATCH_WHO_LOCAL : WATCH_WHO_PEER;
		int in_time = end == 0 || p->t <= end;

		if (!sent && !(p->sport == pp && p->dport == lp))
			continue;
		c->npk++;
		/* After the destroy: only this end's RST answering a segment
		 * that came in time. */
		if (!sent)
			last_in_time = in_time;
		else if (!in_time && (p->flags & LAB_TCP_RST) && last_in_time)
			in_time = 1;
		if (!in_time)
			continue;
		if (!sent && lab_dropped_at(r, p->t))
			continue; /* never reached this end */
		if (p->flags & LAB_TCP_FIN) {
			if (c->fin == WATCH_WHO_NONE)
				c->fin = by;
			*(sent ? &c->fin_local : &c->fin_peer) = 1;
		}
		if (p->flags & LAB_TCP_RST) {
			if (c->rst == WATCH_WHO_NONE)
				c->rst = by;
			*(sent ? &c->rst_sent : &c->rst_received) = 1;
		}
		if (p->len > 0 && sent && first_time(seen_out, &nout, p->seq))
			c->out += p->len;
		if (p->len > 0 && !sent && !refused(pk, npk, i, lp, pp) &&
		    first_time(seen_in, &nin, p->seq))
			c->in += p->len;
	}
}

/* The self-test (--self-test-watch-mismatch): say the wrong thing about
 * who closed and about the bytes, as a broken engine would. */
static void perturb(struct watch_record *w)
{
	w->first_fin =
	    w->first_fin == WATCH_WHO_LOCAL ? WATCH_WHO_PEER : WATCH_WHO_LOCAL;
	if (w->bytes_in != WATCH_UNKNOWN)
		w->bytes_in++;
}

static long long count(uint64_t v)
{
	return v == WATCH_UNKNOWN ? -1 : (long long)v;
}

static int is_server_port(const struct lab *L, unsigned port)
{
	for (int i = 0; i < L->nsports; i++)
		if (L->sports[i] == port)
			return 1;
	return 0;
}

/* Record w beside the capture's view; a difference is a mismatch. */
static void compare(struct lab *L, const struct watch_record *w,
		    const struct lab_pkt *pk, int npk, double mono_off)
{
	struct lab_watch_rec *x = &L->r->wrec[L->r->nwatch++];
	unsigned lp = watch_port(&w->local), pp = watch_port(&w->peer);
	struct capview c;
	int fin_ok, nmis = L->r->nmis;

	memset(x, 0, sizeof(*x));
	snprintf(x->end, sizeof(x->end), "%s",
		 is_server_port(L, lp) ? "server" : "client");
	watch_addr_str(&w->local, x->local, sizeof(x->local));
	watch_addr_str(&w->peer, x->peer, sizeof(x->peer));
	snprintf(x->reason, sizeof(x->reason), "%s",
		 w->reason ? w->reason : "?");
	snprintf(x->detail, sizeof(x->detail), "%s",
		 w->detail ? w->detail : "");
	snprintf(x->rst_reason, sizeof(x->rst_reason), "%s",
		 w->rst_reason ? w->rst_reason : "");
	snprintf(x->first_fin, sizeof(x->first_fin), "%s",
		 watch_who_name(w->first_fin));
	snprintf(x->rst_first, sizeof(x->rst_first), "%s",
		 watch_who_name(w->rst_first));
	x->rst_sent = w->rst_sent;
	x->rst_received = w->rst_received;
	x->bytes_in = count(w->bytes_in);
	x->bytes_out = count(w->bytes_out);
	cap_view(L->r, pk, npk, lp, pp,
		 w->end_ns ? (double)w->end_ns / 1e9 + mono_off - L->t0 : 0,
		 &c);
	snprintf(x->cap_fin, sizeof(x->cap_fin), "%s", watch_who_name(c.fin));
	snprintf(x->cap_rst, sizeof(x->cap_rst), "%s", watch_who_name(c.rst));
	x->cap_in = c.in;
	x->cap_out = c.out;
	if (c.npk == 0) {
		lab_fail(L,
			 "watch: %s %s -> %s: the capture has no segment "
			 "of it",
			 x->end, x->local, x->peer);
		return;
	}
	fin_ok = w->first_fin == c.fin ||
		 (w->first_fin == WATCH_WHO_BOTH && c.fin_local && c.fin_peer);
	if (!fin_ok)
		lab_fail(L,
			 "watch: %s record says first FIN by %s, capture "
			 "says %s",
			 x->end, x->first_fin, x->cap_fin);
	if (w->rst_first != c.rst)
		lab_fail(L,
			 "watch: %s record says first RST by %s, capture "
			 "says %s",
			 x->end, x->rst_first, x->cap_rst);
	if (!w->rst_sent != !c.rst_sent || !w->rst_received != !c.rst_received)
		lab_fail(L,
			 "watch: %s record says RST sent %d received %d, "
			 "capture says %d %d",
			 x->end, w->rst_sent, w->rst_received, c.rst_sent,
			 c.rst_received);
	if (x->bytes_in >= 0 && x->bytes_in != c.in)
		lab_fail(L,
			 "watch: %s record says %lld bytes in, capture "
			 "says %lld",
			 x->end, x->bytes_in, c.in);
	if (x->bytes_out >= 0 && x->bytes_out != c.out)
		lab_fail(L,
			 "watch: %s record says %lld bytes out, capture "
			 "says %lld",
			 x->end, x->bytes_out, c.out);
	x->ok = L->r->nmis == nmis;
}

/* Connections whose record has not come yet. */
static int missing_records(struct lab_wview *v)
{
	int n = 0;

	pthread_mutex_lock(&v->mu);
	for (int i = 0; i < v->n; i++)
		n += v->s[i].conn && !v->s[i].got;
	pthread_mutex_unlock(&v->mu);
	return n;
}

/* CLOCK_REALTIME minus CLOCK_MONOTONIC, in seconds. */
static double mono_offset(void)
{
	struct timespec m;

	clock_gettime(CLOCK_MONOTONIC, &m);
	return lab_now() - ((double)m.tv_sec + m.tv_nsec / 1e9);
}

/* Wait for the records of the scenario's connections; compare each. */
static void collect(struct lab *L)
{
	static struct lab_pkt extra[2 * LAB_MAX_PKTS];
	struct lab_wview *v = L->wv;
	struct watch_stats st;
	double until = lab_now() + WAIT_MS / 1e3, off;
	int nextra, nrec = 0;

	while (missing_records(v) > 0 && lab_now() < until)
		lab_sleep_ms(10);
	/* The reader is done: what it kept is ours to read. */
	stop_reader(v);
	if (v->reader_err)
		lab_fail(L, "watch: reading the engine failed: %s",
			 lab_errno_name(v->reader_err));
	/* The segments of the fixture's close, for the comparison only. */
	memcpy(extra, L->r->pkts, sizeof(struct lab_pkt) * (size_t)L->r->npkts);
	nextra = L->r->npkts;
	lab_capture_drain_into(L, extra, &nextra, 2 * LAB_MAX_PKTS);
	off = mono_offset();
	for (int i = 0; i < v->n; i++) {
		if (!v->s[i].conn)
			continue;
		if (!v->s[i].got) {
			lab_fail(L,
				 "watch: no record of socket cookie %llu "
				 "within %d ms",
				 v->s[i].cookie, WAIT_MS);
			continue;
		}
		nrec++;
		if (L->want_watch == 2)
			perturb(&v->s[i].rec);
		if (L->r->nwatch < LAB_MAX_WATCH)
			compare(L, &v->s[i].rec, extra, nextra, off);
	}
	/* What could explain a mismatch, or make the view partial, is said:
	 * watch's own losses and the sockets not followed. */
	watch_get_stats(v->w, &st);
	if (st.lost_samples || st.netlink_overruns)
		snprintf(L->r->wnote, sizeof(L->r->wnote),
			 "watch lost %llu tracepoint samples, %llu netlink "
			 "overruns",
			 (unsigned long long)st.lost_samples,
			 (unsigned long long)st.netlink_overruns);
	else if (nrec > LAB_MAX_WATCH || v->full)
		snprintf(L->r->wnote, sizeof(L->r->wnote),
			 "more sockets than the lab follows: %d of %d records "
			 "compared",
			 nrec < LAB_MAX_WATCH ? nrec : LAB_MAX_WATCH, nrec);
}

void lab_wview_before_close(struct lab *L)
{
	struct linger lg = {1, 0};

	if (L->wv == NULL || !lab_dropped_at(L->r, lab_now() - L->t0))
		return;
	for (int i = 0; i < L->nfds; i++)
		if (L->fds[i] >= 0)
			setsockopt(L->fds[i], SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
}

void lab_wview_finish(struct lab *L)
{
	struct lab_result *r = L->r;

	if (L->wv == NULL)
		return;
	if (r->verdict == LAB_SKIP) {
		r->watch = LAB_WATCH_NONE;
		snprintf(r->wnote, sizeof(r->wnote), "the scenario skipped");
	} else if (L->wv->n == 0) {
		r->watch = LAB_WATCH_NONE;
		snprintf(r->wnote, sizeof(r->wnote),
			 "no TCP socket (watch sees TCP only)");
	} else if (r->capture != LAB_CAPTURE_ON) {
		r->watch = LAB_WATCH_NONE;
		snprintf(r->wnote, sizeof(r->wnote),
			 "not compared: no packet capture to compare with");
	} else {
		collect(L);
	}
	wview_close(L);
}
