/*
 * t-badinput.c -- bad input gives HU_BADF or HU_INVAL, never a crash or a
 * signal, and has no effect: every socket function against fd -1, a closed
 * fd, both ends of a pipe, a regular file, /dev/null, UDP and Unix datagram
 * and seqpacket sockets; NULL pointers, len 0, iovcnt out of range, a
 * timeout above INT_MAX. (A listener given to hu_probe: t-probe.c.
 * Malformed addresses: t-addr.c.)
 */
#include "hangup.h"
#include "lib/testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

struct bad {
	const char *what;
	int fd;
	int open; /* must still be open afterwards */
};

/* Every fd is non-blocking: should a check let one through to recv(), the
 * case fails at once instead of hanging. */
static int make_bad(struct bad *b, int *pipefd, char *path, size_t size)
{
	int n = 0;

	b[n++] = (struct bad){"fd -1", -1, 0};
	b[n++] = (struct bad){"a closed fd", closed_fd(), 0};
	b[n++] = (struct bad){"a huge fd", INT_MAX, 0};
	REQUIRE(pipe(pipefd) == 0, "pipe");
	b[n++] = (struct bad){"a pipe's read end", pipefd[0], 1};
	b[n++] = (struct bad){"a pipe's write end", pipefd[1], 1};
	snprintf(path, size, "/tmp/hu-t-badinput-%d", (int)getpid());
	int file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	REQUIRE(file >= 0, "open %s", path);
	REQUIRE(write(file, "abc", 3) == 3, "write");
	REQUIRE(lseek(file, 0, SEEK_SET) == 0, "lseek");
	b[n++] = (struct bad){"a regular file", file, 1};
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	REQUIRE(devnull >= 0, "/dev/null");
	b[n++] = (struct bad){"/dev/null", devnull, 1};
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	REQUIRE(udp >= 0, "udp");
	b[n++] = (struct bad){"a UDP socket", udp, 1};
	int udp6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	REQUIRE(udp6 >= 0, "udp6");
	b[n++] = (struct bad){"a UDP/IPv6 socket", udp6, 1};
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0,
		"dgram pair");
	close(sv[1]);
	b[n++] = (struct bad){"a Unix datagram socket", sv[0], 1};
	REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0,
		"seqpacket pair");
	close(sv[1]);
	b[n++] = (struct bad){"a Unix seqpacket socket", sv[0], 1};
	for (int i = 0; i < n; i++)
		if (b[i].open)
			set_nonblock(b[i].fd);
	return n;
}

static void free_bad(struct bad *b, int n, const char *path)
{
	for (int i = 0; i < n; i++)
		if (b[i].open)
			close(b[i].fd);
	unlink(path);
}

/* Every socket function on every fd that is not a stream socket. */
static void t_not_a_stream_socket(void)
{
	struct bad b[16];
	int pipefd[2];
	char path[64], buf[16];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	int n = make_bad(b, pipefd, path, sizeof(path));

	for (int i = 0; i < n; i++) {
		struct hu_probe p;
		struct hu_report r;
		long rc;

		memset(&p, 0x5a, sizeof(p));
		rc = hu_recv(b[i].fd, buf, sizeof(buf));
		CHECK(rc == HU_BADF, "hu_recv(%s) = %ld", b[i].what, rc);
		rc = hu_send(b[i].fd, "x", 1);
		CHECK(rc == HU_BADF, "hu_send(%s) = %ld", b[i].what, rc);
		rc = hu_sendv(b[i].fd, &iov, 1);
		CHECK(rc == HU_BADF, "hu_sendv(%s) = %ld", b[i].what, rc);
		rc = hu_probe(b[i].fd, &p);
		CHECK(rc == HU_BADF, "hu_probe(%s) = %ld", b[i].what, rc);
		rc = hu_liveness(b[i].fd, 1000);
		CHECK(rc == HU_BADF, "hu_liveness(%s) = %ld", b[i].what, rc);
		rc = hu_liveness(b[i].fd, 0);
		CHECK(rc == HU_BADF, "hu_liveness(%s, 0) = %ld", b[i].what, rc);
		rc = hu_report(b[i].fd, &r);
		CHECK(rc == HU_BADF, "hu_report(%s) = %ld", b[i].what, rc);
		rc = hu_close_graceful(b[i].fd, 100, &r);
		CHECK(rc == HU_BADF, "hu_close_graceful(%s) = %ld", b[i].what,
		      rc);
		rc = hu_abort(b[i].fd);
		CHECK(rc == HU_BADF, "hu_abort(%s) = %ld", b[i].what, rc);
		/* No effect: what was open is still open, and the data of
		 * the pipe and the file is still there. */
		if (b[i].open)
			CHECK(fd_is_open(b[i].fd), "%s was closed", b[i].what);
	}
	CHECK(write(pipefd[1], "p", 1) == 1 && read(pipefd[0], buf, 1) == 1,
	      "the pipe still works");
	CHECK(read(b[5].fd, buf, 3) == 3 && memcmp(buf, "abc", 3) == 0,
	      "the file was not read");
	free_bad(b, n, path);
}

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

