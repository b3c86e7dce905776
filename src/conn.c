/*
 * conn.c -- a connection's life on the loop: reading, writing with a
 * buffer and a high-water mark, half-close, graceful and abortive close,
 * timers, and the one on_close that says why it ended.
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

#define GONE(c) (((c)->flags & HU__C_FINISHED) != 0)

static const struct hu_conn_callbacks *cbs(const hu_conn *c)
{
	return &c->cfg->c.cb;
}

static void settle(hu_conn *c);
static void conn_flush(hu_conn *c);
static void close_gracefully(hu_conn *c, unsigned why);

/* ---- the end ---- */

/*
 * The phase moves forward only: open, then peer-done or local-done for
 * whichever half-close came first (the other one ends the connection), or
 * closing once we began a graceful close. on_close reports the phase the
 * connection was in when the end came (DESIGN.md, close reasons).
 */
static void enter(hu_conn *c, int phase)
{
	/* An idle close reports the phase the timer found (issue 11). */
	if (c->flags & HU__C_IDLE)
		return;
	if (c->phase == HU_PHASE_OPEN || phase == HU_PHASE_CLOSING)
		c->phase = phase;
}

/*
 * Bytes we wrote that the peer never acknowledged: what is still in our
 * buffer plus, on TCP, SIOCOUTQ (write_seq - snd_una). SIOCOUTQ counts our
 * FIN too once it is sent, and keeps its value after a reset, which is
 * what we want: those bytes were never acknowledged. On a Unix socket the
 * kernel counts buffer memory, not payload (kernel-truth.md, 10), so only
 * our own buffer is counted there.
 */
static uint64_t unacked(const hu_conn *c)
{
	int outq = 0;

	if (!(c->flags & HU__C_TCP) || c->info.bytes_out == 0 || c->io.fd < 0 ||
	    ioctl(c->io.fd, SIOCOUTQ, &outq) < 0 || outq <= 0)
		return 0;
	uint64_t q = (uint64_t)outq;
	if (c->flags & HU__C_SHUT_DONE)
		q--; /* our FIN's sequence number */
	return q < c->info.bytes_out ? q : c->info.bytes_out;
}

/* `kernel` is what unacked() said just now, or -1 to ask it. */
static void finish(hu_conn *c, int reason, int err, int abort, int64_t kernel)
{
	hu_loop *loop = c->loop;

	if (GONE(c))
		return;
	c->info.reason = reason;
	c->info.error = err;
	c->info.phase = c->phase;
	c->info.undelivered = hu__wbuf_size(c->wbuf) +
			      (kernel >= 0 ? (uint64_t)kernel : unacked(c));
	c->flags |= HU__C_FINISHED;
	if (!(c->flags & HU__C_ENDED))
		c->info.duration_ms = hu__now_ms() - c->info.duration_ms;
	hu__timer_disarm(loop, &c->timer);
	hu__free(c->wbuf);
	c->wbuf = NULL;
	if (c->io.fd >= 0) {
		hu__ep_del(loop->epfd, c->io.fd);
		if (abort && (c->flags & HU__C_TCP)) {
			/* SO_LINGER {1, 0}: tcp_close() sends RST at once and
			 * drops what is unsent (net/ipv4/tcp.c). */
			struct linger lg = {.l_onoff = 1, .l_linger = 0};

			(void)setsockopt(c->io.fd, SOL_SOCKET, SO_LINGER, &lg,
					 sizeof(lg));
		}
		hu__stash_forget(c->io.fd);
		close(c->io.fd);
		c->io.fd = -1;
	}
	hu__loop_closed(c);
}

void hu__conn_finish(hu_conn *c, int reason, int err, int abort)
{
	finish(c, reason, err, abort, -1);
}

/*
 * The loop gives up on data the peer did not take within linger_ms. A plain
 * close() would hand what the kernel holds to an orphan socket that goes on
 * sending it after on_close called it undelivered, drop what is in our own
 * buffer, and end with a FIN: the peer would see a clean end after a cut
 * stream. An RST (SO_LINGER {1, 0}: tcp_close() discards the send queue)
 * makes the cut visible to the peer and the count final: what the peer
 * received + undelivered = what was written, give or take what was in
 * flight at the abort. With nothing owed, a plain close is the honest end.
 */
