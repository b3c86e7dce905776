/*
 * t-loop-ends.c -- every end final and honest, seen from the peer's side
 * (issue 11). After on_close, does the peer get all the bytes the report
 * says it got, a FIN or an RST, any byte after the report?
 *
 *  - a graceful close whose linger runs out with data undelivered, and the
 *    automatic close after the peer's FIN that cannot deliver its reply:
 *    the loop aborts (RST), so the peer sees a cut stream, never a clean
 *    FIN after a truncated one, and received + undelivered = written;
 *  - the automatic flush after the peer's FIN gives up after linger_ms
 *    with no progress, and does not cut off a slow reader that is taking
 *    data;
 *  - a FIN and an RST in one batch: on_eof, then on_close reset in
 *    peer-done;
 *  - a paused connection: its duration ends when the reset came, and it
 *    is not idle while the peer's data waits for it;
 *  - hu_loop_free() from an on_close that hu_loop_free() runs;
 *  - an abort during a graceful close's linger;
 *  - a connect whose peer accepts and resets at once: always on_open,
 *    then the reset in phase open.
 * The idle close itself (graceful now) is in t-loop.c and t-hostile.c.
 */
#include "hangup.h"
#include "lib/looplib.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int closed;
static void note_close(hu_conn *c, const struct hu_close_info *info)
{
	rec_on_close(c, info);
	closed = 1;
}

static hu_loop *serve(struct hu_listen_config *cfg, char *where)
{
	hu_loop *loop = hu_loop_new();

	REQUIRE(loop != NULL, "hu_loop_new");
	recs_reset();
	closed = 0;
	cfg->conn.cb.on_close = note_close;
	listen_on(loop, "127.0.0.1:0", cfg, where, 128);
	return loop;
}

/* The reply the loop writes; big enough to outlast any socket buffer. */
static char *reply;
static size_t reply_len;

static void make_reply(size_t n)
{
	reply = malloc(n);
	REQUIRE(reply != NULL, "malloc");
	for (size_t i = 0; i < n; i++)
		reply[i] = (char)('a' + i % 26);
	reply_len = n;
}

/*
 * What the peer can tell after on_close: it reads everything left (the
 * loop has ended, nothing more is coming) and must find exactly what the
 * report implies. `got` is what it read before on_close. The bytes the
 * peer received and the bytes reported undelivered add up to what was
 * written, give or take what was in flight at the abort (nothing, with
 * a peer whose window is closed; the slack only keeps a loaded machine
 * from failing the case).
 */
static void peer_sees_cut(int fd, size_t got, const struct rec *r)
{
	int err;

	got += read_all(fd, &err);
	CHECK(err == ECONNRESET,
	      "the peer sees an RST after a cut stream, not a clean end "
	      "(errno %d, %zu of %zu bytes)",
	      err, got, reply_len);
	CHECK(r->info.undelivered > 0 && got < reply_len,
	      "the stream was cut: %zu received, %llu undelivered", got,
	      r->info.undelivered);
	unsigned long long sum = got + r->info.undelivered;
	CHECK(sum >= reply_len && sum - reply_len <= 64 * 1024,
	      "received %zu + undelivered %llu = %llu, written %zu", got,
	      r->info.undelivered, sum, reply_len);
	CHECK(r->info.error == ETIMEDOUT, "errno %d: the linger ran out",
	      r->info.error);
}

/* ---- 1: a graceful close whose linger runs out ---- */

static void write_reply_and_close(hu_conn *c)
{
	rec_on_open(c);
	CHECK(hu_conn_write(c, reply, reply_len) >= 0, "write");
	hu_conn_close(c, HU_GRACEFUL);
}

static void t_graceful_linger_cut(void)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	make_reply(8u << 20);
	cfg.conn.cb.on_open = write_reply_and_close;
	cfg.conn.linger_ms = 300;
	hu_loop *loop = serve(&cfg, where);
	int fd = raw_connect(where); /* reads only after on_close */

	REQUIRE(run_until(loop, &closed, 5000), "on_close");
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_LOCAL &&
		  r->info.phase == HU_PHASE_CLOSING,
	      "reason %s, phase %s", hu_reason_name(r->info.reason),
	      hu_phase_name(r->info.phase));
	run_for(loop, 300); /* an orphan would go on sending meanwhile */
	peer_sees_cut(fd, 0, r);
	close(fd);
	hu_loop_free(loop);
	free(reply);
	recs_reset();
}

/* ---- 1 and 2: the automatic close after the peer's FIN ---- */

static void reply_on_data(hu_conn *c, const void *d, size_t n)
{
	rec_on_data(c, d, n);
	if (rec_of(c)->datas == 1)
		CHECK(hu_conn_write(c, reply, reply_len) >= 0, "write");
}

