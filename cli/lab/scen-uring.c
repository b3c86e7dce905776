/*
 * scen-uring.c -- the io_uring view of the close scenarios (family
 * io_uring): what a recv completion says for a FIN, an RST, a FIN then an
 * RST and a dead peer; how a multishot recv ends (its last completion has
 * IORING_CQE_F_MORE clear) -- by the peer's close, by -ENOBUFS, by
 * -ECANCELED -- and what close() does to a socket with a request armed.
 *
 * The ring is made by raw system calls (uring.c); a multishot recv draws
 * its buffers from a provided-buffer ring, group BGID. Every completion is
 * one step (lab_step_cqe), checked with lab_expect_cqe(): its res, F_MORE,
 * and the snapshot of the socket as in every other family. us = the
 * client, which owns the ring; peer = the accepted socket, plain syscalls.
 */
#include "lab.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define BGID 1

/* How long a step waits for a completion that should come at once (task
 * work after the peer's segment), and how long for one that should not. */
#define CQE_MS 1000
#define NO_CQE_MS 100

/* The ring first (so that without io_uring the scenario skips before any
 * step), then a buffer group of nbufs buffers of len bytes (0: none), then
 * the connected pair. */
static int uring_setup(struct lab *L, struct lab_ring *r, unsigned nbufs,
		       unsigned len, int *us, int *peer)
{
	char why[96];
	int rc;

	if (lab_ring_open(L, r) < 0)
		return -1;
	if (nbufs) {
		rc = lab_ring_bufs(r, BGID, nbufs, len);
		if (rc < 0) {
			snprintf(why, sizeof(why),
				 "IORING_REGISTER_PBUF_RING: %s (before 5.19)",
				 lab_errno_name(-rc));
			lab_skip(L, why);
			return -1;
		}
	}
	return lab_connected_pair(L, us, peer);
}

/* Arm a multishot recv on fd: no completion until there is data. */
static void arm_multishot(struct lab *L, struct lab_ring *r, int fd)
{
	char call[64];

	lab_ring_prep_recv_multishot(r, fd, LAB_REQ_MSHOT);
	snprintf(call, sizeof(call), "io_uring recv multishot (bgid %d)", BGID);
	lab_step_cqe(L, r, call, NO_CQE_MS);
}

/* The last completion's IORING_CQE_F_SOCK_NONEMPTY is `on`: the kernel's
 * "more to read" hint, which tcp_inq_hint() also gives for a pending FIN
 * (net/ipv4/tcp.c), so it is no sign of data. */
static void expect_nonempty(struct lab *L, int on)
{
	struct lab_step *s = lab_last_step(L);

	if (!!(s->cqe_flags & IORING_CQE_F_SOCK_NONEMPTY) == on)
		return;
	s->ok = 0;
	lab_fail(L, "step %d: expected SOCK_NONEMPTY %s", L->r->nsteps,
		 on ? "set" : "clear");
}

/* Arm a multishot recv on an idle connection (no completion), then the
 * peer sends `data`: its completion has F_MORE set. */
static void armed_then_data(struct lab *L, struct lab_ring *r, int us, int peer,
			    const char *data)
{
	long n = (long)strlen(data);

	arm_multishot(L, r, us);
	lab_expect_cqe(L, LAB_NO_CQE, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "armed: nothing to read yet");
	lab_step_send(L, "peer", peer, data, 0);
	lab_expect(L, n, 0, LAB_ANY, TCP_ESTABLISHED);
	lab_step_cqe(L, r, "wait CQE", CQE_MS);
	lab_expect_cqe(L, n, 1, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "F_MORE set: the request stays armed");
}

static void recv_once(struct lab *L, struct lab_ring *r, int fd)
{
	lab_ring_prep_recv(r, fd, 64, LAB_REQ_RECV);
	lab_step_cqe(L, r, "io_uring recv(64)", CQE_MS);
}

