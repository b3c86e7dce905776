/*
 * lab-scen-more.c -- the lab scenarios beyond the peer's close: the dead
 * peer (private network namespace, nft drops), connect() refused and in
 * progress, Unix-domain sockets, edge- vs level-triggered epoll after FIN,
 * and a reset (or FIN) before accept().
 */
#include "lab.h"

#include "hangup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define ANY LAB_ANY
#define E_DEAD (E_IN | E_RDHUP | E_HUP | E_ERR) /* what epoll_wait returns */

/* Liveness timeout for the dead-peer scenarios, and the most we accept
 * beyond it: one retransmission timeout (busy case) plus keepalive tick and
 * timer slack (hangup.h, hu_liveness). */
#define LIVENESS_MS 2000
#define LIVENESS_SLACK_S 1.5
#define DEAD_WAIT_MS 4000

static int dead_setup(struct lab *L, int *us, int *peer, int *ep)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};

	if (lab_enter_netns(L) < 0 || lab_tcp_pair(L, us, peer) < 0)
		return -1;
	S_observe(L, "established inside a private network namespace");
	X(L, ANY, ANY, E_OUT, TCP_ESTABLISHED);
	if (lab_nft_drop(L, 1) < 0)
		return -1;
	N(L, "the peer is now unreachable in both directions");
	*ep = lab_track(L, epoll_create1(EPOLL_CLOEXEC));
	if (*ep < 0 || epoll_ctl(*ep, EPOLL_CTL_ADD, *us, &ev) < 0) {
		lab_fail(L, "epoll setup failed");
		return -1;
	}
	return 0;
}

static void report_step(struct lab *L, int fd)
{
	struct hu_report rep;
	char buf[64];

	if (hu_report(fd, &rep) < 0) {
		lab_fail(L, "hu_report failed");
		return;
	}
	snprintf(buf, sizeof(buf), "retransmits=%u probes=%u rto=%u ms",
		 rep.retransmits, rep.probes, rep.rto_us / 1000);
	S_custom(L, "us", "hu_report()", rep.retransmits, buf);
}

static void check_time(struct lab *L, double t0, double limit)
{
	double took = lab_now() - t0;

	N(L, "detected after %.2f s (limit %.1f s)", took, limit);
	if (took > limit)
		lab_fail(L, "dead peer detected after %.2f s, limit %.1f s",
			 took, limit);
}

void sc_dead_idle(struct lab *L)
{
	int us, peer, ep;

	if (dead_setup(L, &us, &peer, &ep) < 0)
		return;
	S_epoll_wait(L, ep, "IN+RDHUP", DEAD_WAIT_MS);
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "NOT detected: nothing at all is reported");
	S_recv(L, "us", us, 64, MSG_PEEK);
	X(L, -1, EAGAIN, E_OUT, TCP_ESTABLISHED);
	S_soerror(L, "us", us);
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	S_hu_probe(L, us);
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "without liveness the peer looks open for ~2 hours");
}

void sc_dead_idle_liveness(struct lab *L)
{
	int us, peer, ep;
	double t0;

	if (dead_setup(L, &us, &peer, &ep) < 0)
		return;
	t0 = lab_now();
	S_hu_liveness(L, us, LIVENESS_MS);
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "keepalive idle 1 s, interval 1 s + TCP_USER_TIMEOUT");
	S_epoll_wait(L, ep, "IN+RDHUP", DEAD_WAIT_MS + 2000);
	X(L, E_DEAD, 0, E_DEAD | E_OUT, TCP_CLOSE);
	check_time(L, t0, LIVENESS_MS / 1000.0 + LIVENESS_SLACK_S);
	S_hu_probe(L, us);
	X(L, HU_TIMEOUT, 0, E_IN | E_OUT | E_RDHUP | E_HUP, TCP_CLOSE);
	S_hu_recv(L, us);
	X(L, HU_TIMEOUT, 0, E_IN | E_OUT | E_RDHUP | E_HUP, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_IN | E_OUT | E_RDHUP | E_HUP, TCP_CLOSE);
	N(L, "a raw recv() after the error was taken: looks like EOF");
}