/* A request, our FIN, and the peer never reads: the reply cannot go. */
static void auto_close_case(size_t size)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	make_reply(size);
	cfg.conn.cb.on_data = reply_on_data; /* on_eof NULL: auto close */
	cfg.conn.linger_ms = 300;
	hu_loop *loop = serve(&cfg, where);
	int fd = raw_connect(where);

	REQUIRE(send(fd, "GET\n", 4, MSG_NOSIGNAL) == 4, "send");
	REQUIRE(shutdown(fd, SHUT_WR) == 0, "shutdown");
	double t0 = now_ms();
	REQUIRE(run_until(loop, &closed, 4000),
		"the flush gave up (%zu bytes, nothing read, linger 300)",
		size);
	double took = now_ms() - t0;
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_EOF &&
		  r->info.phase == HU_PHASE_PEER_DONE,
	      "reason %s, phase %s", hu_reason_name(r->info.reason),
	      hu_phase_name(r->info.phase));
	CHECK(took >= 250, "after %.0f ms with no progress (linger 300)", took);
	run_for(loop, 300);
	peer_sees_cut(fd, 0, r);
	close(fd);
	hu_loop_free(loop);
	free(reply);
	recs_reset();
}

/* 1 MiB: the reply leaves our buffer; the kernel holds what is unread. */
static void t_auto_close_cut(void)
{
	auto_close_case(1u << 20);
}

/* 16 MiB: most of it is still in our own buffer (issue 11, item 2). */
static void t_auto_flush_bounded(void)
{
	auto_close_case(16u << 20);
}

/* A slow reader: 64 KiB every 50 ms, the whole flush lasting many times
 * linger_ms. It takes data all along, so it is not cut off. */
static void *slow_read(void *arg)
{
	struct reader *rd = arg;
	char buf[64 * 1024];

	for (;;) {
		ssize_t n = recv(rd->fd, buf, sizeof(buf), 0);

		if (n <= 0) {
			rd->err = n == 0 ? 0 : errno;
			break;
		}
		rd->got += (size_t)n;
		sleep_ms(50);
	}
	rd->done = 1;
	return NULL;
}

static void t_auto_flush_slow_reader(void)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
	struct reader rd = {0};

	make_reply(6u << 20);
	cfg.conn.cb.on_data = reply_on_data;
	cfg.conn.linger_ms = 300;
	hu_loop *loop = serve(&cfg, where);
	rd.fd = raw_connect(where);
	REQUIRE(send(rd.fd, "GET\n", 4, MSG_NOSIGNAL) == 4, "send");
	REQUIRE(shutdown(rd.fd, SHUT_WR) == 0, "shutdown");
	REQUIRE(pthread_create(&rd.t, NULL, slow_read, &rd) == 0, "thread");
	double t0 = now_ms();
	CHECK(run_until(loop, &closed, 20000), "on_close");
	double took = now_ms() - t0;
	pthread_join(rd.t, NULL);
	struct rec *r = &recs[0];
	CHECK(took > 3 * 300, "the flush took %.0f ms (linger 300)", took);
	CHECK(r->info.reason == HU_CLOSE_EOF && r->info.error == 0 &&
		  r->info.undelivered == 0,
	      "reason %s, errno %d, undelivered %llu",
	      hu_reason_name(r->info.reason), r->info.error,
	      r->info.undelivered);
	CHECK(rd.err == 0 && rd.got == reply_len,
	      "the slow reader got %zu of %zu and a clean FIN (errno %d)",
	      rd.got, reply_len, rd.err);
	close(rd.fd);
	hu_loop_free(loop);
	free(reply);
	recs_reset();
}

/* ---- 4: bytes read while closing are counted ---- */

static void close_on_data(hu_conn *c, const void *d, size_t n)
{
	rec_on_data(c, d, n);
	hu_conn_close(c, HU_GRACEFUL);
}

static void t_closing_bytes_counted(void)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	cfg.conn.cb.on_data = close_on_data;
	hu_loop *loop = serve(&cfg, where);
	int fd = raw_connect(where);

	REQUIRE(send(fd, "hello", 5, MSG_NOSIGNAL) == 5, "send");
	struct pollfd p = {.fd = fd, .events = POLLIN};
	double t0 = now_ms();
	while (poll(&p, 1, 0) == 0 && now_ms() - t0 < 2000)
		run_for(loop, 5); /* until our FIN is there */
	/* A closing alert that crosses our FIN (TLS close_notify, say). */
	REQUIRE(send(fd, "1234567", 7, MSG_NOSIGNAL) == 7, "send late");
	run_for(loop, 50);
	shutdown(fd, SHUT_WR);
	REQUIRE(run_until(loop, &closed, 2000), "on_close");
	struct rec *r = &recs[0];
	CHECK(r->info.bytes_in == 12 && r->info.discarded == 7 && r->len == 5,
	      "bytes_in %llu (every byte read), discarded %llu, delivered "
	      "%zu",
	      r->info.bytes_in, r->info.discarded, r->len);
	CHECK(r->info.reason == HU_CLOSE_LOCAL && r->info.error == 0,
	      "reason %s errno %d", hu_reason_name(r->info.reason),
	      r->info.error);
	close(fd);
	hu_loop_free(loop);
	recs_reset();
}

