/*
 * close.c -- transport reports, graceful close, abortive close.
 *
 * Why a graceful close is more than close(): if unread data sits in our
 * receive queue when we close, Linux sends an RST at once instead of a FIN
 * and throws away whatever we had queued for the peer (tcp_close() in
 * net/ipv4/tcp.c; RFC 2525 section 2.17). The peer then loses the tail of
 * our data. So: shut down writing (our FIN queues behind our data), read and
 * discard until the peer's FIN, wait for our data to be acknowledged, then
 * close with an empty receive queue.
 */
#include "internal.h"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h> /* FIONREAD and TIOCOUTQ, behind SIOCINQ/SIOCOUTQ */
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int hu__report_fill(int fd, int kind, struct hu_report *out)
{
	memset(out, 0, sizeof(*out));
	out->tcp_state = -1;
	out->unread = hu__queue_bytes(fd, SIOCINQ);
	out->unsent = hu__queue_bytes(fd, SIOCOUTQ);
	if (kind != HU__KIND_TCP)
		return 0;

	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return hu__status_errno(NULL);
	out->tcp_state = ti.tcpi_state;
	out->rtt_us = ti.tcpi_rtt;
	out->rttvar_us = ti.tcpi_rttvar;
	out->rto_us = ti.tcpi_rto;
	out->retransmits = ti.tcpi_total_retrans;
	out->backoff = ti.tcpi_backoff;
	out->probes = ti.tcpi_probes;
	out->unacked = ti.tcpi_unacked;
	out->bytes_acked = ti.tcpi_bytes_acked;
	out->bytes_received = ti.tcpi_bytes_received;
	out->last_data_recv_ms = ti.tcpi_last_data_recv;
	out->last_ack_recv_ms = ti.tcpi_last_ack_recv;
	/* A socket that has finished (HU__TCP_CLOSE) after its FIN was acked
	 * has nothing unacknowledged, but SIOCOUTQ keeps counting the FIN. */
	if (ti.tcpi_state == HU__TCP_CLOSE && ti.tcpi_unacked == 0)
		out->unsent = 0;
	return 0;
}

int hu_report(int fd, struct hu_report *out)
{
	int kind;

	if (out == NULL)
		return HU_INVAL;
	if ((kind = hu__socket_kind(fd)) < 0)
		return kind;
	return hu__report_fill(fd, kind, out);
}

/* Wait up to `ms` for fd to become readable (or hung up). */
static void wait_readable(int fd, uint64_t ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};

	(void)poll(&p, 1, ms > 1000000 ? 1000000 : (int)ms);
}

static uint64_t remaining(uint64_t deadline)
{
	uint64_t now = hu__now_ms();

	return now >= deadline ? 0 : deadline - now;
}

/* Read and discard until the peer's FIN (0), or a status < 0. */
static int drain_until_fin(int fd, uint64_t deadline, int *err)
{
	char sink[4096];

	for (;;) {
		ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);

		if (n > 0)
			continue;
		if (n == 0)
			return 0;
		int st = hu__status_errno(err);
		if (st == HU__INTR)
			continue;
		if (st != HU_AGAIN)
			return st;
		uint64_t left = remaining(deadline);
		if (left == 0)
			return HU_TIMEOUT;
		wait_readable(fd, left);
	}
}

/*
 * The error the kernel holds for fd, taken with SO_ERROR (which clears it;
 * we are about to close anyway): 0 or its status, *err its value.
 */
static int pending_error(int fd, int *err)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 ||
	    soerr == 0)
		return 0;
	*err = soerr;
	return hu__status_of(soerr);
}

/*
 * After the peer's FIN: wait until the peer has acknowledged all we sent,
 * our FIN included -- SIOCOUTQ (write_seq - snd_una) reaches 0, or the state
 * machine finished (TIME_WAIT shows as CLOSE) -- sleeping in growing steps:
 * the kernel has no readiness event for "everything acknowledged".
 *
 * tcpi_unacked (packets_out) is no substitute: against a zero window all
 * that was *sent* is acknowledged while the rest waits unsent in the write
 * queue, so it reads 0 long before the peer has our data.
 */
static int wait_acked(int fd, uint64_t deadline, int *err)
{
	long step_us = 200;

	for (;;) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		memset(&ti, 0, sizeof(ti));
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
			return hu__status_errno(err);
		/* CLOSE after the peer's FIN: TIME_WAIT (all acknowledged),
		 * or a reset that ended CLOSING/LAST_ACK early -- then the
		 * error says so. */
		if (ti.tcpi_state == HU__TCP_CLOSE)
			return pending_error(fd, err);
		if (hu__queue_bytes(fd, SIOCOUTQ) == 0)
			return 0;
		uint64_t left = remaining(deadline);
		if (left == 0)
			return HU_TIMEOUT;
		if ((uint64_t)step_us / 1000 > left)
			step_us = (long)left * 1000;
		struct timespec ts = {0, step_us * 1000};
		nanosleep(&ts, NULL);
		if (step_us < 50000)
			step_us *= 2;
	}
}

int hu_close_graceful(int fd, unsigned linger_ms, struct hu_report *out)
{
	int kind, err = 0, result = 0;

	if ((kind = hu__socket_kind(fd)) < 0)
		return kind;
	uint64_t deadline = hu__now_ms() + linger_ms;

	/* An error hu_probe() already took from the kernel ends it now. */
	int stashed = hu__stash_get(fd, 1);
	if (stashed != 0) {
		err = stashed;
		result = hu__status_of(stashed);
		goto done;
	}
	/*
	 * One rule for a socket with no connection -- never connected, still
	 * connecting, listening, or already reset: there is no peer to close
	 * with, the fd is closed all the same (the promise above), and the
	 * result is HU_PIPE with errno ENOTCONN, or the status of the error
	 * the kernel still holds (a reset, a timeout, a refused connect).
	 * getpeername() is what finds them all: shutdown() succeeds on a
	 * listening TCP socket and on an unconnected Unix one, whose next
	 * recv() would then say ENOTCONN or EINVAL.
	 */
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) < 0 ||
	    shutdown(fd, SHUT_WR) < 0) {
		int st = hu__status_errno(&err);
		int pending = pending_error(fd, &err);

		if (pending < 0)
			st = pending;
		else if (st == HU_ERROR || st == HU_INVAL)
			st = HU_PIPE; /* ENOTCONN */
		result = st;
		goto done;
	}
	result = drain_until_fin(fd, deadline, &err);
	if (result == 0 && kind == HU__KIND_TCP)
		result = wait_acked(fd, deadline, &err);
done:
	if (out != NULL)
		hu__report_fill(fd, kind, out);
	hu__stash_forget(fd);
	close(fd);
	if (result < 0)
		hu__errno_set(err);
	return result;
}

int hu_abort(int fd)
{
	int kind;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if ((kind = hu__socket_kind(fd)) < 0)
		return kind;
	/* SO_LINGER {1, 0}: tcp_close() skips the FIN handshake, sends RST
	 * and frees the socket. Unix sockets ignore it. */
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	hu__stash_forget(fd);
	close(fd);
	return 0;
}
