/*
 * lab-scen-close.c -- the lab scenarios of the peer's close: orderly close,
 * data then close, writing after the peer closed, half-close, close with
 * unread data, abortive close, the peer process killed, and the two myths.
 *
 * us = the client (left in the ladder), peer = the accepted socket. The
 * expectations are kernel-truth.md's measured tables; a step's X() names
 * what it must return, its errno, the epoll mask and the TCP state of the
 * observed socket ~15 ms later.
 */
#include "lab.h"

#include "hangup.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define ANY LAB_ANY

static int pair(struct lab *L, int *us, int *peer)
{
	if (lab_tcp_pair(L, us, peer) < 0)
		return -1;
	S_observe(L, "connected");
	X(L, ANY, ANY, E_OUT, TCP_ESTABLISHED);
	return 0;
}

void sc_peer_close(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "peer sends FIN: RDHUP, never HUP or ERR");
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "EOF");
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "EOF is sticky");
	S_hu_probe(L, us);
	X(L, HU_EOF, 0, E_FIN, TCP_CLOSE_WAIT);
	S_hu_recv(L, us);
	X(L, HU_EOF, 0, E_FIN, TCP_CLOSE_WAIT);
	P(L, T_FIN, T_RST);
}

void sc_data_then_close(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_send(L, "peer", peer, "hello", 0);
	X(L, 5, 0, E_IN | E_OUT, TCP_ESTABLISHED);
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "FIN queued behind the data");
	S_recv(L, "us", us, 64, MSG_PEEK);
	X(L, 5, 0, E_FIN, TCP_CLOSE_WAIT);
	S_recv(L, "us", us, 64, 0);
	X(L, 5, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "data first");
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "then EOF");
	S_hu_recv(L, us);
	X(L, HU_EOF, 0, E_FIN, TCP_CLOSE_WAIT);
	P(L, T_FIN, T_RST);
}

