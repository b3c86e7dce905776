/*
 * t-close.c -- closing: hu_close_graceful() delivers everything we queued
 * even when the peer's data sits unread in our receive queue (where a plain
 * close() sends RST and throws our unsent data away: tcp_close(), RFC 2525
 * 2.17 -- shown here too), says how it ended (0, HU_TIMEOUT, HU_RESET) and
 * fills the report; hu_abort() resets at once; hu_report() reads TCP_INFO
 * and the queues.
 */
#include "hangup.h"
#include "lib/testlib.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BIG (1 << 20) /* 1 MiB: far more than loopback buffers at start */

/* The peer process: optionally wait, read everything until the end, report
 * the count and how it ended over a pipe, then close (our FIN's answer). */
struct reader {
	int fd;
	int ours;   /* our end, inherited by the fork: closed there at once, or
		       our close() would not be the last reference */
	int report; /* pipe write end */
	int delay_ms;
	int fin_first; /* shut down writing before reading (half-close) */
};

struct result {
	size_t got;
	int end;
};

static void read_everything(void *arg)
{
	struct reader *r = arg;
	struct result res;

	memset(&res, 0, sizeof(res)); /* padding too: it goes down a pipe */
	close(r->ours);
	if (r->fin_first)
		shutdown(r->fd, SHUT_WR);
	sleep_ms(r->delay_ms);
	res.got = recv_all(r->fd, &res.end);
	CHECK(write(r->report, &res, sizeof(res)) == sizeof(res), "report");
	close(r->fd);
}

/* Start a reader on `peer` (which this process then closes), return its pid
 * and the read end of its report pipe. `us` is our end of the connection. */
static int start_reader(int us, int peer, int delay_ms, int fin_first, int *rd)
{
	int p[2];

	REQUIRE(pipe(p) == 0, "pipe");
	struct reader r = {.fd = peer,
			   .ours = us,
			   .report = p[1],
			   .delay_ms = delay_ms,
			   .fin_first = fin_first};
	int pid = spawn(read_everything, &r);
	close(p[1]);
	close(peer);
	*rd = p[0];
	return pid;
}

static struct result finish_reader(int pid, int rd)
{
	struct result res = {0, 0};

	CHECK(read(rd, &res, sizeof(res)) == sizeof(res), "reader's report");
	close(rd);
	CHECK(reap(pid) == 0, "reader exit");
	return res;
}

static void send_big(int fd)
{
	static char big[BIG];
	size_t sent = 0;

	memset(big, 'x', sizeof(big));
	while (sent < sizeof(big)) {
		ssize_t n = hu_send(fd, big + sent, sizeof(big) - sent);

		REQUIRE(n > 0, "send: %s", hu_status_name((int)n));
		sent += (size_t)n;
	}
}

/*
 * The peer sent us something we never read, we send 1 MiB and close
 * gracefully while most of it is still queued: the peer gets every byte
 * and a FIN, no RST.
 */
static void t_graceful_delivers_all(void)
{
	int f, us, peer, rd;

	FOR_FAMILIES(f)
	{
		tcp_pair(f, &us, &peer);
		REQUIRE(send(peer, "unread request", 14, 0) == 14, "send");
		REQUIRE(wait_for(us, POLLIN, 1000), "request arrived");
		int pid = start_reader(us, peer, 100, 0, &rd);
		send_big(us);
		struct hu_report rep;
		int rc = hu_close_graceful(us, 5000, &rep);
		CHECK(rc == 0, "%s: close_graceful: %s", FNAME(f),
		      hu_status_name(rc));
		CHECK(!fd_is_open(us), "%s: fd closed", FNAME(f));
		CHECK(rep.unsent == 0, "%s: report: %zu unacknowledged",
		      FNAME(f), rep.unsent);
		CHECK(rep.bytes_acked >= BIG, "%s: report: %llu acked",
		      FNAME(f), rep.bytes_acked);
		struct result res = finish_reader(pid, rd);
		CHECK(res.got == BIG && res.end == HU_EOF,
		      "%s: peer got %zu of %d bytes, then %s", FNAME(f),
		      res.got, BIG, hu_status_name(res.end));
	}
}

