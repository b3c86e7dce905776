/*
 * srv-raw.c -- the baseline: an echo server written by hand on epoll, the
 * way a careful C programmer writes one without a library.
 *
 * - Edge-triggered, EPOLLIN | EPOLLOUT | EPOLLRDHUP registered once at
 *   accept, so no epoll_ctl() is ever needed again (nginx's pattern).
 * - accept4() until EAGAIN: one wakeup takes the whole accept queue.
 * - One read buffer for the whole loop, not one per connection: an echo
 *   consumes what it read before the next read.
 * - A read shorter than the buffer means the socket is drained (a TCP
 *   stream hands out everything queued), so the read loop stops without
 *   the extra read() that would only say EAGAIN -- unless EPOLLRDHUP is
 *   set, when the FIN waits behind the data and must be read to 0. nginx
 *   (ngx_unix_recv) and libuv (uv__read, UV_HANDLE_READ_PARTIAL) do the
 *   same.
 * - send(MSG_NOSIGNAL); what the kernel does not take waits in a per-
 *   connection buffer, and reading stops until EPOLLOUT has flushed it
 *   (backpressure: a peer that does not read cannot grow our memory).
 *
 * Per-connection state is one 16-byte struct (a 32-byte malloc chunk).
 */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
	int fd;
	uint32_t out_len; /* echo bytes the kernel did not take yet */
	char *out;
};

static struct bench_shm *shm;
static int epfd;
static char rbuf[64 * 1024];

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c->out);
	free(c);
	bench_closed(shm);
}

/* Send c->out. Returns 0 (all of it sent or the rest kept), -1 (dead). */
static int flush_out(struct conn *c)
{
	ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	c->out_len -= (uint32_t)n;
	memmove(c->out, c->out + n, c->out_len);
	if (c->out_len == 0) {
		free(c->out);
		c->out = NULL;
	}
	return 0;
}

/* Echo p[0..n): straight to the kernel, the rest into c->out. */
static int echo(struct conn *c, const char *p, size_t n)
{
	ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

	if (w == (ssize_t)n)
		return 0;
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		w = 0;
	}
	c->out = malloc(n - (size_t)w);
	if (!c->out)
		return -1;
	memcpy(c->out, p + w, n - (size_t)w);
	c->out_len = (uint32_t)(n - (size_t)w);
	return 0;
}

/* Read and echo until drained. Returns -1 when the connection is over. */
static int on_readable(struct conn *c, uint32_t events)
{
	while (c->out_len == 0) {
		ssize_t n = recv(c->fd, rbuf, sizeof(rbuf), 0);

		if (n > 0) {
			if (echo(c, rbuf, (size_t)n) < 0)
				return -1;
			if ((size_t)n < sizeof(rbuf) && !(events & EPOLLRDHUP))
				return 0;
		} else if (n == 0) {
			return -1; /* the peer's FIN */
		} else if (errno == EAGAIN) {
			return 0;
		} else if (errno != EINTR) {
			return -1;
		}
	}
	return 0; /* backpressure: EPOLLOUT resumes reading */
}

static void on_event(struct conn *c, uint32_t events)
{
	/* RST (EPOLLERR) or both directions finished (EPOLLHUP): nothing
	 * left to echo to. */
	if (events & (EPOLLERR | EPOLLHUP))
		goto dead;
	if ((events & EPOLLOUT) && c->out_len) {
		if (flush_out(c) < 0)
			goto dead;
		/* Edge-triggered: data that arrived while we held off was
		 * signalled then, so read now whether or not EPOLLIN is in
		 * this event. */
		events |= EPOLLIN;
	}
	if ((events & (EPOLLIN | EPOLLRDHUP)) && on_readable(c, events) < 0)
		goto dead;
	return;
dead:
	conn_close(c);
}

static void on_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				perror("srv-raw: accept4");
			return;
		}
		struct conn *c = calloc(1, sizeof(*c));
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT |
						   EPOLLRDHUP | EPOLLET,
					 .data.ptr = c};

		if (!c || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->fd = fd;
		bench_opened(shm);
	}
}

int main(int argc, char **argv)
{
	struct epoll_event evs[512];
	unsigned port;
	int lfd;

	shm = bench_attach(argc, argv, &port);
	lfd = bench_listen_tcp(port, &port);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		bench_die("epoll_create1");
	/* The listener is level-triggered and marked by a NULL pointer. */
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0)
		bench_die("epoll_ctl listener");
	bench_ready(shm, port, "raw epoll", "hand-written");

	for (;;) {
		int n = epoll_wait(epfd, evs, 512, -1);

		if (n < 0 && errno != EINTR)
			bench_die("epoll_wait");
		/* A connection is only ever closed from its own event, and
		 * epoll reports each fd once per batch, so no later entry of
		 * this batch can point to a freed struct. */
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr)
				on_event(evs[i].data.ptr, evs[i].events);
			else
				on_accept(lfd);
		}
	}
}