/* Stream sockets of a kind hangup does not handle: SOCK_STREAM over IP but
 * not TCP (SCTP one-to-one, MPTCP), where the kernel has them at all. */
static void t_stream_but_not_tcp(void)
{
	static const int protos[] = {IPPROTO_SCTP, IPPROTO_MPTCP};
	int tried = 0;

	for (size_t i = 0; i < 2; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, protos[i]);
		struct hu_probe p;

		if (fd < 0)
			continue;
		tried++;
		CHECK(hu_probe(fd, &p) == HU_BADF, "probe %d", protos[i]);
		CHECK(hu_liveness(fd, 1000) == HU_BADF, "liveness %d",
		      protos[i]);
		CHECK(hu_abort(fd) == HU_BADF && fd_is_open(fd), "abort %d",
		      protos[i]);
		close(fd);
	}
	if (!tried)
		SKIP("neither SCTP nor MPTCP in this kernel");
}

static void t_null_and_ranges(void)
{
	int us, peer;
	char buf[16];

	tcp_pair(AF_INET, &us, &peer);
	CHECK(hu_recv(us, NULL, 16) == HU_INVAL, "recv NULL");
	CHECK(hu_recv(us, buf, 0) == HU_INVAL, "recv len 0");
	CHECK(hu_send(us, NULL, 1) == HU_INVAL, "send NULL");
	CHECK(hu_sendv(us, NULL, 1) == HU_INVAL, "sendv NULL");
	struct iovec iov = {.iov_base = buf, .iov_len = 1};
	CHECK(hu_sendv(us, &iov, -1) == HU_INVAL, "iovcnt -1");
	CHECK(hu_sendv(us, &iov, INT_MIN) == HU_INVAL, "iovcnt INT_MIN");
	CHECK(hu_sendv(us, &iov, IOV_MAX + 1) == HU_INVAL, "iovcnt > IOV_MAX");
	CHECK(hu_probe(us, NULL) == HU_INVAL, "probe NULL");
	CHECK(hu_report(us, NULL) == HU_INVAL, "report NULL");
	CHECK(hu_liveness(us, (unsigned)INT_MAX + 1) == HU_INVAL, "ms > max");
	CHECK(hu_liveness(us, UINT_MAX) == HU_INVAL, "ms UINT_MAX");
	/* A bad buffer the kernel rejects (EFAULT): an error, no crash.
	 * (Not under valgrind, which rightly reports the bad pointer.) */
	if (getenv("HU_VALGRIND") == NULL) {
		CHECK(hu_send(us, (void *)1, 1) == HU_INVAL, "send EFAULT");
		iov.iov_base = (void *)1;
		CHECK(hu_sendv(us, &iov, 1) == HU_INVAL, "sendv EFAULT");
	}
	/* None of it touched the connection. */
	CHECK(hu_send(us, "ok", 2) == 2 && recv(peer, buf, 2, 0) == 2,
	      "the connection still works");
	struct hu_probe p;
	CHECK(hu_probe(us, &p) == 0 && p.peer == HU_PEER_OPEN, "still open");
	/* The NULL report is allowed where the contract says so. */
	shutdown(peer, SHUT_WR);
	CHECK(hu_close_graceful(us, 1000, NULL) == 0, "graceful, NULL out");
	close(peer);

	/* On a bad fd too, argument errors come back, not crashes. */
	CHECK(hu_recv(-1, NULL, 0) < 0, "recv(-1, NULL, 0)");
	CHECK(hu_probe(-1, NULL) < 0, "probe(-1, NULL)");
	CHECK(hu_report(-1, NULL) < 0, "report(-1, NULL)");
	CHECK(hu_sendv(-1, NULL, 3) < 0, "sendv(-1, NULL, 3)");
}

/* Errors keep errno: after HU_BADF from a failed syscall, errno is that
 * syscall's own (EBADF, ENOTSOCK). */
static void t_errno_kept(void)
{
	char buf[4];
	int p[2];

	REQUIRE(pipe(p) == 0, "pipe");
	errno = 0;
	ssize_t n = hu_recv(p[0], buf, sizeof(buf));
	int err = errno;
	CHECK(n == HU_BADF && err == ENOTSOCK, "pipe: errno %s",
	      hu_errno_name(err));
	int fd = closed_fd();
	errno = 0;
	n = hu_recv(fd, buf, sizeof(buf));
	err = errno;
	CHECK(n == HU_BADF && err == EBADF, "closed: errno %s",
	      hu_errno_name(err));
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	RUN(t_not_a_stream_socket, 10);
	RUN(t_stream_but_not_tcp, 5);
	RUN(t_null_and_ranges, 5);
	RUN(t_errno_kept, 5);
	return tap_done();
}
