/*
 * conn-uring.c -- a connection's completions on the io_uring backend, turned
 * into what the epoll backend's events would have led to: the same calls
 * into conn.c, in the same order, so every reason, phase and byte count is
 * the same on both (uring.c says what is armed when).
 *
 *  - the multishot receive: data is handed on as it comes (or held while
 *    paused); its last completion says why it stopped. res 0 is the FIN;
 *    -ENOBUFS (every provided buffer in use) and -ECANCELED (we paused, or
 *    stopped reading for the FIN) end the receive, not the connection, and
 *    uring.c arms it again if it is still wanted; any other error is the
 *    end (an RST, a keepalive or user timeout), reported once: the receive
 *    that reported it is over;
 *  - the multishot POLLOUT of a connection that does not read (connecting,
 *    paused, after the FIN): its mask is an epoll event, handled by
 *    hu__conn_event() as on epoll;
 *  - the one-shot POLLOUT of a reading connection with bytes to write:
 *    the buffer is flushed. An ERR or HUP in it is left to the receive,
 *    which reports the data that came before the error, then the error.
 *
 * Called by the loop only (loop.c); calls conn.c, conn-write.c, uring.c.
 */
#include "loop.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <sys/epoll.h>

static void recv_done(hu_conn *c, int res, unsigned flags, char *buf)
{
	if (res > 0 && buf != NULL)
		hu__conn_chunk(c, buf, (size_t)res);
	if (flags & IORING_CQE_F_MORE)
		return;
	c->ur &= ~(HU__UR_RECV | HU__UR_CANCEL);
	if (HU__GONE(c) || res > 0 || res == -ENOBUFS || res == -ECANCELED)
		return; /* not an end: armed again if still wanted */
	if (res == 0)
		hu__conn_recv_eof(c);
	else
		hu__conn_recv_error(c, -res);
}

static void poll_done(hu_conn *c, uint64_t key, int res, unsigned flags)
{
	/* A completion of a poll cancelled before (an older sequence), or
	 * of one whose connection reads by receive now: not ours. */
	if (!(c->ur & HU__UR_POLL) || key != hu__ur_key(c, HU__UR_OP_POLL))
		return;
	if (!(flags & IORING_CQE_F_MORE))
		c->ur &= ~HU__UR_POLL; /* armed again below if wanted */
	if (res <= 0)
		return;
	uint32_t ev = (uint32_t)res;
	/* Resumed, with a read owed at the safe point: that read reports
	 * the error too, after the data held or queued before it. */
	if (c->flags & HU__C_READY)
		ev &= EPOLLOUT;
	if (ev != 0)
		hu__conn_event(c, ev);
}

static void pollout_done(hu_conn *c, int res)
{
	c->ur &= ~HU__UR_POUT;
	if (res <= 0 || !hu__ur_streaming(c) || c->w.wbuf == NULL)
		return;
	if (res & (EPOLLERR | EPOLLHUP))
		return; /* the receive reports it, after its data */
	hu__conn_flush(c);
}

void hu__conn_cqe(hu_conn *c, uint64_t key, int res, unsigned flags, char *buf)
{
	if (HU__GONE(c))
		return;
	switch ((unsigned)(key >> HU__UR_OP_SHIFT) & 7u) {
	case HU__UR_OP_RECV:
		recv_done(c, res, flags, buf);
		break;
	case HU__UR_OP_POLL:
		poll_done(c, key, res, flags);
		break;
	case HU__UR_OP_POUT:
		pollout_done(c, res);
		break;
	default:
		return;
	}
	if (!HU__GONE(c))
		hu__ur_sync(c);
}