/* What hu_close_graceful prevents: a plain close() with unread data sends
 * RST at once; what was still queued for the peer is lost. */
static void t_plain_close_loses_data(void)
{
	int f, us, peer;

	FOR_FAMILIES(f)
	{
		tcp_pair(f, &us, &peer);
		REQUIRE(send(peer, "unread request", 14, 0) == 14, "send");
		REQUIRE(wait_for(us, POLLIN, 1000), "request arrived");
		size_t queued = fill_send_buffer(us);
		close(us);
		int end;
		size_t got = recv_all(peer, &end);
		CHECK(got < queued && end == HU_RESET,
		      "%s: peer got %zu of %zu bytes, then %s", FNAME(f), got,
		      queued, hu_status_name(end));
		close(peer);
	}
}

/* The peer half-closes at once but reads late (a client that sent its
 * request and FIN): the FIN alone does not end the linger -- our data must
 * also be acknowledged before the close. */
static void t_graceful_waits_for_ack(void)
{
	int us, peer, rd;

	tcp_pair(AF_INET, &us, &peer);
	int pid = start_reader(us, peer, 300, 1, &rd);
	REQUIRE(wait_for(us, POLLRDHUP, 1000), "the peer's FIN");
	send_big(us);
	struct hu_report rep;
	int rc = hu_close_graceful(us, 5000, &rep);
	CHECK(rc == 0, "close_graceful: %s", hu_status_name(rc));
	CHECK(rep.unsent == 0, "report: %zu bytes unacknowledged at close",
	      rep.unsent);
	struct result res = finish_reader(pid, rd);
	CHECK(res.got == BIG && res.end == HU_EOF, "peer got %zu, then %s",
	      res.got, hu_status_name(res.end));
}

/* The same peer never reads: our data cannot be delivered within the
 * linger time, and the result says so. */
static void t_graceful_unacked_times_out(void)
{
	int us, peer;

	tcp_pair(AF_INET, &us, &peer);
	REQUIRE(shutdown(peer, SHUT_WR) == 0, "peer FIN");
	REQUIRE(wait_for(us, POLLRDHUP, 1000), "the peer's FIN");
	size_t queued = fill_send_buffer(us);
	struct hu_report rep;
	double t0 = now_ms();
	int rc = hu_close_graceful(us, 300, &rep);
	double took = now_ms() - t0;
	CHECK(rc == HU_TIMEOUT, "close_graceful: %s", hu_status_name(rc));
	CHECK(took >= 250 && took < 2000, "took %.0f ms for 300", took);
	CHECK(rep.unsent > 0 && rep.unsent <= queued + 1,
	      "report: %zu of %zu unacknowledged", rep.unsent, queued);
	CHECK(!fd_is_open(us), "fd closed");
	close(peer);
}

/* The peer never sends its FIN: HU_TIMEOUT after linger_ms, the fd is
 * closed, and the peer gets our FIN -- not an RST, since we drained. */
static void t_graceful_linger_timeout(void)
{
	int f, us, peer;
	char buf[64];

	FOR_FAMILIES(f)
	{
		tcp_pair(f, &us, &peer);
		REQUIRE(send(peer, "more", 4, 0) == 4, "send");
		double t0 = now_ms();
		int rc = hu_close_graceful(us, 300, NULL);
		double took = now_ms() - t0;
		CHECK(rc == HU_TIMEOUT, "%s: %s", FNAME(f), hu_status_name(rc));
		CHECK(took >= 250 && took < 2000, "%s: took %.0f ms", FNAME(f),
		      took);
		CHECK(!fd_is_open(us), "%s: fd closed", FNAME(f));
		ssize_t n = hu_recv(peer, buf, sizeof(buf));
		CHECK(n == HU_EOF, "%s: peer sees %s", FNAME(f),
		      hu_status_name((int)n));
		close(peer);
	}
}

