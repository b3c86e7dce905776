/*
 * t-faults.c -- fault injection: a signal storm (EINTR on every call that
 * can block), short reads and writes (the smallest socket buffers the
 * kernel allows), and allocation failure at every allocation site of the
 * loop, one after another. Each must end in a clean error or a clean
 * close: data intact, one on_close per connection, no leak, no crash.
 */
#include "hangup.h"
#include "lib/looplib.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- a signal storm ---- */

static volatile sig_atomic_t signals;
static timer_t storm_timer;

static void on_signal(int sig)
{
	(void)sig;
	signals++;
}

/* valgrind (make valgrind) delivers signals at its own scheduling points,
 * tens of microseconds each: under these storms the cases timed out at
 * 60 s, and at a twentieth of the rate the counts they assert no longer
 * hold. The storm cases run in make check, plain and under ASan; under
 * valgrind they say so and skip, before they start anything. */
static void storm_needs_real_signals(void)
{
	if (getenv("HU_VALGRIND") != NULL)
		SKIP("under valgrind: signal delivery is emulated");
}

/* SIGUSR1 every `us` microseconds, without SA_RESTART: every blocking
 * call that is interrupted returns EINTR. A POSIX timer, so the harness's
 * alarm() stays untouched. */
static void storm_start(long us)
{
	struct sigaction sa;
	struct sigevent sev;
	struct itimerspec its;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART */
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	REQUIRE(timer_create(CLOCK_MONOTONIC, &sev, &storm_timer) == 0,
		"timer_create");
	its.it_value.tv_sec = 0;
	its.it_value.tv_nsec = us * 1000;
	its.it_interval = its.it_value;
	REQUIRE(timer_settime(storm_timer, 0, &its, NULL) == 0,
		"timer_settime");
}

static void storm_stop(void)
{
	timer_delete(storm_timer);
	signal(SIGUSR1, SIG_IGN);
}

static uint32_t checksum(const unsigned char *p, size_t n, uint32_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u; /* FNV-1a */
	return h;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

#define STREAM (4 << 20)

/* A child that writes STREAM bytes in small pieces, pausing, so the
 * parent's blocking hu_recv() waits (and is interrupted) many times. */
static pid_t slow_writer(int fd, const unsigned char *data)
{
	pid_t pid = fork();

	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		for (size_t off = 0; off < STREAM; off += 65536) {
			size_t n = STREAM - off < 65536 ? STREAM - off : 65536;

			if (send(fd, data + off, n, MSG_NOSIGNAL) != (ssize_t)n)
				_exit(1);
			sleep_ms(2);
		}
		close(fd);
		_exit(0);
	}
	return pid;
}

