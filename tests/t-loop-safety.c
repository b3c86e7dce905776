/*
 * t-loop-safety.c -- lifetime rules of the loop (STYLE.md, "Lifetime"),
 * meant to run under ASan (make check does): closing from inside every
 * callback, closing a sibling whose event is later in the same epoll
 * batch, an fd number reused within one batch, closing the listener from
 * on_open, stopping timers from callbacks. Each must give exactly one
 * on_close per connection, no use-after-free and no double close.
 */
#include "hangup.h"
#include "lib/looplib.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int want_closes, closed_count;
static int done;

static void count_close(hu_conn *c, const struct hu_close_info *info)
{
	rec_on_close(c, info);
	CHECK(hu_conn_write(c, "x", 1) == HU_PIPE, "no write in on_close");
	hu_conn_close(c, HU_ABORT); /* closing again in on_close: no-op */
	hu_conn_close(c, HU_GRACEFUL);
	if (++closed_count >= want_closes)
		done = 1;
}

static hu_loop *loop_with(struct hu_listen_config *cfg, char *where, int closes)
{
	hu_loop *loop = hu_loop_new();

	REQUIRE(loop != NULL, "hu_loop_new");
	recs_reset();
	done = closed_count = 0;
	want_closes = closes;
	if (cfg->conn.cb.on_close == NULL)
		cfg->conn.cb.on_close = count_close;
	listen_on(loop, "127.0.0.1:0", cfg, where, 128);
	return loop;
}

static void check_one_close(const struct rec *r, int reason)
{
	CHECK(r->closes == 1, "exactly one on_close (%d)", r->closes);
	CHECK(r->info.reason == reason, "reason %s, want %s",
	      hu_reason_name(r->info.reason), hu_reason_name(reason));
}

/* ---- closing inside each callback ---- */

static int how; /* HU_ABORT or HU_GRACEFUL for the next case */

static void close_in_open(hu_conn *c)
{
	rec_on_open(c);
	hu_conn_close(c, how);
	hu_conn_close(c, how);
}

static void close_in_data(hu_conn *c, const void *d, size_t n)
{
	rec_on_data(c, d, n);
	hu_conn_close(c, how);
	hu_conn_close(c, HU_GRACEFUL);
}

static void close_in_eof(hu_conn *c)
{
	rec_on_eof(c);
	hu_conn_close(c, how);
}

static void close_in_drain(hu_conn *c)
{
	rec_on_drain(c);
	hu_conn_close(c, how);
}

static void close_in_beat(hu_conn *c)
{
	rec_on_heartbeat(c);
	hu_conn_close(c, how);
}

/* Run one "close inside callback X" case with a raw peer that does what
 * provokes X, for both ways of closing. */
static void close_inside(const char *which, struct hu_listen_config cfg,
			 void (*provoke)(int fd, hu_loop *loop))
{
	const int ways[2] = {HU_ABORT, HU_GRACEFUL};

	for (int w = 0; w < 2; w++) {
		char where[128];

		how = ways[w];
		hu_loop *loop = loop_with(&cfg, where, 1);
		int fd = raw_connect(where);
		if (provoke)
			provoke(fd, loop);
		/* A graceful close waits for our FIN to be answered. */
		if (how == HU_GRACEFUL) {
			run_for(loop, 50);
			shutdown(fd, SHUT_WR);
		}
		CHECK(run_until(loop, &done, 3000), "%s, %s: on_close", which,
		      how == HU_ABORT ? "abort" : "graceful");
		REQUIRE(nrecs == 1, "one connection");
		check_one_close(&recs[0], how == HU_ABORT ? HU_CLOSE_ABORT
							  : HU_CLOSE_LOCAL);
		close(fd);
		hu_loop_free(loop);
		CHECK(recs[0].closes == 1, "still one after hu_loop_free");
		recs_reset();
	}
}

static void send_hi(int fd, hu_loop *loop)
{
	(void)loop;
	REQUIRE(send(fd, "hi", 2, MSG_NOSIGNAL) == 2, "send");
}

static void half_close(int fd, hu_loop *loop)
{
	(void)loop;
	shutdown(fd, SHUT_WR);
}

static void t_close_in_on_open(void)
{
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	cfg.conn.cb.on_close = NULL;
	cfg.conn.cb.on_open = close_in_open;
	close_inside("on_open", cfg, NULL);
}

static void t_close_in_on_data(void)
{
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	cfg.conn.cb.on_close = NULL;
	cfg.conn.cb.on_data = close_in_data;
	close_inside("on_data", cfg, send_hi);
}

static void t_close_in_on_eof(void)
{
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	cfg.conn.cb.on_close = NULL;
	cfg.conn.cb.on_eof = close_in_eof;
	close_inside("on_eof", cfg, half_close);
}

