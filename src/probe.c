/*
 * probe.c -- look at a connection without consuming data or blocking.
 *
 * The sources, none of which consumes anything but the pending error:
 *  - poll() with timeout 0: POLLRDHUP = the peer's FIN arrived (RCV_SHUTDOWN);
 *    POLLHUP = both directions finished (on TCP: RST, timeout, or FIN after
 *    our own FIN; on Unix sockets also a plain close); POLLERR = an error is
 *    pending (tcp_poll() and unix_poll() in the kernel);
 *  - SIOCINQ / SIOCOUTQ: bytes unread / not yet acknowledged;
 *  - TCP_INFO: the TCP state.
 * Only on POLLERR do we read SO_ERROR, which clears the error; the value is
 * stashed so that hu_recv() reports it instead of a false EOF.
 */
#include "internal.h"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h> /* FIONREAD and TIOCOUTQ, behind SIOCINQ/SIOCOUTQ */
#include <sys/socket.h>

static int poll_now(int fd, unsigned *revents)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP};

	for (;;) {
		int n = poll(&p, 1, 0);

		if (n >= 0) {
			*revents = n ? (unsigned)p.revents : 0;
			return 0;
		}
		int st = hu__status_errno(NULL);
		if (st != HU__INTR)
			return st;
	}
}

int hu_probe(int fd, struct hu_probe *out)
{
	int kind, rc, err = 0;
	unsigned ev = 0;

	if (out == NULL)
		return HU_INVAL;
	if ((kind = hu__socket_kind(fd)) < 0)
		return kind;

	struct hu_probe p;
	memset(&p, 0, sizeof(p));
	p.tcp_state = -1;
	if (kind == HU__KIND_TCP) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		memset(&ti, 0, sizeof(ti));
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
			return hu__status_errno(NULL);
		p.tcp_state = ti.tcpi_state;
		if (ti.tcpi_state == HU__TCP_LISTEN)
			return HU_INVAL;
	} else {
		int listening = 0;
		socklen_t len = sizeof(listening);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
			       &len) < 0)
			return hu__status_errno(NULL);
		if (listening)
			return HU_INVAL;
	}
	if ((rc = poll_now(fd, &ev)) < 0)
		return rc;
	p.events = ev;
	p.unread = hu__queue_bytes(fd, SIOCINQ);
	p.unsent = hu__queue_bytes(fd, SIOCOUTQ);

	if (ev & POLLERR) {
		socklen_t len = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			return hu__status_errno(NULL);
		if (err != 0)
			hu__stash_put(fd, err);
	}
	if (err == 0)
		err = hu__stash_get(fd, 0);

	if (err != 0) {
		p.peer = HU_PEER_GONE;
		p.status = hu__status_of(err);
		p.error = err;
	} else if (ev & POLLRDHUP) {
		p.peer = HU_PEER_EOF;
		p.status = HU_EOF;
	} else if (ev & POLLHUP) {
		/* Both directions finished, but no FIN was seen and no error
		 * is pending: never connected, or a failed connect whose error
		 * someone else already read. Nothing can be sent. */
		p.peer = HU_PEER_GONE;
		p.status = HU_PIPE;
	} else {
		p.peer = HU_PEER_OPEN;
		p.status = 0;
	}
	/* After a reset the kernel's SIOCOUTQ is not meaningful (it keeps
	 * counting a SYN or FIN): report nothing unacknowledged for a socket
	 * that never connected. */
	if (kind == HU__KIND_TCP && p.tcp_state == HU__TCP_CLOSE && err == 0 &&
	    !(ev & POLLRDHUP))
		p.unsent = 0;
	*out = p;
	return 0;
}
