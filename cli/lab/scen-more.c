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

#define DEAD_PEER_EVENTS                   \
	(EPOLLIN | EPOLLRDHUP | EPOLLHUP | \
	 EPOLLERR) /* what epoll_wait returns */

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
	lab_step_observe(L, "established inside a private network namespace");
	lab_expect(L, LAB_ANY, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	if (lab_nft_drop(L, 1) < 0)
		return -1;
	lab_note(L, "the peer is now unreachable in both directions");
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
	lab_step_custom(L, "us", "hu_report()", rep.retransmits, buf);
}

static void check_time(struct lab *L, double t0, double limit)
{
	double took = lab_now() - t0;

	lab_note(L, "detected after %.2f s (limit %.1f s)", took, limit);
	if (took > limit)
		lab_fail(L, "dead peer detected after %.2f s, limit %.1f s",
			 took, limit);
}

void scenario_dead_peer_idle(struct lab *L)
{
	int us, peer, ep;

	if (dead_setup(L, &us, &peer, &ep) < 0)
		return;
	lab_step_epoll_wait(L, ep, "IN+RDHUP", DEAD_WAIT_MS);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "NOT detected: nothing at all is reported");
	lab_step_recv(L, "us", us, 64, MSG_PEEK);
	lab_expect(L, -1, EAGAIN, EPOLLOUT, TCP_ESTABLISHED);
	lab_step_soerror(L, "us", us);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_step_hu_probe(L, us);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "without liveness the peer looks open for ~2 hours");
}

void scenario_dead_peer_idle_liveness(struct lab *L)
{
	int us, peer, ep;
	double t0;

	if (dead_setup(L, &us, &peer, &ep) < 0)
		return;
	t0 = lab_now();
	lab_step_hu_liveness(L, us, LIVENESS_MS);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "keepalive idle 1 s, interval 1 s + TCP_USER_TIMEOUT");
	lab_step_epoll_wait(L, ep, "IN+RDHUP", DEAD_WAIT_MS + 2000);
	lab_expect(L, DEAD_PEER_EVENTS, 0, DEAD_PEER_EVENTS | EPOLLOUT,
		   TCP_CLOSE);
	check_time(L, t0, LIVENESS_MS / 1000.0 + LIVENESS_SLACK_S);
	lab_step_hu_probe(L, us);
	lab_expect(L, HU_TIMEOUT, 0, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP,
		   TCP_CLOSE);
	lab_step_hu_recv(L, us);
	lab_expect(L, HU_TIMEOUT, 0, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP,
		   TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP,
		   TCP_CLOSE);
	lab_note(L, "a raw recv() after the error was taken: looks like EOF");
}

void scenario_dead_peer_busy(struct lab *L)
{
	char data[101];
	int us, peer, ep;

	if (dead_setup(L, &us, &peer, &ep) < 0)
		return;
	memset(data, 'd', 100);
	data[100] = '\0';
	lab_step_send(L, "us", us, data, 0);
	lab_expect(L, 100, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "100 bytes that can never be acknowledged");
	lab_step_epoll_wait(L, ep, "IN+RDHUP", DEAD_WAIT_MS);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "NOT detected: tcp_retries2=15 takes ~15 minutes");
	report_step(L, us);
	if (L->r->steps[L->r->nsteps - 1].val < 2)
		lab_fail(L, "expected retransmissions of the unacked data");
	lab_step_recv(L, "us", us, 64, MSG_PEEK);
	lab_expect(L, -1, EAGAIN, EPOLLOUT, TCP_ESTABLISHED);
}

void scenario_dead_peer_busy_liveness(struct lab *L)
{
	char data[101];
	int us, peer, ep;
	double t0;

	if (dead_setup(L, &us, &peer, &ep) < 0)
		return;
	lab_step_hu_liveness(L, us, LIVENESS_MS);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	memset(data, 'd', 100);
	data[100] = '\0';
	t0 = lab_now();
	lab_step_send(L, "us", us, data, 0);
	lab_expect(L, 100, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L,
		 "t=0; keepalive alone would never fire with data in flight");
	lab_step_epoll_wait(L, ep, "IN+RDHUP", DEAD_WAIT_MS + 2000);
	lab_expect(L, DEAD_PEER_EVENTS, 0, DEAD_PEER_EVENTS | EPOLLOUT,
		   TCP_CLOSE);
	check_time(L, t0, LIVENESS_MS / 1000.0 + LIVENESS_SLACK_S);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, -1, ETIMEDOUT, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP,
		   TCP_CLOSE);
	lab_note(L, "the first call gets ETIMEDOUT, once");
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP,
		   TCP_CLOSE);
	lab_step_send(L, "us", us, "B", 0);
	lab_expect(L, -1, EPIPE, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP,
		   TCP_CLOSE);
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

