/*
 * conn.c -- a connection's life on the loop: creation, its timer (idle,
 * linger, heartbeat, drain), reading and noticing the end, connecting,
 * graceful and abortive close, pause/resume and the accessors. Writing is
 * in conn-write.c, the end and its report in conn-end.c.
 *
 * How the end is noticed. Every connection is registered once, edge-
 * triggered, with EPOLLRDHUP (epoll.c). The event that reports an end is
 * read at once, to the end of the queue:
 *  - the peer's FIN: recv() returns what was queued before it, then 0.
 *    With EPOLLRDHUP in the event and a short read, the queue is known to
 *    be empty up to the FIN, so no further recv() is needed;
 *  - an RST or a dead-peer timeout: EPOLLHUP|EPOLLERR; recv() returns the
 *    data that arrived before it, then the error, exactly once
 *    (kernel-truth.md, conclusions 3, 4 and 7);
 *  - an RST after the FIN (the peer refused data we wrote after its
 *    close): recv() keeps saying 0, and only SO_ERROR has the EPIPE the
 *    RST left (conclusion 5), so EOF with EPOLLERR asks SO_ERROR.
 * A healthy connection pays one recv() per readable edge and one send()
 * per write: a read shorter than the buffer means the queue is drained,
 * and the next byte will raise a new edge (kernel-truth.md, sc. 11).
 *
 * Who calls back, and when: callbacks run only from the loop (an event, a
 * timer, the ready list). Closing from inside any of them finishes the
 * connection at once (fd closed, reason recorded) and on_close runs at the
 * loop's next safe point (loop.c); every call site re-checks FINISHED after
 * a callback returns.
 */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <linux/sockios.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void close_gracefully(hu_conn *c, unsigned why);

/* ---- timers ---- */

/*
 * A paused connection with bytes in its receive queue is not idle: the
 * peer sent them, the application has not taken them yet. Closing it as
 * idle would throw them away (and, with them unread, close() would send
 * an RST). A connection that reads has nothing queued after its last
 * read, so only a paused one pays for the ioctl, and only when the idle
 * timer fires.
 */
static int waiting_to_be_read(const hu_conn *c)
{
	if (!(c->flags & HU__C_PAUSED))
		return 0;
	/* io_uring: the receive may have taken them already (held). */
	return (c->more && hu__wbuf_size(c->more->held) > 0) ||
	       hu__queue_bytes(c->fd, SIOCINQ) > 0;
}

/* A connection's one timer (its hu__conn_more's node) fired: timer.c
 * hands it here. */
void hu__conn_timer(hu_loop *loop, struct hu__tnode *n)
{
	struct hu__conn_more *m = (struct hu__conn_more *)n; /* first */
	hu_conn *c = m->conn;
	const struct hu_conn_config *cfg = &c->cfg->c;
	uint64_t now = loop->now;

	if (HU__GONE(c))
		return;
	if (c->flags & HU__C_DRAIN) {
		if (hu__conn_unacked(c) == 0) {
			hu__conn_finish(c, hu__reason(c), 0, 0);
			return;
		}
		/* Still unacknowledged after linger_ms: in all, for a graceful
		 * close; with no progress, after an automatic one. */
		if (now >= m->deadline &&
		    ((c->flags & HU__C_LINGER) || !hu__conn_progressed(c))) {
			hu__conn_give_up(c, hu__reason(c));
			return;
		}
		m->poll_ms = m->poll_ms < 25 ? m->poll_ms * 2 : 50;
		m->next_beat = now + m->poll_ms;
		hu__conn_rearm(c);
		return;
	}
	if (m->deadline && now >= m->deadline) {
		if (c->flags & HU__C_CONNECTING) {
			hu__conn_finish(c, HU_CLOSE_CONNECT_TIMEOUT, ETIMEDOUT,
					0);
			return;
		}
		if (c->flags & HU__C_CLOSING) {
			/* The peer never sent its FIN within linger_ms. */
			hu__conn_give_up(c, hu__conn_closing_reason(c));
			return;
		}
		if (!hu__conn_flushing_to_close(c)) {
			m->deadline = 0;
		} else if (!hu__conn_progressed(c)) {
			/* linger_ms without the peer taking a byte. */
			hu__conn_give_up(c, HU_CLOSE_EOF);
			return;
		}
	}
	if (cfg->idle_ms && !(c->flags & (HU__C_CONNECTING | HU__C_CLOSING)) &&
	    now - m->last_io >= cfg->idle_ms) {
		if (!waiting_to_be_read(c)) {
			close_gracefully(c, HU__C_IDLE);
			return;
		}
		m->last_io = now; /* backpressure is not silence */
	}
	if (m->next_beat && now >= m->next_beat) {
		m->next_beat = now + cfg->heartbeat_ms;
		if (hu__cbs(c)->on_heartbeat && !(c->flags & HU__C_CLOSING)) {
			hu__cbs(c)->on_heartbeat(c);
			if (HU__GONE(c))
				return;
		}
	}
	hu__conn_rearm(c);
}

