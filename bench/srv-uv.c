/*
 * srv-uv.c -- the echo server on libuv, written the way Node.js and the
 * libuv guide's performance advice have it:
 *
 * - A malloc'd uv_tcp_t per connection and nothing else, uv_read_start() with
 * an alloc_cb that hands out one static 64 KiB buffer: libuv's documentation
 * allows it when the data is consumed inside read_cb, and an echo does consume
 * it there.
 * - The echo goes out with uv_try_write() first (no request, no copy, no
 *   callback), and only what the kernel did not take is copied into a
 *   uv_write_t request; while one is pending we stop reading
 *   (uv_read_stop) until its callback: backpressure. This is Node's
 *   StreamBase pattern.
 * - The end is uv_close(), and the connection is over in its close
 *   callback, where libuv lets us free the handle: that is where the close
 *   is recorded.
 *
 * libuv reads level-triggered-style itself (it uses epoll without
 * EPOLLRDHUP and learns of the FIN from read() == 0), accepts until EAGAIN,
 * and stops reading after a short read.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* The rest of an echo the kernel did not take, with its request. */
struct pending {
	uv_write_t req;
	uv_buf_t buf;
	char data[];
};

static struct bench_shm *shm;
static uv_loop_t *loop;
static char rbuf[64 * 1024];

static void on_closed(uv_handle_t *h)
{
	free(h);
	bench_closed(shm);
}

/* A connection that never opened: not counted. */
static void on_discarded(uv_handle_t *h)
{
	free(h);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	*buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status)
{
	uv_stream_t *s = req->handle;

	free(req);
	if (status < 0) {
		if (!uv_is_closing((uv_handle_t *)s))
			uv_close((uv_handle_t *)s, on_closed);
		return;
	}
	if (!uv_is_closing((uv_handle_t *)s))
		uv_read_start(s, on_alloc, on_read);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	if (n < 0) { /* UV_EOF or an error such as UV_ECONNRESET */
		uv_close((uv_handle_t *)s, on_closed);
		return;
	}
	if (n == 0)
		return; /* EAGAIN */

	uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
	int w = uv_try_write(s, &b, 1);
	if (w == n)
		return;
	if (w < 0 && w != UV_EAGAIN) {
		uv_close((uv_handle_t *)s, on_closed);
		return;
	}
	if (w < 0)
		w = 0;

	size_t rest = (size_t)(n - w);
	struct pending *p = malloc(sizeof(*p) + rest);
	if (!p) {
		uv_close((uv_handle_t *)s, on_closed);
		return;
	}
	memcpy(p->data, buf->base + w, rest);
	p->buf = uv_buf_init(p->data, (unsigned)rest);
	if (uv_write(&p->req, s, &p->buf, 1, on_written) < 0) {
		free(p);
		uv_close((uv_handle_t *)s, on_closed);
		return;
	}
	uv_read_stop(s);
}

static void on_connection(uv_stream_t *server, int status)
{
	/* The connection is its handle: libuv needs nothing more. */
	uv_tcp_t *t;

	if (status < 0)
		return;
	t = malloc(sizeof(*t));
	if (!t)
		return;
	uv_tcp_init(loop, t);
	if (uv_accept(server, (uv_stream_t *)t) < 0) {
		uv_close((uv_handle_t *)t, on_discarded);
		return;
	}
	bench_opened(shm);
	uv_read_start((uv_stream_t *)t, on_alloc, on_read);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	struct sockaddr_storage bound;
	int len = sizeof(bound);
	uv_tcp_t server;
	unsigned port;

	shm = bench_attach(argc, argv, &port);
	loop = uv_default_loop();
	uv_tcp_init(loop, &server);
	uv_ip4_addr("127.0.0.1", (int)port, &a);
	if (uv_tcp_bind(&server, (const struct sockaddr *)&a, 0) < 0 ||
	    uv_listen((uv_stream_t *)&server, SOMAXCONN, on_connection) < 0)
		bench_die("uv_listen");
	uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
	port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	bench_ready(shm, port, "libuv", uv_version_string());
	return uv_run(loop, UV_RUN_DEFAULT);
}