void scenario_connect_refused(struct lab *L)
{
	unsigned short port;
	int us;

	if (closed_port(L, &port) < 0 || (us = lab_tcp_socket(L, 1)) < 0)
		return;
	lab_observe_fd(L, us, "us");
	lab_step_connect(L, "us", us, port, "closed port, non-blocking");
	lab_expect(L, -1, EINPROGRESS, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "refused before connect() returned, yet EINPROGRESS");
	lab_step_soerror(L, "us", us);
	lab_expect(L, ECONNREFUSED, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_soerror(L, "us", us);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "consumed");
	lab_step_connect(L, "us", us, port, "again");
	lab_expect(L, -1, ECONNABORTED, EPOLLOUT | EPOLLHUP, TCP_CLOSE);
	lab_step_send(L, "us", us, "x", 0);
	lab_expect(L, -1, EPIPE, EPOLLOUT | EPOLLHUP, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, -1, ENOTCONN, EPOLLOUT | EPOLLHUP, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_connect_refused_again(struct lab *L)
{
	unsigned short port;
	int us;

	if (closed_port(L, &port) < 0 || (us = lab_tcp_socket(L, 1)) < 0)
		return;
	lab_observe_fd(L, us, "us");
	lab_step_connect(L, "us", us, port, "closed port, non-blocking");
	lab_expect(L, -1, EINPROGRESS, LAB_EPOLL_RST, TCP_CLOSE);
	lab_step_connect(L, "us", us, port, "again");
	lab_expect(L, -1, ECONNREFUSED, EPOLLOUT | EPOLLHUP, TCP_CLOSE);
	lab_note(L, "the second connect() reports the pending error");
	lab_step_connect(L, "us", us, port, "again");
	lab_expect(L, -1, EINPROGRESS, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "the third starts a brand-new attempt (refused again)");
	lab_step_hu_probe(L, us);
	lab_expect(L, HU_REFUSED, 0, EPOLLOUT | EPOLLHUP | EPOLLIN | EPOLLRDHUP,
		   TCP_CLOSE);
	lab_note(L, "hangup: gone, refused (the error is kept)");
}

void scenario_connect_refused_blocking(struct lab *L)
{
	unsigned short port;
	int us;

	if (closed_port(L, &port) < 0 || (us = lab_tcp_socket(L, 0)) < 0)
		return;
	lab_observe_fd(L, us, "us");
	lab_step_connect(L, "us", us, port, "closed port, blocking");
	lab_expect(L, -1, ECONNREFUSED, EPOLLOUT | EPOLLHUP, TCP_CLOSE);
}

void scenario_connect_ok(struct lab *L)
{
	unsigned short port;
	int lfd, us;

	if ((lfd = lab_listener(L, 8, &port)) < 0 ||
	    (us = lab_tcp_socket(L, 1)) < 0)
		return;
	snprintf(L->r->client, sizeof(L->r->client), "client (us)");
	lab_observe_fd(L, us, "us");
	lab_step_connect(L, "us", us, port, "listener, non-blocking");
	lab_expect(L, -1, EINPROGRESS, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "done before the call returned, still EINPROGRESS");
	lab_step_soerror(L, "us", us);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_step_connect(L, "us", us, port, "again");
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_step_connect(L, "us", us, port, "again");
	lab_expect(L, -1, EISCONN, EPOLLOUT, TCP_ESTABLISHED);
}

void scenario_connect_in_progress(struct lab *L)
{
	unsigned short port;
	int lfd, us;

	if (lab_enter_netns(L) < 0 || (lfd = lab_listener(L, 8, &port)) < 0 ||
	    (us = lab_tcp_socket(L, 1)) < 0 || lab_nft_drop(L, 1) < 0)
		return;
	snprintf(L->r->client, sizeof(L->r->client), "client (us)");
	lab_observe_fd(L, us, "us");
	lab_step_connect(L, "us", us, port, "listener, non-blocking");
	lab_expect(L, -1, EINPROGRESS, LAB_EPOLL_NONE, TCP_SYN_SENT);
	lab_note(L,
		 "the SYN is dropped: genuinely in progress, no events at all");
	lab_step_connect(L, "us", us, port, "again");
	lab_expect(L, -1, EALREADY, LAB_EPOLL_NONE, TCP_SYN_SENT);
	lab_step_send(L, "us", us, "x", 0);
	lab_expect(L, -1, EAGAIN, LAB_EPOLL_NONE, TCP_SYN_SENT);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, -1, EAGAIN, LAB_EPOLL_NONE, TCP_SYN_SENT);
	lab_step_soerror(L, "us", us);
	lab_expect(L, 0, 0, LAB_EPOLL_NONE, TCP_SYN_SENT);
	if (lab_nft_drop(L, 0) < 0)
		return;
	lab_step_poll_out(L, us, 3000);
	lab_expect(L, EPOLLOUT, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "completes on the SYN retransmission (~1 s)");
	lab_step_soerror(L, "us", us);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "0 = connected");
	lab_step_connect(L, "us", us, port, "again");
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_step_connect(L, "us", us, port, "again");
	lab_expect(L, -1, EISCONN, EPOLLOUT, TCP_ESTABLISHED);
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

#define UNIX_CLOSED_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP)

void scenario_unix_close(struct lab *L)
{
	int us, peer;

	if (unix_pair(L, &us, &peer) < 0)
		return;
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, UNIX_CLOSED_EVENTS, -1);
	lab_note(L, "HUP at once, even for an orderly close");
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, UNIX_CLOSED_EVENTS, -1);
	lab_step_send(L, "us", us, "A", 0);
	lab_expect(L, -1, EPIPE, UNIX_CLOSED_EVENTS, -1);
	lab_note(L, "the FIRST send fails (TCP's first one succeeds)");
	lab_step_send(L, "us", us, "B", 0);
	lab_expect(L, -1, EPIPE, UNIX_CLOSED_EVENTS, -1);
	lab_step_soerror(L, "us", us);
	lab_expect(L, 0, 0, UNIX_CLOSED_EVENTS, -1);
}

