/*
 * scen-reset.c -- the lab scenarios of a connection that ends in an RST:
 * the peer closes with data unread (families unread-close, with the
 * graceful close that avoids it) or aborts (SO_LINGER {1,0}, family
 * abortive-close); each variant takes the error a different way first.
 *
 * us = the client (left in the ladder), peer = the accepted socket; see
 * scen-close.c for how the expectations read.
 */
#include "lab.h"

#include "hangup.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Setup of the unread-close family: each side sends, the peer never reads
 * ours. */
static int unread_setup(struct lab *L, int *us, int *peer)
{
	if (lab_connected_pair(L, us, peer) < 0)
		return -1;
	lab_step_send(L, "us", *us, "abc", 0);
	lab_expect(L, 3, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "the peer never reads this");
	lab_step_send(L, "peer", *peer, "xyz", 0);
	lab_expect(L, 3, 0, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	/* Show the bytes that the close will destroy: they are in the
	 * peer's receive queue, unread. */
	lab_observe_fd(L, *peer, "peer");
	lab_step_observe(L,
			 "the peer's receive queue holds our 3 bytes, unread");
	lab_expect(L, LAB_ANY, LAB_ANY, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	lab_expect_queues(L, 0, 3);
	lab_observe_fd(L, *us, "us");
	lab_step_close(L, "peer", peer);
	lab_expect(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(
	    L,
	    "unread data in its queue -> RST, not FIN; \"abc\" is destroyed");
	return 0;
}

void scenario_unread_close(struct lab *L)
{
	int us, peer;

	if (unread_setup(L, &us, &peer) < 0)
		return;
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 3, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "data that had arrived is not lost");
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, -1, ECONNRESET, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "the reset is reported once; then 0");
	lab_step_send(L, "us", us, "A", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_unread_close_send_first(struct lab *L)
{
	int us, peer;

	if (unread_setup(L, &us, &peer) < 0)
		return;
	lab_step_send(L, "us", us, "A", 0);
	lab_expect(L, -1, ECONNRESET, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_send(L, "us", us, "B", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 3, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "recv never reports the reset now");
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_unread_close_so_error(struct lab *L)
{
	int us, peer;

	if (unread_setup(L, &us, &peer) < 0)
		return;
	lab_step_soerror(L, "us", us);
	lab_expect(L, ECONNRESET, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 3, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L,
		 "looks like a clean EOF: the reset is never seen by recv now");
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_unread_close_hangup(struct lab *L)
{
	int us, peer;

	if (unread_setup(L, &us, &peer) < 0)
		return;
	lab_step_hu_probe(L, us);
	lab_expect(L, HU_RESET, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "takes the error from the kernel and keeps it");
	lab_step_hu_recv(L, us);
	lab_expect(L, 3, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_hu_recv(L, us);
	lab_expect(L, HU_RESET, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "where a raw recv() would now return 0");
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_unread_close_graceful(struct lab *L)
{
	int us, peer, st;
	pid_t pid, parent = getpid();

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		lab_die_with_parent(parent);
		/* The peer, a well-behaved server: reply, read until EOF,
		 * close. */
		char buf[64];
		int fl = fcntl(peer, F_GETFL);

		alarm(60);
		close(us);
		fcntl(peer, F_SETFL, fl & ~O_NONBLOCK);
		if (send(peer, "reply", 5, MSG_NOSIGNAL) != 5)
			_exit(1);
		while (recv(peer, buf, sizeof(buf), 0) > 0)
			;
		close(peer);
		_exit(0);
	}
	if (pid < 0) {
		lab_fail(L, "fork: %s", lab_errno_name(errno));
		return;
	}
	close(peer);
	lab_untrack(L, peer);
	lab_step_send(L, "us", us, "request", 0);
	lab_expect(L, 7, 0, LAB_ANY, TCP_ESTABLISHED);
	lab_note(L,
		 "the peer (a child process) replies; we never read the reply");
	lab_step_hu_close_graceful(L, &us, 2000);
	lab_expect(L, 0, LAB_ANY, LAB_ANY, LAB_ANY);
	lab_note(L, "FIN, discard the reply, wait for the peer's FIN, close");
	waitpid(pid, &st, 0);
	lab_expect_packets(L, LAB_TCP_FIN, LAB_TCP_RST);
}

void scenario_abortive_close(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_abort(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "abortive close -> RST, no FIN");
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, -1, ECONNRESET, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_send(L, "us", us, "A", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_abortive_close_so_error(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_abort(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_step_soerror(L, "us", us);
	lab_expect(L, ECONNRESET, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L,
		 "indistinguishable from an orderly EOF now (but HUP is set)");
	lab_step_send(L, "us", us, "A", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_abortive_close_peek(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_abort(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, MSG_PEEK);
	lab_expect(L, -1, ECONNRESET, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "a peek consumes the error too");
	lab_step_recv(L, "us", us, 64, MSG_PEEK);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_abortive_close_send_first(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_abort(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_step_send(L, "us", us, "A", 0);
	lab_expect(L, -1, ECONNRESET, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_send(L, "us", us, "B", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_abortive_close_data(struct lab *L)
{
	int us, peer;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	lab_step_send(L, "peer", peer, "data", 0);
	lab_expect(L, 4, 0, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	lab_step_abort(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 4, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "data that arrived before the RST is still readable");
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, -1, ECONNRESET, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_abortive_close_hangup(struct lab *L)
{
	struct lab_step *s;
	int us, peer;
	long rc;

	if (lab_connected_pair(L, &us, &peer) < 0)
		return;
	s = lab_step_begin(L, "peer", "hu_abort()");
	rc = hu_abort(peer);
	lab_untrack(L, peer);
	lab_step_end(L, s, rc, rc == 0 ? "0" : "failed");
	lab_expect(L, 0, LAB_ANY, LAB_EPOLL_RST, TCP_CLOSE);
	lab_step_hu_probe(L, us);
	lab_expect(L, HU_RESET, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_hu_recv(L, us);
	lab_expect(L, HU_RESET, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_note(L, "the probe consumed the error; hu_recv still says reset");
	lab_step_hu_send(L, us, "A");
	lab_expect(L, HU_PIPE, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}