static void t_graceful_on_reset(void)
{
	int f, us, peer;

	FOR_FAMILIES(f)
	{
		/* The reset still pending in the kernel. */
		us = reset_pair(f);
		errno = 0;
		int rc = hu_close_graceful(us, 1000, NULL);
		CHECK(rc == HU_RESET && errno == ECONNRESET,
		      "%s: pending reset: %s (%s)", FNAME(f),
		      hu_status_name(rc), hu_errno_name(errno));
		CHECK(!fd_is_open(us), "%s: fd closed", FNAME(f));

		/* The reset taken by a probe (the stash). */
		us = reset_pair(f);
		struct hu_probe p;
		REQUIRE(hu_probe(us, &p) == 0 && p.status == HU_RESET, "probe");
		rc = hu_close_graceful(us, 1000, NULL);
		CHECK(rc == HU_RESET, "%s: probed reset: %s", FNAME(f),
		      hu_status_name(rc));
		CHECK(!fd_is_open(us), "%s: fd closed", FNAME(f));

		/* Data, then the reset, all unread. */
		tcp_pair(f, &us, &peer);
		REQUIRE(send(peer, "data", 4, 0) == 4, "send");
		close_rst(peer);
		REQUIRE(wait_for(us, POLLERR, 1000), "RST");
		rc = hu_close_graceful(us, 1000, NULL);
		CHECK(rc == HU_RESET, "%s: data+reset: %s", FNAME(f),
		      hu_status_name(rc));
		CHECK(!fd_is_open(us), "%s: fd closed", FNAME(f));
	}
}

/* The peer resets while we linger. */
static void reset_later(void *arg)
{
	sleep_ms(100);
	close_rst(*(int *)arg);
}

static void t_graceful_reset_meanwhile(void)
{
	int us, peer;

	tcp_pair(AF_INET, &us, &peer);
	int pid = spawn(reset_later, &peer);
	close(peer);
	int rc = hu_close_graceful(us, 3000, NULL);
	CHECK(rc == HU_RESET && errno == ECONNRESET,
	      "reset while lingering: %s", hu_status_name(rc));
	CHECK(reap(pid) == 0, "peer");
}

static void t_graceful_after_peer_fin(void)
{
	int f, us, peer;
	char buf[64];

	FOR_FAMILIES(f)
	{
		tcp_pair(f, &us, &peer);
		REQUIRE(send(peer, "bye", 3, 0) == 3, "send");
		REQUIRE(shutdown(peer, SHUT_WR) == 0, "shutdown");
		REQUIRE(wait_for(us, POLLRDHUP, 1000), "FIN");
		REQUIRE(hu_send(us, "answer", 6) == 6, "answer");
		double t0 = now_ms();
		int rc = hu_close_graceful(us, 3000, NULL);
		CHECK(rc == 0 && now_ms() - t0 < 1000, "%s: %s in %.0f ms",
		      FNAME(f), hu_status_name(rc), now_ms() - t0);
		ssize_t n = hu_recv(peer, buf, sizeof(buf));
		CHECK(n == 6 && memcmp(buf, "answer", 6) == 0,
		      "%s: peer got the answer (%zd)", FNAME(f), n);
		n = hu_recv(peer, buf, sizeof(buf));
		CHECK(n == HU_EOF, "%s: then our FIN (%s)", FNAME(f),
		      hu_status_name((int)n));
		close(peer);
	}
}

static void t_graceful_unix(void)
{
	int us, peer, rd;

	unix_pair(&us, &peer);
	REQUIRE(send(peer, "unread", 6, 0) == 6, "send");
	int pid = start_reader(us, peer, 50, 0, &rd);
	send_big(us);
	struct hu_report rep;
	int rc = hu_close_graceful(us, 5000, &rep);
	CHECK(rc == 0, "unix close_graceful: %s", hu_status_name(rc));
	CHECK(rep.tcp_state == -1, "unix report");
	struct result res = finish_reader(pid, rd);
	CHECK(res.got == BIG && res.end == HU_EOF, "unix peer got %zu, %s",
	      res.got, hu_status_name(res.end));

	unix_pair(&us, &peer);
	rc = hu_close_graceful(us, 200, NULL);
	CHECK(rc == HU_TIMEOUT, "unix, peer never closes: %s",
	      hu_status_name(rc));
	close(peer);
}

