/*
 * t-hostile.c -- hostile peers and exhausted resources: a slowloris peer
 * (one byte a second) ends on the idle timeout, lingering linger_ms at the
 * most; a peer that sends and
 * never reads cannot push an echo server's buffer past its high-water
 * mark; 10,000 half-open connections left by a peer that vanished are all
 * reaped within the liveness timeout (root: private namespace, nft); when
 * accept() fails with EMFILE the listener reports it once, keeps serving
 * the connections it has, and recovers when fds free up.
 */
#include "hangup.h"
#include "lib/looplib.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int closed_n;
static void note_close(hu_conn *c, const struct hu_close_info *info)
{
	rec_on_close(c, info);
	closed_n++;
}

/* A child that connects to `where` and sends one byte every `every_ms`,
 * until killed. */
static pid_t trickle(const char *where, unsigned every_ms)
{
	pid_t pid = fork();

	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		int fd = raw_connect(where);

		for (;;) {
			if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
				_exit(0);
			sleep_ms((int)every_ms);
		}
	}
	return pid;
}

static void t_slowloris_idle(void)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	cfg.conn.cb.on_close = note_close;
	cfg.conn.idle_ms = 800;
	cfg.conn.linger_ms = 600; /* what the slow one gets past idle_ms */
	hu_loop *loop = hu_loop_new();
	recs_reset();
	closed_n = 0;
	listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
	pid_t slow = trickle(where, 1000); /* slower than the idle timeout */
	pid_t busy = trickle(where, 300);  /* the control: faster */
	double t0 = now_ms();
	while (closed_n < 1 && now_ms() - t0 < 5000)
		run_for(loop, 20);
	run_for(loop, 1500); /* the control has had time to be wrongly cut */
	REQUIRE(nrecs == 2, "two accepted (%d)", nrecs);
	struct rec *a = &recs[0], *b = &recs[1];
	struct rec *cut = a->closes ? a : b, *kept = a->closes ? b : a;
	CHECK(cut->closes == 1 && cut->info.reason == HU_CLOSE_IDLE,
	      "the slow one: %s", hu_reason_name(cut->info.reason));
	CHECK(cut->info.bytes_in - cut->info.discarded <= 2,
	      "after %llu bytes delivered",
	      cut->info.bytes_in - cut->info.discarded);
	CHECK(cut->len == cut->info.bytes_in - cut->info.discarded,
	      "on_data got %zu of %llu (discarded %llu)", cut->len,
	      cut->info.bytes_in, cut->info.discarded);
	/* The idle close lingers (reading, discarding) until the peer's FIN
	 * or linger_ms: a slowloris never sends one, so it holds the
	 * connection idle_ms + linger_ms at the most (slack: scheduling). */
	CHECK(cut->info.duration_ms <= 800 + 600 + 700,
	      "ended %llu ms after it opened (idle 800, linger 600)",
	      cut->info.duration_ms);
	CHECK(cut->info.error == ETIMEDOUT && cut->info.phase == HU_PHASE_OPEN,
	      "linger ran out: errno %d, phase %s", cut->info.error,
	      hu_phase_name(cut->info.phase));
	CHECK(kept->closes == 0 && kept->len >= 5,
	      "the faster one is kept (%d closes, %zu bytes)", kept->closes,
	      kept->len);
	kill(slow, SIGKILL);
	kill(busy, SIGKILL);
	waitpid(slow, NULL, 0);
	waitpid(busy, NULL, 0);
	hu_loop_free(loop);
	recs_reset();
}

/* The echo of examples/echo-server.c, recording the largest buffer. */
static size_t max_buffered;

static void bp_data(hu_conn *c, const void *d, size_t n)
{
	if (hu_conn_write(c, d, n) == 1)
		hu_conn_pause(c);
	if (hu_conn_buffered(c) > max_buffered)
		max_buffered = hu_conn_buffered(c);
}

static void bp_drain(hu_conn *c)
{
	hu_conn_resume(c);
}

static void t_never_reads_backpressure(void)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
	const size_t hw = 64 * 1024;

	cfg.conn.cb.on_data = bp_data;
	cfg.conn.cb.on_drain = bp_drain;
	cfg.conn.high_water = hw;
	hu_loop *loop = hu_loop_new();
	recs_reset();
	max_buffered = 0;
	listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		/* Send 256 MiB, never read. The kernel's buffers fill up on
		 * both sides, and then our send blocks: that is the point. */
		static char chunk[1 << 20];
		int fd = raw_connect(where);

		for (int i = 0; i < 256; i++)
			if (send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0)
				_exit(1);
		_exit(0);
	}
	run_for(loop, 3000);
	CHECK(max_buffered > 0, "the server did buffer (%zu)", max_buffered);
	/* One read can land on top of the mark: at most one 64 KiB read. */
	CHECK(max_buffered <= hw + 64 * 1024,
	      "the buffer never passed the mark by more than one read: %zu "
	      "(mark %zu)",
	      max_buffered, hw);
	REQUIRE(nrecs == 1, "accepted");
	CHECK(recs[0].closes == 0, "the connection lives");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	hu_loop_free(loop);
	recs_reset();
}

