/*
 * conn-write.c -- a connection's write path: hu_conn_write() sends at once
 * when nothing is buffered and keeps the rest in order until EPOLLOUT;
 * the high-water mark and on_drain; our FIN once flushed (half-close);
 * and, once everything is written, what was asked for next: the FIN, or
 * the end of the connection after the peer's ACK of our last byte.
 *
 * Calls conn-end.c; conn.c calls it (hu__conn_flush, hu__conn_settle).
 */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>

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
	uint64_t q = hu__conn_unacked(c);

	if (q > 0) {
		struct hu__conn_more *m = hu__conn_more(c);
		hu_loop *loop = hu__loop_of(c);

		if (m == NULL) {
			/* No memory to wait with: give up now, exactly. */
			hu__conn_give_up(c, reason);
			return;
		}
		if (!(c->flags & HU__C_SHUT_DONE)) {
			if (shutdown(c->fd, SHUT_WR) < 0) {
				int err;
				int st = hu__status_errno(&err);

				hu__conn_fail(c, st, err);
				return;
			}
			c->flags |= HU__C_SHUT_DONE;
		}
		c->flags |= HU__C_DRAIN;
		hu__set_reason(c, reason);
		m->mark = c->bytes_out - q; /* hu__conn_progressed() */
		if (!(c->flags & HU__C_LINGER))
			m->deadline = loop->now + c->cfg->c.linger_ms;
		m->next_beat = loop->now + 1;
		m->poll_ms = 1;
		hu__conn_rearm(c);
		return;
	}
	hu__conn_end(c, reason, 0, 0, 0);
}

/*
 * Everything queued is written: send what was asked for once the buffer
 * is empty -- our FIN, or the end of the connection. While data is still
 * buffered and the loop means to close after it, bound the flush.
 */
void hu__conn_settle(hu_conn *c)
{
	unsigned f = c->flags;

	if (f & (HU__C_FINISHED | HU__C_CONNECTING | HU__C_DRAIN))
		return;
	if (c->w.wbuf != NULL) {
		if ((c->more == NULL || c->more->deadline == 0) &&
		    hu__conn_flushing_to_close(c)) {
			struct hu__conn_more *m = hu__conn_more(c);

			if (m == NULL) {
				hu__conn_give_up(c, HU_CLOSE_EOF);
				return;
			}
			m->mark = c->bytes_out - hu__conn_unacked(c);
			m->deadline = hu__loop_of(c)->now + c->cfg->c.linger_ms;
			hu__conn_rearm(c);
		}
		return;
	}
	if ((f & (HU__C_SHUT_WANT | HU__C_CLOSING)) && !(f & HU__C_SHUT_DONE)) {
		if (shutdown(c->fd, SHUT_WR) < 0) {
			int err;
			int st = hu__status_errno(&err);
			int soerr = hu__conn_take_error(c);

			/* ENOTCONN: reset or timed out meanwhile. */
			if (soerr != 0)
				hu__conn_fail(c, hu__status_of(soerr), soerr);
			else
				hu__conn_fail(c, st == HU_ERROR ? HU_RESET : st,
					      err);
			return;
		}
		c->flags |= HU__C_SHUT_DONE;
		hu__conn_enter(c, HU_PHASE_LOCAL_DONE);
		f = c->flags;
	}
	if (f & HU__C_PEER_DONE) {
		if (f & HU__C_CLOSING)
			finish_clean(c, hu__conn_closing_reason(c));
		else if ((f & HU__C_SHUT_DONE) || hu__cbs(c)->on_eof == NULL)
			finish_clean(c, HU_CLOSE_EOF);
		return;
	}
}

static void after_flush(hu_conn *c)
{
	size_t left = hu__wbuf_size(c->w.wbuf);

	if (left == 0) {
		hu__free(c->w.wbuf);
		c->w.wbuf = NULL;
	}
	if ((c->flags & HU__C_ABOVE_HW) && left < c->cfg->c.high_water) {
		c->flags &= ~HU__C_ABOVE_HW;
		if (hu__cbs(c)->on_drain && !(c->flags & HU__C_CLOSING)) {
			hu__cbs(c)->on_drain(c);
			if (HU__GONE(c))
				return;
		}
	}
	hu__conn_settle(c);
}

/* The send buffer has room again (an EPOLLOUT edge): write what waits. */
void hu__conn_flush(hu_conn *c)
{
	struct hu__wbuf *b = c->w.wbuf;

	while (hu__wbuf_size(b) > 0) {
		int err = 0;
		size_t want = hu__wbuf_size(b);
		ssize_t n = hu__send_raw(c->fd, b->data + b->off, want, &err);

		if (n == HU_AGAIN)
			break;
		if (n < 0) {
			hu__conn_fail(c, (int)n, err);
			return;
		}
		b->off += (size_t)n;
		c->bytes_out += (uint64_t)n;
		if (c->more)
			c->more->last_io = hu__loop_of(c)->now;
		if ((size_t)n < want)
			break; /* the socket buffer is full: wait for OUT */
	}
	after_flush(c);
	if (!HU__GONE(c) && c->w.wbuf != NULL)
		hu__ur_want_out(c);
}

static int write_refused(const hu_conn *c)
{
	return (c->flags & (HU__C_FINISHED | HU__C_CLOSING | HU__C_SHUT_WANT |
			    HU__C_SHUT_DONE)) != 0 ||
	       c->pending != 0;
}

/* What hu_conn_write() returns once the bytes are queued. */
static int mark(hu_conn *c)
{
	if (hu__wbuf_size(c->w.wbuf) >= c->cfg->c.high_water) {
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
	struct hu__wbuf *b = c->w.wbuf;
	size_t old = b ? b->len : 0;

	for (int i = 0; i < iovcnt; i++) {
		const char *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		if (hu__wbuf_append(&c->w.wbuf, p + skip, len - skip) < 0) {
			if (partial || i > 0) {
				hu__conn_finish(c, HU_CLOSE_ERROR, ENOMEM, 1);
				return HU_ERROR;
			}
			if (c->w.wbuf)
				c->w.wbuf->len = old;
			return HU_ERROR;
		}
		skip = 0;
		partial = 1; /* from here on, a failure splits the write */
	}
	if (!(c->flags & HU__C_CONNECTING))
		hu__ur_want_out(c);
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
	if (c->w.wbuf == NULL && !(c->flags & HU__C_CONNECTING)) {
		int err = 0;
		ssize_t n = iovcnt == 1
				? hu__send_raw(c->fd, iov[0].iov_base,
					       iov[0].iov_len, &err)
				: hu__sendv_raw(c->fd, iov, iovcnt, &err);

		if (n < 0 && n != HU_AGAIN) {
			hu__conn_fail(c, (int)n, err);
			return HU_PIPE;
		}
		if (n > 0) {
			sent = (size_t)n;
			c->bytes_out += (uint64_t)n;
			if (c->more)
				c->more->last_io = hu__loop_of(c)->now;
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
	hu__conn_settle(c);
	return 0;
}

size_t hu_conn_buffered(hu_conn *c)
{
	return c ? hu__wbuf_size(hu__wbuf(c)) : 0;
}