static void give_up(hu_conn *c, int reason)
{
	uint64_t kernel = unacked(c);
	int cut = kernel > 0 || hu__wbuf_size(c->wbuf) > 0;

	finish(c, reason, ETIMEDOUT, cut, (int64_t)kernel);
}

/*
 * At a flush deadline: has the peer acknowledged anything since the last
 * one? Then the deadline moves linger_ms on. Acknowledged, not taken by
 * the kernel: EPOLLOUT waits until half the send buffer is free, which a
 * slow reader may take many linger_ms to free (sk_stream_wspace()).
 * info.undelivered holds the mark until finish() fills it.
 */
static int progressed(hu_conn *c)
{
	uint64_t acked = c->info.bytes_out - unacked(c);

	if (acked <= c->info.undelivered)
		return 0;
	c->info.undelivered = acked;
	c->deadline = c->loop->now + c->cfg->c.linger_ms;
	return 1;
}

/* The reason a graceful close ends with: ours, or the idle timer's. */
static int closing_reason(const hu_conn *c)
{
	return (c->flags & HU__C_IDLE) ? HU_CLOSE_IDLE : HU_CLOSE_LOCAL;
}

/*
 * The loop itself will close once what is buffered is flushed: the peer is
 * done and the application either has no on_eof or asked for our FIN. That
 * flush is bounded by progress, not by time: it gives up after linger_ms
 * with nothing taken by the peer, and a slow reader that still takes data
 * is not cut off. (An application's graceful close is bounded as a whole.)
 */
static int flushing_to_close(const hu_conn *c)
{
	unsigned f = c->flags;

	return (f & HU__C_PEER_DONE) && !(f & HU__C_CLOSING) &&
	       ((f & (HU__C_SHUT_WANT | HU__C_SHUT_DONE)) ||
		cbs(c)->on_eof == NULL);
}

/* The reason a failed call stands for, in the phase we are in. */
static int reason_of(const hu_conn *c, int status, int err)
{
	if (c->flags & HU__C_CONNECTING) {
		/* SYN retries ran out: the connect timed out. A Unix path
		 * with no socket behind it is a refusal as well. */
		if (status == HU_TIMEOUT)
			return HU_CLOSE_CONNECT_TIMEOUT;
		if (err == ENOENT)
			return HU_CLOSE_REFUSED;
	}
	return hu_reason_from_status(status);
}

/* A call failed with `status`/`err`: end the connection with the reason. A
 * reset taken earlier by SO_ERROR explains a later EPIPE or EOF better. */
void hu__conn_fail(hu_conn *c, int status, int err)
{
	if (c->pending_err != 0 && (status == HU_PIPE || status == HU_EOF)) {
		err = c->pending_err;
		status = hu__status_of(err);
	}
	hu__conn_finish(c, reason_of(c, status, err), err, 0);
}

/* The pending socket error, consumed (0 if none). */
static int take_error(hu_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = 0;
	if (err != 0 && c->pending_err == 0)
		c->pending_err = err;
	return c->pending_err;
}

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
	return (c->flags & HU__C_PAUSED) &&
	       hu__queue_bytes(c->io.fd, SIOCINQ) > 0;
}

static void rearm(hu_conn *c)
{
	const struct hu_conn_config *cfg = &c->cfg->c;
	uint64_t due = UINT64_MAX;

	if (c->deadline)
		due = c->deadline;
	if (cfg->idle_ms && !(c->flags & (HU__C_CONNECTING | HU__C_CLOSING)) &&
	    c->last_io + cfg->idle_ms < due)
		due = c->last_io + cfg->idle_ms;
	if (c->next_beat && c->next_beat < due)
		due = c->next_beat;
	if (due == UINT64_MAX)
		hu__timer_disarm(c->loop, &c->timer);
	else if (hu__timer_arm(c->loop, &c->timer, due) < 0)
		hu__conn_finish(c, HU_CLOSE_ERROR, ENOMEM, 1);
}

