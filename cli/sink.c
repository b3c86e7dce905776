/*
 * sink.c -- stdout for listen and connect: written from the loop, never
 * blocking it (and probe's, written directly). Also the guard that keeps
 * fds 0-2 from being taken by sockets when we start with one closed.
 *
 * Why not plain write(1, ...): a blocking write to a pipe nobody reads, or
 * to a terminal stopped with Ctrl-S, would stop the whole loop -- every
 * other connection, the timers, and the signalfd, so not even Ctrl-C would
 * be seen. Making fd 1 itself non-blocking is no fix: O_NONBLOCK belongs to
 * the open file description, which we share with the shell and whatever
 * else writes to that terminal or pipe (they would start getting EAGAIN).
 * So for a pipe or a terminal we open our own description of the same
 * object through /proc/self/fd/1 and make only that one non-blocking; a
 * socket gets MSG_DONTWAIT per call; a regular file (or /proc missing) is
 * written directly, where a write does not wait on a reader.
 *
 * What cannot be written at once is queued, the watch on stdout writes it
 * when there is room, and cli_out() returns 1 above SINK_MARK so that the
 * connection feeding us pauses until on_room.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SINK_MARK (256 * 1024)

enum { SINK_NONBLOCK, SINK_SOCKET, SINK_BLOCKING };

static struct {
	hu_loop *loop;
	struct cli_sink_hooks h;
	int fd, own, mode;
	char *buf;
	size_t off, len, cap;
	hu_watch *w;
	int gone, above, err;
	int shared_tty; /* stdout and stderr are the same terminal */
	int midline;    /* the last byte written was not a newline */
} sink = {.fd = -1};

void cli_sink_init(hu_loop *loop, const struct cli_sink_hooks *h)
{
	struct stat st;

	memset(&sink, 0, sizeof(sink));
	sink.loop = loop;
	if (h)
		sink.h = *h;
	sink.fd = STDOUT_FILENO;
	sink.mode = SINK_BLOCKING;
	if (cli_closed_fds & (1u << STDOUT_FILENO)) {
		/* Closed at start: /dev/null holds its place. */
		sink.err = EBADF;
		return;
	}
	/* No loop (probe): plain blocking writes, nothing to wait on. */
	if (loop == NULL)
		return;
	if (fstat(STDOUT_FILENO, &st) < 0) {
		sink.err = errno; /* reported at the first write */
		return;
	}
	if (S_ISSOCK(st.st_mode)) {
		sink.mode = SINK_SOCKET;
	} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		struct stat e;

		sink.shared_tty = S_ISCHR(st.st_mode) &&
				  isatty(STDOUT_FILENO) &&
				  fstat(STDERR_FILENO, &e) == 0 &&
				  S_ISCHR(e.st_mode) && e.st_rdev == st.st_rdev;
		int fd = open("/proc/self/fd/1",
			      O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0) {
			sink.fd = fd;
			sink.own = 1;
			sink.mode = SINK_NONBLOCK;
		}
	}
}

/* Bytes written (0: no room now), or -1 with sink.err set. */
static ssize_t write_some(const char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = sink.mode == SINK_SOCKET
				? send(sink.fd, p + done, n - done,
				       MSG_DONTWAIT | MSG_NOSIGNAL)
				: write(sink.fd, p + done, n - done);
		if (k > 0) {
			done += (size_t)k;
			sink.midline = p[done - 1] != '\n';
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		sink.err = k < 0 ? errno : EIO;
		return -1;
	}
	return (ssize_t)done;
}

static void stop_watch(void)
{
	if (sink.w) {
		hu_watch_stop(sink.w);
		sink.w = NULL;
	}
}

static void fail(void)
{
	int was = sink.gone;

	sink.gone = 1;
	free(sink.buf);
	sink.buf = NULL;
	sink.off = sink.len = sink.cap = 0;
	stop_watch();
	if (!was && sink.h.on_gone)
		sink.h.on_gone(sink.h.arg, sink.err);
}

static void writable(hu_watch *w, unsigned events, void *arg)
{
	(void)w;
	(void)events; /* a hang-up comes as readable: the write says */
	(void)arg;
	ssize_t k = write_some(sink.buf + sink.off, sink.len - sink.off);

	if (k < 0) {
		fail();
		return;
	}
	sink.off += (size_t)k;
	if (sink.off < sink.len) {
		if (sink.above && sink.len - sink.off < SINK_MARK) {
			sink.above = 0;
			if (sink.h.on_room)
				sink.h.on_room(sink.h.arg);
		}
		return;
	}
	sink.off = sink.len = 0;
	stop_watch(); /* a watch keeps the loop running: only while needed */
	if (sink.above) {
		sink.above = 0;
		if (sink.h.on_room)
			sink.h.on_room(sink.h.arg);
	}
	if (sink.h.on_idle && !sink.gone && sink.len == 0)
		sink.h.on_idle(sink.h.arg);
}

static int queue(const char *p, size_t n)
{
	if (sink.off > 0 && sink.off == sink.len)
		sink.off = sink.len = 0;
	if (sink.len + n > sink.cap) {
		size_t cap = sink.cap ? sink.cap : 4096;

		while (cap < sink.len + n)
			cap *= 2;
		char *b = realloc(sink.buf, cap);
		if (b == NULL) {
			sink.err = ENOMEM;
			return -1;
		}
		sink.buf = b;
		sink.cap = cap;
	}
	memcpy(sink.buf + sink.len, p, n);
	sink.len += n;
	if (sink.w == NULL && hu_watch_start(sink.loop, sink.fd, HU_WRITABLE,
					     writable, NULL, &sink.w) < 0) {
		sink.err = EIO;
		return -1;
	}
	return 0;
}

int cli_out(const void *data, size_t len)
{
	const char *p = data;

	if (sink.gone)
		return -1;
	if (sink.err != 0) {
		fail();
		return -1;
	}
	if (sink.len == sink.off && len > 0) {
		ssize_t k = write_some(p, len);

		if (k < 0) {
			fail();
			return -1;
		}
		p += k;
		len -= (size_t)k;
	}
	if (len > 0 && queue(p, len) < 0) {
		fail();
		return -1;
	}
	if (sink.len - sink.off >= SINK_MARK) {
		sink.above = 1;
		return 1;
	}
	return 0;
}

int cli_out_midline(void)
{
	if (!sink.shared_tty || !sink.midline)
		return 0;
	sink.midline = 0;
	return 1;
}

size_t cli_out_pending(void)
{
	return sink.len - sink.off;
}

void cli_out_abandon(void)
{
	free(sink.buf);
	sink.buf = NULL;
	sink.off = sink.len = sink.cap = 0;
	sink.above = 0;
	stop_watch();
}

void cli_sink_done(void)
{
	cli_out_abandon();
	if (sink.own)
		close(sink.fd);
	sink.own = 0;
	sink.fd = -1;
}

unsigned cli_closed_fds;

/*
 * Started with stdin, stdout or stderr closed (`<&-`, `>&-`), the first fd
 * we open -- the epoll fd, a socket -- would take the free number, and a
 * write meant for stdout would land in it ("stdout: Invalid argument",
 * from epoll). So each closed one gets /dev/null, and cli_closed_fds
 * remembers which were closed.
 */
void cli_guard_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

		/* open() takes the lowest free number: fd itself. */
		if (nfd >= 0 && nfd != fd)
			close(nfd);
		cli_closed_fds |= 1u << fd;
	}
}
