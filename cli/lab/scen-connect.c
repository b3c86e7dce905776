/*
 * scen-connect.c -- the connect() scenarios (family connect): refused
 * (non-blocking, detected again, blocking), succeeded, and genuinely in
 * progress (the SYN dropped by nft in a private network namespace).
 */
#include "lab.h"

#include "hangup.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>

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
			 lab_errno_name(errno));
		return -1;
	}
	*port = ntohs(a.sin_port);
	lab_wview_not_conn(L, fd);
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
	    (us = lab_tcp_socket(L, 1)) < 0 || lab_step_nft_drop(L, 1) < 0)
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
	if (lab_step_nft_drop(L, 0) < 0)
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