void sc_dead_busy(struct lab *L)
{
	char data[101];
	int us, peer, ep;

	if (dead_setup(L, &us, &peer, &ep) < 0)
		return;
	memset(data, 'd', 100);
	data[100] = '\0';
	S_send(L, "us", us, data, 0);
	X(L, 100, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "100 bytes that can never be acknowledged");
	S_epoll_wait(L, ep, "IN+RDHUP", DEAD_WAIT_MS);
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "NOT detected: tcp_retries2=15 takes ~15 minutes");
	report_step(L, us);
	if (L->r->steps[L->r->nsteps - 1].val < 2)
		lab_fail(L, "expected retransmissions of the unacked data");
	S_recv(L, "us", us, 64, MSG_PEEK);
	X(L, -1, EAGAIN, E_OUT, TCP_ESTABLISHED);
}

void sc_dead_busy_liveness(struct lab *L)
{
	char data[101];
	int us, peer, ep;
	double t0;

	if (dead_setup(L, &us, &peer, &ep) < 0)
		return;
	S_hu_liveness(L, us, LIVENESS_MS);
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	memset(data, 'd', 100);
	data[100] = '\0';
	t0 = lab_now();
	S_send(L, "us", us, data, 0);
	X(L, 100, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "t=0; keepalive alone would never fire with data in flight");
	S_epoll_wait(L, ep, "IN+RDHUP", DEAD_WAIT_MS + 2000);
	X(L, E_DEAD, 0, E_DEAD | E_OUT, TCP_CLOSE);
	check_time(L, t0, LIVENESS_MS / 1000.0 + LIVENESS_SLACK_S);
	S_recv(L, "us", us, 64, 0);
	X(L, -1, ETIMEDOUT, E_IN | E_OUT | E_RDHUP | E_HUP, TCP_CLOSE);
	N(L, "the first call gets ETIMEDOUT, once");
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_IN | E_OUT | E_RDHUP | E_HUP, TCP_CLOSE);
	S_send(L, "us", us, "B", 0);
	X(L, -1, EPIPE, E_IN | E_OUT | E_RDHUP | E_HUP, TCP_CLOSE);
}

/* A port that refuses: bound (so nobody else gets it) but not listening;
 * a SYN to it is answered with RST (tcp_v4_send_reset()). */
static int closed_port(struct lab *L, unsigned short *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = lab_tcp_socket(L, 1);

	if (fd < 0 || lab_bind_loopback(fd) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		lab_fail(L, "bind 127.0.0.1 (a free port): %s",
			 lab_errno(errno));
		return -1;
	}
	*port = ntohs(a.sin_port);
	lab_watch_server_port(L, *port);
	snprintf(L->r->server, sizeof(L->r->server), "closed port :%u", *port);
	snprintf(L->r->client, sizeof(L->r->client), "client (us)");
	return fd;
}

void sc_connect_refused(struct lab *L)
{
	unsigned short port;
	int us;

	if (closed_port(L, &port) < 0 || (us = lab_tcp_socket(L, 1)) < 0)
		return;
	lab_observe_fd(L, us, "us");
	S_connect(L, "us", us, port, "closed port, non-blocking");
	X(L, -1, EINPROGRESS, E_RST, TCP_CLOSE);
	N(L, "refused before connect() returned, yet EINPROGRESS");
	S_soerror(L, "us", us);
	X(L, ECONNREFUSED, 0, E_RSTD, TCP_CLOSE);
	S_soerror(L, "us", us);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	N(L, "consumed");
	S_connect(L, "us", us, port, "again");
	X(L, -1, ECONNABORTED, E_OUT | E_HUP, TCP_CLOSE);
	S_send(L, "us", us, "x", 0);
	X(L, -1, EPIPE, E_OUT | E_HUP, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, -1, ENOTCONN, E_OUT | E_HUP, TCP_CLOSE);
	P(L, T_RST, T_FIN);
}

void sc_connect_refused_again(struct lab *L)
{
	unsigned short port;
	int us;

	if (closed_port(L, &port) < 0 || (us = lab_tcp_socket(L, 1)) < 0)
		return;
	lab_observe_fd(L, us, "us");
	S_connect(L, "us", us, port, "closed port, non-blocking");
	X(L, -1, EINPROGRESS, E_RST, TCP_CLOSE);
	S_connect(L, "us", us, port, "again");
	X(L, -1, ECONNREFUSED, E_OUT | E_HUP, TCP_CLOSE);
	N(L, "the second connect() reports the pending error");
	S_connect(L, "us", us, port, "again");
	X(L, -1, EINPROGRESS, E_RST, TCP_CLOSE);
	N(L, "the third starts a brand-new attempt (refused again)");
	S_hu_probe(L, us);
	X(L, HU_REFUSED, 0, E_OUT | E_HUP | E_IN | E_RDHUP, TCP_CLOSE);
	N(L, "hangup: gone, refused (the error is kept)");
}

