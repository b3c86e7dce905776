/*
 * t-probe.c -- hu_probe() looks without consuming: data stays readable, and
 * a pending reset that it had to take from the kernel (reading SO_ERROR
 * clears it, after which recv() returns 0 as for a FIN: kernel-truth.md,
 * sc. 5b/4c) is still reported by the next hu_recv()/hu_send() as a reset,
 * never as an EOF. The stash that keeps it is keyed by SO_COOKIE, so a new
 * socket on a reused fd number inherits nothing. TCP v4/v6 and Unix.
 */
#include "hangup.h"
#include "lib/testlib.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct hu_probe probe(int fd)
{
	struct hu_probe p;
	int rc = hu_probe(fd, &p);

	REQUIRE(rc == 0, "hu_probe gave %s", hu_status_name(rc));
	return p;
}

static void t_probe_open(void)
{
	int f, us, peer;
	char buf[64];

	FOR_FAMILIES(f)
	{
		tcp_pair(f, &us, &peer);
		struct hu_probe p = probe(us);
		CHECK(p.peer == HU_PEER_OPEN && p.status == 0 && p.error == 0,
		      "%s: open", FNAME(f));
		CHECK(p.tcp_state == TCP_ESTABLISHED, "%s: state %s", FNAME(f),
		      hu_tcp_state_name(p.tcp_state));
		CHECK(p.unread == 0 && p.unsent == 0, "%s: queues", FNAME(f));
		CHECK((p.events & POLLOUT) && !(p.events & POLLIN),
		      "%s: events %#x", FNAME(f), p.events);

		REQUIRE(send(peer, "abc", 3, 0) == 3, "send");
		REQUIRE(wait_for(us, POLLIN, 1000), "data");
		p = probe(us);
		p = probe(us);
		CHECK(p.peer == HU_PEER_OPEN && p.unread == 3, "%s: unread %zu",
		      FNAME(f), p.unread);
		/* Nothing was consumed: the bytes are all still there. */
		ssize_t n = hu_recv(us, buf, sizeof(buf));
		CHECK(n == 3 && memcmp(buf, "abc", 3) == 0, "%s: recv %zd",
		      FNAME(f), n);
		close(peer);
		close(us);
	}
}

/* A probe never blocks, even on a blocking socket with nothing to read. */
static void t_probe_never_blocks(void)
{
	int us, peer;

	tcp_pair(AF_INET, &us, &peer);
	double t0 = now_ms();
	for (int i = 0; i < 100; i++)
		probe(us);
	CHECK(now_ms() - t0 < 1000, "100 probes took %.0f ms", now_ms() - t0);
	close(peer);
	close(us);
}

static void t_probe_eof_with_unread(void)
{
	int f, us, peer;

	FOR_FAMILIES(f)
	{
		tcp_pair(f, &us, &peer);
		REQUIRE(send(peer, "tail", 4, 0) == 4, "send");
		close(peer);
		REQUIRE(wait_for(us, POLLRDHUP, 1000), "FIN");
		struct hu_probe p = probe(us);
		CHECK(p.peer == HU_PEER_EOF && p.status == HU_EOF,
		      "%s: EOF (peer %d)", FNAME(f), p.peer);
		CHECK(p.unread == 4, "%s: 4 bytes before the FIN (%zu)",
		      FNAME(f), p.unread);
		CHECK(p.tcp_state == TCP_CLOSE_WAIT, "%s: %s", FNAME(f),
		      hu_tcp_state_name(p.tcp_state));
		expect_data_then(us, "tail", HU_EOF, FNAME(f));
		close(us);
	}
}