/* ---- 5: a FIN and an RST in one batch ---- */

static void t_fin_then_rst_one_batch(void)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	cfg.conn.cb.on_eof = rec_on_eof; /* half-close aware */
	hu_loop *loop = serve(&cfg, where);
	int fd = raw_connect(where);

	REQUIRE(run_until_accepted(loop, 1) == 1, "accepted");
	run_for(loop, 20);
	/* haproxy's "option nolinger": shutdown, then SO_LINGER {1, 0}. Both
	 * segments are queued before the loop looks again. */
	REQUIRE(send(fd, "abc", 3, MSG_NOSIGNAL) == 3, "send");
	REQUIRE(shutdown(fd, SHUT_WR) == 0, "shutdown");
	sleep_ms(20);
	close_rst(fd);
	sleep_ms(20);
	REQUIRE(run_until(loop, &closed, 2000), "on_close");
	struct rec *r = &recs[0];
	CHECK(r->eofs == 1, "on_eof ran (%d): the FIN came first", r->eofs);
	CHECK(r->info.reason == HU_CLOSE_RESET &&
		  r->info.phase == HU_PHASE_PEER_DONE,
	      "reason %s, phase %s", hu_reason_name(r->info.reason),
	      hu_phase_name(r->info.phase));
	CHECK(r->info.bytes_in == 3 && r->len == 3, "bytes in %llu",
	      r->info.bytes_in);
	hu_loop_free(loop);
	recs_reset();
}

/* ---- 6 and 9: a paused connection ---- */

static void pause_on_open(hu_conn *c)
{
	rec_on_open(c);
	hu_conn_pause(c);
}

static void resume_cb(hu_timer *t, void *arg)
{
	(void)t;
	hu_conn_resume(arg);
}

static void t_paused_duration(void)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	cfg.conn.cb.on_open = pause_on_open;
	hu_loop *loop = serve(&cfg, where);
	int fd = raw_connect(where);

	REQUIRE(run_until_accepted(loop, 1) == 1, "accepted");
	hu_timer_start(loop, 1100, 0, resume_cb, recs[0].conn);
	run_for(loop, 100);
	close_rst(fd);
	REQUIRE(run_until(loop, &closed, 3000), "on_close after resume");
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_RESET, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(r->info.duration_ms < 600,
	      "duration %llu ms: the reset came at ~100 ms (resumed at 1100)",
	      r->info.duration_ms);
	CHECK(r->t_close - r->t_open >= 900, "on_close came after resume");
	hu_loop_free(loop);
	recs_reset();
}

static void t_paused_not_idle(void)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	cfg.conn.cb.on_open = pause_on_open;
	cfg.conn.idle_ms = 300;
	cfg.conn.linger_ms = 500;
	hu_loop *loop = serve(&cfg, where);
	int fd = raw_connect(where);

	REQUIRE(send(fd, "0123456789", 10, MSG_NOSIGNAL) == 10, "send");
	REQUIRE(run_until_accepted(loop, 1) == 1, "accepted");
	run_for(loop, 1000);
	struct rec *r = &recs[0];
	CHECK(r->closes == 0,
	      "paused with 10 bytes waiting is not idle (%d closes, %s)",
	      r->closes, r->closes ? hu_reason_name(r->info.reason) : "-");
	hu_conn_resume(r->conn);
	run_for(loop, 50);
	CHECK(r->len == 10, "resumed: %zu bytes delivered", r->len);
	/* Now nothing moves and nothing waits: idle, with a clean FIN. */
	REQUIRE(run_until(loop, &closed, 3000), "then idle");
	CHECK(r->info.reason == HU_CLOSE_IDLE && r->info.bytes_in == 10 &&
		  r->info.discarded == 0,
	      "reason %s, bytes in %llu, discarded %llu",
	      hu_reason_name(r->info.reason), r->info.bytes_in,
	      r->info.discarded);
	int err;
	read_all(fd, &err);
	CHECK(err == 0, "the peer sees a clean FIN (errno %d)", err);
	close(fd);
	hu_loop_free(loop);
	recs_reset();
}

/* ---- 7: hu_loop_free() from the on_close it runs ---- */

static int frees_tried;
static void free_loop_on_close(hu_conn *c, const struct hu_close_info *info)
{
	rec_on_close(c, info);
	frees_tried++;
	hu_loop_free(hu_conn_loop(c)); /* must do nothing */
}