void sc_connect_refused_blocking(struct lab *L)
{
	unsigned short port;
	int us;

	if (closed_port(L, &port) < 0 || (us = lab_tcp_socket(L, 0)) < 0)
		return;
	lab_observe_fd(L, us, "us");
	S_connect(L, "us", us, port, "closed port, blocking");
	X(L, -1, ECONNREFUSED, E_OUT | E_HUP, TCP_CLOSE);
}

void sc_connect_ok(struct lab *L)
{
	unsigned short port;
	int lfd, us;

	if ((lfd = lab_listener(L, 8, &port)) < 0 ||
	    (us = lab_tcp_socket(L, 1)) < 0)
		return;
	snprintf(L->r->client, sizeof(L->r->client), "client (us)");
	lab_observe_fd(L, us, "us");
	S_connect(L, "us", us, port, "listener, non-blocking");
	X(L, -1, EINPROGRESS, E_OUT, TCP_ESTABLISHED);
	N(L, "done before the call returned, still EINPROGRESS");
	S_soerror(L, "us", us);
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	S_connect(L, "us", us, port, "again");
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	S_connect(L, "us", us, port, "again");
	X(L, -1, EISCONN, E_OUT, TCP_ESTABLISHED);
}

void sc_connect_in_progress(struct lab *L)
{
	unsigned short port;
	int lfd, us;

	if (lab_enter_netns(L) < 0 || (lfd = lab_listener(L, 8, &port)) < 0 ||
	    (us = lab_tcp_socket(L, 1)) < 0 || lab_nft_drop(L, 1) < 0)
		return;
	snprintf(L->r->client, sizeof(L->r->client), "client (us)");
	lab_observe_fd(L, us, "us");
	S_connect(L, "us", us, port, "listener, non-blocking");
	X(L, -1, EINPROGRESS, E_NONE, TCP_SYN_SENT);
	N(L, "the SYN is dropped: genuinely in progress, no events at all");
	S_connect(L, "us", us, port, "again");
	X(L, -1, EALREADY, E_NONE, TCP_SYN_SENT);
	S_send(L, "us", us, "x", 0);
	X(L, -1, EAGAIN, E_NONE, TCP_SYN_SENT);
	S_recv(L, "us", us, 64, 0);
	X(L, -1, EAGAIN, E_NONE, TCP_SYN_SENT);
	S_soerror(L, "us", us);
	X(L, 0, 0, E_NONE, TCP_SYN_SENT);
	if (lab_nft_drop(L, 0) < 0)
		return;
	S_poll_out(L, us, 3000);
	X(L, E_OUT, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "completes on the SYN retransmission (~1 s)");
	S_soerror(L, "us", us);
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "0 = connected");
	S_connect(L, "us", us, port, "again");
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	S_connect(L, "us", us, port, "again");
	X(L, -1, EISCONN, E_OUT, TCP_ESTABLISHED);
}

static int unix_pair(struct lab *L, int *us, int *peer)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) < 0) {
		lab_fail(L, "socketpair: %s", lab_errno(errno));
		return -1;
	}
	*us = lab_track(L, sv[0]);
	*peer = lab_track(L, sv[1]);
	lab_observe_fd(L, *us, "us");
	snprintf(L->r->client, sizeof(L->r->client), "us (AF_UNIX)");
	snprintf(L->r->server, sizeof(L->r->server), "peer (AF_UNIX)");
	L->r->captured = 0;
	snprintf(L->r->nocap, sizeof(L->r->nocap),
		 "Unix-domain sockets send no packets");
	return 0;
}

#define U_HUP (E_IN | E_OUT | E_RDHUP | E_HUP)

void sc_unix_close(struct lab *L)
{
	int us, peer;

	if (unix_pair(L, &us, &peer) < 0)
		return;
	S_close(L, "peer", &peer);
	X(L, 0, 0, U_HUP, -1);
	N(L, "HUP at once, even for an orderly close");
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, U_HUP, -1);
	S_send(L, "us", us, "A", 0);
	X(L, -1, EPIPE, U_HUP, -1);
	N(L, "the FIRST send fails (TCP's first one succeeds)");
	S_send(L, "us", us, "B", 0);
	X(L, -1, EPIPE, U_HUP, -1);
	S_soerror(L, "us", us);
	X(L, 0, 0, U_HUP, -1);
}