static void t_abort(void)
{
	int f, us, peer;
	char buf[64];

	FOR_FAMILIES(f)
	{
		tcp_pair(f, &us, &peer);
		fill_send_buffer(us); /* unsent data is discarded */
		CHECK(hu_abort(us) == 0, "%s: abort", FNAME(f));
		CHECK(!fd_is_open(us), "%s: fd closed", FNAME(f));
		REQUIRE(wait_for(peer, POLLERR, 1000), "%s: no RST", FNAME(f));
		/* The RST overtakes nothing: data already received is
		 * readable, then the reset. */
		int end;
		recv_all(peer, &end);
		CHECK(end == HU_RESET, "%s: peer sees %s", FNAME(f),
		      hu_status_name(end));
		close(peer);

		tcp_pair(f, &us, &peer);
		CHECK(hu_abort(us) == 0, "%s: abort idle", FNAME(f));
		ssize_t n = hu_recv(peer, buf, sizeof(buf));
		CHECK(n == HU_RESET, "%s: idle peer sees %s", FNAME(f),
		      hu_status_name((int)n));
		close(peer);
	}

	/* Unix sockets have no RST: the peer sees EOF. */
	unix_pair(&us, &peer);
	CHECK(hu_abort(us) == 0, "unix abort");
	CHECK(hu_recv(peer, buf, sizeof(buf)) == HU_EOF, "unix peer: EOF");
	close(peer);
}

static void t_report(void)
{
	int f, us, peer;
	char buf[64];
	struct hu_report r;

	FOR_FAMILIES(f)
	{
		tcp_pair(f, &us, &peer);
		REQUIRE(hu_send(us, "hello", 5) == 5, "send");
		REQUIRE(send(peer, "abc", 3, 0) == 3, "peer send");
		REQUIRE(recv(peer, buf, 5, MSG_WAITALL) == 5, "peer recv");
		REQUIRE(wait_for(us, POLLIN, 1000), "data");
		sleep_ms(20); /* our data's ACK */
		REQUIRE(hu_report(us, &r) == 0, "report");
		CHECK(r.tcp_state == TCP_ESTABLISHED, "%s: %s", FNAME(f),
		      hu_tcp_state_name(r.tcp_state));
		CHECK(r.rtt_us > 0 && r.rto_us >= 200000, "%s: rtt %u rto %u",
		      FNAME(f), r.rtt_us, r.rto_us);
		CHECK(r.unread == 3 && r.unsent == 0 && r.unacked == 0,
		      "%s: unread %zu unsent %zu unacked %u", FNAME(f),
		      r.unread, r.unsent, r.unacked);
		/* tcpi_bytes_acked counts sequence space: our SYN too, on
		 * the side that connected (hangup.h says so). */
		CHECK(r.bytes_acked == 5 + 1 && r.bytes_received == 3,
		      "%s: acked %llu received %llu", FNAME(f), r.bytes_acked,
		      r.bytes_received);
		struct hu_report pr;
		REQUIRE(hu_report(peer, &pr) == 0, "peer report");
		CHECK(pr.bytes_acked == 3 && pr.bytes_received == 5,
		      "%s: accepting side: acked %llu received %llu", FNAME(f),
		      pr.bytes_acked, pr.bytes_received);
		CHECK(r.retransmits == 0 && r.backoff == 0 && r.probes == 0,
		      "%s: no retransmits", FNAME(f));
		CHECK(r.last_data_recv_ms < 1000 && r.last_ack_recv_ms < 1000,
		      "%s: last recv %u/%u ms ago", FNAME(f),
		      r.last_data_recv_ms, r.last_ack_recv_ms);

		/* Unacknowledged bytes: the peer's window is full. */
		size_t queued = fill_send_buffer(us);
		REQUIRE(hu_report(us, &r) == 0, "report");
		CHECK(r.unsent > 0 && r.unsent <= queued, "%s: unsent %zu",
		      FNAME(f), r.unsent);
		close(peer);
		close(us);
	}

	unix_pair(&us, &peer);
	REQUIRE(send(peer, "abcd", 4, 0) == 4, "send");
	memset(&r, 0xff, sizeof(r));
	REQUIRE(hu_report(us, &r) == 0, "unix report");
	CHECK(r.tcp_state == -1 && r.unread == 4 && r.rtt_us == 0 &&
		  r.bytes_acked == 0 && r.retransmits == 0,
	      "unix: state %d unread %zu", r.tcp_state, r.unread);
	close(peer);
	close(us);
}