static void raise_nofile(void)
{
	struct rlimit rl;

	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	rl.rlim_cur = rl.rlim_max;
	REQUIRE(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit");
}

/*
 * 10,000 connections, then the peer vanishes (every segment dropped): all
 * must end with "timeout" within the liveness bound. The peer is another
 * process (the fd limit is per process), both in a private namespace.
 */
#define HALF_OPEN 10000
static int opened, timeouts;
static double last_close;

static void ho_open(hu_conn *c)
{
	(void)c;
	opened++;
}

static void ho_close(hu_conn *c, const struct hu_close_info *info)
{
	(void)c;
	closed_n++;
	if (info->reason == HU_CLOSE_TIMEOUT)
		timeouts++;
	last_close = now_ms();
}

static void t_half_open_reaped(void)
{
	char where[128];
	int ready[2];
	struct hu_listen_config cfg = {0};
	struct rlimit rl;

	enter_private_netns();
	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	if (rl.rlim_max < HALF_OPEN + 100)
		SKIP("the open-file limit %llu is below %d",
		     (unsigned long long)rl.rlim_max, HALF_OPEN + 100);
	raise_nofile();
	cfg.conn.cb.on_open = ho_open;
	cfg.conn.cb.on_close = ho_close;
	cfg.conn.liveness_ms = 2000;
	hu_loop *loop = hu_loop_new();
	opened = closed_n = timeouts = 0;
	listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
	REQUIRE(pipe(ready) == 0, "pipe");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(ready[0]);
		for (int i = 0; i < HALF_OPEN; i++)
			(void)raw_connect(where); /* held until killed */
		(void)write(ready[1], "r", 1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	double t0 = now_ms();
	while (opened < HALF_OPEN && now_ms() - t0 < 30000)
		run_for(loop, 20);
	CHECK(opened == HALF_OPEN, "%d of %d accepted", opened, HALF_OPEN);
	char r;
	CHECK(read(ready[0], &r, 1) == 1, "the peer holds them all");
	close(ready[0]);
	drop_all_tcp(); /* the peer vanishes */
	double t1 = now_ms();
	while (closed_n < HALF_OPEN && now_ms() - t1 < 10000)
		run_for(loop, 20);
	double took = last_close - t1;
	tap_diag("%d reaped, the last %.0f ms after the peer vanished",
		 closed_n, took);
	CHECK(closed_n == HALF_OPEN && timeouts == HALF_OPEN,
	      "%d closed, %d with reason timeout", closed_n, timeouts);
	CHECK(took < 2000 + 2000, "within the 2 s liveness (+ slack): %.0f ms",
	      took);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	hu_loop_free(loop);
}

/*
 * EMFILE: a process with a few fds to spare. 12 clients connect; the
 * server takes what it can; accept() fails; the listener says so once,
 * keeps serving the connections it has, does not spin, and takes the rest
 * once some of its connections ended.
 */
static int accept_errors, last_error;
static void on_accept_error(hu_listener *l, int status, int error)
{
	(void)l;
	(void)status;
	accept_errors++;
	last_error = error;
}

static void echo_open(hu_conn *c)
{
	rec_on_open(c);
	rec_of(c)->echo = 1;
}

static void t_emfile_recovers(void)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks(),
				       .on_accept_error = on_accept_error};
	int fds[12];
	struct rlimit rl;

	/* valgrind keeps fds of its own above the client's limit and
	 * emulates RLIMIT_NOFILE, so the exact fd budget this case builds
	 * does not exist there; it runs in make check, plain and ASan. */
	if (getenv("HU_VALGRIND") != NULL)
		SKIP("under valgrind: RLIMIT_NOFILE is emulated");

	cfg.conn.cb.on_open = echo_open;
	cfg.conn.cb.on_close = note_close;
	hu_loop *loop = hu_loop_new();
	recs_reset();
	closed_n = accept_errors = 0;
	listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
	for (int i = 0; i < 12; i++)
		fds[i] = raw_connect(where);
	/* Room for 4 more fds from here on: dup() gives the lowest free
	 * number, so nothing below it is free. */
	int next = dup(0);
	REQUIRE(next >= 0, "dup");
	close(next);
	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	struct rlimit low = {.rlim_cur = (rlim_t)next + 4,
			     .rlim_max = rl.rlim_max};
	REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0, "setrlimit");
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	run_for(loop, 1000);
	getrusage(RUSAGE_SELF, &ru1);
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec +
			      ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) *
			 1e3 +
		     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
			      ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) /
			 1e3;
	int first = nrecs;
	CHECK(first == 4, "accepted 4, then ran out (%d)", first);
	CHECK(accept_errors == 1 && last_error == EMFILE,
	      "reported once (%d), EMFILE (%s)", accept_errors,
	      hu_errno_name(last_error));
	CHECK(cpu < 300, "and did not spin: %.0f ms of CPU in 1 s", cpu);
	/* The ones it has still work. */
	char buf[4];
	int end;
	REQUIRE(send(fds[0], "ping", 4, MSG_NOSIGNAL) == 4, "send");
	run_for(loop, 50);
	CHECK(read_n(fds[0], buf, 4, &end) == 4 && !memcmp(buf, "ping", 4),
	      "an accepted connection still echoes");
	/* Free fds: end the accepted ones; the rest get in. */
	for (int i = 0; i < first; i++)
		close(fds[i]);
	setrlimit(RLIMIT_NOFILE, &rl);
	double t0 = now_ms();
	while (nrecs < 12 && now_ms() - t0 < 3000)
		run_for(loop, 20);
	CHECK(nrecs == 12, "all 12 accepted in the end (%d)", nrecs);
	CHECK(accept_errors == 1, "still reported once (%d)", accept_errors);
	for (int i = first; i < 12; i++)
		close(fds[i]);
	while (closed_n < 12 && now_ms() - t0 < 5000)
		run_for(loop, 20);
	CHECK(closed_n == 12, "every connection got its on_close (%d)",
	      closed_n);
	hu_loop_free(loop);
	recs_reset();
}

int main(void)
{
	tap_plan(4);
	RUN(t_slowloris_idle, 15);
	RUN(t_never_reads_backpressure, 15);
	RUN(t_half_open_reaped, 60);
	RUN(t_emfile_recovers, 15);
	return tap_done();
}
