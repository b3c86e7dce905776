/*
 * conn-end.c -- how a connection ends: the one report on_close carries
 * (reason, errno, phase, undelivered, duration), finishing (the fd closed,
 * gracefully or with an RST, on_close queued), the reason a failed call
 * stands for, giving up on data the peer does not take, and the deadlines
 * that bound every wait (connect, linger, flush, idle, heartbeat).
 *
 * The bottom of the connection code: conn-write.c and conn.c call it, it
 * calls neither (only the loop, to queue on_close).
 */
#include "loop.h"

#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the end ---- */
/*
 * The phase moves forward only: open, then peer-done or local-done for
 * whichever half-close came first (the other one ends the connection), or
 * closing once we began a graceful close. on_close reports the phase the
 * connection was in when the end came (DESIGN.md, close reasons).
 */
void hu__conn_enter(hu_conn *c, int phase)
{
	/* An idle close reports the phase the timer found (issue 11). */
	if (c->flags & HU__C_IDLE)
		return;
	if (hu__phase(c) == HU_PHASE_OPEN || phase == HU_PHASE_CLOSING)
		hu__set_phase(c, phase);
}

/*
 * The part of a connection that only some need (loop.h), made on first
 * use. Its timer node has no fire function: timer.c hands such a node to
 * conn.c's hu__conn_timer(), as loop.c hands it a connection's events.
 */
struct hu__conn_more *hu__conn_more(hu_conn *c)
{
	if (c->more == NULL) {
		c->more = hu__calloc(sizeof(*c->more));
		if (c->more == NULL)
			return NULL;
		c->more->conn = c;
		c->more->last_io = hu__loop_of(c)->now;
	}
	return c->more;
}

/*
 * Bytes we wrote that the peer never acknowledged: what is still in our
 * buffer plus, on TCP, SIOCOUTQ (write_seq - snd_una). SIOCOUTQ counts our
 * FIN too once it is sent, and keeps its value after a reset, which is
 * what we want: those bytes were never acknowledged. On a Unix socket the
 * kernel counts buffer memory, not payload (kernel-truth.md, 10), so only
 * our own buffer is counted there.
 */
uint64_t hu__conn_unacked(const hu_conn *c)
{
	if (!(c->flags & HU__C_TCP) || c->bytes_out == 0 || HU__GONE(c))
		return 0;
	uint64_t q = hu__queue_bytes(c->fd, SIOCOUTQ);
	if (q == 0)
		return 0;
	if (c->flags & HU__C_SHUT_DONE)
		q--; /* our FIN's sequence number */
	return q < c->bytes_out ? q : c->bytes_out;
}

/* `kernel` is what hu__conn_unacked() said just now, or -1 to ask it. */
void hu__conn_end(hu_conn *c, int reason, int err, int abort, int64_t kernel)
{
	hu_loop *loop = hu__loop_of(c);

	if (HU__GONE(c))
		return;
	uint64_t undelivered =
	    hu__wbuf_size(c->w.wbuf) +
	    (kernel >= 0 ? (uint64_t)kernel : hu__conn_unacked(c));
	hu__set_reason(c, reason);
	c->error = (uint8_t)err;
	if (!(c->flags & HU__C_ENDED))
		c->born = hu__now_ms() - c->born; /* now the duration */
	c->flags |= HU__C_FINISHED | HU__C_ENDED;
	if (c->more)
		hu__timer_disarm(loop, &c->more->timer);
	hu__free(c->w.wbuf);
	c->w.undelivered = undelivered;
	/* Only a file description that may be shared needs the DEL: one
	 * that is ours alone leaves the epoll set with its last close(),
	 * and a stale event of a shared one matches nothing (loop.h). */
	if (loop->ur == NULL) {
		hu__loop_check_fork(loop);
		if (c->flags & HU__C_SHARED)
			hu__ep_del(loop->epfd, c->fd);
	}
	if (abort && (c->flags & HU__C_TCP)) {
		/* SO_LINGER {1, 0}: tcp_close() sends RST at once and drops
		 * what is unsent (net/ipv4/tcp.c). */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	hu__stash_forget(c->fd);
	if (loop->ur != NULL)
		hu__ur_close(c); /* cancels, then the close, in order */
	else
		close(c->fd);
	hu__loop_closed(c);
}

void hu__conn_finish(hu_conn *c, int reason, int err, int abort)
{
	hu__conn_end(c, reason, err, abort, -1);
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
void hu__conn_give_up(hu_conn *c, int reason)
{
	uint64_t kernel = hu__conn_unacked(c);
	int cut = kernel > 0 || hu__wbuf_size(hu__wbuf(c)) > 0;

	hu__conn_end(c, reason, ETIMEDOUT, cut, (int64_t)kernel);
}

/*
 * At a flush deadline: has the peer acknowledged anything since the last
 * one? Then the deadline moves linger_ms on. Acknowledged, not taken by
 * the kernel: EPOLLOUT waits until half the send buffer is free, which a
 * slow reader may take many linger_ms to free (sk_stream_wspace()).
 * (Only called with a deadline set, so c->more exists.)
 */
int hu__conn_progressed(hu_conn *c)
{
	uint64_t acked = c->bytes_out - hu__conn_unacked(c);

	if (acked <= c->more->mark)
		return 0;
	c->more->mark = acked;
	c->more->deadline = hu__loop_of(c)->now + c->cfg->c.linger_ms;
	return 1;
}

/* The reason a graceful close ends with: ours, or the idle timer's. */
int hu__conn_closing_reason(const hu_conn *c)
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
int hu__conn_flushing_to_close(const hu_conn *c)
{
	unsigned f = c->flags;

	return (f & HU__C_PEER_DONE) && !(f & HU__C_CLOSING) &&
	       ((f & (HU__C_SHUT_WANT | HU__C_SHUT_DONE)) ||
		hu__cbs(c)->on_eof == NULL);
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
	if (c->pending != 0 && (status == HU_PIPE || status == HU_EOF)) {
		err = c->pending;
		status = hu__status_of(err);
	}
	hu__conn_finish(c, reason_of(c, status, err), err, 0);
}

/* The pending socket error, consumed (0 if none). */
int hu__conn_take_error(hu_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = 0;
	if (err != 0 && c->pending == 0)
		c->pending = (uint8_t)err;
	return c->pending;
}

void hu__conn_rearm(hu_conn *c)
{
	const struct hu_conn_config *cfg = &c->cfg->c;
	struct hu__conn_more *m = c->more;
	uint64_t due = UINT64_MAX;

	if (m == NULL)
		return; /* no deadline was ever set */
	if (m->deadline)
		due = m->deadline;
	if (cfg->idle_ms && !(c->flags & (HU__C_CONNECTING | HU__C_CLOSING)) &&
	    m->last_io + cfg->idle_ms < due)
		due = m->last_io + cfg->idle_ms;
	if (m->next_beat && m->next_beat < due)
		due = m->next_beat;
	if (due == UINT64_MAX)
		hu__timer_disarm(hu__loop_of(c), &m->timer);
	else if (hu__timer_arm(hu__loop_of(c), &m->timer, due) < 0)
		hu__conn_finish(c, HU_CLOSE_ERROR, ENOMEM, 1);
}