/* Connected (or accepted): arm what only an open connection has. */
static void established(hu_conn *c)
{
	const struct hu_conn_config *cfg = &c->cfg->c;
	struct hu__conn_more *m = c->more; /* made by hu__conn_new() if
					      idle or heartbeat is set */
	uint64_t now = hu__loop_of(c)->now;

	if (cfg->liveness_ms && (c->flags & HU__C_TCP))
		(void)hu_liveness(c->fd, cfg->liveness_ms);
	if (m == NULL)
		return;
	m->deadline = 0;
	m->last_io = now;
	if (cfg->heartbeat_ms)
		m->next_beat = now + cfg->heartbeat_ms;
	hu__conn_rearm(c);
}

/* ---- creation ---- */

hu_conn *hu__conn_new(hu_loop *loop, int fd, int tcp, struct hu__cfg *cfg,
		      int connecting)
{
	const struct hu_conn_config *cc = &cfg->c;
	hu_conn *c = hu__calloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = fd;
	c->cfg = cfg;
	c->user = cc->user;
	c->flags = (tcp ? HU__C_TCP : 0) | (connecting ? HU__C_CONNECTING : 0);
	hu__set_phase(c, connecting ? HU_PHASE_CONNECTING : HU_PHASE_OPEN);
	/* The start, until the end; on the loop's clock, like every
	 * deadline, so a 500 ms connect timeout lasts >= 500 ms. */
	c->born = loop->now;
	/* A timer for its whole life: the rest of hu__conn_more now. */
	if ((cc->idle_ms || cc->heartbeat_ms ||
	     (connecting && cc->connect_timeout_ms)) &&
	    hu__conn_more(c) == NULL) {
		hu__free(c);
		return NULL;
	}
	if (hu__loop_add_conn(loop, c) < 0) {
		hu__free(c->more);
		hu__free(c);
		return NULL;
	}
	cfg->refs++;
	if (++loop->next_id == 0) /* 2^32 connections later */
		++loop->next_id;
	c->id = loop->next_id;
	return c;
}

int hu__conn_start(hu_conn *c, int *err)
{
	const struct hu_conn_config *cfg = &c->cfg->c;
	hu_loop *loop = hu__loop_of(c);

	/* The timer first: on io_uring, what is armed names the fd, and a
	 * failure after that could not simply close() it (uring.c). */
	if ((c->flags & HU__C_CONNECTING) && cfg->connect_timeout_ms) {
		struct hu__conn_more *m = c->more; /* hu__conn_new() made it */

		m->deadline = loop->now + cfg->connect_timeout_ms;
		if (hu__timer_arm(loop, &m->timer, m->deadline) < 0) {
			*err = ENOMEM; /* the heap could not grow */
			return HU_ERROR;
		}
	}
	if (loop->ur != NULL) {
		if ((unsigned)c->fd >= HU__UR_FD_LIMIT) {
			*err = EMFILE; /* user_data holds 24 bits of fd */
			return HU_ERROR;
		}
		hu__ur_sync(c);
		return 0;
	}
	int rc = hu__ep_add(loop->epfd, c->fd, hu__conn_key(c),
			    EPOLLIN | EPOLLOUT | EPOLLRDHUP, err);
	if (rc < 0 && c->more != NULL)
		hu__timer_disarm(loop, &c->more->timer);
	return rc; /* ENOSPC (max_user_watches), ENOMEM... */
}