/* The heart of it: probe first, and the reset is still a reset. */
static void t_rst_after_probe(void)
{
	int f, us;
	char buf[64];

	FOR_FAMILIES(f)
	{
		/* Read side: probe, probe again, then hu_recv. */
		us = reset_pair(f);
		struct hu_probe p = probe(us);
		CHECK(p.peer == HU_PEER_GONE && p.status == HU_RESET &&
			  p.error == ECONNRESET,
		      "%s: probe says reset (peer %d, %s)", FNAME(f), p.peer,
		      hu_status_name(p.status));
		CHECK(p.tcp_state == TCP_CLOSE, "%s: CLOSE", FNAME(f));
		p = probe(us);
		CHECK(p.peer == HU_PEER_GONE && p.status == HU_RESET,
		      "%s: a second probe still says reset", FNAME(f));
		errno = 0;
		ssize_t n = hu_recv(us, buf, sizeof(buf));
		CHECK(n == HU_RESET, "%s: recv after probe: %s, not EOF",
		      FNAME(f), hu_status_name((int)n));
		CHECK(errno == ECONNRESET, "%s: errno %s", FNAME(f),
		      hu_errno_name(errno));
		close(us);

		/* Write side: probe, then hu_send. */
		us = reset_pair(f);
		probe(us);
		n = hu_send(us, "A", 1);
		CHECK(n == HU_RESET, "%s: send after probe: %s", FNAME(f),
		      hu_status_name((int)n));
		/* Reported once, like the kernel: now the peer is gone. */
		n = hu_send(us, "A", 1);
		CHECK(n == HU_PIPE, "%s: next send: %s", FNAME(f),
		      hu_status_name((int)n));
		close(us);
	}
}

/* Data, then RST, probed before reading: the data first, then the reset
 * (kernel-truth.md, sc. 4c: without the stash, data then EOF). */
static void t_data_rst_after_probe(void)
{
	int f, us, peer;

	FOR_FAMILIES(f)
	{
		tcp_pair(f, &us, &peer);
		REQUIRE(send(peer, "data", 4, 0) == 4, "send");
		close_rst(peer);
		REQUIRE(wait_for(us, POLLERR, 1000), "RST");
		struct hu_probe p = probe(us);
		CHECK(p.peer == HU_PEER_GONE && p.status == HU_RESET &&
			  p.unread == 4,
		      "%s: gone with 4 unread (%zu)", FNAME(f), p.unread);
		expect_data_then(us, "data", HU_RESET, FNAME(f));
		close(us);
	}
}

/* RST after FIN (sc. 1b): reading says EOF (the FIN came first, and is
 * true), the probe says the peer is gone for sending, sending says so. */
static void t_rst_after_fin_probe(void)
{
	int f, us, peer;
	char buf[64];

	FOR_FAMILIES(f)
	{
		tcp_pair(f, &us, &peer);
		close(peer);
		REQUIRE(wait_for(us, POLLRDHUP, 1000), "FIN");
		REQUIRE(hu_send(us, "A", 1) == 1, "late write");
		REQUIRE(wait_for(us, POLLERR, 1000), "RST");
		struct hu_probe p = probe(us);
		CHECK(p.peer == HU_PEER_GONE && p.status == HU_PIPE &&
			  p.error == EPIPE,
		      "%s: gone/%s/%s", FNAME(f), hu_status_name(p.status),
		      hu_errno_name(p.error));
		CHECK(hu_recv(us, buf, sizeof(buf)) == HU_EOF, "%s: EOF",
		      FNAME(f));
		ssize_t n = hu_send(us, "B", 1);
		CHECK(n == HU_PIPE, "%s: send %s", FNAME(f),
		      hu_status_name((int)n));
		close(us);
	}
}

static void t_probe_unix(void)
{
	int us, peer;

	unix_pair(&us, &peer);
	struct hu_probe p = probe(us);
	CHECK(p.peer == HU_PEER_OPEN && p.tcp_state == -1, "open, no TCP");
	REQUIRE(send(peer, "abc", 3, 0) == 3, "send");
	p = probe(us);
	CHECK(p.unread == 3, "unread %zu", p.unread);
	close(peer);
	p = probe(us);
	CHECK(p.peer == HU_PEER_EOF && p.unread == 3, "EOF, 3 unread");
	expect_data_then(us, "abc", HU_EOF, "unix");
	close(us);

	/* Closed with our data unread: ECONNRESET, kept across a probe. */
	unix_pair(&us, &peer);
	REQUIRE(hu_send(us, "abc", 3) == 3, "send");
	REQUIRE(send(peer, "xyz", 3, 0) == 3, "peer send");
	close(peer);
	p = probe(us);
	CHECK(p.peer == HU_PEER_GONE && p.status == HU_RESET && p.unread == 3,
	      "unix reset: peer %d %s", p.peer, hu_status_name(p.status));
	/* Our queued data first, then the reset, not an EOF. */
	expect_data_then(us, "xyz", HU_RESET, "unix reset");
	close(us);
}