void scenario_unix_data_close(struct lab *L)
{
	int us, peer;

	if (unix_pair(L, &us, &peer) < 0)
		return;
	lab_step_send(L, "peer", peer, "hello", 0);
	lab_expect(L, 5, 0, EPOLLIN | EPOLLOUT, -1);
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, UNIX_CLOSED_EVENTS, -1);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 5, 0, UNIX_CLOSED_EVENTS, -1);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, UNIX_CLOSED_EVENTS, -1);
}

void scenario_unix_unread_close(struct lab *L)
{
	int us, peer;

	if (unix_pair(L, &us, &peer) < 0)
		return;
	lab_step_send(L, "us", us, "abc", 0);
	lab_expect(L, 3, 0, EPOLLOUT, -1);
	lab_note(L, "the peer never reads this");
	lab_step_send(L, "peer", peer, "xyz", 0);
	lab_expect(L, 3, 0, EPOLLIN | EPOLLOUT, -1);
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, UNIX_CLOSED_EVENTS | EPOLLERR, -1);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 3, 0, UNIX_CLOSED_EVENTS | EPOLLERR, -1);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, -1, ECONNRESET, UNIX_CLOSED_EVENTS, -1);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, UNIX_CLOSED_EVENTS, -1);
	lab_step_send(L, "us", us, "A", 0);
	lab_expect(L, -1, EPIPE, UNIX_CLOSED_EVENTS, -1);
}

void scenario_unix_half_close(struct lab *L)
{
	int us, peer;

	if (unix_pair(L, &us, &peer) < 0)
		return;
	lab_step_shutdown(L, "peer", peer, SHUT_WR);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, -1);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, -1);
	lab_step_send(L, "us", us, "ping", 0);
	lab_expect(L, 4, 0, LAB_EPOLL_FIN, -1);
	lab_step_recv(L, "peer", peer, 64, 0);
	lab_expect(L, 4, 0, LAB_EPOLL_FIN, -1);
	lab_note(L, "the half-closed peer still receives");
}

void scenario_unix_sigpipe(struct lab *L)
{
	int us, peer;

	if (unix_pair(L, &us, &peer) < 0)
		return;
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, UNIX_CLOSED_EVENTS, -1);
	lab_step_write(L, "child", us, "A");
	lab_expect(L, SIGPIPE, LAB_ANY, UNIX_CLOSED_EVENTS, -1);
	lab_note(L, "already the first write kills the process");
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
	lab_step_custom(L, "us",
			"TCP_KEEPIDLE=1,KEEPINTVL=1,KEEPCNT=3; SO_KEEPALIVE=1",
			rc, rc == 0 ? "0" : "-1");
}

void scenario_dead_peer_busy_keepalive(struct lab *L)
{
	char data[101];
	int us, peer, ep;

	if (dead_setup(L, &us, &peer, &ep) < 0)
		return;
	keepalive_raw(L, us);
	lab_expect(L, 0, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	memset(data, 'd', 100);
	data[100] = '\0';
	lab_step_send(L, "us", us, data, 0);
	lab_expect(L, 100, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_step_epoll_wait(L, ep, "IN+RDHUP", DEAD_WAIT_MS + 1000);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L,
		 "NOT detected: keepalive never probes while data is unacked");
	report_step(L, us);
	if (L->r->steps[L->r->nsteps - 1].val < 2)
		lab_fail(L, "expected retransmissions of the unacked data");
}

void scenario_dead_peer_idle_user_timeout(struct lab *L)
{
	int us, peer, ep, ut = LIVENESS_MS;
	long rc;

	if (dead_setup(L, &us, &peer, &ep) < 0)
		return;
	rc = setsockopt(us, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
	lab_step_custom(L, "us", "setsockopt(TCP_USER_TIMEOUT, 2000)", rc,
			rc == 0 ? "0" : "-1");
	lab_expect(L, 0, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	lab_step_epoll_wait(L, ep, "IN+RDHUP", DEAD_WAIT_MS);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "NOT detected: nothing is in flight, so nothing times out");
	lab_step_hu_probe(L, us);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
}
