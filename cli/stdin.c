/*
 * stdin.c -- stdin to one connection: `hangup connect`, and `hangup listen
 * --max-conns 1` (nc -l).
 *
 * Backpressure: stdin is read only while the connection's write buffer is
 * below its high-water mark (hu_conn_write() returns 1 at the mark: stop
 * until on_drain, which calls cli_stdin_drain()), so `hangup connect <
 * 10G.img` holds at most a buffer's worth. A regular file cannot be watched
 * by epoll (it is always "ready"): it is read directly, a few chunks per
 * loop pass, so that signals and the peer are still seen in between.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 65536
#define FILE_ROUNDS 16 /* chunks per pass, so signals are still seen */

static struct {
	hu_loop *loop;
	hu_conn *c;
	const char *cmd;
	void (*on_end)(int err);
	unsigned long long *queued;
	hu_watch *w;
	hu_timer *pump;
	int file, paused, done;
	char buf[CHUNK];
} input;

int cli_stdin_check(const char *cmd)
{
	struct stat st;

	if (cli_closed_fds & (1u << STDIN_FILENO)) {
		fprintf(stderr,
			"hangup %s: stdin is closed (to send nothing, give "
			"</dev/null)\n",
			cmd);
		return -1;
	}
	if (fstat(STDIN_FILENO, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "hangup %s: stdin is a directory\n", cmd);
		return -1;
	}
	return 0;
}

void cli_stdin_stop(void)
{
	input.done = 1;
	if (input.w) {
		hu_watch_stop(input.w);
		input.w = NULL;
	}
	if (input.pump) {
		hu_timer_stop(input.pump);
		input.pump = NULL;
	}
}

/* stdin is over: EOF (err 0), or an error already reported. */
static void ended(int err)
{
	cli_stdin_stop();
	if (input.on_end)
		input.on_end(err);
}

/* Send what stdin gave; 0 to go on reading, -1 to wait (or stop). */
static int send_chunk(const char *p, size_t n)
{
	int rc = hu_conn_write(input.c, p, n);

	if (rc < 0) { /* closing or gone: its on_close says why */
		cli_stdin_stop();
		return -1;
	}
	*input.queued += n;
	if (rc == 1) { /* at the high-water mark: wait for on_drain */
		input.paused = 1;
		if (input.w)
			(void)hu_watch_set(input.w, 0);
		return -1;
	}
	return 0;
}

/* Read stdin once; 0 to go on, -1 to stop this round. */
static int read_stdin(void)
{
	ssize_t n = read(STDIN_FILENO, input.buf, sizeof(input.buf));

	if (n > 0)
		return send_chunk(input.buf, (size_t)n);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return -1;
	if (n < 0) {
		int err = errno; /* read() failed: errno is its own */
		const char *en = hu_errno_name(err);

		cli_diag("hangup %s: stdin: %s (%s); ending it\n", input.cmd,
			 strerror(err), en ? en : "?");
		ended(err);
		return -1;
	}
	ended(0);
	return -1;
}

static void pump_file(void);

static void pump_fire(hu_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	input.pump = NULL; /* a one-shot timer is freed after this call */
	pump_file();
}

/* A regular file: read it directly, a few chunks a pass. */
static void pump_file(void)
{
	for (int i = 0; i < FILE_ROUNDS; i++)
		if (read_stdin() < 0)
			return;
	input.pump = hu_timer_start(input.loop, 0, 0, pump_fire, NULL);
	if (input.pump == NULL) {
		cli_diag("hangup %s: stdin: out of memory; ending it\n",
			 input.cmd);
		ended(ENOMEM);
	}
}

static void stdin_ready(hu_watch *w, unsigned events, void *arg)
{
	(void)w;
	(void)events;
	(void)arg;
	(void)read_stdin(); /* level-triggered: called again while ready */
}

void cli_stdin_start(hu_loop *loop, hu_conn *c, const char *cmd,
		     unsigned long long *queued, void (*on_end)(int err))
{
	memset(&input, 0, sizeof(input));
	input.loop = loop;
	input.c = c;
	input.cmd = cmd;
	input.queued = queued;
	input.on_end = on_end;
	int rc = hu_watch_start(loop, STDIN_FILENO, HU_READABLE, stdin_ready,
				NULL, &input.w);

	if (rc == HU_BADF) {
		/* A regular file or /dev/null: read directly. */
		input.w = NULL;
		input.file = 1;
		pump_file();
	} else if (rc < 0) {
		cli_diag("hangup %s: cannot watch stdin: %s\n", cmd,
			 hu_strerror(rc));
		ended(EINVAL);
	}
}

void cli_stdin_drain(void)
{
	if (!input.paused || input.done)
		return;
	input.paused = 0;
	if (input.w)
		(void)hu_watch_set(input.w, HU_READABLE);
	else if (input.file)
		pump_file();
}
