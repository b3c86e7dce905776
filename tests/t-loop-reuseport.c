/*
 * t-loop-reuseport.c -- several loops on one port, one thread each, as
 * examples/reuseport-server.c runs them (issue 15, "scale"): the kernel
 * spreads the connections over the loops (SO_REUSEPORT hashes the
 * 4-tuple), every connection is served by the loop that accepted it, and
 * every one gets exactly one on_close there -- with no lock in the
 * library, since nothing is shared between loops.
 */
#include "hangup.h"
#include "lib/looplib.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOOPS 4
#define CONNS 400

struct worker {
	pthread_t thread;
	hu_loop *loop;
	hu_listener *listener;
	hu_watch *stop;
	int opens, closes, eofs; /* touched by this loop's thread only */
};

static struct worker workers[LOOPS];
static int stop_pipe[2];

static void w_open(hu_conn *c)
{
	((struct worker *)hu_conn_user(c))->opens++;
}

static void w_data(hu_conn *c, const void *d, size_t n)
{
	(void)hu_conn_write(c, d, n);
}

static void w_close(hu_conn *c, const struct hu_close_info *info)
{
	struct worker *w = hu_conn_user(c);

	w->closes++;
	if (info->reason == HU_CLOSE_EOF)
		w->eofs++;
}

static void w_stop(hu_watch *watch, unsigned ev, void *arg)
{
	struct worker *w = arg;

	(void)ev;
	hu_watch_stop(watch);
	hu_listener_close(w->listener);
	hu_loop_stop(w->loop);
}

static void *w_run(void *arg)
{
	struct worker *w = arg;

	hu_loop_run(w->loop);
	return NULL;
}

static void t_spread_and_close(void)
{
	char where[128], buf[8];

	memset(workers, 0, sizeof(workers));
	REQUIRE(pipe(stop_pipe) == 0, "pipe");
	for (int i = 0; i < LOOPS; i++) {
		struct worker *w = &workers[i];
		struct hu_listen_config cfg = {
		    .conn = {.cb = {.on_open = w_open,
				    .on_data = w_data,
				    .on_close = w_close},
			     .user = w},
		    .reuseport = 1,
		};

		w->loop = hu_loop_new();
		REQUIRE(w->loop != NULL, "loop");
		REQUIRE(hu_listen(w->loop, i == 0 ? "127.0.0.1:0" : where, &cfg,
				  &w->listener) == 0,
			"listen %d on %s", i, i ? where : "port 0");
		REQUIRE(hu_listener_addr(w->listener, where, sizeof(where)) > 0,
			"addr");
		REQUIRE(hu_watch_start(w->loop, stop_pipe[0], HU_READABLE,
				       w_stop, w, &w->stop) == 0,
			"watch");
	}
	for (int i = 0; i < LOOPS; i++)
		REQUIRE(pthread_create(&workers[i].thread, NULL, w_run,
				       &workers[i]) == 0,
			"thread");

	int bad = 0;
	for (int i = 0; i < CONNS; i++) {
		int fd = raw_connect(where), end;

		if (send(fd, "ping", 4, MSG_NOSIGNAL) != 4 ||
		    read_n(fd, buf, 4, &end) != 4 || memcmp(buf, "ping", 4))
			bad++;
		close(fd); /* our FIN: the loop ends it with eof */
	}
	CHECK(bad == 0, "%d of %d echoes failed", bad, CONNS);
	sleep_ms(300); /* the last FINs */
	REQUIRE(write(stop_pipe[1], "x", 1) == 1, "stop");

	int opens = 0, closes = 0, eofs = 0, idle_loops = 0;
	for (int i = 0; i < LOOPS; i++) {
		struct worker *w = &workers[i];

		pthread_join(w->thread, NULL);
		tap_diag("loop %d: %d opened, %d closed", i, w->opens,
			 w->closes);
		opens += w->opens;
		closes += w->closes;
		eofs += w->eofs;
		idle_loops += w->opens == 0;
		hu_loop_free(w->loop);
	}
	CHECK(opens == CONNS && closes == CONNS && eofs == CONNS,
	      "%d opened, %d on_close (%d eof) for %d connections", opens,
	      closes, eofs, CONNS);
	CHECK(idle_loops == 0, "every loop served some (%d served none)",
	      idle_loops);
	for (int i = 0; i < LOOPS; i++)
		CHECK(workers[i].opens == workers[i].closes,
		      "loop %d: each connection closed where it opened", i);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
}

int main(void)
{
	RUN(t_spread_and_close, 30);
	return tap_done();
}
