/*
 * srv-hangup.c -- the echo server on hangup's own loop, through
 * include/hangup.h only: examples/echo-server.c plus the two bench hooks.
 *
 * What the loop does for us (and so is measured): edge-triggered epoll with
 * EPOLLRDHUP, accept until EAGAIN, one read buffer per loop, MSG_NOSIGNAL,
 * a write buffer only when the kernel refuses bytes, and backpressure: when
 * hu_conn_write() says the buffer reached the high-water mark we pause
 * reading until on_drain. on_eof is NULL, so the peer's FIN flushes and
 * closes, and on_close says why.
 */
#include "common.h"

#include <errno.h>
#include <hangup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct bench_shm *shm;

static void on_open(hu_conn *c)
{
	(void)c;
	bench_opened(shm);
}

static void on_data(hu_conn *c, const void *data, size_t len)
{
	if (hu_conn_write(c, data, len) == 1)
		hu_conn_pause(c);
}

static void on_drain(hu_conn *c)
{
	hu_conn_resume(c);
}

static void on_close(hu_conn *c, const struct hu_close_info *info)
{
	(void)c;
	(void)info;
	bench_closed(shm);
}

#ifndef SRV_BACKEND
#define SRV_BACKEND HU_BACKEND_EPOLL
#endif

int main(int argc, char **argv)
{
	struct hu_listen_config cfg = {
	    .conn.cb = {.on_open = on_open,
			.on_data = on_data,
			.on_drain = on_drain,
			.on_close = on_close},
	};
	char addr[64], version[32];
	hu_listener *l;
	unsigned port;
	int rc;

	shm = bench_attach(argc, argv, &port);
	/* The backend is fixed at build time (srv-hangup, srv-hangup-uring),
	 * HANGUP_BACKEND not read: a measurement says what it measured. */
	struct hu_loop_config lc = {SRV_BACKEND, HU_LOOP_NOENV};
	hu_loop *loop = hu_loop_new_with(&lc);
	if (!loop)
		bench_die("hu_loop_new_with");
	if (hu_loop_backend(loop) != SRV_BACKEND) {
		fprintf(stderr, "srv-hangup: %s unavailable: %s\n",
			hu_backend_name(SRV_BACKEND),
			strerror(hu_loop_backend_error(loop)));
		return 1;
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	rc = hu_listen(loop, addr, &cfg, &l);
	if (rc < 0) {
		fprintf(stderr, "srv-hangup: %s: %s\n", addr,
			rc == HU_ERROR ? strerror(errno) : hu_strerror(rc));
		return 1;
	}
	if (hu_listener_addr(l, addr, sizeof(addr)) < 0)
		bench_die("hu_listener_addr");
	port = (unsigned)atoi(strrchr(addr, ':') + 1);
	snprintf(version, sizeof(version), "%d.%d.%d", HU_VERSION_MAJOR,
		 HU_VERSION_MINOR, HU_VERSION_PATCH);
	bench_ready(shm, port, "hangup", version);
	rc = hu_loop_run(loop);
	hu_loop_free(loop);
	return rc < 0;
}
