/*
 * liveness.c -- dead-peer detection that works idle and busy.
 *
 * Two kernel mechanisms, each blind where the other sees (kernel-truth.md,
 * sc. 7 and conclusion 7):
 *  - keepalive (tcp_keepalive_timer() in net/ipv4/tcp_timer.c) probes an
 *    *idle* connection, but never fires while data is unacknowledged;
 *  - TCP_USER_TIMEOUT bounds how long data may stay unacknowledged, counted
 *    from the first retransmission, but on an idle connection nothing is
 *    sent, so it never fires alone.
 * With both set, the keepalive timer gives up at the first tick at which
 * nothing has been received for TCP_USER_TIMEOUT (after at least one probe),
 * ignoring TCP_KEEPCNT; the retransmission timer gives up after
 * TCP_USER_TIMEOUT. Setting the user timeout to idle + intvl * cnt makes the
 * two agree, so one number bounds detection in both cases.
 */
#include "internal.h"

#include <limits.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MAX_KEEPIDLE 32767 /* MAX_TCP_KEEPIDLE, include/net/tcp.h */
#define MAX_KEEPINTVL 32767
#define MAX_KEEPCNT 127

static unsigned clampu(unsigned v, unsigned lo, unsigned hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int set_int(int fd, int level, int name, int value)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
		return hu__status_errno(NULL);
	return 0;
}

int hu_liveness(int fd, unsigned timeout_ms)
{
	int kind, rc;

	if ((kind = hu__socket_kind(fd)) < 0)
		return kind;
	if (timeout_ms > INT_MAX)
		return HU_INVAL;
	/* A Unix-domain peer that goes away is reported at once (its socket
	 * is closed by the kernel when the process dies): nothing to arm. */
	if (kind == HU__KIND_UNIX)
		return 0;
	if (timeout_ms == 0) {
		if ((rc = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0)) < 0)
			return rc;
		return set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 0);
	}

	/* Whole seconds, at least 2: keepalive needs one idle second and
	 * one unanswered probe interval before it may give up. */
	unsigned t = timeout_ms / 1000;
	if (t < 2)
		t = 2;
	/* About three probes in the second half of T. With TCP_USER_TIMEOUT
	 * set, tcp_keepalive_timer() ignores TCP_KEEPCNT and gives up at the
	 * first tick (idle, idle + intvl, ...) at which nothing has been
	 * received for the user timeout: idle takes the remainder of the
	 * division so that a tick falls exactly on T. */
	unsigned half = t - t / 2;
	unsigned intvl = clampu(half / 3, 1, MAX_KEEPINTVL);
	unsigned cnt = clampu(half / intvl, 1, MAX_KEEPCNT);
	unsigned idle = clampu(t - intvl * cnt, 1, MAX_KEEPIDLE);
	/* Past the idle clamp (T above 18 h) more probes make up for it. */
	cnt = clampu((t - idle) / intvl, 1, MAX_KEEPCNT);
	unsigned long long ut =
	    ((unsigned long long)idle + (unsigned long long)intvl * cnt) * 1000;
	if (ut > INT_MAX)
		ut = INT_MAX;

	if ((rc = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)idle)) < 0 ||
	    (rc = set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)intvl)) < 0 ||
	    (rc = set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, (int)cnt)) < 0 ||
	    (rc = set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)ut)) < 0 ||
	    (rc = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1)) < 0)
		return rc;
	return 0;
}
