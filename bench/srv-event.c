/*
 * srv-event.c -- the echo server on libevent 2, the way its documentation
 * writes one (the "Fast portable non-blocking network programming with
 * Libevent" book, chapter "Connection listeners"):
 *
 * - evconnlistener for accepting (it accepts until EAGAIN),
 * - a bufferevent per connection, which is libevent's idiomatic stream:
 *   it owns an input and an output evbuffer, reads into the first and
 *   writes from the second;
 * - the echo moves the input buffer to the output buffer without a copy
 *   (evbuffer_add_buffer); if the peer does not read and the output passes
 *   64 KiB, reading stops until a write callback (set only then) sees it
 *   drained: backpressure, as in the other servers;
 * - BEV_EVENT_EOF or BEV_EVENT_ERROR ends the
 *   connection with bufferevent_free(), BEV_OPT_CLOSE_ON_FREE closing the
 *   fd: that is where the close is recorded.
 *
 * bufferevent costs what it costs (an ioctl(FIONREAD) before each read, a
 * readv into its chain, epoll_ctl when it changes interest): that is the
 * price of libevent's idiomatic interface, and what users of it pay.
 * Reading only with event_new() and our own buffer would be libev's
 * model, measured by srv-ev.c.
 */
#include "common.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static struct bench_shm *shm;

static void on_event(struct bufferevent *bev, short what, void *arg);

#define HIGH_WATER (64 * 1024)

static void on_read(struct bufferevent *bev, void *arg);

/* Set only while reading is stopped: the output has drained (the write
 * low watermark is 0), so read again. */
static void on_drained(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
	bufferevent_enable(bev, EV_READ);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *out = bufferevent_get_output(bev);

	(void)arg;
	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) >= HIGH_WATER) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_setcb(bev, on_read, on_drained, on_event, NULL);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		bufferevent_free(bev);
		bench_closed(shm);
	}
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int len, void *arg)
{
	struct event_base *base = evconnlistener_get_base(l);
	struct bufferevent *bev =
	    bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);

	(void)sa;
	(void)len;
	(void)arg;
	if (!bev) {
		evutil_closesocket(fd);
		return;
	}
	bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	bench_opened(shm);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	unsigned port;

	shm = bench_attach(argc, argv, &port);
	struct event_base *base = event_base_new();
	if (!base)
		bench_die("event_base_new");
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	struct evconnlistener *l = evconnlistener_new_bind(
	    base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
	    SOMAXCONN, (struct sockaddr *)&a, sizeof(a));
	if (!l)
		bench_die("evconnlistener_new_bind");
	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&a, &len) <
	    0)
		bench_die("getsockname");
	bench_ready(shm, ntohs(a.sin_port), "libevent", event_get_version());
	return event_base_dispatch(base);
}