/*
 * hu_connect(): non-blocking; EINPROGRESS is the normal answer even on
 * loopback (kernel-truth.md, 8). Completion is the first EPOLLOUT, and
 * SO_ERROR then says refused, unreachable or connected. A connect that
 * fails at once (a Unix path nobody listens on, no route -- including a
 * blackhole or prohibit route, EINVAL or EACCES) is reported the same way,
 * by on_close from the loop, never from inside hu_connect().
 */
int hu_connect(hu_loop *loop, const char *addr,
	       const struct hu_conn_config *cfg, hu_conn **out)
{
	struct hu_addr a;
	int err = 0, rc;

	if (loop == NULL || addr == NULL || loop->freeing)
		return HU_INVAL;
	if (hu_addr_parse(addr, &a) < 0)
		return HU_INVAL;
	if (!loop->in_run)
		loop->now = hu__now_ms();

	int family = a.sa.ss_family;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hu__status_errno(NULL);
	struct hu__cfg *shared = hu__cfg_new(loop, cfg);
	hu_conn *c = shared
			 ? hu__conn_new(loop, fd, family != AF_UNIX, shared, 1)
			 : NULL;
	hu__cfg_unref(shared); /* the connection holds its own reference */
	struct hu__conn_more *m = c ? hu__conn_more(c) : NULL;
	if (m == NULL || (m->peer = hu__malloc(sizeof(a))) == NULL) {
		if (c)
			hu__conn_discard(c);
		close(fd);
		hu__errno_set(ENOMEM);
		return HU_ERROR;
	}
	*m->peer = a;

	if (connect(fd, (struct sockaddr *)&a.sa, a.len) < 0) {
		/* A Unix connect's EACCES is a permission on the socket file;
		 * on TCP it and EINVAL mean no route (status.c). */
		rc = family == AF_UNIX ? hu__status_errno(&err)
				       : hu__status_connect_errno(&err);
		if (rc == HU_INVAL || rc == HU_BADF) {
			/* Not a connect that failed: a bad request. */
			hu__conn_discard(c);
			close(fd);
			hu__errno_set(err);
			return rc;
		}
		if (rc != HU__INPROGRESS && rc != HU__INTR) {
			/* Failed at once: report it from the loop. */
			hu__conn_fail(c, rc, err);
			goto done;
		}
	}
	/* Connected or under way: the first EPOLLOUT says how it went (for
	 * a connect that completed at once, EPOLL_CTL_ADD reports OUT). */
	if ((rc = hu__conn_start(c, &err)) < 0) {
		hu__conn_discard(c);
		close(fd);
		hu__errno_set(err);
		return rc;
	}
done:
	if (out)
		*out = c;
	return 0;
}

void hu__conn_opened(hu_conn *c)
{
	established(c);
	if (HU__GONE(c))
		return;
	if (hu__cbs(c)->on_open)
		hu__cbs(c)->on_open(c);
}

void hu__conn_discard(hu_conn *c)
{
	hu_loop *loop = hu__loop_of(c);

	if (c->more) {
		hu__timer_disarm(loop, &c->more->timer);
		hu__free(c->more->peer);
		hu__free(c->more->held);
		hu__free(c->more);
	}
	hu__loop_del_conn(loop, c);
	hu__cfg_unref(c->cfg);
	hu__free(hu__wbuf(c));
	hu__free(c);
}

/* on_close, with the report put together from what the connection kept
 * (it holds it packed: loop.h), then the memory. */
void hu__conn_free(hu_conn *c)
{
	if (hu__cbs(c)->on_close) {
		struct hu_close_info info = {
		    .reason = hu__reason(c),
		    .error = c->error,
		    .phase = hu__phase(c),
		    .bytes_in = c->bytes_in,
		    .bytes_out = c->bytes_out,
		    .undelivered = c->w.undelivered,
		    .duration_ms = c->born,
		    .discarded = c->more ? c->more->discarded : 0,
		};
		hu__cbs(c)->on_close(c, &info);
	}
	hu__conn_discard(c);
}

