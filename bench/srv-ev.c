/*
 * srv-ev.c -- the echo server on libev, as its manual writes watchers:
 *
 * - the default loop (epoll here), an ev_io watcher embedded in each
 *   connection's struct, the struct recovered from the watcher pointer;
 * - libev is level-triggered: one read per readiness callback into one
 *   static buffer, and the loop calls again while data is left;
 * - accept4() until EAGAIN on the listener's watcher;
 * - the echo is send(MSG_NOSIGNAL); what the kernel does not take is
 *   kept, and the watcher switches from EV_READ to EV_WRITE until it is
 *   flushed (ev_io_stop / ev_io_modify / ev_io_start): backpressure;
 * - the end: ev_io_stop, close, free -- where the close is recorded.
 */
#include "common.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
	ev_io io;         /* first: the watcher is the connection */
	uint32_t out_len; /* echo bytes the kernel did not take yet */
	char *out;
};

static struct bench_shm *shm;
static struct ev_loop *loop;
static char rbuf[64 * 1024];

static void conn_close(struct conn *c)
{
	ev_io_stop(loop, &c->io);
	close(c->io.fd);
	free(c->out);
	free(c);
	bench_closed(shm);
}

/* Switch the watcher between reading and flushing. */
static void want(struct conn *c, int events)
{
	ev_io_stop(loop, &c->io);
	ev_io_modify(&c->io, events);
	ev_io_start(loop, &c->io);
}

static void on_io(struct ev_loop *l, ev_io *w, int revents)
{
	struct conn *c = (struct conn *)w;
	ssize_t n;

	(void)l;
	if (revents & EV_WRITE) {
		n = send(c->io.fd, c->out, c->out_len, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			goto dead;
		if (n > 0) {
			c->out_len -= (uint32_t)n;
			memmove(c->out, c->out + n, c->out_len);
		}
		if (c->out_len == 0) {
			free(c->out);
			c->out = NULL;
			want(c, EV_READ);
		}
		return;
	}

	n = recv(c->io.fd, rbuf, sizeof(rbuf), 0);
	if (n == 0)
		goto dead; /* the peer's FIN */
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		goto dead;
	}
	ssize_t w2 = send(c->io.fd, rbuf, (size_t)n, MSG_NOSIGNAL);
	if (w2 == n)
		return;
	if (w2 < 0) {
		if (errno != EAGAIN && errno != EINTR)
			goto dead;
		w2 = 0;
	}
	c->out_len = (uint32_t)(n - w2);
	c->out = malloc(c->out_len);
	if (!c->out)
		goto dead;
	memcpy(c->out, rbuf + w2, c->out_len);
	want(c, EV_WRITE);
	return;
dead:
	conn_close(c);
}

static void on_accept(struct ev_loop *l, ev_io *w, int revents)
{
	(void)revents;
	for (;;) {
		int fd =
		    accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				perror("srv-ev: accept4");
			return;
		}
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		ev_io_init(&c->io, on_io, fd, EV_READ);
		ev_io_start(l, &c->io);
		bench_opened(shm);
	}
}

int main(int argc, char **argv)
{
	char version[32];
	ev_io listener;
	unsigned port;
	int lfd;

	shm = bench_attach(argc, argv, &port);
	loop = EV_DEFAULT;
	if (!loop)
		bench_die("ev_default_loop");
	lfd = bench_listen_tcp(port, &port);
	ev_io_init(&listener, on_accept, lfd, EV_READ);
	ev_io_start(loop, &listener);
	snprintf(version, sizeof(version), "%d.%d", ev_version_major(),
		 ev_version_minor());
	bench_ready(shm, port, "libev", version);
	ev_run(loop, 0);
	return 0;
}
