/*
 * scen-close.c -- the lab scenarios of the peer's close: orderly close,
 * data then close, writing after the peer closed, half-close, the peer
 * process killed, the two myths, and the test-only scenario that must
 * fail. A close that resets (unread data, abort) is in scen-reset.c.
 *
 * us = the client (left in the ladder), peer = the accepted socket. The
 * expectations are kernel-truth.md's measured tables; a step's lab_expect()
 * names what it must return, its errno, the epoll mask and the TCP state of the
 * observed socket ~15 ms later.
 */
#include "lab.h"

#include "hangup.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

void scenario_peer_close(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "peer sends FIN: RDHUP, never HUP or ERR");
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "EOF");
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "EOF is sticky");
	lab_step_hu_probe(L, us);
	lab_expect(L, HU_EOF, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_hu_recv(L, us);
	lab_expect(L, HU_EOF, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_expect_packets(L, LAB_TCP_FIN, LAB_TCP_RST);
}

void scenario_data_then_close(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_send(L, "peer", peer, "hello", 0);
	lab_expect(L, 5, 0, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "FIN queued behind the data");
	lab_step_recv(L, "us", us, 64, MSG_PEEK);
	lab_expect(L, 5, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 5, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "data first");
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "then EOF");
	lab_step_hu_recv(L, us);
	lab_expect(L, HU_EOF, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_expect_packets(L, LAB_TCP_FIN, LAB_TCP_RST);
}

void scenario_write_after_close(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_send(L, "us", us, "A", 0);
	lab_expect(L, 1, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "accepted locally; the orphaned peer answers with RST");
	lab_step_send(L, "us", us, "B", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "EPIPE, not ECONNRESET: the RST hit CLOSE_WAIT");
	lab_step_send(L, "us", us, "C", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_soerror(L, "us", us);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "error already consumed by send B");
	lab_expect_packets(L, LAB_TCP_FIN | LAB_TCP_RST, 0);
}

void scenario_write_after_close_so_error(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_send(L, "us", us, "A", 0);
	lab_expect(L, 1, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "draws the RST");
	lab_step_recv(L, "us", us, 64, MSG_PEEK);
	lab_expect(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "FIN was seen: 0, the error stays pending");
	lab_step_soerror(L, "us", us);
	lab_expect(L, EPIPE, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "an RST in CLOSE_WAIT sets EPIPE");
	lab_step_soerror(L, "us", us);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "consumed");
	lab_step_send(L, "us", us, "B", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
}

void scenario_write_after_close_sigpipe(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_write(L, "child", us, "A");
	lab_expect(L, 0, LAB_ANY, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "the first write succeeds and draws the RST");
	lab_step_write(L, "child", us, "B");
	lab_expect(L, SIGPIPE, LAB_ANY, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "the second write kills a process with default SIGPIPE");
	lab_step_hu_send(L, us, "C");
	lab_expect(L, HU_PIPE, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "hu_send uses MSG_NOSIGNAL: a result, not a signal");
}

void scenario_write_after_close_hangup(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_hu_probe(L, us);
	lab_expect(L, HU_EOF, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "the FIN is known before any write");
	lab_step_hu_send(L, us, "A");
	lab_expect(L, 1, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_step_hu_probe(L, us);
	lab_expect(L, HU_PIPE, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "takes the pending EPIPE and keeps it");
	lab_step_hu_send(L, us, "B");
	lab_expect(L, HU_PIPE, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_hu_recv(L, us);
	lab_expect(L, HU_EOF, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "for reading, the FIN is the truth");
}

void scenario_half_close(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_shutdown(L, "peer", peer, SHUT_WR);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "EOF: the peer will send nothing more");
	lab_step_send(L, "us", us, "ping", 0);
	lab_expect(L, 4, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "we can still send");
	lab_observe_fd(L, peer, "peer");
	lab_step_recv(L, "peer", peer, 64, 0);
	lab_expect(L, 4, 0, EPOLLOUT, TCP_FIN_WAIT2);
	lab_note(L, "the half-closed peer still receives");
	lab_step_send(L, "peer", peer, "late", 0);
	lab_expect(L, -1, EPIPE, EPOLLOUT, TCP_FIN_WAIT2);
	lab_note(L, "but may not send after SHUT_WR");
	lab_step_send(L, "us", us, "more", 0);
	lab_expect(L, 4, 0, EPOLLIN | EPOLLOUT, TCP_FIN_WAIT2);
	lab_note(L, "no RST: the peer socket is still open");
	lab_step_recv(L, "peer", peer, 64, 0);
	lab_expect(L, 4, 0, EPOLLOUT, TCP_FIN_WAIT2);
	lab_step_close(L, "us", &us);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN | EPOLLHUP, TCP_CLOSE);
	lab_note(L, "our FIN: both directions done -> HUP");
	lab_step_recv(L, "peer", peer, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN | EPOLLHUP, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_FIN, LAB_TCP_RST);
}

/* The peer is a forked process that holds the accepted socket and waits. */
static pid_t peer_child(struct lab *L, int us, int *peer)
{
	pid_t pid, parent = getpid();

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* If the scenario process itself dies before the SIGKILL, this
		 * one goes with it (and the alarm is a second net). */
		lab_die_with_parent(parent);
		alarm(60);
		close(us);
		for (int i = 0; i < 600; i++)
			pause();
		_exit(0);
	}
	if (pid < 0) {
		lab_fail(L, "fork: %s", lab_errno_name(errno));
		return -1;
	}
	close(*peer);
	lab_untrack(L, *peer);
	*peer = -1;
	lab_step_observe(
	    L, "peer = a child process holding the socket, in pause()");
	lab_expect(L, LAB_ANY, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	return pid;
}

static void kill_child(struct lab *L, pid_t pid)
{
	struct lab_step *s;
	int st;

	s = lab_step_begin(L, "parent", "kill(child, SIGKILL); waitpid()");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	lab_step_end(L, s, 0, "0");
	lab_note(L, "the kernel closes the dead process's socket");
}

void scenario_peer_killed(struct lab *L)
{
	int us, peer;
	pid_t pid;

	if (lab_connected_pair(L, &us, &peer) < 0 ||
	    (pid = peer_child(L, us, &peer)) < 0)
		return;
	kill_child(L, pid);
	lab_expect(L, LAB_ANY, LAB_ANY, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "like close(): FIN");
	lab_step_send(L, "us", us, "A", 0);
	lab_expect(L, 1, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_step_send(L, "us", us, "B", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_FIN, 0);
}

void scenario_peer_killed_unread(struct lab *L)
{
	int us, peer;
	pid_t pid;

	if (lab_connected_pair(L, &us, &peer) < 0 ||
	    (pid = peer_child(L, us, &peer)) < 0)
		return;
	lab_step_send(L, "us", us, "unread", 0);
	lab_expect(L, 6, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "the child never reads it");
	kill_child(L, pid);
	lab_expect(L, LAB_ANY, LAB_ANY, LAB_EPOLL_RST, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, -1, ECONNRESET, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "like close() with unread data: RST");
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_send(L, "us", us, "A", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_myth_recv_eagain(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, -1, EAGAIN, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "live connection, no data: -1/EAGAIN means 'nothing now'");
	lab_step_hu_recv(L, us);
	lab_expect(L, HU_AGAIN, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "the peer really closes");
	lab_step_recv_stale(L, "us", us, 16, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_expect_stale_errno(L, 0);
	lab_note(L, "closed, errno 0: the myth says 'not closed' -- wrong");
	lab_step_recv_stale(L, "us", us, 16, EAGAIN);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_expect_stale_errno(L, EAGAIN);
	lab_note(
	    L, "errno EAGAIN, as an earlier failed call leaves it: untouched");
	lab_step_hu_recv(L, us);
	lab_expect(L, HU_EOF, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "the rule: recv() == 0 is EOF; errno only after -1");
}

void scenario_myth_send_einprogress(struct lab *L)
{
	unsigned short port;
	int lfd, us, peer = -1;

	if ((lfd = lab_listener(L, 8, &port)) < 0 ||
	    (us = lab_tcp_socket(L, 1)) < 0)
		return;
	snprintf(L->r->client, sizeof(L->r->client), "client (us)");
	lab_observe_fd(L, us, "us");
	lab_step_connect(L, "us", us, port, "listener, non-blocking");
	lab_expect(L, -1, EINPROGRESS, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "EINPROGRESS although loopback completed it at once");
	if (lab_step_accept(L, "peer", lfd, &peer) < 0)
		return;
	lab_observe_fd(L, us, "us");
	lab_step_send_stale(L, "us", us, "x", EINPROGRESS, 0);
	lab_expect(L, 1, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_expect_stale_errno(L, EINPROGRESS);
	lab_note(L, "LIVE; errno still EINPROGRESS from connect(): myth says "
		    "'closed'");
	lab_step_recv(L, "peer", peer, 64, 0);
	lab_expect(L, 1, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "the peer is alive: it receives the byte");
	lab_step_send(L, "peer", peer, "pong", 0);
	lab_expect(L, 4, 0, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 4, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "and answers: the connection was never closed");
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_send_stale(L, "us", us, "z", 0, 1);
	lab_expect(L, 1, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_expect_stale_errno(L, 0);
	lab_note(
	    L, "the peer HAS closed; send() > 0, errno 0: the myth misses it");
	lab_step_send(L, "us", us, "w", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L,
		 "the rule: FIN = RDHUP / recv() == 0; then EPIPE/ECONNRESET");
}

/*
 * TEST ONLY (--self-test-mismatch): peer-close with expectations that are
 * deliberately wrong -- a FIN is expected to read as ECONNRESET, and the
 * packets to hold an RST and no FIN. It must fail; tests/t-lab.sh checks
 * that it does, loudly, with a non-zero exit status.
 */
void scenario_self_test_mismatch(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, -1, ECONNRESET, LAB_EPOLL_RST_TAKEN,
		   TCP_CLOSE); /* wrong on purpose */
	lab_note(L, "TEST ONLY: this expectation is wrong on purpose");
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN); /* wrong on purpose */
}