static void t_loop_free_reentered(void)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
	hu_loop *loop = hu_loop_new();

	cfg.conn.cb.on_close = free_loop_on_close;
	recs_reset();
	frees_tried = 0;
	listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
	int a = raw_connect(where), b = raw_connect(where);
	REQUIRE(run_until_accepted(loop, 2) == 2, "accepted");
	hu_loop_free(loop);
	CHECK(frees_tried == 2 && recs[0].closes == 1 && recs[1].closes == 1,
	      "each on_close once (%d, %d), both tried to free the loop",
	      recs[0].closes, recs[1].closes);
	close(a);
	close(b);
	recs_reset();
}

/* ---- 8: an abort during a graceful close's linger ---- */

static void abort_cb(hu_timer *t, void *arg)
{
	(void)t;
	hu_conn_close(arg, HU_GRACEFUL); /* a second graceful: a no-op */
	hu_conn_close(arg, HU_ABORT);
}

static void close_on_open(hu_conn *c)
{
	rec_on_open(c);
	hu_conn_close(c, HU_GRACEFUL);
	hu_timer_start(hu_conn_loop(c), 200, 0, abort_cb, c);
}

static void t_abort_cuts_linger(void)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	cfg.conn.cb.on_open = close_on_open;
	cfg.conn.linger_ms = 5000; /* the peer never sends its FIN */
	hu_loop *loop = serve(&cfg, where);
	int fd = raw_connect(where);

	REQUIRE(run_until(loop, &closed, 2000), "on_close");
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_ABORT &&
		  r->info.phase == HU_PHASE_CLOSING,
	      "reason %s, phase %s", hu_reason_name(r->info.reason),
	      hu_phase_name(r->info.phase));
	CHECK(r->info.duration_ms < 1000, "cut short at %llu ms",
	      r->info.duration_ms);
	int err, soerr = 0;
	socklen_t sl = sizeof(soerr);
	read_all(fd, &err);
	/* recv() says 0 at the FIN, before the error (SOCK_DONE first); the
	 * RST, in CLOSE_WAIT, left EPIPE in SO_ERROR. */
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	CHECK(err == 0 && soerr == EPIPE,
	      "the peer sees the FIN, then an RST (read %d, SO_ERROR %d)", err,
	      soerr);
	close(fd);
	hu_loop_free(loop);
	recs_reset();
}

/* ---- 10: accepted, then reset at once ---- */

/* A server that accepts and aborts, until killed. */
static void accept_and_abort(void *arg)
{
	int lfd = *(int *)arg;

	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd >= 0)
			close_rst(fd);
	}
}

static void t_accept_then_reset(void)
{
	int lfd = tcp_listener(AF_INET, NULL);
	int pid = spawn(accept_and_abort, &lfd);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char where[64];
	int bad = 0, runs = 20;

	REQUIRE(getsockname(lfd, (struct sockaddr *)&ss, &len) == 0, "name");
	REQUIRE(hu_addr_format((struct sockaddr *)&ss, len, where,
			       sizeof(where)) >= 0,
		"format");
	close(lfd);
	for (int i = 0; i < runs; i++) {
		hu_loop *loop = hu_loop_new();
		struct hu_conn_config cc = {.cb = rec_callbacks()};

		recs_reset();
		closed = 0;
		cc.cb.on_close = note_close;
		REQUIRE(hu_connect(loop, where, &cc, NULL) == 0, "connect");
		run_until(loop, &closed, 2000);
		struct rec *r = &recs[0];
		if (nrecs != 1 || r->opens != 1 ||
		    r->info.reason != HU_CLOSE_RESET ||
		    r->info.phase != HU_PHASE_OPEN) {
			bad++;
			tap_diag("run %d: opens %d, reason %s, phase %s", i,
				 nrecs ? r->opens : -1,
				 hu_reason_name(r->info.reason),
				 hu_phase_name(r->info.phase));
		}
		hu_loop_free(loop);
	}
	CHECK(bad == 0,
	      "%d of %d runs were not on_open, then reset in phase open", bad,
	      runs);
	kill(pid, SIGKILL);
	reap(pid);
	recs_reset();
}

int main(void)
{
	tap_plan(11);
	RUN(t_graceful_linger_cut, 20);
	RUN(t_auto_close_cut, 20);
	RUN(t_auto_flush_bounded, 20);
	RUN(t_auto_flush_slow_reader, 40);
	RUN(t_closing_bytes_counted, 10);
	RUN(t_fin_then_rst_one_batch, 10);
	RUN(t_paused_duration, 10);
	RUN(t_paused_not_idle, 10);
	RUN(t_loop_free_reentered, 10);
	RUN(t_abort_cuts_linger, 10);
	RUN(t_accept_then_reset, 30);
	return tap_done();
}
