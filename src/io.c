/*
 * io.c -- SIGPIPE-safe send and receive with classified results, and the
 * small syscall helpers the other files share (socket kind, queue sizes,
 * the monotonic clock). It keeps no state of its own; a socket error that
 * hu_probe() consumed is consulted in the stash (layer 1, internal.h).
 *
 * MSG_NOSIGNAL on every send: a write to a socket whose peer is gone raises
 * SIGPIPE otherwise, on TCP (the second write after the peer's close) and on
 * Unix sockets (already the first), and the default disposition kills the
 * process (kernel-truth.md, sc. 1c and 10e).
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

int hu__check_stream(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (fd < 0)
		return HU_BADF;
	/* ENOTSOCK (pipe, file) and EBADF (closed) both classify as
	 * HU_BADF; anything else keeps its own status. */
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return hu__status_errno(NULL);
	return type == SOCK_STREAM ? 0 : HU_BADF;
}

/*
 * recv() returned 0: the peer's FIN -- unless hu_probe() consumed a reset or
 * timeout that the kernel would otherwise have reported here once. After the
 * kernel hands out sk_err, recv() returns 0 as if the close had been orderly
 * (kernel-truth.md, sc. 5b), so the stash is the only record left.
 *
 * A stashed EPIPE is left for hu_send(): it means the peer's FIN came first
 * and its RST answered our late write, so for reading, EOF is the truth.
 */
static ssize_t eof_or_stashed(int fd, int *err_out)
{
	int err = hu__stash_get(fd, 0);

	if (err == 0 || err == EPIPE)
		return HU_EOF;
	hu__stash_get(fd, 1);
	hu__errno_set(err);
	if (err_out)
		*err_out = err;
	return hu__status_of(err);
}

ssize_t hu__recv_raw(int fd, void *buf, size_t len, int *err)
{
	for (;;) {
		ssize_t n = recv(fd, buf, len, 0);

		if (n > 0)
			return n;
		if (n == 0)
			return eof_or_stashed(fd, err);
		int st = hu__status_errno(err);
		if (st != HU__INTR)
			return st;
	}
}

/* A send that failed with EPIPE may hide a reset or timeout that hu_probe()
 * consumed; report that instead, once. */
static ssize_t send_failed(int fd, int *err_out)
{
	int err;
	int st = hu__status_errno(&err);

	if (st == HU_PIPE) {
		int stashed = hu__stash_get(fd, 1);

		if (stashed) {
			hu__errno_set(stashed);
			err = stashed;
			st = hu__status_of(stashed);
		}
	}
	if (err_out)
		*err_out = err;
	return st;
}

ssize_t hu__send_raw(int fd, const void *buf, size_t len, int *err)
{
	for (;;) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n >= 0)
			return n;
		ssize_t st = send_failed(fd, err);
		if (st != HU__INTR)
			return st;
	}
}

ssize_t hu__sendv_raw(int fd, const struct iovec *iov, int iovcnt, int *err)
{
	struct msghdr msg = {0};

	msg.msg_iov = (struct iovec *)iov;
	msg.msg_iovlen = (size_t)iovcnt;
	for (;;) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

		if (n >= 0)
			return n;
		ssize_t st = send_failed(fd, err);
		if (st != HU__INTR)
			return st;
	}
}

ssize_t hu_recv(int fd, void *buf, size_t len)
{
	int rc;

	if (buf == NULL || len == 0)
		return HU_INVAL;
	if ((rc = hu__check_stream(fd)) < 0)
		return rc;
	return hu__recv_raw(fd, buf, len, NULL);
}

ssize_t hu_send(int fd, const void *buf, size_t len)
{
	int rc;

	if (buf == NULL && len > 0)
		return HU_INVAL;
	if ((rc = hu__check_stream(fd)) < 0)
		return rc;
	return hu__send_raw(fd, buf, len, NULL);
}

ssize_t hu_sendv(int fd, const struct iovec *iov, int iovcnt)
{
	int rc;

	if (iovcnt < 0 || iovcnt > IOV_MAX || (iov == NULL && iovcnt > 0))
		return HU_INVAL;
	if ((rc = hu__check_stream(fd)) < 0)
		return rc;
	return hu__sendv_raw(fd, iov, iovcnt, NULL);
}

size_t hu__queue_bytes(int fd, unsigned long req)
{
	int v = 0;

	/* A failure (EINVAL on a listener) reads as an empty queue: the
	 * callers report sizes, they do not decide anything on them. */
	if (ioctl(fd, req, &v) < 0 || v < 0)
		return 0;
	return (size_t)v;
}

uint64_t hu__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int hu__socket_kind(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);
	int rc = hu__check_stream(fd);

	if (rc < 0)
		return rc;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0)
		return hu__status_errno(NULL);
	if (v == AF_UNIX)
		return HU__KIND_UNIX;
	if (v != AF_INET && v != AF_INET6)
		return HU_BADF;
	len = sizeof(v);
	/* SOCK_STREAM over IP is TCP -- or SCTP/MPTCP, whose state and
	 * options differ: not supported. */
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &len) < 0)
		return hu__status_errno(NULL);
	return v == IPPROTO_TCP ? HU__KIND_TCP : HU_BADF;
}
