/*
 * scen-unix.c -- the Unix-domain stream socket scenarios (family unix):
 * close, data then close, unread data, half-close, SIGPIPE. No packets.
 */
#include "lab.h"

#include "hangup.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

static int unix_pair(struct lab *L, int *us, int *peer)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) < 0) {
		lab_fail(L, "socketpair: %s", lab_errno_name(errno));
		return -1;
	}
	*us = lab_track(L, sv[0]);
	*peer = lab_track(L, sv[1]);
	lab_observe_fd(L, *us, "us");
	snprintf(L->r->client, sizeof(L->r->client), "us (AF_UNIX)");
	snprintf(L->r->server, sizeof(L->r->server), "peer (AF_UNIX)");
	L->r->capture = LAB_CAPTURE_NONE;
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