/* ---- reading ---- */

static void peer_eof(hu_conn *c, uint32_t ev)
{
	int err = c->pending;
	int fin_first = 0;

	/* recv() says 0 with an error pending only after a FIN: it checks
	 * SOCK_DONE (set by tcp_fin()) before sk_err. So the FIN came first
	 * and the RST after it (kernel-truth.md, 1b; haproxy's "option
	 * nolinger", shutdown() then SO_LINGER {1, 0}): the application
	 * hears the eof it was sent, then on_close says reset in peer-done.
	 * (An error taken earlier, while paused, proves no FIN: after
	 * SO_ERROR took sk_err, a reset socket also reads 0.) */
	if (err == 0 && (ev & EPOLLERR) && (err = hu__conn_take_error(c)) != 0)
		fin_first = 1;
	if (err != 0 && !fin_first) {
		hu__conn_fail(c, hu__status_of(err), err);
		return;
	}
	if (!(c->flags & HU__C_PEER_DONE)) {
		c->flags |= HU__C_PEER_DONE;
		hu__conn_enter(c, HU_PHASE_PEER_DONE);
		if (!(c->flags & HU__C_CLOSING) && hu__cbs(c)->on_eof) {
			/* Writes from here fail: pending holds the RST. */
			hu__cbs(c)->on_eof(c);
			if (HU__GONE(c))
				return;
		}
	} else if (err == 0) {
		return; /* EOF is sticky; we knew */
	}
	if (err != 0) {
		hu__conn_fail(c, hu__status_of(err), err);
		return;
	}
	hu__conn_settle(c);
}

/* What take() found after handing a chunk on. */
enum { TAKE_ON = 0, TAKE_STOP = 1, TAKE_CLOSING = 2 };

/* One chunk of the stream, read just now: counted, then handed to on_data
 * (or, while closing, discarded). */
static int take(hu_conn *c, char *buf, size_t n)
{
	if (c->more)
		c->more->last_io = hu__loop_of(c)->now;
	c->bytes_in += (uint64_t)n;
	if (c->flags & HU__C_CLOSING) {
		/* Lingering (so c->more exists): read, count, discard. */
		c->more->discarded += (uint64_t)n;
		return TAKE_CLOSING;
	}
	if (hu__cbs(c)->on_data) {
		hu__cbs(c)->on_data(c, buf, n);
		if (HU__GONE(c))
			return TAKE_STOP;
		if (c->flags & HU__C_CLOSING)
			return TAKE_CLOSING;
	}
	/* Paused: hu_conn_resume() reads on. */
	return (c->flags & HU__C_PAUSED) ? TAKE_STOP : TAKE_ON;
}

/* A paused connection's life ended now (an RST, a timeout), not when the
 * application resumes: its duration stops here. */
static void ended_while_paused(hu_conn *c)
{
	if (!(c->flags & HU__C_ENDED)) {
		c->born = hu__now_ms() - c->born; /* the duration */
		c->flags |= HU__C_ENDED;
	}
}

/*
 * Read until the queue is drained. `ev` is the epoll event (0 when a
 * resumed connection reads owed data: then nothing is known about the
 * queue, and only EAGAIN or 0 ends the loop).
 */
static void conn_read(hu_conn *c, uint32_t ev)
{
	hu_loop *loop = hu__loop_of(c);
	char *buf = loop->rbuf;
	int hup = (ev & (EPOLLHUP | EPOLLERR)) != 0;

	if ((c->flags & HU__C_PAUSED) && !(c->flags & HU__C_CLOSING)) {
		/* Not reading now; an error is taken (and kept) so that it
		 * is not lost, and is reported when reading resumes. */
		if ((ev & EPOLLERR) && hu__conn_take_error(c) != 0)
			ended_while_paused(c);
		return;
	}
	for (;;) {
		int err = 0;
		ssize_t n = hu__recv_raw(c->fd, buf, HU__RBUF, &err);

		if (n > 0) {
			int t = take(c, buf, (size_t)n);

			if (t == TAKE_STOP)
				return;
			if (t == TAKE_CLOSING)
				continue;
			if ((size_t)n < HU__RBUF && ev != 0 && !hup) {
				/* Drained. With the FIN already in (RDHUP),
				 * the next recv() could only say 0. */
				if (ev & EPOLLRDHUP)
					peer_eof(c, ev);
				return;
			}
			continue;
		}
		if (n == HU_AGAIN)
			return;
		if (n == HU_EOF) {
			peer_eof(c, ev);
			return;
		}
		hu__conn_fail(c, (int)n, err);
		return;
	}
}