void sc_write_after_close(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_send(L, "us", us, "A", 0);
	X(L, 1, 0, E_RST, TCP_CLOSE);
	N(L, "accepted locally; the orphaned peer answers with RST");
	S_send(L, "us", us, "B", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
	N(L, "EPIPE, not ECONNRESET: the RST hit CLOSE_WAIT");
	S_send(L, "us", us, "C", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	S_soerror(L, "us", us);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	N(L, "error already consumed by send B");
	P(L, T_FIN | T_RST, 0);
}

void sc_write_after_close_so_error(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_send(L, "us", us, "A", 0);
	X(L, 1, 0, E_RST, TCP_CLOSE);
	N(L, "draws the RST");
	S_recv(L, "us", us, 64, MSG_PEEK);
	X(L, 0, 0, E_RST, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_RST, TCP_CLOSE);
	N(L, "FIN was seen: 0, the error stays pending");
	S_soerror(L, "us", us);
	X(L, EPIPE, 0, E_RSTD, TCP_CLOSE);
	N(L, "an RST in CLOSE_WAIT sets EPIPE");
	S_soerror(L, "us", us);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	N(L, "consumed");
	S_send(L, "us", us, "B", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
}

void sc_write_after_close_sigpipe(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_write(L, "child", us, "A");
	X(L, 0, ANY, E_RST, TCP_CLOSE);
	N(L, "the first write succeeds and draws the RST");
	S_write(L, "child", us, "B");
	X(L, SIGPIPE, ANY, E_RSTD, TCP_CLOSE);
	N(L, "the second write kills a process with default SIGPIPE");
	S_hu_send(L, us, "C");
	X(L, HU_PIPE, 0, E_RSTD, TCP_CLOSE);
	N(L, "hu_send uses MSG_NOSIGNAL: a result, not a signal");
}

void sc_write_after_close_hangup(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_hu_probe(L, us);
	X(L, HU_EOF, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "the FIN is known before any write");
	S_hu_send(L, us, "A");
	X(L, 1, 0, E_RST, TCP_CLOSE);
	S_hu_probe(L, us);
	X(L, HU_PIPE, 0, E_RSTD, TCP_CLOSE);
	N(L, "takes the pending EPIPE and keeps it");
	S_hu_send(L, us, "B");
	X(L, HU_PIPE, 0, E_RSTD, TCP_CLOSE);
	S_hu_recv(L, us);
	X(L, HU_EOF, 0, E_RSTD, TCP_CLOSE);
	N(L, "for reading, the FIN is the truth");
}

void sc_half_close(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_shutdown(L, "peer", peer, SHUT_WR);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "EOF: the peer will send nothing more");
	S_send(L, "us", us, "ping", 0);
	X(L, 4, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "we can still send");
	lab_observe_fd(L, peer, "peer");
	S_recv(L, "peer", peer, 64, 0);
	X(L, 4, 0, E_OUT, TCP_FIN_WAIT2);
	N(L, "the half-closed peer still receives");
	S_send(L, "peer", peer, "late", 0);
	X(L, -1, EPIPE, E_OUT, TCP_FIN_WAIT2);
	N(L, "but may not send after SHUT_WR");
	S_send(L, "us", us, "more", 0);
	X(L, 4, 0, E_IN | E_OUT, TCP_FIN_WAIT2);
	N(L, "no RST: the peer socket is still open");
	S_recv(L, "peer", peer, 64, 0);
	X(L, 4, 0, E_OUT, TCP_FIN_WAIT2);
	S_close(L, "us", &us);
	X(L, 0, 0, E_FIN | E_HUP, TCP_CLOSE);
	N(L, "our FIN: both directions done -> HUP");
	S_recv(L, "peer", peer, 64, 0);
	X(L, 0, 0, E_FIN | E_HUP, TCP_CLOSE);
	P(L, T_FIN, T_RST);
}

/* Setup of family 4: each side sends, the peer never reads ours. */
static int unread_setup(struct lab *L, int *us, int *peer)
{
	if (pair(L, us, peer) < 0)
		return -1;
	S_send(L, "us", *us, "abc", 0);
	X(L, 3, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "the peer never reads this");
	S_send(L, "peer", *peer, "xyz", 0);
	X(L, 3, 0, E_IN | E_OUT, TCP_ESTABLISHED);
	/* Show the bytes that the close will destroy: they are in the
	 * peer's receive queue, unread. */
	lab_observe_fd(L, *peer, "peer");
	S_observe(L, "the peer's receive queue holds our 3 bytes, unread");
	X(L, ANY, ANY, E_IN | E_OUT, TCP_ESTABLISHED);
	X_queues(L, 0, 3);
	lab_observe_fd(L, *us, "us");
	S_close(L, "peer", peer);
	X(L, 0, 0, E_RST, TCP_CLOSE);
	N(L, "unread data in its queue -> RST, not FIN; \"abc\" is destroyed");
	return 0;
}

void sc_unread_close(struct lab *L)
{
	int us, peer;

	if (unread_setup(L, &us, &peer) < 0)
		return;
	S_recv(L, "us", us, 64, 0);
	X(L, 3, 0, E_RST, TCP_CLOSE);
	N(L, "data that had arrived is not lost");
	S_recv(L, "us", us, 64, 0);
	X(L, -1, ECONNRESET, E_RSTD, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	N(L, "the reset is reported once; then 0");
	S_send(L, "us", us, "A", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
	P(L, T_RST, T_FIN);
}

void sc_unread_close_send_first(struct lab *L)
{
	int us, peer;

	if (unread_setup(L, &us, &peer) < 0)
		return;
	S_send(L, "us", us, "A", 0);
	X(L, -1, ECONNRESET, E_RSTD, TCP_CLOSE);
	S_send(L, "us", us, "B", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 3, 0, E_RSTD, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	N(L, "recv never reports the reset now");
	P(L, T_RST, T_FIN);
}

void sc_unread_close_so_error(struct lab *L)
{
	int us, peer;

	if (unread_setup(L, &us, &peer) < 0)
		return;
	S_soerror(L, "us", us);
	X(L, ECONNRESET, 0, E_RSTD, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 3, 0, E_RSTD, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	N(L, "looks like a clean EOF: the reset is never seen by recv now");
	P(L, T_RST, T_FIN);
}

void sc_unread_close_hangup(struct lab *L)
{
	int us, peer;

	if (unread_setup(L, &us, &peer) < 0)
		return;
	S_hu_probe(L, us);
	X(L, HU_RESET, 0, E_RSTD, TCP_CLOSE);
	N(L, "takes the error from the kernel and keeps it");
	S_hu_recv(L, us);
	X(L, 3, 0, E_RSTD, TCP_CLOSE);
	S_hu_recv(L, us);
	X(L, HU_RESET, 0, E_RSTD, TCP_CLOSE);
	N(L, "where a raw recv() would now return 0");
	P(L, T_RST, T_FIN);
}

void sc_abortive_close(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_abort(L, "peer", &peer);
	X(L, 0, 0, E_RST, TCP_CLOSE);
	N(L, "abortive close -> RST, no FIN");
	S_recv(L, "us", us, 64, 0);
	X(L, -1, ECONNRESET, E_RSTD, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	S_send(L, "us", us, "A", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
	P(L, T_RST, T_FIN);
}

void sc_abortive_close_so_error(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_abort(L, "peer", &peer);
	X(L, 0, 0, E_RST, TCP_CLOSE);
	S_soerror(L, "us", us);
	X(L, ECONNRESET, 0, E_RSTD, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	N(L, "indistinguishable from an orderly EOF now (but HUP is set)");
	S_send(L, "us", us, "A", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
	P(L, T_RST, T_FIN);
}

void sc_abortive_close_peek(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_abort(L, "peer", &peer);
	X(L, 0, 0, E_RST, TCP_CLOSE);
	S_recv(L, "us", us, 64, MSG_PEEK);
	X(L, -1, ECONNRESET, E_RSTD, TCP_CLOSE);
	N(L, "a peek consumes the error too");
	S_recv(L, "us", us, 64, MSG_PEEK);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	P(L, T_RST, T_FIN);
}

void sc_abortive_close_send_first(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_abort(L, "peer", &peer);
	X(L, 0, 0, E_RST, TCP_CLOSE);
	S_send(L, "us", us, "A", 0);
	X(L, -1, ECONNRESET, E_RSTD, TCP_CLOSE);
	S_send(L, "us", us, "B", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	P(L, T_RST, T_FIN);
}

void sc_abortive_close_data(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_send(L, "peer", peer, "data", 0);
	X(L, 4, 0, E_IN | E_OUT, TCP_ESTABLISHED);
	S_abort(L, "peer", &peer);
	X(L, 0, 0, E_RST, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 4, 0, E_RST, TCP_CLOSE);
	N(L, "data that arrived before the RST is still readable");
	S_recv(L, "us", us, 64, 0);
	X(L, -1, ECONNRESET, E_RSTD, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	P(L, T_RST, T_FIN);
}

void sc_abortive_close_hangup(struct lab *L)
{
	struct lab_step *s;
	int us, peer;
	long rc;

	if (pair(L, &us, &peer) < 0)
		return;
	s = lab_new_step(L, "peer", "hu_abort()");
	rc = hu_abort(peer);
	lab_untrack(L, peer);
	S_end(L, s, rc, rc == 0 ? "0" : "failed");
	X(L, 0, ANY, E_RST, TCP_CLOSE);
	S_hu_probe(L, us);
	X(L, HU_RESET, 0, E_RSTD, TCP_CLOSE);
	S_hu_recv(L, us);
	X(L, HU_RESET, 0, E_RSTD, TCP_CLOSE);
	N(L, "the probe consumed the error; hu_recv still says reset");
	S_hu_send(L, us, "A");
	X(L, HU_PIPE, 0, E_RSTD, TCP_CLOSE);
	P(L, T_RST, T_FIN);
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
		lab_fail(L, "fork: %s", lab_errno(errno));
		return -1;
	}
	close(*peer);
	lab_untrack(L, *peer);
	*peer = -1;
	S_observe(L, "peer = a child process holding the socket, in pause()");
	X(L, ANY, ANY, E_OUT, TCP_ESTABLISHED);
	return pid;
}

static void kill_child(struct lab *L, pid_t pid)
{
	struct lab_step *s;
	int st;

	s = lab_new_step(L, "parent", "kill(child, SIGKILL); waitpid()");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	S_end(L, s, 0, "0");
	N(L, "the kernel closes the dead process's socket");
}

void sc_peer_killed(struct lab *L)
{
	int us, peer;
	pid_t pid;

	if (pair(L, &us, &peer) < 0 || (pid = peer_child(L, us, &peer)) < 0)
		return;
	kill_child(L, pid);
	X(L, ANY, ANY, E_FIN, TCP_CLOSE_WAIT);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "like close(): FIN");
	S_send(L, "us", us, "A", 0);
	X(L, 1, 0, E_RST, TCP_CLOSE);
	S_send(L, "us", us, "B", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
	P(L, T_FIN, 0);
}

void sc_peer_killed_unread(struct lab *L)
{
	int us, peer;
	pid_t pid;

	if (pair(L, &us, &peer) < 0 || (pid = peer_child(L, us, &peer)) < 0)
		return;
	S_send(L, "us", us, "unread", 0);
	X(L, 6, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "the child never reads it");
	kill_child(L, pid);
	X(L, ANY, ANY, E_RST, TCP_CLOSE);
	S_recv(L, "us", us, 64, 0);
	X(L, -1, ECONNRESET, E_RSTD, TCP_CLOSE);
	N(L, "like close() with unread data: RST");
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	S_send(L, "us", us, "A", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
	P(L, T_RST, T_FIN);
}

void sc_myth_recv_eagain(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_recv(L, "us", us, 64, 0);
	X(L, -1, EAGAIN, E_OUT, TCP_ESTABLISHED);
	N(L, "live connection, no data: -1/EAGAIN means 'nothing now'");
	S_hu_recv(L, us);
	X(L, HU_AGAIN, 0, E_OUT, TCP_ESTABLISHED);
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "the peer really closes");
	S_recv_stale(L, "us", us, 16, 0);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	X_stale(L, 0);
	N(L, "closed, errno 0: the myth says 'not closed' -- wrong");
	S_recv_stale(L, "us", us, 16, EAGAIN);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	X_stale(L, EAGAIN);
	N(L, "errno EAGAIN, as an earlier failed call leaves it: untouched");
	S_hu_recv(L, us);
	X(L, HU_EOF, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "the rule: recv() == 0 is EOF; errno only after -1");
}

void sc_myth_send_einprogress(struct lab *L)
{
	unsigned short port;
	int lfd, us, peer = -1;

	if ((lfd = lab_listener(L, 8, &port)) < 0 ||
	    (us = lab_tcp_socket(L, 1)) < 0)
		return;
	snprintf(L->r->client, sizeof(L->r->client), "client (us)");
	lab_observe_fd(L, us, "us");
	S_connect(L, "us", us, port, "listener, non-blocking");
	X(L, -1, EINPROGRESS, E_OUT, TCP_ESTABLISHED);
	N(L, "EINPROGRESS although loopback completed it at once");
	if (S_accept(L, "peer", lfd, &peer) < 0)
		return;
	lab_observe_fd(L, us, "us");
	S_send_stale(L, "us", us, "x", EINPROGRESS, 0);
	X(L, 1, 0, E_OUT, TCP_ESTABLISHED);
	X_stale(L, EINPROGRESS);
	N(L, "LIVE; errno still EINPROGRESS from connect(): myth says "
	     "'closed'");
	S_recv(L, "peer", peer, 64, 0);
	X(L, 1, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "the peer is alive: it receives the byte");
	S_send(L, "peer", peer, "pong", 0);
	X(L, 4, 0, E_IN | E_OUT, TCP_ESTABLISHED);
	S_recv(L, "us", us, 64, 0);
	X(L, 4, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "and answers: the connection was never closed");
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_send_stale(L, "us", us, "z", 0, 1);
	X(L, 1, 0, E_RST, TCP_CLOSE);
	X_stale(L, 0);
	N(L, "the peer HAS closed; send() > 0, errno 0: the myth misses it");
	S_send(L, "us", us, "w", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
	N(L, "the rule: FIN = RDHUP / recv() == 0; then EPIPE/ECONNRESET");
}

void sc_unread_close_graceful(struct lab *L)
{
	int us, peer, st;
	pid_t pid, parent = getpid();

	if (pair(L, &us, &peer) < 0)
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
		lab_fail(L, "fork: %s", lab_errno(errno));
		return;
	}
	close(peer);
	lab_untrack(L, peer);
	S_send(L, "us", us, "request", 0);
	X(L, 7, 0, ANY, TCP_ESTABLISHED);
	N(L, "the peer (a child process) replies; we never read the reply");
	S_hu_close_graceful(L, &us, 2000);
	X(L, 0, ANY, ANY, ANY);
	N(L, "FIN, discard the reply, wait for the peer's FIN, close");
	waitpid(pid, &st, 0);
	P(L, T_FIN, T_RST);
}

/*
 * TEST ONLY (--self-test-mismatch): peer-close with expectations that are
 * deliberately wrong -- a FIN is expected to read as ECONNRESET, and the
 * packets to hold an RST and no FIN. It must fail; tests/t-lab.sh checks
 * that it does, loudly, with a non-zero exit status.
 */
void sc_selftest_mismatch(struct lab *L)
{
	int us, peer;

	if (pair(L, &us, &peer) < 0)
		return;
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_recv(L, "us", us, 64, 0);
	X(L, -1, ECONNRESET, E_RSTD, TCP_CLOSE); /* wrong on purpose */
	N(L, "TEST ONLY: this expectation is wrong on purpose");
	P(L, T_RST, T_FIN); /* wrong on purpose */
}