static void t_probe_listener(void)
{
	struct hu_probe p;
	int f;

	FOR_FAMILIES(f)
	{
		int l = tcp_listener(f, NULL);
		int rc = hu_probe(l, &p);
		CHECK(rc == HU_INVAL, "%s listener: %s", FNAME(f),
		      hu_status_name(rc));
		close(l);
	}
	int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(u >= 0, "socket");
	struct sockaddr_un {
		sa_family_t fam;
		char path[108];
	} sun = {.fam = AF_UNIX};
	snprintf(sun.path + 1, sizeof(sun.path) - 1, "hu-t-probe-%d",
		 (int)getpid());
	REQUIRE(bind(u, (struct sockaddr *)&sun,
		     (socklen_t)(sizeof(sa_family_t) + 1 +
				 strlen(sun.path + 1))) == 0 &&
		    listen(u, 1) == 0,
		"unix listen");
	int rc = hu_probe(u, &p);
	CHECK(rc == HU_INVAL, "unix listener: %s", hu_status_name(rc));
	close(u);
}

/*
 * The stash is keyed by SO_COOKIE: probe a reset on fd N, close N without
 * the library knowing, put a brand-new connection on the same number N, and
 * the new one must not inherit the old reset -- not in hu_recv, hu_send,
 * hu_probe or hu_close_graceful.
 */
static int reset_and_probe(void)
{
	int us;

	us = reset_pair(AF_INET);
	struct hu_probe p = probe(us);
	REQUIRE(p.status == HU_RESET, "probed reset");
	return us;
}

/* Move fd onto number n (the kernel may have given it n already). */
static void move_to(int fd, int n)
{
	if (fd == n)
		return;
	REQUIRE(dup2(fd, n) == n, "dup2");
	close(fd);
}

/* A fresh connection whose peer has closed cleanly, on fd number n. */
static void fresh_fin_on(int n)
{
	int us, peer;

	tcp_pair(AF_INET, &us, &peer);
	move_to(us, n);
	close(peer);
	REQUIRE(wait_for(n, POLLRDHUP, 1000), "FIN");
}

static void t_stash_keyed_by_cookie(void)
{
	char buf[64];
	struct hu_probe p;

	int n = reset_and_probe();
	close(n); /* behind the library's back */
	fresh_fin_on(n);
	ssize_t r = hu_recv(n, buf, sizeof(buf));
	CHECK(r == HU_EOF, "recv on the reused fd: %s", hu_status_name((int)r));
	close(n);

	n = reset_and_probe();
	close(n);
	fresh_fin_on(n);
	int rc = hu_probe(n, &p);
	CHECK(rc == 0 && p.peer == HU_PEER_EOF,
	      "probe on the reused fd: peer %d %s", p.peer,
	      hu_status_name(p.status));
	close(n);

	n = reset_and_probe();
	close(n);
	fresh_fin_on(n);
	r = hu_send(n, "A", 1);
	CHECK(r == 1, "send on the reused fd: %s", hu_status_name((int)r));
	close(n);

	n = reset_and_probe();
	close(n);
	int us, peer;
	tcp_pair(AF_INET, &us, &peer);
	move_to(us, n);
	/* The peer reads our FIN and closes: a clean graceful close. */
	shutdown(peer, SHUT_WR);
	rc = hu_close_graceful(n, 2000, NULL);
	CHECK(rc == 0, "close_graceful on the reused fd: %s",
	      hu_status_name(rc));
	close(peer);

	/* And the other way round: the stash does not lose the error of a
	 * socket that merely moved to another fd number. */
	n = reset_and_probe();
	r = hu_recv(n, buf, sizeof(buf));
	CHECK(r == HU_RESET, "same socket, same fd: %s",
	      hu_status_name((int)r));
	close(n);
}

int main(void)
{
	RUN(t_probe_open, 5);
	RUN(t_probe_never_blocks, 5);
	RUN(t_probe_eof_with_unread, 5);
	RUN(t_rst_after_probe, 5);
	RUN(t_data_rst_after_probe, 5);
	RUN(t_rst_after_fin_probe, 5);
	RUN(t_probe_unix, 5);
	RUN(t_probe_listener, 5);
	RUN(t_stash_keyed_by_cookie, 5);
	return tap_done();
}