/* ---- reading on io_uring ---- */

/*
 * A multishot receive reads ahead of the application: what it took while
 * the connection is paused (or before an earlier hold is handed on) is
 * kept, in order, and given to on_data when reading resumes. The receive
 * is cancelled at the pause (uring.c), so what is held is bounded by what
 * the kernel had completed by then.
 */
static int holding(const hu_conn *c)
{
	return (c->flags & (HU__C_PAUSED | HU__C_CLOSING)) == HU__C_PAUSED ||
	       (c->more != NULL && c->more->held != NULL);
}

void hu__conn_chunk(hu_conn *c, char *buf, size_t n)
{
	if (HU__GONE(c))
		return;
	if (holding(c)) {
		struct hu__conn_more *m = hu__conn_more(c);

		if (m == NULL || hu__wbuf_append(&m->held, buf, n) < 0)
			hu__conn_finish(c, HU_CLOSE_ERROR, ENOMEM, 1);
		return;
	}
	(void)take(c, buf, n);
}

/* EPOLLERR: the FIN may have been followed by an RST (peer_eof() asks
 * SO_ERROR), which no completion of the receive would tell. */
#define UR_EOF_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLERR)

void hu__conn_recv_eof(hu_conn *c)
{
	if (holding(c)) {
		c->ur |= HU__UR_EOF; /* after what is held */
		return;
	}
	peer_eof(c, UR_EOF_EVENTS);
}

void hu__conn_recv_error(hu_conn *c, int err)
{
	if (holding(c)) {
		/* As on epoll while paused: kept, reported on resume. */
		if (c->pending == 0)
			c->pending = (uint8_t)err;
		ended_while_paused(c);
		return;
	}
	hu__conn_fail(c, hu__status_of(err), err);
}

/* Resumed on io_uring: what was held, then the FIN held with it, or what
 * the socket has (read here only if no receive is armed: one that is
 * being cancelled still delivers its own completions, in order). */
static void uring_read_ready(hu_conn *c)
{
	struct hu__wbuf *h = c->more ? c->more->held : NULL;

	while (hu__wbuf_size(h) > 0) {
		size_t n = hu__wbuf_size(h);
		char *p = h->data + h->off;

		if ((c->flags & (HU__C_PAUSED | HU__C_CLOSING)) == HU__C_PAUSED)
			return; /* paused again: the rest waits */
		if (n > HU__RBUF)
			n = HU__RBUF;
		h->off += n;
		if (take(c, p, n) == TAKE_STOP && HU__GONE(c))
			return;
	}
	if (h != NULL) {
		hu__free(h);
		c->more->held = NULL;
	}
	if (c->ur & HU__UR_EOF) {
		c->ur &= ~HU__UR_EOF;
		peer_eof(c, UR_EOF_EVENTS);
	} else if (!(c->ur & HU__UR_RECV)) {
		conn_read(c, c->pending ? EPOLLERR : 0);
	}
	if (!HU__GONE(c) && c->w.wbuf)
		hu__conn_flush(c);
	if (!HU__GONE(c))
		hu__ur_sync(c);
}

void hu__conn_read_ready(hu_conn *c)
{
	if (HU__GONE(c) || (c->flags & HU__C_CONNECTING))
		return;
	if (hu__loop_of(c)->ur != NULL) {
		uring_read_ready(c);
		return;
	}
	conn_read(c, c->pending ? EPOLLERR : 0);
	if (!HU__GONE(c) && c->w.wbuf)
		hu__conn_flush(c);
}

/* ---- connecting ---- */

