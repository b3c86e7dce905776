/*
 * lab-scen-accept.c -- the lab scenarios of edge- vs level-triggered epoll
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

#define ANY LAB_ANY
#define W_FIN (E_IN | E_RDHUP) /* what epoll_wait(IN|RDHUP) returns on FIN */

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
		lab_fail(L, "epoll setup: %s", lab_errno(errno));
		return -1;
	}
	return 0;
}

static int pair(struct lab *L, int *us, int *peer)
{
	if (lab_tcp_pair(L, us, peer) < 0)
		return -1;
	S_observe(L, "connected");
	X(L, ANY, ANY, E_OUT, TCP_ESTABLISHED);
	return 0;
}

void sc_epoll_et(struct lab *L)
{
	int us, peer, lt, et;

	if (pair(L, &us, &peer) < 0 || two_epolls(L, us, &lt, &et) < 0)
		return;
	S_send(L, "peer", peer, "abcd", 0);
	X(L, 4, 0, E_IN | E_OUT, TCP_ESTABLISHED);
	S_epoll_wait(L, et, "ET", 0);
	X(L, E_IN, 0, ANY, ANY);
	S_epoll_wait(L, et, "ET", 0);
	X(L, 0, 0, ANY, ANY);
	N(L, "no new edge");
	S_epoll_wait(L, lt, "LT", 0);
	X(L, E_IN, 0, ANY, ANY);
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "FIN arrives; 4 bytes still unread");
	S_epoll_wait(L, et, "ET", 0);
	X(L, W_FIN, 0, ANY, ANY);
	N(L, "the FIN is a new edge");
	S_epoll_wait(L, et, "ET", 0);
	X(L, 0, 0, ANY, ANY);
	N(L, "RDHUP is reported only once");
	S_epoll_wait(L, lt, "LT", 0);
	X(L, W_FIN, 0, ANY, ANY);
	S_recv(L, "us", us, 2, 0);
	X(L, 2, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "a partial read");
	S_epoll_wait(L, et, "ET", 0);
	X(L, 0, 0, ANY, ANY);
	N(L, "an ET program that waits here hangs forever");
	S_epoll_wait(L, lt, "LT", 0);
	X(L, W_FIN, 0, ANY, ANY);
	N(L, "LT repeats until the socket is closed");
	S_recv(L, "us", us, 64, 0);
	X(L, 2, 0, E_FIN, TCP_CLOSE_WAIT);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	N(L, "EOF: an ET reader must read until 0 or EAGAIN");
}

void sc_epoll_et_combined(struct lab *L)
{
	int us, peer, lt, et;

	if (pair(L, &us, &peer) < 0 || two_epolls(L, us, &lt, &et) < 0)
		return;
	S_send(L, "peer", peer, "abcd", 0);
	X(L, 4, 0, E_IN | E_OUT, TCP_ESTABLISHED);
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_epoll_wait(L, et, "ET", 0);
	X(L, W_FIN, 0, ANY, ANY);
	N(L, "data and FIN: one combined edge");
	S_epoll_wait(L, et, "ET", 0);
	X(L, 0, 0, ANY, ANY);
	S_epoll_wait(L, lt, "LT", 0);
	X(L, W_FIN, 0, ANY, ANY);
}

void sc_epoll_et_add_after_fin(struct lab *L)
{
	int us, peer, et;

	if (pair(L, &us, &peer) < 0)
		return;
	et = lab_track(L, epoll_create1(EPOLL_CLOEXEC));
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_epoll_add(L, et, us, EPOLLIN | EPOLLRDHUP | EPOLLET, "IN+RDHUP+ET");
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_epoll_wait(L, et, "ET", 0);
	X(L, W_FIN, 0, ANY, ANY);
	N(L, "ADD polls once: the current state is reported");
	S_epoll_wait(L, et, "ET", 0);
	X(L, 0, 0, ANY, ANY);
}

void sc_epoll_et_rst_edge(struct lab *L)
{
	int us, peer, et;

	if (pair(L, &us, &peer) < 0)
		return;
	et = lab_track(L, epoll_create1(EPOLL_CLOEXEC));
	S_close(L, "peer", &peer);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_epoll_add(L, et, us, EPOLLIN | EPOLLRDHUP | EPOLLET, "IN+RDHUP+ET");
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_epoll_wait(L, et, "ET", 0);
	X(L, W_FIN, 0, ANY, ANY);
	S_recv(L, "us", us, 64, 0);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_send(L, "us", us, "A", 0);
	X(L, 1, 0, E_RST, TCP_CLOSE);
	N(L, "draws an RST from the orphaned peer");
	S_epoll_wait(L, et, "ET", 0);
	X(L, W_FIN | E_HUP | E_ERR, 0, ANY, ANY);
	N(L, "the RST is a new edge, with HUP+ERR");
	S_epoll_wait(L, et, "ET", 0);
	X(L, 0, 0, ANY, ANY);
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
	S_connect(L, "client", *client, port, "listener");
	X(L, 0, 0, E_IN, TCP_LISTEN);
	N(L, "the accept queue holds one connection");
	return 0;
}