static void t_close_in_on_heartbeat(void)
{
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	cfg.conn.cb.on_close = NULL;
	cfg.conn.cb.on_heartbeat = close_in_beat;
	cfg.conn.heartbeat_ms = 20;
	close_inside("on_heartbeat", cfg, NULL);
}

/* on_drain: fill the buffer past the mark in on_open, let the peer read. */
static char chunk[65536];

static void fill_in_open(hu_conn *c)
{
	int small = 16384;

	rec_on_open(c);
	setsockopt(hu_conn_fd(c), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	while (hu_conn_write(c, chunk, sizeof(chunk)) == 0)
		;
}

static struct reader drain_reader;

static void read_later(int fd, hu_loop *loop)
{
	run_for(loop, 30);
	reader_start(&drain_reader, fd, 20);
}

static void t_close_in_on_drain(void)
{
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
	const int ways[2] = {HU_ABORT, HU_GRACEFUL};

	cfg.conn.cb.on_open = fill_in_open;
	cfg.conn.cb.on_drain = close_in_drain;
	cfg.conn.cb.on_close = NULL;
	cfg.conn.high_water = 65536;
	for (int w = 0; w < 2; w++) {
		char where[128];

		how = ways[w];
		hu_loop *loop = loop_with(&cfg, where, 1);
		int fd = raw_connect(where);
		read_later(fd, loop);
		if (how == HU_GRACEFUL) {
			run_for(loop, 300);
			shutdown(fd, SHUT_WR);
		}
		CHECK(run_until(loop, &done, 3000), "on_close");
		reader_join(&drain_reader);
		REQUIRE(nrecs == 1, "one connection");
		CHECK(recs[0].drains == 1, "on_drain ran (%d)", recs[0].drains);
		check_one_close(&recs[0], how == HU_ABORT ? HU_CLOSE_ABORT
							  : HU_CLOSE_LOCAL);
		close(fd);
		hu_loop_free(loop);
		recs_reset();
	}
}

/* ---- one batch ---- */

/*
 * Two connections whose data is queued before epoll_wait runs are in one
 * batch (edge-triggered: both became ready before the call). The first
 * handled closes the second; the second's event, later in that batch,
 * must find a finished (still allocated) object and be dropped.
 */
static hu_conn *victim_of[2];
static int victim_fd = -1;
static hu_conn *reused;
static char listen_addr[128];

static void close_sibling(hu_conn *c, const void *d, size_t n)
{
	rec_on_data(c, d, n);
	if (recs[0].datas + recs[1].datas != 1)
		return;
	hu_conn *other = c == victim_of[0] ? victim_of[1] : victim_of[0];
	victim_fd = hu_conn_fd(other);
	hu_conn_close(other, HU_ABORT);
	if (reused == (hu_conn *)1) {
		/* The lowest free fd is the one just closed: the new socket
		 * takes its number, within the same batch. */
		struct hu_conn_config cfg = {.cb = rec_callbacks()};
		cfg.cb.on_close = count_close;
		REQUIRE(hu_connect(hu_conn_loop(c), listen_addr, &cfg,
				   &reused) == 0,
			"hu_connect");
	}
}

static void batch_case(int reuse)
{
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
	int fds[2];

	cfg.conn.cb.on_close = NULL;
	cfg.conn.cb.on_data = close_sibling;
	hu_loop *loop = loop_with(&cfg, listen_addr, reuse ? 3 : 2);
	reused = reuse ? (hu_conn *)1 : NULL;
	for (int i = 0; i < 2; i++)
		fds[i] = raw_connect(listen_addr);
	REQUIRE(run_until_accepted(loop, 2) == 2, "two accepted (%d)", nrecs);
	victim_of[0] = recs[0].conn;
	victim_of[1] = recs[1].conn;
	for (int i = 0; i < 2; i++)
		REQUIRE(send(fds[i], "ping", 4, MSG_NOSIGNAL) == 4, "send");
	sleep_ms(20);
	run_for(loop, 100);
	int first = recs[0].datas == 1 ? 0 : 1;
	CHECK(recs[first].datas == 1 && recs[!first].datas == 0,
	      "the closed sibling got no data (%d, %d)", recs[0].datas,
	      recs[1].datas);
	check_one_close(&recs[!first], HU_CLOSE_ABORT);
	if (reuse) {
		REQUIRE(reused != NULL && reused != (hu_conn *)1, "connected");
		if (hu_loop_backend(loop) == HU_BACKEND_IO_URING)
			/* The close is queued behind the cancel of what the
			 * ring has armed on it (uring.c): until the loop
			 * submits, the number stays taken, so no new socket
			 * can get it and a queued request cannot land on
			 * one. */
			CHECK(hu_conn_fd(reused) != victim_fd,
			      "io_uring: fd %d is not reused before the "
			      "loop submits its close (got %d)",
			      victim_fd, hu_conn_fd(reused));
		else
			CHECK(hu_conn_fd(reused) == victim_fd,
			      "the new socket reused fd %d (got %d)", victim_fd,
			      hu_conn_fd(reused));
		struct rec *z = rec_of(reused);
		CHECK(z->opens == 1 && z->closes == 0,
		      "the new connection opened once and lives (%d, %d)",
		      z->opens, z->closes);
		CHECK(hu_conn_write(reused, "z", 1) == 0, "and works");
	}
	CHECK(recs[first].closes == 0, "the survivor lives");
	close(fds[0]);
	close(fds[1]);
	hu_loop_free(loop);
	for (int i = 0; i < nrecs; i++)
		CHECK(recs[i].closes == 1, "conn %d: one on_close (%d)", i,
		      recs[i].closes);
	recs_reset();
}

static void t_close_sibling_same_batch(void)
{
	batch_case(0);
}

static void t_fd_reuse_same_batch(void)
{
	batch_case(1);
}

/* Closing the listener from on_open stops the accept loop at once; the
 * connections already accepted go on. */
static hu_listener *the_listener;

static void close_listener(hu_conn *c)
{
	rec_on_open(c);
	hu_listener_close(the_listener);
	hu_listener_close(the_listener); /* twice: no-op */
}

static void t_listener_close_in_on_open(void)
{
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
	char where[128];
	int fds[3];

	cfg.conn.cb.on_close = count_close;
	cfg.conn.cb.on_open = close_listener;
	hu_loop *loop = hu_loop_new();
	recs_reset();
	done = closed_count = 0;
	want_closes = 1;
	REQUIRE(hu_listen(loop, "127.0.0.1:0", &cfg, &the_listener) == 0,
		"hu_listen");
	hu_listener_addr(the_listener, where, sizeof(where));
	for (int i = 0; i < 3; i++)
		fds[i] = raw_connect(where); /* all queued, one batch */
	run_for(loop, 50);
	CHECK(nrecs == 1, "accepted one, then stopped (%d)", nrecs);
	CHECK(hu_conn_write(recs[0].conn, "ok", 2) == 0, "it works");
	char buf[2];
	int end;
	CHECK(read_n(fds[0], buf, 2, &end) == 2, "the peer reads it");
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	CHECK(run_until(loop, &done, 2000), "on_close");
	check_one_close(&recs[0], HU_CLOSE_EOF);
	hu_loop_free(loop);
	recs_reset();
}

/* Many connections end in one batch; each on_close aborts the others
 * (already finished): still one on_close each. */
static hu_conn *all[8];
static int nall;

static void abort_all(hu_conn *c, const struct hu_close_info *info)
{
	count_close(c, info);
	/* A connection is valid until its on_close returns: forget it. */
	for (int i = 0; i < nall; i++)
		if (all[i] == c)
			all[i] = NULL;
	for (int i = 0; i < nall; i++)
		if (all[i] != NULL)
			hu_conn_close(all[i], HU_ABORT);
}

static void remember(hu_conn *c)
{
	rec_on_open(c);
	all[nall++] = c;
}

static void t_mass_close_one_batch(void)
{
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
	char where[128];
	int fds[8];

	cfg.conn.cb.on_open = remember;
	cfg.conn.cb.on_close = abort_all;
	nall = 0;
	hu_loop *loop = loop_with(&cfg, where, 8);
	for (int i = 0; i < 8; i++)
		fds[i] = raw_connect(where);
	REQUIRE(run_until_accepted(loop, 8) == 8, "eight accepted (%d)", nrecs);
	for (int i = 0; i < 8; i++)
		close_rst(fds[i]);
	sleep_ms(20);
	CHECK(run_until(loop, &done, 2000), "all closed");
	for (int i = 0; i < 8; i++)
		check_one_close(&recs[i], HU_CLOSE_RESET);
	hu_loop_free(loop);
	recs_reset();
}

/* ---- timers ---- */

static int fired[4];
static hu_timer *timers[4];

static void t_cb(hu_timer *t, void *arg)
{
	int i = (int)(long)arg;

	fired[i]++;
	if (i == 0)
		hu_timer_stop(t); /* a repeating timer stops itself */
	if (i == 1 && fired[1] == 1)
		hu_timer_stop(timers[2]); /* another, due in this pass */
	if (i == 3) {
		hu_timer_stop(t); /* a one-shot stops itself */
		hu_timer_stop(t); /* twice */
	}
}

static int ticks;
static void count_tick(hu_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	ticks++;
}

static void t_timers(void)
{
	/* Timers count from the loop's clock when they start; under
	 * valgrind, making the loop and the timers takes ms of its own, so
	 * the time is taken before. */
	double t0 = now_ms();
	hu_loop *loop = hu_loop_new();

	memset(fired, 0, sizeof(fired));
	timers[0] = hu_timer_start(loop, 10, 10, t_cb, (void *)0L);
	timers[1] = hu_timer_start(loop, 20, 0, t_cb, (void *)1L);
	timers[2] = hu_timer_start(loop, 20, 0, t_cb, (void *)2L);
	timers[3] = hu_timer_start(loop, 30, 0, t_cb, (void *)3L);
	for (int i = 0; i < 4; i++)
		REQUIRE(timers[i] != NULL, "timer %d", i);
	CHECK(hu_loop_run(loop) == 0, "run returns when nothing is left");
	double took = now_ms() - t0;
	CHECK(fired[0] == 1, "repeating, stopped in its callback: %d",
	      fired[0]);
	CHECK(fired[1] == 1, "one-shot: %d", fired[1]);
	CHECK(fired[2] <= 1, "stopped by another (%d)", fired[2]);
	CHECK(fired[3] == 1, "one-shot stopped in its callback: %d", fired[3]);
	CHECK(took >= 25 && took < 500, "ran %.0f ms (last timer at 30)", took);
	/* A repeating timer, stopped from outside after a while. */
	ticks = 0;
	hu_timer *rep = hu_timer_start(loop, 10, 10, count_tick, NULL);
	run_for(loop, 105);
	CHECK(ticks >= 7 && ticks <= 11, "every 10 ms for 105: %d", ticks);
	hu_timer_stop(rep);
	int before = ticks;
	run_for(loop, 30);
	CHECK(ticks == before, "not after hu_timer_stop");
	/* Timers still armed at hu_loop_free are freed (ASan/valgrind). */
	hu_timer_start(loop, 100000, 0, count_tick, NULL);
	hu_loop_free(loop);
}

/* A callback that starts a 0 ms timer every time cannot starve the other
 * timers. The chain goes on until the 20 ms timer stops the loop, or, if
 * that timer were starved, for 2 s (a bound so that the failure is a
 * failure, not a hang). Not a count: 100,000 zero timers once ran in
 * under 20 ms here, ending the chain before the timer was due. */
static int zero_count;
static hu_loop *zero_loop;
static double zero_until;

static void zero_again(hu_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	zero_count++;
	if (now_ms() < zero_until)
		hu_timer_start(zero_loop, 0, 0, zero_again, NULL);
}

static void stop_loop(hu_timer *t, void *arg)
{
	(void)t;
	hu_loop_stop(arg);
}

static void t_zero_timers_do_not_starve(void)
{
	double t0 = now_ms();

	zero_loop = hu_loop_new();
	zero_count = 0;
	zero_until = t0 + 2000;
	hu_timer_start(zero_loop, 0, 0, zero_again, NULL);
	hu_timer_start(zero_loop, 20, 0, stop_loop, zero_loop);
	hu_loop_run(zero_loop);
	double took = now_ms() - t0;
	CHECK(took < 1000 && zero_count > 1,
	      "the 20 ms timer got its turn after %.0f ms, %d zero timers ran",
	      took, zero_count);
	hu_loop_free(zero_loop);
}

/* hu_loop_stop inside a callback; the loop can be run again. */
static void t_stop_and_run_again(void)
{
	hu_loop *loop = hu_loop_new();

	hu_timer_start(loop, 5, 0, stop_loop, loop);
	hu_timer *keep = hu_timer_start(loop, 100000, 0, stop_loop, loop);
	CHECK(hu_loop_run(loop) == 0, "stopped");
	hu_timer_start(loop, 5, 0, stop_loop, loop);
	CHECK(hu_loop_run(loop) == 0, "stopped again");
	hu_timer_stop(keep);
	CHECK(hu_loop_run(loop) == 0, "and returns when nothing is left");
	hu_loop_free(loop);
}

int main(void)
{
	RUN(t_close_in_on_open, 10);
	RUN(t_close_in_on_data, 10);
	RUN(t_close_in_on_eof, 10);
	RUN(t_close_in_on_drain, 20);
	RUN(t_close_in_on_heartbeat, 10);
	RUN(t_close_sibling_same_batch, 10);
	RUN(t_fd_reuse_same_batch, 10);
	RUN(t_listener_close_in_on_open, 10);
	RUN(t_mass_close_one_batch, 10);
	RUN(t_timers, 10);
	RUN(t_zero_timers_do_not_starve, 10);
	RUN(t_stop_and_run_again, 10);
	return tap_done();
}