void scenario_uring_recv_fin(struct lab *L)
{
	struct lab_ring r;
	int us, peer;

	if (uring_setup(L, &r, 0, 0, &us, &peer) < 0)
		return;
	lab_step_send(L, "peer", peer, "hello", 0);
	lab_expect(L, 5, 0, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	recv_once(L, &r, us);
	lab_expect_cqe(L, 5, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	expect_nonempty(L, 1);
	lab_note(L, "the data first; SOCK_NONEMPTY: the FIN is still to read");
	recv_once(L, &r, us);
	lab_expect_cqe(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	expect_nonempty(L, 1);
	lab_note(L, "res=0: the FIN (EOF), SOCK_NONEMPTY all the same");
	recv_once(L, &r, us);
	lab_expect_cqe(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "EOF is sticky: every new recv completes with 0 at once");
	lab_expect_packets(L, LAB_TCP_FIN, LAB_TCP_RST);
	lab_ring_close(L, &r);
}

void scenario_uring_multishot_fin(struct lab *L)
{
	struct lab_ring r;
	int us, peer;

	if (uring_setup(L, &r, 4, 64, &us, &peer) < 0)
		return;
	armed_then_data(L, &r, us, peer, "hello");
	lab_step_send(L, "peer", peer, "world", 0);
	lab_expect(L, 5, 0, LAB_ANY, TCP_ESTABLISHED);
	lab_step_cqe(L, &r, "wait CQE", CQE_MS);
	lab_expect_cqe(L, 5, 1, EPOLLOUT, TCP_ESTABLISHED);
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_cqe(L, &r, "wait CQE", CQE_MS);
	lab_expect_cqe(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "res=0, F_MORE clear: the FIN ended the multishot");
	lab_step_cqe(L, &r, "wait CQE", NO_CQE_MS);
	lab_expect_cqe(L, LAB_NO_CQE, LAB_ANY, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "nothing more: the request is gone");
	lab_expect_packets(L, LAB_TCP_FIN, LAB_TCP_RST);
	lab_ring_close(L, &r);
}

/* The peer closes with our 3 bytes unread: RST, as in unread-close. */
static int unread_rst(struct lab *L, int us, int *peer)
{
	lab_step_send(L, "us", us, "abc", 0);
	lab_expect(L, 3, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "the peer never reads this");
	lab_step_send(L, "peer", *peer, "xyz", 0);
	lab_expect(L, 3, 0, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	lab_step_close(L, "peer", peer);
	lab_expect(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "unread data in its queue -> RST, not FIN");
	return 0;
}

void scenario_uring_recv_rst(struct lab *L)
{
	struct lab_ring r;
	int us, peer;

	if (uring_setup(L, &r, 0, 0, &us, &peer) < 0)
		return;
	unread_rst(L, us, &peer);
	recv_once(L, &r, us);
	lab_expect_cqe(L, 3, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "data that arrived before the RST is not lost");
	recv_once(L, &r, us);
	lab_expect_cqe(L, -ECONNRESET, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "the reset, once, as res (errno is not involved)");
	recv_once(L, &r, us);
	lab_expect_cqe(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "then 0: keep the first error, or it reads as EOF");
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
	lab_ring_close(L, &r);
}

void scenario_uring_multishot_rst(struct lab *L)
{
	struct lab_ring r;
	int us, peer;

	if (uring_setup(L, &r, 4, 64, &us, &peer) < 0)
		return;
	armed_then_data(L, &r, us, peer, "data");
	lab_step_abort(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_ANY, TCP_CLOSE);
	lab_step_cqe(L, &r, "wait CQE", CQE_MS);
	lab_expect_cqe(L, -ECONNRESET, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "F_MORE clear: the reset ended the multishot");
	recv_once(L, &r, us);
	lab_expect_cqe(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "a new recv: 0 -- the completion took the error");
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
	lab_ring_close(L, &r);
}

void scenario_uring_multishot_rst_unread(struct lab *L)
{
	struct lab_ring r;
	int us, peer;

	if (uring_setup(L, &r, 4, 64, &us, &peer) < 0)
		return;
	lab_step_send(L, "peer", peer, "data", 0);
	lab_expect(L, 4, 0, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	lab_step_abort(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "the data and the RST are both here before we arm");
	arm_multishot(L, &r, us);
	lab_expect_cqe(L, 4, 1, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "the data first, F_MORE set");
	lab_step_cqe(L, &r, "wait CQE", CQE_MS);
	lab_expect_cqe(L, -ECONNRESET, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "then the reset, which ends the multishot");
	lab_step_cqe(L, &r, "wait CQE", NO_CQE_MS);
	lab_expect_cqe(L, LAB_NO_CQE, LAB_ANY, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
	lab_ring_close(L, &r);
}

/* Did an io_uring send raise SIGPIPE? Counted, not obeyed. It should not:
 * io_sendmsg_prep() (io_uring/net.c) ORs MSG_NOSIGNAL into every send. */
static volatile sig_atomic_t sigpipes;

static void count_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

void scenario_uring_recv_fin_then_rst(struct lab *L)
{
	struct lab_ring r;
	int us, peer;

	if (uring_setup(L, &r, 0, 0, &us, &peer) < 0)
		return;
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	recv_once(L, &r, us);
	lab_expect_cqe(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "EOF");
	lab_ring_prep_send(&r, us, "A", LAB_REQ_SEND);
	lab_step_cqe(L, &r, "io_uring send(\"A\")", CQE_MS);
	lab_expect_cqe(L, 1, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "accepted; the orphaned peer answers with RST");
	recv_once(L, &r, us);
	lab_expect_cqe(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "still 0: after a FIN, recv never reports the RST");
	signal(SIGPIPE, count_sigpipe);
	lab_ring_prep_send(&r, us, "B", LAB_REQ_SEND);
	lab_step_cqe(L, &r, "io_uring send(\"B\"), SIGPIPE caught", CQE_MS);
	signal(SIGPIPE, SIG_IGN);
	lab_expect_cqe(L, -EPIPE, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "%d SIGPIPE: io_uring sends with MSG_NOSIGNAL",
		 (int)sigpipes);
	if (sigpipes)
		lab_fail(L, "an io_uring send raised SIGPIPE");
	lab_step_soerror(L, "us", us);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "the send's completion took the EPIPE");
	lab_expect_packets(L, LAB_TCP_RST, 0);
	lab_ring_close(L, &r);
}

void scenario_uring_multishot_enobufs(struct lab *L)
{
	char data[41];
	struct lab_ring r;
	int us, peer;

	if (uring_setup(L, &r, 2, 16, &us, &peer) < 0)
		return;
	memset(data, 'a', 40);
	data[40] = '\0';
	lab_step_send(L, "peer", peer, data, 0);
	lab_expect(L, 40, 0, LAB_ANY, TCP_ESTABLISHED);
	lab_note(L, "more than the 2 buffers of 16 bytes hold");
	arm_multishot(L, &r, us);
	lab_expect_cqe(L, 16, 1, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	lab_step_cqe(L, &r, "wait CQE", CQE_MS);
	lab_expect_cqe(L, 16, 1, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	lab_step_cqe(L, &r, "wait CQE", CQE_MS);
	lab_expect_cqe(L, -ENOBUFS, 0, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	lab_expect_queues(L, 0, 8);
	lab_note(L, "out of buffers: the multishot ended, the connection did "
		    "not (8 bytes wait)");
	lab_ring_buf_recycle(&r, 0);
	lab_ring_buf_recycle(&r, 1);
	lab_step_custom(L, "us", "give both buffers back to the ring", 0, "0");
	lab_expect(L, 0, 0, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	arm_multishot(L, &r, us);
	lab_expect_cqe(L, 8, 1, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "re-armed: the rest of the data");
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_cqe(L, &r, "wait CQE", CQE_MS);
	lab_expect_cqe(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "only this res=0 is the peer's close");
	lab_expect_packets(L, LAB_TCP_FIN, LAB_TCP_RST);
	lab_ring_close(L, &r);
}

void scenario_uring_multishot_cancel(struct lab *L)
{
	struct lab_ring r;
	int us, peer;

	if (uring_setup(L, &r, 4, 64, &us, &peer) < 0)
		return;
	armed_then_data(L, &r, us, peer, "hi");
	lab_ring_prep_cancel(&r, LAB_REQ_MSHOT, LAB_REQ_CANCEL);
	lab_step_cqe(L, &r, "io_uring ASYNC_CANCEL(the multishot)", CQE_MS);
	lab_expect_cqe(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "the cancel request's own completion: found it");
	lab_step_cqe(L, &r, "wait CQE", CQE_MS);
	lab_expect_cqe(L, -ECANCELED, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "F_MORE clear: the multishot ended; the socket did not");
	lab_step_cqe(L, &r, "wait CQE", NO_CQE_MS);
	lab_expect_cqe(L, LAB_NO_CQE, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	lab_step_send(L, "peer", peer, "still here", 0);
	lab_expect(L, 10, 0, LAB_ANY, TCP_ESTABLISHED);
	recv_once(L, &r, us);
	lab_expect_cqe(L, 10, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "cancelled the request, not the connection");
	lab_expect_packets(L, 0, LAB_TCP_FIN | LAB_TCP_RST);
	lab_ring_close(L, &r);
}

/*
 * close() only drops the fd table's reference to the file; a request in
 * flight took its own when it was issued (io_uring's req->file), so the
 * socket is released -- and tcp_close() sends the FIN -- only when the
 * last request on it completes.
 */
void scenario_uring_close_with_armed_recv(struct lab *L)
{
	struct lab_ring r;
	int us, peer;

	if (uring_setup(L, &r, 4, 64, &us, &peer) < 0)
		return;
	arm_multishot(L, &r, us);
	lab_expect_cqe(L, LAB_NO_CQE, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	lab_observe_fd(L, peer, "peer");
	lab_step_close(L, "us", &us);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "no FIN: the armed request still holds the socket");
	lab_step_observe(L, "the peer still sees an open connection");
	lab_expect(L, LAB_ANY, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	lab_ring_prep_cancel(&r, LAB_REQ_MSHOT, LAB_REQ_CANCEL);
	lab_step_cqe(L, &r, "io_uring ASYNC_CANCEL(the multishot)", CQE_MS);
	lab_expect_cqe(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "the last reference dropped: now the FIN goes out");
	lab_step_cqe(L, &r, "wait CQE", CQE_MS);
	lab_expect_cqe(L, -ECANCELED, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_expect_packets(L, LAB_TCP_FIN, LAB_TCP_RST);
	lab_ring_close(L, &r);
}

void scenario_uring_shutdown_armed_recv(struct lab *L)
{
	struct lab_ring r;
	int us, peer;

	if (uring_setup(L, &r, 4, 64, &us, &peer) < 0)
		return;
	arm_multishot(L, &r, us);
	lab_expect_cqe(L, LAB_NO_CQE, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	lab_step_shutdown(L, "us", us, SHUT_RDWR);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN | EPOLLHUP, TCP_FIN_WAIT2);
	lab_note(L, "shutdown() acts on the socket itself: the FIN goes out");
	lab_step_cqe(L, &r, "wait CQE", CQE_MS);
	lab_expect_cqe(L, 0, 0, LAB_EPOLL_FIN | EPOLLHUP, TCP_FIN_WAIT2);
	lab_note(L, "our own SHUT_RD reads as EOF: the multishot ended");
	lab_observe_fd(L, peer, "peer");
	lab_step_observe(L, "the peer got our FIN");
	lab_expect(L, LAB_ANY, LAB_ANY, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_close(L, "us", &us);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "nothing armed any more: close() releases the socket");
	lab_expect_packets(L, LAB_TCP_FIN, LAB_TCP_RST);
	lab_ring_close(L, &r);
}

/* The dead-peer scenarios' TCP_USER_TIMEOUT, and how much later than it
 * the completion may come: the first retransmission (busy) or the
 * keepalive tick (idle), plus timer slack -- as scen-dead-peer.c allows. */
#define DEAD_UT_MS 3000
#define DEAD_SLACK_S 1.5

static void check_time(struct lab *L, double t0, double limit,
		       const char *since)
{
	double took = lab_now() - t0;

	lab_note(L, "detected %.2f s after %s (limit %.1f s)", took, since,
		 limit);
	if (took > limit)
		lab_fail(L, "dead peer detected after %.2f s, limit %.1f s",
			 took, limit);
}

/* Keepalive idle 1 s, interval 1 s, 3 probes, and TCP_USER_TIMEOUT: as
 * kernel-truth conclusion 7 says to arm them, raw. */
static void liveness_raw(struct lab *L, int fd, int ut)
{
	int one = 1, idle = 1, intvl = 1, cnt = 3;
	char call[80];
	long rc = 0;

	rc |= setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	rc |= setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	rc |= setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	rc |= setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	rc |= setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
	snprintf(call, sizeof(call), "keepalive 1/1/3 + TCP_USER_TIMEOUT=%d",
		 ut);
	lab_step_custom(L, "us", call, rc, rc == 0 ? "0" : "-1");
	lab_expect(L, 0, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
}

/* The ring, the buffers and a pair inside a private namespace, then the
 * peer vanishes (nft drops every TCP segment). */
static int dead_setup(struct lab *L, struct lab_ring *r, int *us, int *peer)
{
	char why[96];
	int rc;

	if (lab_enter_netns(L) < 0 || lab_ring_open(L, r) < 0)
		return -1;
	rc = lab_ring_bufs(r, BGID, 4, 64);
	if (rc < 0) {
		snprintf(why, sizeof(why), "IORING_REGISTER_PBUF_RING: %s",
			 lab_errno_name(-rc));
		lab_skip(L, why);
		return -1;
	}
	if (lab_tcp_pair(L, us, peer) < 0)
		return -1;
	lab_step_observe(L, "established inside a private network namespace");
	lab_expect(L, LAB_ANY, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	return 0;
}

void scenario_uring_dead_peer(struct lab *L)
{
	struct lab_ring r;
	int us, peer;

	double t0;

	if (dead_setup(L, &r, &us, &peer) < 0)
		return;
	t0 = lab_now();
	liveness_raw(L, us, DEAD_UT_MS);
	arm_multishot(L, &r, us);
	lab_expect_cqe(L, LAB_NO_CQE, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	if (lab_step_nft_drop(L, 1) < 0)
		return;
	lab_note(L, "the peer is now unreachable in both directions");
	lab_step_cqe(L, &r, "wait CQE (6000 ms)", 6000);
	lab_expect_cqe(L, -ETIMEDOUT, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	check_time(L, t0, DEAD_UT_MS / 1000.0 + DEAD_SLACK_S,
		   "arming keepalive");
	recv_once(L, &r, us);
	lab_expect_cqe(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "a new recv: 0 -- the completion took the error");
	lab_ring_close(L, &r);
}

void scenario_uring_dead_peer_busy(struct lab *L)
{
	char data[101];
	struct lab_ring r;
	int us, peer;

	double t0;

	if (dead_setup(L, &r, &us, &peer) < 0)
		return;
	liveness_raw(L, us, DEAD_UT_MS);
	if (lab_step_nft_drop(L, 1) < 0)
		return;
	memset(data, 'd', 100);
	data[100] = '\0';
	t0 = lab_now();
	lab_ring_prep_send(&r, us, data, LAB_REQ_SEND);
	lab_step_cqe(L, &r, "io_uring send(100 bytes)", CQE_MS);
	lab_expect_cqe(L, 100, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "complete at once: queued, not acknowledged (out 100)");
	lab_expect_queues(L, 100, 0);
	recv_once(L, &r, us);
	lab_expect_cqe(L, LAB_NO_CQE, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "armed; keepalive is silent while data is unacked");
	lab_step_cqe(L, &r, "wait CQE (6000 ms)", 6000);
	lab_expect_cqe(L, -ETIMEDOUT, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	check_time(L, t0, DEAD_UT_MS / 1000.0 + DEAD_SLACK_S, "the send");
	lab_ring_close(L, &r);
}