static void t_eintr_blocking_recv_send(void)
{
	storm_needs_real_signals();
	int c, s, status;
	unsigned char *data = malloc(STREAM), *got = malloc(STREAM);

	REQUIRE(data && got, "malloc");
	fill(data, STREAM, 1);
	tcp_pair(AF_INET, &c, &s);
	pid_t pid = slow_writer(s, data);
	close(s);
	storm_start(100);
	size_t have = 0;
	ssize_t n = 0;
	while (have < STREAM && (n = hu_recv(c, got + have, STREAM - have)) > 0)
		have += (size_t)n;
	if (have == STREAM)
		n = hu_recv(c, got, 1); /* the FIN */
	storm_stop();
	waitpid(pid, &status, 0);
	CHECK(n == HU_EOF, "ended with EOF, not %s", hu_status_name((int)n));
	CHECK(have == STREAM && memcmp(data, got, STREAM) == 0,
	      "all %d bytes intact (%zu)", STREAM, have);
	CHECK(signals > 100, "%d signals arrived meanwhile", (int)signals);

	/* The other way: a blocking hu_send() of 4 MiB to a slow reader,
	 * through small buffers so that the send waits (and is
	 * interrupted: it then returns a short count, or EINTR). */
	int c2, s2, small = 65536;
	tcp_pair(AF_INET, &c2, &s2);
	setsockopt(c2, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(s2, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		uint32_t h = 2166136261u;
		size_t total = 0;
		unsigned char buf[32768];
		ssize_t r;

		close(c2);
		while ((r = recv(s2, buf, sizeof(buf), 0)) > 0) {
			h = checksum(buf, (size_t)r, h);
			total += (size_t)r;
			sleep_ms(1);
		}
		_exit(total == STREAM &&
			      h == checksum(data, STREAM, 2166136261u)
			  ? 0
			  : 1);
	}
	close(s2);
	signals = 0;
	storm_start(100);
	size_t sent = 0;
	while (sent < STREAM) {
		n = hu_send(c2, data + sent, STREAM - sent);
		if (n <= 0)
			break;
		sent += (size_t)n;
	}
	storm_stop();
	close(c2);
	waitpid(pid, &status, 0);
	CHECK(sent == STREAM, "hu_send sent all (%zu, last %s)", sent,
	      hu_status_name((int)n));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the reader got every byte, intact");
	CHECK(signals > 100, "%d signals", (int)signals);
	close(c);
	free(data);
	free(got);
}

/* hu_close_graceful() waits in poll() and nanosleep(): interrupted, it
 * still waits for the peer's FIN. */
static void t_eintr_close_graceful(void)
{
	storm_needs_real_signals();
	int c, s, status;

	tcp_pair(AF_INET, &c, &s);
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		char buf[16];

		close(c);
		sleep_ms(300);
		while (recv(s, buf, sizeof(buf), 0) > 0)
			;
		close(s);
		_exit(0);
	}
	close(s);
	signals = 0;
	storm_start(200);
	double t0 = now_ms();
	int rc = hu_close_graceful(c, 3000, NULL);
	double took = now_ms() - t0;
	storm_stop();
	waitpid(pid, &status, 0);
	CHECK(rc == 0, "the peer's FIN came (%s)", hu_status_name(rc));
	CHECK(took >= 250 && took < 2000, "after %.0f ms", took);
	CHECK(signals > 100, "%d signals", (int)signals);
}

/* The loop under the storm: epoll_wait is interrupted again and again; a
 * 4 MiB echo through it comes back intact. */
static int small_buffers;

/* The smallest buffers the kernel allows (it rounds 1 up to its minimum):
 * every read and write is short. */
static void shrink(int fd)
{
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
}

static void echo_open(hu_conn *c)
{
	rec_on_open(c);
	rec_of(c)->echo = 1;
	if (small_buffers)
		shrink(hu_conn_fd(c));
}

/* The loop, as the forked clients inherit it: they never free it (it is
 * the parent's), and a global keeps valgrind from calling it lost
 * (volatile: a static that is never read would be optimized away). */
static hu_loop *volatile inherited_loop;

static int echo_through_loop(size_t size, long storm_us)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
	unsigned char *data = malloc(size);
	int status;

	REQUIRE(data != NULL, "malloc");
	fill(data, size, 7);
	cfg.conn.cb.on_open = echo_open;
	recs_reset();
	hu_loop *loop = hu_loop_new();
	inherited_loop = loop;
	listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
	int fd = raw_connect(where);
	if (small_buffers)
		shrink(fd);
	signals = 0;
	if (storm_us)
		storm_start(storm_us);
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		/* The client: send everything while reading the echo. */
		pid_t w = fork();
		if (w == 0) {
			size_t off = 0;
			while (off < size) {
				ssize_t n = send(fd, data + off, size - off,
						 MSG_NOSIGNAL);
				if (n <= 0)
					_exit(1);
				off += (size_t)n;
			}
			shutdown(fd, SHUT_WR);
			_exit(0);
		}
		uint32_t h = 2166136261u;
		size_t total = 0;
		unsigned char buf[65536];
		ssize_t r;
		while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) {
			h = checksum(buf, (size_t)r, h);
			total += (size_t)r;
		}
		waitpid(w, &status, 0);
		_exit(total == size && h == checksum(data, size, 2166136261u)
			  ? 0
			  : 2);
	}
	close(fd);
	double t0 = now_ms();
	while ((nrecs == 0 || recs[0].closes == 0) && now_ms() - t0 < 40000)
		run_for(loop, 50);
	if (storm_us)
		storm_stop();
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the client got all %zu bytes back, intact (status %d)", size,
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	REQUIRE(nrecs == 1, "accepted");
	CHECK(recs[0].closes == 1 && recs[0].info.reason == HU_CLOSE_EOF,
	      "one on_close, eof (%s)", hu_reason_name(recs[0].info.reason));
	CHECK(recs[0].info.bytes_in == size && recs[0].info.bytes_out == size,
	      "in %llu out %llu", recs[0].info.bytes_in,
	      recs[0].info.bytes_out);
	int datas = recs[0].datas;
	hu_loop_free(loop);
	inherited_loop = NULL;
	recs_reset();
	free(data);
	return datas;
}