/*
 * An RST in SYN_SENT leaves ECONNREFUSED; one in any later state leaves
 * ECONNRESET (EPIPE in CLOSE_WAIT) -- tcp_reset() in net/ipv4/tcp_input.c.
 * So a connect whose first event already carries either of those did
 * complete its handshake: the peer accepted, then reset (a server that
 * accepts and aborts at once). Whether that shows up as one event or two
 * is a race; the report must not depend on it.
 */
static int connected_then_reset(int err)
{
	return err == ECONNRESET || err == EPIPE;
}

static void connect_event(hu_conn *c, uint32_t ev)
{
	int err = hu__conn_take_error(c);

	if (err == 0 && (ev & EPOLLHUP))
		err = ECONNABORTED; /* ended, and its error already taken */
	if (err != 0 && !connected_then_reset(err)) {
		c->pending = 0;
		hu__conn_fail(c, hu__status_of(err), err);
		return;
	}
	if (err == 0 && !(ev & EPOLLOUT))
		return;
	c->flags &= ~HU__C_CONNECTING;
	hu__set_phase(c, HU_PHASE_OPEN);
	hu__conn_opened(c);
	if (HU__GONE(c))
		return;
	if (err != 0) {
		/* Open, then the reset: the data it sent first, then
		 * on_close (pending holds the error). */
		conn_read(c, ev | EPOLLERR);
		return;
	}
	if (ev & (EPOLLIN | EPOLLRDHUP)) {
		conn_read(c, ev);
		if (HU__GONE(c))
			return;
	}
	/* Writes and a shutdown queued while connecting. */
	if (c->w.wbuf)
		hu__conn_flush(c);
	else
		hu__conn_settle(c);
}

void hu__conn_event(hu_conn *c, uint32_t ev)
{
	if (HU__GONE(c))
		return;
	if (c->flags & HU__C_CONNECTING) {
		connect_event(c, ev);
		return;
	}
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		conn_read(c, ev);
		if (HU__GONE(c))
			return;
	}
	if (c->w.wbuf && (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
		hu__conn_flush(c);
}

/*
 * A graceful close: flush, FIN, then read and discard until the peer's FIN
 * or linger_ms (nginx's lingering close), so data that crosses our FIN
 * draws no RST. `why` is 0 for hu_conn_close(), or HU__C_IDLE when the
 * idle timer closes: then the reason is idle and the phase stays the one
 * the timer found.
 */
static void close_gracefully(hu_conn *c, unsigned why)
{
	if (c->pending != 0) {
		/* The peer is already gone: say how. */
		hu__conn_fail(c, hu__status_of(c->pending), c->pending);
		return;
	}
	if (c->flags & HU__C_CONNECTING) {
		hu__conn_finish(c, HU_CLOSE_LOCAL, 0, 0);
		return;
	}
	struct hu__conn_more *m = hu__conn_more(c);
	if (m == NULL) {
		/* No memory for the linger's deadline: not a close we can
		 * bound, so none that could hang. */
		hu__conn_finish(c, HU_CLOSE_ERROR, ENOMEM, 1);
		return;
	}
	c->flags |= why; /* first: an idle close keeps its phase */
	hu__conn_enter(c, HU_PHASE_CLOSING);
	c->flags |= HU__C_CLOSING | HU__C_LINGER;
	if (c->flags & HU__C_PAUSED) {
		/* Lingering means reading (and discarding) until the FIN,
		 * and an edge may have passed while paused. */
		c->flags &= ~HU__C_PAUSED;
		hu__loop_ready(c);
	}
	/* linger_ms bounds the whole close, the flush included: a peer that
	 * never reads must not keep it open for ever. No idle timeout now. */
	m->deadline = hu__loop_of(c)->now + c->cfg->c.linger_ms;
	hu__conn_rearm(c);
	hu__conn_settle(c);
}

void hu_conn_close(hu_conn *c, int how)
{
	if (c == NULL || HU__GONE(c))
		return;
	if (how == HU_ABORT) {
		/* Also the way to cut a lingering close short. */
		hu__conn_finish(c, HU_CLOSE_ABORT, 0, 1);
		return;
	}
	if (!(c->flags & HU__C_CLOSING))
		close_gracefully(c, 0);
}
