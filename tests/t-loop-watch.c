/*
 * t-loop-watch.c -- hu_watch: a pipe on the loop, level-triggered (a
 * partial read is called again), EOF reported as readable, stop from
 * inside the callback, pause with hu_watch_set(0), and the fds epoll
 * refuses (a regular file) or that are not open.
 */
#include "hangup.h"
#include "lib/looplib.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int calls, eof, got;

static void read_one(hu_watch *w, unsigned events, void *arg)
{
	char c;
	int fd = *(int *)arg;

	calls++;
	CHECK(events & HU_READABLE, "readable (%u)", events);
	ssize_t n = read(fd, &c, 1); /* one byte at a time: level-triggered */
	if (n == 1)
		got++;
	if (n == 0) {
		eof = 1;
		hu_watch_stop(w);
		hu_watch_stop(w); /* twice: no-op */
	}
}

static void t_pipe_level_triggered(void)
{
	int p[2];
	hu_watch *w;

	REQUIRE(pipe(p) == 0, "pipe");
	hu_loop *loop = hu_loop_new();
	calls = eof = got = 0;
	REQUIRE(hu_watch_start(loop, p[0], HU_READABLE, read_one, &p[0], &w) ==
		    0,
		"hu_watch_start");
	REQUIRE(write(p[1], "abcde", 5) == 5, "write");
	close(p[1]);
	double t0 = now_ms();
	CHECK(hu_loop_run(loop) == 0, "the loop ends when the watch stops");
	CHECK(got == 5 && eof == 1, "5 bytes one by one, then EOF (%d, %d)",
	      got, eof);
	CHECK(calls == 6, "called 6 times (%d)", calls);
	CHECK(now_ms() - t0 < 1000, "at once");
	close(p[0]);
	hu_loop_free(loop);
}

static int wcalls;
static void count(hu_watch *w, unsigned events, void *arg)
{
	(void)w;
	(void)arg;
	if (events & HU_WRITABLE)
		wcalls++;
}

static void t_pause_and_writable(void)
{
	int p[2];
	hu_watch *w;

	REQUIRE(pipe(p) == 0, "pipe");
	hu_loop *loop = hu_loop_new();
	wcalls = 0;
	REQUIRE(hu_watch_start(loop, p[1], HU_WRITABLE, count, NULL, &w) == 0,
		"watch");
	run_for(loop, 20);
	CHECK(wcalls > 0, "an empty pipe is writable (%d)", wcalls);
	CHECK(hu_watch_set(w, 0) == 0, "pause");
	int before = wcalls;
	run_for(loop, 20);
	CHECK(wcalls == before, "no calls while paused");
	CHECK(hu_watch_set(w, 8) == HU_INVAL, "unknown bit");
	hu_loop_free(loop); /* frees the watch; the fds stay ours */
	CHECK(fcntl(p[0], F_GETFD) >= 0 && fcntl(p[1], F_GETFD) >= 0,
	      "hu_loop_free leaves the fds open");
	close(p[0]);
	close(p[1]);
}

static void t_bad_fds(void)
{
	hu_loop *loop = hu_loop_new();
	hu_watch *w = NULL;
	char path[] = "/tmp/hu-t-watch-XXXXXX";
	int fd = mkstemp(path);

	REQUIRE(fd >= 0, "mkstemp");
	unlink(path);
	CHECK(hu_watch_start(loop, fd, HU_READABLE, count, NULL, &w) == HU_BADF,
	      "a regular file: HU_BADF");
	CHECK(hu_watch_start(loop, -1, HU_READABLE, count, NULL, &w) == HU_BADF,
	      "fd -1: HU_BADF");
	close(fd);
	CHECK(hu_watch_start(loop, fd, HU_READABLE, count, NULL, &w) == HU_BADF,
	      "a closed fd: HU_BADF");
	CHECK(hu_watch_start(loop, 0, HU_READABLE, NULL, NULL, &w) == HU_INVAL,
	      "no callback");
	CHECK(hu_watch_start(NULL, 0, HU_READABLE, count, NULL, &w) == HU_INVAL,
	      "no loop");
	CHECK(hu_watch_start(loop, 0, 4, count, NULL, &w) == HU_INVAL,
	      "unknown events");
	/* A pipe, but a watch for nothing (hangup.h: HU_INVAL). */
	int p[2];
	REQUIRE(pipe(p) == 0, "pipe");
	CHECK(hu_watch_start(loop, p[0], 0, count, NULL, &w) == HU_INVAL,
	      "events 0");
	close(p[0]);
	close(p[1]);
	CHECK(hu_watch_set(NULL, 0) == HU_INVAL, "set on NULL");
	hu_watch_stop(NULL);
	CHECK(hu_loop_run(loop) == 0, "nothing registered: run returns");
	hu_loop_free(loop);
}

int main(void)
{
	RUN(t_pipe_level_triggered, 5);
	RUN(t_pause_and_writable, 5);
	RUN(t_bad_fds, 5);
	return tap_done();
}