void sc_reset_before_accept(struct lab *L)
{
	int lfd, client, srv;

	if (queued(L, 8, &lfd, &client) < 0)
		return;
	S_abort(L, "client", &client);
	X(L, 0, 0, E_IN, TCP_LISTEN);
	N(L, "RST to the queued connection");
	S_accept(L, "server", lfd, &srv);
	X(L, 0, 0, E_RST, TCP_CLOSE);
	N(L, "Linux hands it out anyway, already CLOSE");
	if (srv < 0)
		return;
	S_getpeername(L, "server", srv);
	X(L, -1, ENOTCONN, E_RST, TCP_CLOSE);
	S_recv(L, "server", srv, 64, 0);
	X(L, -1, ECONNRESET, E_RSTD, TCP_CLOSE);
	S_recv(L, "server", srv, 64, 0);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	S_send(L, "server", srv, "A", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
	lab_observe_fd(L, lfd, "listener");
	S_accept(L, "server", lfd, &srv);
	X(L, -1, EAGAIN, E_NONE, TCP_LISTEN);
	N(L, "the queue is empty now");
	P(L, T_RST, T_FIN);
}

void sc_reset_before_accept_data(struct lab *L)
{
	int lfd, client, srv;

	if (queued(L, 8, &lfd, &client) < 0)
		return;
	S_send(L, "client", client, "early", 0);
	X(L, 5, 0, E_IN, TCP_LISTEN);
	S_abort(L, "client", &client);
	X(L, 0, 0, E_IN, TCP_LISTEN);
	S_accept(L, "server", lfd, &srv);
	X(L, 0, 0, E_RST, TCP_CLOSE);
	if (srv < 0)
		return;
	S_recv(L, "server", srv, 64, 0);
	X(L, 5, 0, E_RST, TCP_CLOSE);
	N(L, "the data sent before the RST comes first");
	S_recv(L, "server", srv, 64, 0);
	X(L, -1, ECONNRESET, E_RSTD, TCP_CLOSE);
	S_recv(L, "server", srv, 64, 0);
	X(L, 0, 0, E_RSTD, TCP_CLOSE);
	P(L, T_RST, T_FIN);
}

void sc_fin_before_accept(struct lab *L)
{
	int lfd, client, srv;

	if (queued(L, 8, &lfd, &client) < 0)
		return;
	S_close(L, "client", &client);
	X(L, 0, 0, E_IN, TCP_LISTEN);
	S_accept(L, "server", lfd, &srv);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	if (srv < 0)
		return;
	S_recv(L, "server", srv, 64, 0);
	X(L, 0, 0, E_FIN, TCP_CLOSE_WAIT);
	S_send(L, "server", srv, "A", 0);
	X(L, 1, 0, E_RST, TCP_CLOSE);
	S_send(L, "server", srv, "B", 0);
	X(L, -1, EPIPE, E_RSTD, TCP_CLOSE);
	P(L, T_FIN, 0);
}

void sc_accept_queue_full(struct lab *L)
{
	int lfd, c1, c2, srv;
	unsigned short port;

	if ((lfd = lab_listener(L, 0, &port)) < 0 ||
	    (c1 = lab_tcp_socket(L, 0)) < 0 || (c2 = lab_tcp_socket(L, 1)) < 0)
		return;
	snprintf(L->r->client, sizeof(L->r->client), "clients 1 and 2");
	lab_observe_fd(L, c1, "client1");
	S_connect(L, "client1", c1, port, "listener with backlog 0");
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "backlog 0 admits one connection");
	lab_observe_fd(L, c2, "client2");
	S_connect(L, "client2", c2, port, "same, non-blocking");
	X(L, -1, EINPROGRESS, E_NONE, TCP_SYN_SENT);
	lab_sleep_ms(300);
	S_observe(L, "after 300 ms: the SYN was dropped by the full queue");
	X(L, ANY, ANY, E_NONE, TCP_SYN_SENT);
	S_accept(L, "server", lfd, &srv);
	X(L, 0, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "take client1: the queue has room again");
	lab_observe_fd(L, c2, "client2");
	S_poll_out(L, c2, 3000);
	X(L, E_OUT, 0, E_OUT, TCP_ESTABLISHED);
	N(L, "client2 connects on its SYN retransmission");
}