static void conn_timer(hu_loop *loop, struct hu__tnode *n)
{
	hu_conn *c = (hu_conn *)((char *)n - offsetof(hu_conn, timer));
	const struct hu_conn_config *cfg = &c->cfg->c;
	uint64_t now = loop->now;

	if (GONE(c))
		return;
	if (c->flags & HU__C_DRAIN) {
		if (unacked(c) == 0) {
			hu__conn_finish(c, c->info.reason, 0, 0);
			return;
		}
		/* Still unacknowledged after linger_ms: in all, for a graceful
		 * close; with no progress, after an automatic one. */
		if (now >= c->deadline &&
		    ((c->flags & HU__C_LINGER) || !progressed(c))) {
			give_up(c, c->info.reason);
			return;
		}
		c->poll_ms = c->poll_ms < 25 ? c->poll_ms * 2 : 50;
		c->next_beat = now + c->poll_ms;
		rearm(c);
		return;
	}
	if (c->deadline && now >= c->deadline) {
		if (c->flags & HU__C_CONNECTING) {
			hu__conn_finish(c, HU_CLOSE_CONNECT_TIMEOUT, ETIMEDOUT,
					0);
			return;
		}
		if (c->flags & HU__C_CLOSING) {
			/* The peer never sent its FIN within linger_ms. */
			give_up(c, closing_reason(c));
			return;
		}
		if (!flushing_to_close(c)) {
			c->deadline = 0;
		} else if (!progressed(c)) {
			/* linger_ms without the peer taking a byte. */
			give_up(c, HU_CLOSE_EOF);
			return;
		}
	}
	if (cfg->idle_ms && !(c->flags & (HU__C_CONNECTING | HU__C_CLOSING)) &&
	    now - c->last_io >= cfg->idle_ms) {
		if (!waiting_to_be_read(c)) {
			close_gracefully(c, HU__C_IDLE);
			return;
		}
		c->last_io = now; /* backpressure is not silence */
	}
	if (c->next_beat && now >= c->next_beat) {
		c->next_beat = now + cfg->heartbeat_ms;
		if (cbs(c)->on_heartbeat && !(c->flags & HU__C_CLOSING)) {
			cbs(c)->on_heartbeat(c);
			if (GONE(c))
				return;
		}
	}
	rearm(c);
}

/* Connected (or accepted): arm what only an open connection has. */
static void established(hu_conn *c)
{
	const struct hu_conn_config *cfg = &c->cfg->c;

	c->deadline = 0;
	c->last_io = c->loop->now;
	if (cfg->liveness_ms && (c->flags & HU__C_TCP))
		(void)hu_liveness(c->io.fd, cfg->liveness_ms);
	if (cfg->heartbeat_ms)
		c->next_beat = c->loop->now + cfg->heartbeat_ms;
	rearm(c);
}

/* ---- creation ---- */

hu_conn *hu__conn_new(hu_loop *loop, int fd, int tcp, struct hu__cfg *cfg,
		      int connecting)
{
	hu_conn *c = hu__calloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	c->io.kind = HU__IO_CONN;
	c->io.fd = fd;
	c->loop = loop;
	c->cfg = cfg;
	c->user = cfg->c.user;
	c->flags = (tcp ? HU__C_TCP : 0) | (connecting ? HU__C_CONNECTING : 0);
	c->phase = connecting ? HU_PHASE_CONNECTING : HU_PHASE_OPEN;
	/* The start, until the end; on the loop's clock, like every
	 * deadline, so a 500 ms connect timeout lasts >= 500 ms. */
	c->info.duration_ms = loop->now;
	c->last_io = loop->now;
	c->timer.fire = conn_timer;
	if (hu__loop_add_conn(loop, c) < 0) {
		hu__free(c);
		return NULL;
	}
	cfg->refs++;
	c->id = ++loop->next_id;
	return c;
}

int hu__conn_start(hu_conn *c)
{
	const struct hu_conn_config *cfg = &c->cfg->c;
	int rc = hu__ep_add(c->loop->epfd, c->io.fd, c,
			    EPOLLIN | EPOLLOUT | EPOLLRDHUP);

	if (rc < 0)
		return rc;
	if ((c->flags & HU__C_CONNECTING) && cfg->connect_timeout_ms) {
		c->deadline = c->loop->now + cfg->connect_timeout_ms;
		if (hu__timer_arm(c->loop, &c->timer, c->deadline) < 0) {
			hu__ep_del(c->loop->epfd, c->io.fd);
			return HU_ERROR;
		}
	}
	return 0;
}