static void t_eintr_loop_echo(void)
{
	storm_needs_real_signals();
	echo_through_loop(STREAM, 50);
	CHECK(signals > 50, "%d signals", (int)signals);
}

static void t_short_reads_writes(void)
{
	small_buffers = 1;
	int datas = echo_through_loop(256 << 10, 0);

	/* 256 KiB in reads far below the loop's 64 KiB buffer. */
	CHECK(datas > 16, "%d reads for 256 KiB", datas);
}

/* hu_send() on a non-blocking socket with a tiny buffer: short counts,
 * then HU_AGAIN, never an error; the total arrives intact. */
static void t_short_hu_send(void)
{
	int c, s, one = 1;
	unsigned char *data = malloc(STREAM);

	fill(data, 1 << 20, 3);
	tcp_pair(AF_INET, &c, &s);
	setsockopt(c, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
	set_nonblock(c);
	ssize_t n = hu_send(c, data, 1 << 20);
	CHECK(n > 0 && n < (1 << 20), "a short count (%zd)", n);
	ssize_t again = hu_send(c, data + n, (size_t)((1 << 20) - n));
	for (int i = 0; i < 100 && again > 0; i++)
		again = hu_send(c, data, 1);
	CHECK(again == HU_AGAIN, "then HU_AGAIN (%s)",
	      hu_status_name((int)again));
	close(c);
	close(s);
	free(data);
}

/* ---- allocation failure at every site ---- */

static long alloc_n, fail_at, live;
static int injected;

static void *fi_malloc(size_t n)
{
	if (++alloc_n == fail_at) {
		injected = 1;
		return NULL;
	}
	void *p = malloc(n);
	if (p)
		live++;
	return p;
}

static void *fi_realloc(void *p, size_t n)
{
	if (++alloc_n == fail_at) {
		injected = 1;
		return NULL;
	}
	void *q = realloc(p, n);
	if (q && !p)
		live++;
	return q;
}

static void fi_free(void *p)
{
	if (p) {
		live--;
		free(p);
	}
}

static int fi_opens, fi_closes, fi_ticks, fi_live;
static hu_listener *fi_listener;

static void fi_open(hu_conn *c)
{
	fi_opens++;
	hu_conn_write(c, "hello", 5);
}

/* Accepted: one more connection that must end. */
static void fi_accepted(hu_conn *c)
{
	fi_live++;
	fi_open(c);
}

/* When the last connection has ended, close the listener: then nothing is
 * left and hu_loop_run() returns by itself. */
static hu_timer *fi_net;
static void fi_maybe_done(void)
{
	if (fi_live != 0)
		return;
	hu_listener_close(fi_listener);
	fi_listener = NULL;
	hu_timer_stop(fi_net);
	fi_net = NULL;
}
static void fi_data(hu_conn *c, const void *d, size_t n)
{
	static char chunk[65536];
	int small = 4096;

	(void)d;
	(void)n;
	setsockopt(hu_conn_fd(c), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	/* Forces a write buffer and its growth. */
	for (int i = 0; i < 8; i++)
		if (hu_conn_write(c, chunk, sizeof(chunk)) < 0)
			break;
	hu_conn_close(c, HU_GRACEFUL);
}
static void fi_close(hu_conn *c, const struct hu_close_info *i)
{
	(void)c;
	(void)i;
	fi_closes++;
	fi_live--;
	fi_maybe_done();
}

/* A safety net: a run that cannot end by itself fails, it does not hang. */
static int fi_stuck;
static void fi_tick(hu_timer *t, void *arg)
{
	(void)t;
	fi_stuck = 1;
	hu_loop_stop(arg);
}
static void fi_watch(hu_watch *w, unsigned ev, void *arg)
{
	(void)ev;
	(void)arg;
	hu_watch_stop(w);
}

/*
 * One run of a scenario that touches every allocation site: a loop, a
 * listener on a Unix path, a connect and an accept, buffered writes that
 * grow, a timer, a watch, idle timeouts; every call's failure is handled
 * as an application would. Returns 1 if an allocation was refused.
 */
static int fi_scenario(long n, int *opens, int *closes)
{
	struct hu_allocator a = {fi_malloc, fi_realloc, fi_free};
	char path[80];
	int p[2];

	alloc_n = 0;
	fail_at = n;
	injected = 0;
	live = 0;
	fi_opens = fi_closes = fi_ticks = fi_live = fi_stuck = 0;
	fi_listener = NULL;
	fi_net = NULL;
	hu_set_allocator(&a);
	snprintf(path, sizeof(path), "unix:/tmp/hu-t-fi-%d.sock", getpid());
	hu_loop *loop = hu_loop_new();
	if (loop == NULL)
		goto out;
	struct hu_listen_config lc = {
	    .conn = {.cb = {.on_open = fi_accepted,
			    .on_data = fi_data,
			    .on_close = fi_close},
		     .idle_ms = 1000,
		     .linger_ms = 100},
	};
	if (hu_listen(loop, path, &lc, &fi_listener) == 0) {
		struct hu_conn_config cc = lc.conn;

		cc.cb.on_open = fi_open;
		if (hu_connect(loop, path, &cc, NULL) == 0)
			fi_live++;
		/* Refused, from the loop. */
		if (hu_connect(loop, "127.0.0.1:1", &cc, NULL) == 0)
			fi_live++;
		fi_maybe_done();
	}
	if (fi_live > 0)
		fi_net = hu_timer_start(loop, 3000, 0, fi_tick, loop);
	REQUIRE(pipe(p) == 0 && write(p[1], "x", 1) == 1, "pipe");
	hu_watch *w;
	(void)hu_watch_start(loop, p[0], HU_READABLE, fi_watch, NULL, &w);
	hu_loop_run(loop);
	CHECK(!fi_stuck, "allocation %ld refused: the run got stuck", n);
	hu_loop_free(loop);
	close(p[0]);
	close(p[1]);
out:
	hu_set_allocator(NULL);
	*opens = fi_opens;
	*closes = fi_closes;
	CHECK(live == 0, "allocation %ld refused: %ld blocks leaked", n, live);
	return injected;
}

static void t_alloc_failure_every_site(void)
{
	int opens, closes;
	long n;

	/* Refuse the 1st allocation, then the 2nd, ...: each run must end
	 * cleanly, until a run in which nothing was refused. */
	for (n = 1; n < 500; n++) {
		double t0 = now_ms();
		int inj = fi_scenario(n, &opens, &closes);
		if (getenv("FI_DEBUG"))
			tap_diag("n=%ld injected=%d opens=%d closes=%d %.0f ms",
				 n, inj, opens, closes, now_ms() - t0);
		if (!inj)
			break;
		CHECK(closes >= opens,
		      "allocation %ld refused: %d on_open, %d on_close", n,
		      opens, closes);
	}
	CHECK(n > 10 && n < 500, "ran through %ld allocation sites", n - 1);
	CHECK(opens == 2 && closes == 3,
	      "with no failure: 2 opened, 3 closed (one refused): %d %d", opens,
	      closes);
	tap_diag("allocation failure injected at each of %ld sites", n - 1);
}

int main(void)
{
	RUN(t_eintr_blocking_recv_send, 60);
	RUN(t_eintr_close_graceful, 10);
	RUN(t_eintr_loop_echo, 60);
	RUN(t_short_reads_writes, 60);
	RUN(t_short_hu_send, 10);
	RUN(t_alloc_failure_every_site, 120);
	return tap_done();
}
