/*
 * scen-dead-peer.c -- the dead-peer scenarios (family dead-peer): inside a
 * private network namespace nft drops every TCP segment, so each end looks
 * dead to the other; they show what keepalive, TCP_USER_TIMEOUT and
 * hu_liveness report, idle and busy.
 */
#include "lab.h"

#include "hangup.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

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
	if (lab_step_nft_drop(L, 1) < 0)
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