void hu__conn_opened(hu_conn *c)
{
	established(c);
	if (GONE(c))
		return;
	if (cbs(c)->on_open)
		cbs(c)->on_open(c);
}

void hu__conn_discard(hu_conn *c)
{
	hu__timer_disarm(c->loop, &c->timer);
	hu__loop_del_conn(c->loop, c);
	hu__cfg_unref(c->cfg);
	hu__free(c->wbuf);
	hu__free(c->peer);
	hu__free(c);
}

void hu__conn_free(hu_conn *c)
{
	if (cbs(c)->on_close)
		cbs(c)->on_close(c, &c->info);
	hu__conn_discard(c);
}

/* ---- reading ---- */

static void peer_eof(hu_conn *c, uint32_t ev)
{
	int err = c->pending_err;
	int fin_first = 0;

	/* recv() says 0 with an error pending only after a FIN: it checks
	 * SOCK_DONE (set by tcp_fin()) before sk_err. So the FIN came first
	 * and the RST after it (kernel-truth.md, 1b; haproxy's "option
	 * nolinger", shutdown() then SO_LINGER {1, 0}): the application
	 * hears the eof it was sent, then on_close says reset in peer-done.
	 * (An error taken earlier, while paused, proves no FIN: after
	 * SO_ERROR took sk_err, a reset socket also reads 0.) */
	if (err == 0 && (ev & EPOLLERR) && (err = take_error(c)) != 0)
		fin_first = 1;
	if (err != 0 && !fin_first) {
		hu__conn_fail(c, hu__status_of(err), err);
		return;
	}
	if (!(c->flags & HU__C_PEER_DONE)) {
		c->flags |= HU__C_PEER_DONE;
		enter(c, HU_PHASE_PEER_DONE);
		if (!(c->flags & HU__C_CLOSING) && cbs(c)->on_eof) {
			/* Writes from here fail: pending_err holds the RST. */
			cbs(c)->on_eof(c);
			if (GONE(c))
				return;
		}
	} else if (err == 0) {
		return; /* EOF is sticky; we knew */
	}
	if (err != 0) {
		hu__conn_fail(c, hu__status_of(err), err);
		return;
	}
	settle(c);
}

/*
 * Read until the queue is drained. `ev` is the epoll event (0 when a
 * resumed connection reads owed data: then nothing is known about the
 * queue, and only EAGAIN or 0 ends the loop).
 */