void sc_unix_data_close(struct lab *L)
{
	int us, peer;

	if (unix_pair(L, &us, &peer) < 0)
		return;
	S_send(L, "peer", peer, "hello", 0);
	X(L, 5, 0, E_IN | E_OUT, -1);
	S_close(L, "peer", &peer);
	X(L, 0, 0, U_HUP, -1);
	S_recv(L, "us", us, 64, 0);
	X(L, 5, 0, U_HUP, -1);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, U_HUP, -1);
}

void sc_unix_unread(struct lab *L)
{
	int us, peer;

	if (unix_pair(L, &us, &peer) < 0)
		return;
	S_send(L, "us", us, "abc", 0);
	X(L, 3, 0, E_OUT, -1);
	N(L, "the peer never reads this");
	S_send(L, "peer", peer, "xyz", 0);
	X(L, 3, 0, E_IN | E_OUT, -1);
	S_close(L, "peer", &peer);
	X(L, 0, 0, U_HUP | E_ERR, -1);
	S_recv(L, "us", us, 64, 0);
	X(L, 3, 0, U_HUP | E_ERR, -1);
	S_recv(L, "us", us, 64, 0);
	X(L, -1, ECONNRESET, U_HUP, -1);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, U_HUP, -1);
	S_send(L, "us", us, "A", 0);
	X(L, -1, EPIPE, U_HUP, -1);
}

void sc_unix_half_close(struct lab *L)
{
	int us, peer;

	if (unix_pair(L, &us, &peer) < 0)
		return;
	S_shutdown(L, "peer", peer, SHUT_WR);
	X(L, 0, 0, E_FIN, -1);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_FIN, -1);
	S_send(L, "us", us, "ping", 0);
	X(L, 4, 0, E_FIN, -1);
	S_recv(L, "peer", peer, 64, 0);
	X(L, 4, 0, E_FIN, -1);
	N(L, "the half-closed peer still receives");
}

void sc_unix_sigpipe(struct lab *L)
{
	int us, peer;

	if (unix_pair(L, &us, &peer) < 0)
		return;
	S_close(L, "peer", &peer);
	X(L, 0, 0, U_HUP, -1);
	S_write(L, "child", us, "A");
	X(L, SIGPIPE, ANY, U_HUP, -1);
	N(L, "already the first write kills the process");
}

/* Keepalive as kernel-truth.md's 7c-7f set it: idle 1 s, interval 1 s,
 * 3 probes -- on an idle connection that ends it after ~4 s. */
static void keepalive_raw(struct lab *L, int fd)
{
	int one = 1, idle = 1, intvl = 1, cnt = 3;
	long rc = 0;

	rc |= setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	rc |= setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	rc |= setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	rc |= setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	S_custom(L, "us",
		 "TCP_KEEPIDLE=1,KEEPINTVL=1,KEEPCNT=3; SO_KEEPALIVE=1", rc,
		 rc == 0 ? "0" : "-1");
}

void sc_dead_busy_keepalive(struct lab *L)
{
	char data[101];
	int us, peer, ep;

	if (dead_setup(L, &us, &peer, &ep) < 0)
		return;
	keepalive_raw(L, us);
	X(L, 0, ANY, E_OUT, TCP_ESTABLISHED);
	memset(data, 'd', 100);
	data[100] = '\0';
	S_send(L, "us", us, data, 0);
	X(L, 100, 0, E_OUT, TCP_ESTABLISHED);
	S_epoll_wait(L, ep, "IN+RDHUP", DEAD_WAIT_MS + 1000);
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "NOT detected: keepalive never probes while data is unacked");
	report_step(L, us);
	if (L->r->steps[L->r->nsteps - 1].val < 2)
		lab_fail(L, "expected retransmissions of the unacked data");
}

void sc_dead_idle_user_timeout(struct lab *L)
{
	int us, peer, ep, ut = LIVENESS_MS;
	long rc;

	if (dead_setup(L, &us, &peer, &ep) < 0)
		return;
	rc = setsockopt(us, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
	S_custom(L, "us", "setsockopt(TCP_USER_TIMEOUT, 2000)", rc,
		 rc == 0 ? "0" : "-1");
	X(L, 0, ANY, E_OUT, TCP_ESTABLISHED);
	S_epoll_wait(L, ep, "IN+RDHUP", DEAD_WAIT_MS);
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "NOT detected: nothing is in flight, so nothing times out");
	S_hu_probe(L, us);
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
}
