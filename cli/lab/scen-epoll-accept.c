/*
 * scen-epoll-accept.c -- the lab scenarios of edge- vs level-triggered epoll
 * after the peer's FIN, and of a connection that ends before accept().
 */
#include "lab.h"

#include "hangup.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_FIN_EVENTS \
	(EPOLLIN | EPOLLRDHUP) /* what epoll_wait(IN|RDHUP) returns on FIN */

/* Two epoll instances on `us`, both asking for IN|RDHUP: one
 * level-triggered, one edge-triggered. */
static int two_epolls(struct lab *L, int us, int *lt, int *et)
{
	struct epoll_event a = {.events = EPOLLIN | EPOLLRDHUP};
	struct epoll_event b = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET};

	*lt = lab_track(L, epoll_create1(EPOLL_CLOEXEC));
	*et = lab_track(L, epoll_create1(EPOLL_CLOEXEC));
	if (*lt < 0 || *et < 0 || epoll_ctl(*lt, EPOLL_CTL_ADD, us, &a) < 0 ||
	    epoll_ctl(*et, EPOLL_CTL_ADD, us, &b) < 0) {
		lab_fail(L, "epoll setup: %s", lab_errno_name(errno));
		return -1;
	}
	return 0;
}

static int pair(struct lab *L, int *us, int *peer)
{
	if (lab_tcp_pair(L, us, peer) < 0)
		return -1;
	lab_step_observe(L, "connected");
	lab_expect(L, LAB_ANY, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	return 0;
}

void scenario_epoll_et_lt(struct lab *L)
{
	int us, peer, lt, et;

	if (pair(L, &us, &peer) < 0 || two_epolls(L, us, &lt, &et) < 0)
		return;
	lab_step_send(L, "peer", peer, "abcd", 0);
	lab_expect(L, 4, 0, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	lab_step_epoll_wait(L, et, "ET", 0);
	lab_expect(L, EPOLLIN, 0, LAB_ANY, LAB_ANY);
	lab_step_epoll_wait(L, et, "ET", 0);
	lab_expect(L, 0, 0, LAB_ANY, LAB_ANY);
	lab_note(L, "no new edge");
	lab_step_epoll_wait(L, lt, "LT", 0);
	lab_expect(L, EPOLLIN, 0, LAB_ANY, LAB_ANY);
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "FIN arrives; 4 bytes still unread");
	lab_step_epoll_wait(L, et, "ET", 0);
	lab_expect(L, WAIT_FIN_EVENTS, 0, LAB_ANY, LAB_ANY);
	lab_note(L, "the FIN is a new edge");
	lab_step_epoll_wait(L, et, "ET", 0);
	lab_expect(L, 0, 0, LAB_ANY, LAB_ANY);
	lab_note(L, "RDHUP is reported only once");
	lab_step_epoll_wait(L, lt, "LT", 0);
	lab_expect(L, WAIT_FIN_EVENTS, 0, LAB_ANY, LAB_ANY);
	lab_step_recv(L, "us", us, 2, 0);
	lab_expect(L, 2, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "a partial read");
	lab_step_epoll_wait(L, et, "ET", 0);
	lab_expect(L, 0, 0, LAB_ANY, LAB_ANY);
	lab_note(L, "an ET program that waits here hangs forever");
	lab_step_epoll_wait(L, lt, "LT", 0);
	lab_expect(L, WAIT_FIN_EVENTS, 0, LAB_ANY, LAB_ANY);
	lab_note(L, "LT repeats until the socket is closed");
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 2, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_note(L, "EOF: an ET reader must read until 0 or EAGAIN");
}

void scenario_epoll_et_combined(struct lab *L)
{
	int us, peer, lt, et;

	if (pair(L, &us, &peer) < 0 || two_epolls(L, us, &lt, &et) < 0)
		return;
	lab_step_send(L, "peer", peer, "abcd", 0);
	lab_expect(L, 4, 0, EPOLLIN | EPOLLOUT, TCP_ESTABLISHED);
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_epoll_wait(L, et, "ET", 0);
	lab_expect(L, WAIT_FIN_EVENTS, 0, LAB_ANY, LAB_ANY);
	lab_note(L, "data and FIN: one combined edge");
	lab_step_epoll_wait(L, et, "ET", 0);
	lab_expect(L, 0, 0, LAB_ANY, LAB_ANY);
	lab_step_epoll_wait(L, lt, "LT", 0);
	lab_expect(L, WAIT_FIN_EVENTS, 0, LAB_ANY, LAB_ANY);
}

void scenario_epoll_et_add_after_fin(struct lab *L)
{
	int us, peer, et;

	if (pair(L, &us, &peer) < 0)
		return;
	et = lab_track(L, epoll_create1(EPOLL_CLOEXEC));
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_epoll_add(L, et, us, EPOLLIN | EPOLLRDHUP | EPOLLET,
			   "IN+RDHUP+ET");
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_epoll_wait(L, et, "ET", 0);
	lab_expect(L, WAIT_FIN_EVENTS, 0, LAB_ANY, LAB_ANY);
	lab_note(L, "ADD polls once: the current state is reported");
	lab_step_epoll_wait(L, et, "ET", 0);
	lab_expect(L, 0, 0, LAB_ANY, LAB_ANY);
}

void scenario_epoll_et_rst_edge(struct lab *L)
{
	int us, peer, et;

	if (pair(L, &us, &peer) < 0)
		return;
	et = lab_track(L, epoll_create1(EPOLL_CLOEXEC));
	lab_step_close(L, "peer", &peer);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_epoll_add(L, et, us, EPOLLIN | EPOLLRDHUP | EPOLLET,
			   "IN+RDHUP+ET");
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_epoll_wait(L, et, "ET", 0);
	lab_expect(L, WAIT_FIN_EVENTS, 0, LAB_ANY, LAB_ANY);
	lab_step_recv(L, "us", us, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_send(L, "us", us, "A", 0);
	lab_expect(L, 1, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "draws an RST from the orphaned peer");
	lab_step_epoll_wait(L, et, "ET", 0);
	lab_expect(L, WAIT_FIN_EVENTS | EPOLLHUP | EPOLLERR, 0, LAB_ANY,
		   LAB_ANY);
	lab_note(L, "the RST is a new edge, with HUP+ERR");
	lab_step_epoll_wait(L, et, "ET", 0);
	lab_expect(L, 0, 0, LAB_ANY, LAB_ANY);
}

/* A listener and a connected (not yet accepted) client. */
static int queued(struct lab *L, int backlog, int *lfd, int *client)
{
	unsigned short port;

	if ((*lfd = lab_listener(L, backlog, &port)) < 0 ||
	    (*client = lab_tcp_socket(L, 0)) < 0)
		return -1;
	snprintf(L->r->client, sizeof(L->r->client), "client");
	lab_observe_fd(L, *lfd, "listener");
	lab_step_connect(L, "client", *client, port, "listener");
	lab_expect(L, 0, 0, EPOLLIN, TCP_LISTEN);
	lab_note(L, "the accept queue holds one connection");
	return 0;
}

void scenario_reset_before_accept(struct lab *L)
{
	int lfd, client, srv;

	if (queued(L, 8, &lfd, &client) < 0)
		return;
	lab_step_abort(L, "client", &client);
	lab_expect(L, 0, 0, EPOLLIN, TCP_LISTEN);
	lab_note(L, "RST to the queued connection");
	lab_step_accept(L, "server", lfd, &srv);
	lab_expect(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "Linux hands it out anyway, already CLOSE");
	if (srv < 0)
		return;
	lab_step_getpeername(L, "server", srv);
	lab_expect(L, -1, ENOTCONN, LAB_EPOLL_RST, TCP_CLOSE);
	lab_step_recv(L, "server", srv, 64, 0);
	lab_expect(L, -1, ECONNRESET, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "server", srv, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_send(L, "server", srv, "A", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_observe_fd(L, lfd, "listener");
	lab_step_accept(L, "server", lfd, &srv);
	lab_expect(L, -1, EAGAIN, LAB_EPOLL_NONE, TCP_LISTEN);
	lab_note(L, "the queue is empty now");
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_reset_before_accept_data(struct lab *L)
{
	int lfd, client, srv;

	if (queued(L, 8, &lfd, &client) < 0)
		return;
	lab_step_send(L, "client", client, "early", 0);
	lab_expect(L, 5, 0, EPOLLIN, TCP_LISTEN);
	lab_step_abort(L, "client", &client);
	lab_expect(L, 0, 0, EPOLLIN, TCP_LISTEN);
	lab_step_accept(L, "server", lfd, &srv);
	lab_expect(L, 0, 0, LAB_EPOLL_RST, TCP_CLOSE);
	if (srv < 0)
		return;
	lab_step_recv(L, "server", srv, 64, 0);
	lab_expect(L, 5, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_note(L, "the data sent before the RST comes first");
	lab_step_recv(L, "server", srv, 64, 0);
	lab_expect(L, -1, ECONNRESET, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_step_recv(L, "server", srv, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_RST, LAB_TCP_FIN);
}

void scenario_fin_before_accept(struct lab *L)
{
	int lfd, client, srv;

	if (queued(L, 8, &lfd, &client) < 0)
		return;
	lab_step_close(L, "client", &client);
	lab_expect(L, 0, 0, EPOLLIN, TCP_LISTEN);
	lab_step_accept(L, "server", lfd, &srv);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	if (srv < 0)
		return;
	lab_step_recv(L, "server", srv, 64, 0);
	lab_expect(L, 0, 0, LAB_EPOLL_FIN, TCP_CLOSE_WAIT);
	lab_step_send(L, "server", srv, "A", 0);
	lab_expect(L, 1, 0, LAB_EPOLL_RST, TCP_CLOSE);
	lab_step_send(L, "server", srv, "B", 0);
	lab_expect(L, -1, EPIPE, LAB_EPOLL_RST_TAKEN, TCP_CLOSE);
	lab_expect_packets(L, LAB_TCP_FIN, 0);
}

void scenario_accept_queue_full(struct lab *L)
{
	int lfd, c1, c2, srv;
	unsigned short port;

	if ((lfd = lab_listener(L, 0, &port)) < 0 ||
	    (c1 = lab_tcp_socket(L, 0)) < 0 || (c2 = lab_tcp_socket(L, 1)) < 0)
		return;
	snprintf(L->r->client, sizeof(L->r->client), "clients 1 and 2");
	lab_observe_fd(L, c1, "client1");
	lab_step_connect(L, "client1", c1, port, "listener with backlog 0");
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "backlog 0 admits one connection");
	lab_observe_fd(L, c2, "client2");
	lab_step_connect(L, "client2", c2, port, "same, non-blocking");
	lab_expect(L, -1, EINPROGRESS, LAB_EPOLL_NONE, TCP_SYN_SENT);
	lab_sleep_ms(300);
	lab_step_observe(L,
			 "after 300 ms: the SYN was dropped by the full queue");
	lab_expect(L, LAB_ANY, LAB_ANY, LAB_EPOLL_NONE, TCP_SYN_SENT);
	lab_step_accept(L, "server", lfd, &srv);
	lab_expect(L, 0, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "take client1: the queue has room again");
	lab_observe_fd(L, c2, "client2");
	lab_step_poll_out(L, c2, 3000);
	lab_expect(L, EPOLLOUT, 0, EPOLLOUT, TCP_ESTABLISHED);
	lab_note(L, "client2 connects on its SYN retransmission");
}