static void conn_read(hu_conn *c, uint32_t ev)
{
	char *buf = c->loop->rbuf;
	int hup = (ev & (EPOLLHUP | EPOLLERR)) != 0;

	if ((c->flags & HU__C_PAUSED) && !(c->flags & HU__C_CLOSING)) {
		/* Not reading now; an error is taken (and kept) so that it
		 * is not lost, and is reported when reading resumes. The
		 * connection's life ended now, not when the application
		 * resumes: its duration stops here. */
		if ((ev & EPOLLERR) && take_error(c) != 0 &&
		    !(c->flags & HU__C_ENDED)) {
			c->info.duration_ms =
			    hu__now_ms() - c->info.duration_ms;
			c->flags |= HU__C_ENDED;
		}
		return;
	}
	for (;;) {
		int err = 0;
		ssize_t n = hu__recv_raw(c->io.fd, buf, HU__RBUF, &err);

		if (n > 0) {
			c->last_io = c->loop->now;
			c->info.bytes_in += (uint64_t)n;
			if (c->flags & HU__C_CLOSING) {
				/* Lingering: read, count, discard. */
				c->info.discarded += (uint64_t)n;
				continue;
			}
			if (cbs(c)->on_data) {
				cbs(c)->on_data(c, buf, (size_t)n);
				if (GONE(c))
					return;
				if (c->flags & HU__C_CLOSING)
					continue;
			}
			if (c->flags & HU__C_PAUSED)
				return; /* hu_conn_resume() reads on */
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

void hu__conn_read_ready(hu_conn *c)
{
	if (GONE(c) || (c->flags & HU__C_CONNECTING))
		return;
	conn_read(c, c->pending_err ? EPOLLERR : 0);
	if (!GONE(c) && c->wbuf)
		conn_flush(c);
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
	int err = take_error(c);

	if (err == 0 && (ev & EPOLLHUP))
		err = ECONNABORTED; /* ended, and its error already taken */
	if (err != 0 && !connected_then_reset(err)) {
		c->pending_err = 0;
		hu__conn_fail(c, hu__status_of(err), err);
		return;
	}
	if (err == 0 && !(ev & EPOLLOUT))
		return;
	c->flags &= ~HU__C_CONNECTING;
	c->phase = HU_PHASE_OPEN;
	hu__conn_opened(c);
	if (GONE(c))
		return;
	if (err != 0) {
		/* Open, then the reset: the data it sent first, then
		 * on_close (pending_err holds the error). */
		conn_read(c, ev | EPOLLERR);
		return;
	}
	if (ev & (EPOLLIN | EPOLLRDHUP)) {
		conn_read(c, ev);
		if (GONE(c))
			return;
	}
	/* Writes and a shutdown queued while connecting. */
	if (c->wbuf)
		conn_flush(c);
	else
		settle(c);
}

/* ---- writing ---- */

/*
 * Both sides are done and our buffer is empty, but the kernel may still
 * hold data the peer has not acknowledged. Closing now would report it as
 * undelivered though it may yet arrive -- or hide that the peer refuses it
 * (its RST comes after our close). So send our FIN and wait, up to
 * linger_ms, for the acknowledgement; the kernel has no event for "all
 * acknowledged", so the timer polls SIOCOUTQ, 1 ms first, then doubling up
 * to 50 ms (like hu_close_graceful()). A peer whose FIN acknowledged
 * everything -- the usual end -- costs one ioctl() and no wait.
 */
static void finish_clean(hu_conn *c, int reason)
{
	uint64_t q = unacked(c);

	if (q > 0) {
		if (!(c->flags & HU__C_SHUT_DONE)) {
			if (shutdown(c->io.fd, SHUT_WR) < 0) {
				int err;
				int st = hu__status_errno(&err);

				hu__conn_fail(c, st, err);
				return;
			}
			c->flags |= HU__C_SHUT_DONE;
		}
		c->flags |= HU__C_DRAIN;
		c->info.reason = reason;
		/* The progress mark (progressed()). */
		c->info.undelivered = c->info.bytes_out - q;
		if (!(c->flags & HU__C_LINGER))
			c->deadline = c->loop->now + c->cfg->c.linger_ms;
		c->next_beat = c->loop->now + 1;
		c->poll_ms = 1;
		rearm(c);
		return;
	}
	finish(c, reason, 0, 0, 0);
}

/*
 * Everything queued is written: send what was asked for once the buffer
 * is empty -- our FIN, or the end of the connection. While data is still
 * buffered and the loop means to close after it, bound the flush.
 */
static void settle(hu_conn *c)
{
	unsigned f = c->flags;

	if (f & (HU__C_FINISHED | HU__C_CONNECTING | HU__C_DRAIN))
		return;
	if (c->wbuf != NULL) {
		if (c->deadline == 0 && flushing_to_close(c)) {
			c->info.undelivered = c->info.bytes_out - unacked(c);
			c->deadline = c->loop->now + c->cfg->c.linger_ms;
			rearm(c);
		}
		return;
	}
	if ((f & (HU__C_SHUT_WANT | HU__C_CLOSING)) && !(f & HU__C_SHUT_DONE)) {
		if (shutdown(c->io.fd, SHUT_WR) < 0) {
			int err;
			int st = hu__status_errno(&err);
			int soerr = take_error(c);

			/* ENOTCONN: reset or timed out meanwhile. */
			if (soerr != 0)
				hu__conn_fail(c, hu__status_of(soerr), soerr);
			else
				hu__conn_fail(c, st == HU_ERROR ? HU_RESET : st,
					      err);
			return;
		}
		c->flags |= HU__C_SHUT_DONE;
		enter(c, HU_PHASE_LOCAL_DONE);
		f = c->flags;
	}
	if (f & HU__C_PEER_DONE) {
		if (f & HU__C_CLOSING)
			finish_clean(c, closing_reason(c));
		else if ((f & HU__C_SHUT_DONE) || cbs(c)->on_eof == NULL)
			finish_clean(c, HU_CLOSE_EOF);
		return;
	}
}

static void after_flush(hu_conn *c)
{
	size_t left = hu__wbuf_size(c->wbuf);

	if (left == 0) {
		hu__free(c->wbuf);
		c->wbuf = NULL;
	}
	if ((c->flags & HU__C_ABOVE_HW) && left < c->cfg->c.high_water) {
		c->flags &= ~HU__C_ABOVE_HW;
		if (cbs(c)->on_drain && !(c->flags & HU__C_CLOSING)) {
			cbs(c)->on_drain(c);
			if (GONE(c))
				return;
		}
	}
	settle(c);
}

/* The send buffer has room again (an EPOLLOUT edge): write what waits. */
static void conn_flush(hu_conn *c)
{
	struct hu__wbuf *b = c->wbuf;

	while (hu__wbuf_size(b) > 0) {
		int err = 0;
		size_t want = hu__wbuf_size(b);
		ssize_t n =
		    hu__send_raw(c->io.fd, b->data + b->off, want, &err);

		if (n == HU_AGAIN)
			break;
		if (n < 0) {
			hu__conn_fail(c, (int)n, err);
			return;
		}
		b->off += (size_t)n;
		c->info.bytes_out += (uint64_t)n;
		c->last_io = c->loop->now;
		if ((size_t)n < want)
			break; /* the socket buffer is full: wait for OUT */
	}
	after_flush(c);
}

void hu__conn_event(hu_conn *c, uint32_t ev)
{
	if (GONE(c))
		return;
	if (c->flags & HU__C_CONNECTING) {
		connect_event(c, ev);
		return;
	}
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		conn_read(c, ev);
		if (GONE(c))
			return;
	}
	if (c->wbuf && (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
		conn_flush(c);
}

static int write_refused(const hu_conn *c)
{
	return (c->flags & (HU__C_FINISHED | HU__C_CLOSING | HU__C_SHUT_WANT |
			    HU__C_SHUT_DONE)) != 0 ||
	       c->pending_err != 0;
}

/* What hu_conn_write() returns once the bytes are queued. */
static int mark(hu_conn *c)
{
	if (hu__wbuf_size(c->wbuf) >= c->cfg->c.high_water) {
		c->flags |= HU__C_ABOVE_HW;
		return 1;
	}
	return 0;
}

/* Queue what the kernel did not take. If some of this write already went
 * out, a failure to queue the rest would leave a hole in the stream: the
 * connection is aborted then. */
static int queue_rest(hu_conn *c, const struct iovec *iov, int iovcnt,
		      size_t skip, int partial)
{
	struct hu__wbuf *b = c->wbuf;
	size_t old = b ? b->len : 0;

	for (int i = 0; i < iovcnt; i++) {
		const char *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		if (hu__wbuf_append(&c->wbuf, p + skip, len - skip) < 0) {
			if (partial || i > 0) {
				hu__conn_finish(c, HU_CLOSE_ERROR, ENOMEM, 1);
				return HU_ERROR;
			}
			if (c->wbuf)
				c->wbuf->len = old;
			return HU_ERROR;
		}
		skip = 0;
		partial = 1; /* from here on, a failure splits the write */
	}
	return mark(c);
}

int hu_conn_writev(hu_conn *c, const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	if (c == NULL || iovcnt < 0 || iovcnt > IOV_MAX ||
	    (iov == NULL && iovcnt > 0))
		return HU_INVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_base == NULL && iov[i].iov_len > 0)
			return HU_INVAL;
		total += iov[i].iov_len;
	}
	if (write_refused(c))
		return HU_PIPE;
	if (total == 0)
		return mark(c);

	size_t sent = 0;
	if (c->wbuf == NULL && !(c->flags & HU__C_CONNECTING)) {
		int err = 0;
		ssize_t n = iovcnt == 1
				? hu__send_raw(c->io.fd, iov[0].iov_base,
					       iov[0].iov_len, &err)
				: hu__sendv_raw(c->io.fd, iov, iovcnt, &err);

		if (n < 0 && n != HU_AGAIN) {
			hu__conn_fail(c, (int)n, err);
			return HU_PIPE;
		}
		if (n > 0) {
			sent = (size_t)n;
			c->info.bytes_out += (uint64_t)n;
			c->last_io = c->loop->now;
			if (sent == total)
				return 0;
		}
	}
	return queue_rest(c, iov, iovcnt, sent, sent > 0);
}

int hu_conn_write(hu_conn *c, const void *data, size_t len)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};

	if (data == NULL && len > 0)
		return HU_INVAL;
	return hu_conn_writev(c, &iov, 1);
}