/* One rule for a socket with no connection (hangup.h): closed all the
 * same, HU_PIPE with ENOTCONN -- or what the kernel held for it (a refused
 * connect). Before, an unconnected Unix socket gave HU_INVAL (said to have
 * no effect) although it was closed, and a listening one HU_ERROR. */
static void expect_pipe_closed(int fd, int want, const char *what)
{
	errno = 0;
	int rc = hu_close_graceful(fd, 200, NULL);
	int err = errno;

	CHECK(rc == want, "%s: %s, want %s", what, hu_status_name(rc),
	      hu_status_name(want));
	CHECK(want != HU_PIPE || err == ENOTCONN, "%s: errno %s", what,
	      hu_errno_name(err) ? hu_errno_name(err) : "0");
	CHECK(!fd_is_open(fd), "%s: fd closed", what);
}

static void t_graceful_unconnected(void)
{
	int f;

	FOR_FAMILIES(f)
	{
		int fd = socket(f, SOCK_STREAM | SOCK_CLOEXEC, 0);

		REQUIRE(fd >= 0, "socket");
		expect_pipe_closed(fd, HU_PIPE, FNAME(f));
		expect_pipe_closed(tcp_listener(f, NULL), HU_PIPE, "listening");

		/* A refused connect: the kernel holds ECONNREFUSED. */
		int port;
		int lfd = tcp_listener(f, &port);
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		REQUIRE(getsockname(lfd, (struct sockaddr *)&ss, &len) == 0,
			"getsockname");
		close(lfd);
		fd = socket(f, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		REQUIRE(fd >= 0, "socket");
		(void)connect(fd, (struct sockaddr *)&ss, len);
		REQUIRE(wait_for(fd, POLLOUT, 1000), "refused");
		expect_pipe_closed(fd, HU_REFUSED, "refused connect");
	}

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(fd >= 0, "socket");
	expect_pipe_closed(fd, HU_PIPE, "unix, unconnected");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(fd >= 0, "socket");
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	/* Abstract: no file to remove. Autobind picks a unique name. */
	REQUIRE(bind(fd, (struct sockaddr *)&un, sizeof(sa_family_t)) == 0 &&
		    listen(fd, 1) == 0,
		"unix listen");
	expect_pipe_closed(fd, HU_PIPE, "unix, listening");
}

int main(void)
{
	RUN(t_graceful_delivers_all, 20);
	RUN(t_plain_close_loses_data, 10);
	RUN(t_graceful_waits_for_ack, 20);
	RUN(t_graceful_unacked_times_out, 10);
	RUN(t_graceful_linger_timeout, 10);
	RUN(t_graceful_on_reset, 10);
	RUN(t_graceful_reset_meanwhile, 10);
	RUN(t_graceful_after_peer_fin, 10);
	RUN(t_graceful_unix, 20);
	RUN(t_abort, 10);
	RUN(t_report, 10);
	RUN(t_graceful_unconnected, 10);
	return tap_done();
}