int hu_conn_shutdown(hu_conn *c)
{
	if (c == NULL)
		return HU_INVAL;
	if (c->flags & (HU__C_FINISHED | HU__C_CLOSING))
		return HU_PIPE;
	c->flags |= HU__C_SHUT_WANT;
	settle(c);
	return 0;
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
	if (c->pending_err != 0) {
		/* The peer is already gone: say how. */
		hu__conn_fail(c, hu__status_of(c->pending_err), c->pending_err);
		return;
	}
	if (c->flags & HU__C_CONNECTING) {
		hu__conn_finish(c, HU_CLOSE_LOCAL, 0, 0);
		return;
	}
	c->flags |= why; /* first: an idle close keeps its phase */
	enter(c, HU_PHASE_CLOSING);
	c->flags |= HU__C_CLOSING | HU__C_LINGER;
	if (c->flags & HU__C_PAUSED) {
		/* Lingering means reading (and discarding) until the FIN,
		 * and an edge may have passed while paused. */
		c->flags &= ~HU__C_PAUSED;
		hu__loop_ready(c);
	}
	/* linger_ms bounds the whole close, the flush included: a peer that
	 * never reads must not keep it open for ever. No idle timeout now. */
	c->deadline = c->loop->now + c->cfg->c.linger_ms;
	rearm(c);
	settle(c);
}

void hu_conn_close(hu_conn *c, int how)
{
	if (c == NULL || GONE(c))
		return;
	if (how == HU_ABORT) {
		/* Also the way to cut a lingering close short. */
		hu__conn_finish(c, HU_CLOSE_ABORT, 0, 1);
		return;
	}
	if (!(c->flags & HU__C_CLOSING))
		close_gracefully(c, 0);
}

/* ---- the rest of the API ---- */

void hu_conn_pause(hu_conn *c)
{
	if (c != NULL && !(c->flags & (HU__C_FINISHED | HU__C_CLOSING)))
		c->flags |= HU__C_PAUSED;
}

void hu_conn_resume(hu_conn *c)
{
	if (c == NULL || !(c->flags & HU__C_PAUSED))
		return;
	c->flags &= ~HU__C_PAUSED;
	/* Edge-triggered: what arrived while paused raised its edge
	 * already, so read at the next safe point, not from here (this may
	 * be inside a callback of this very connection). */
	hu__loop_ready(c);
}

void *hu_conn_user(hu_conn *c)
{
	return c ? c->user : NULL;
}

void hu_conn_set_user(hu_conn *c, void *user)
{
	if (c != NULL)
		c->user = user;
}

hu_loop *hu_conn_loop(hu_conn *c)
{
	return c ? c->loop : NULL;
}

int hu_conn_fd(hu_conn *c)
{
	return c ? c->io.fd : -1;
}

unsigned long long hu_conn_id(hu_conn *c)
{
	return c ? c->id : 0;
}

size_t hu_conn_buffered(hu_conn *c)
{
	return c ? hu__wbuf_size(c->wbuf) : 0;
}

int hu_conn_peer(hu_conn *c, char *buf, size_t size)
{
	if (c == NULL)
		return HU_INVAL;
	if (c->peer == NULL) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (c->loop->accepting == c) {
			/* In on_open after accept4(): its address, no call. */
			len = c->loop->accepted->len < sizeof(ss)
				  ? c->loop->accepted->len
				  : (socklen_t)sizeof(ss);
			memcpy(&ss, &c->loop->accepted->sa, len);
		} else if (c->io.fd < 0) {
			return HU_INVAL;
		} else if (getpeername(c->io.fd, (struct sockaddr *)&ss, &len) <
			   0) {
			return hu__status_errno(NULL);
		}
		/* Cached: a connection that asks once (in on_open, say) can
		 * still name its peer in on_close, after the fd is gone. */
		c->peer = hu__calloc(sizeof(*c->peer));
		if (c->peer == NULL)
			return hu_addr_format((struct sockaddr *)&ss, len, buf,
					      size);
		memcpy(&c->peer->sa, &ss, len);
		c->peer->len = len;
	}
	return hu_addr_format((struct sockaddr *)&c->peer->sa, c->peer->len,
			      buf, size);
}
