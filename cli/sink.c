/*
 * sink.c -- stdout for listen and connect: written from the loop, never
 * blocking it, and signals as loop events.
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
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
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
} s = {.fd = -1};

void cli_sink_init(hu_loop *loop, const struct cli_sink_hooks *h)
{
	struct stat st;

	memset(&s, 0, sizeof(s));
	s.loop = loop;
	if (h)
		s.h = *h;
	s.fd = STDOUT_FILENO;
	s.mode = SINK_BLOCKING;
	if (cli_closed_fds & (1u << STDOUT_FILENO)) {
		s.err = EBADF; /* closed at start: /dev/null holds its place */
		return;
	}
	/* No loop (probe): plain blocking writes, nothing to wait on. */
	if (loop == NULL)
		return;
	if (fstat(STDOUT_FILENO, &st) < 0) {
		s.err = errno; /* reported at the first write */
		return;
	}
	if (S_ISSOCK(st.st_mode)) {
		s.mode = SINK_SOCKET;
	} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		struct stat e;

		s.shared_tty = S_ISCHR(st.st_mode) && isatty(STDOUT_FILENO) &&
			       fstat(STDERR_FILENO, &e) == 0 &&
			       S_ISCHR(e.st_mode) && e.st_rdev == st.st_rdev;
		int fd = open("/proc/self/fd/1",
			      O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0) {
			s.fd = fd;
			s.own = 1;
			s.mode = SINK_NONBLOCK;
		}
	}
}

/* Bytes written (0: no room now), or -1 with s.err set. */
static ssize_t write_some(const char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = s.mode == SINK_SOCKET
				? send(s.fd, p + done, n - done,
				       MSG_DONTWAIT | MSG_NOSIGNAL)
				: write(s.fd, p + done, n - done);
		if (k > 0) {
			done += (size_t)k;
			s.midline = p[done - 1] != '\n';
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		s.err = k < 0 ? errno : EIO;
		return -1;
	}
	return (ssize_t)done;
}

static void stop_watch(void)
{
	if (s.w) {
		hu_watch_stop(s.w);
		s.w = NULL;
	}
}

static void fail(void)
{
	int was = s.gone;

	s.gone = 1;
	free(s.buf);
	s.buf = NULL;
	s.off = s.len = s.cap = 0;
	stop_watch();
	if (!was && s.h.on_gone)
		s.h.on_gone(s.h.arg, s.err);
}

static void writable(hu_watch *w, unsigned events, void *arg)
{
	(void)w;
	(void)events; /* a hang-up comes as readable: the write says */
	(void)arg;
	ssize_t k = write_some(s.buf + s.off, s.len - s.off);

	if (k < 0) {
		fail();
		return;
	}
	s.off += (size_t)k;
	if (s.off < s.len) {
		if (s.above && s.len - s.off < SINK_MARK) {
			s.above = 0;
			if (s.h.on_room)
				s.h.on_room(s.h.arg);
		}
		return;
	}
	s.off = s.len = 0;
	stop_watch(); /* a watch keeps the loop running: only while needed */
	if (s.above) {
		s.above = 0;
		if (s.h.on_room)
			s.h.on_room(s.h.arg);
	}
	if (s.h.on_idle && !s.gone && s.len == 0)
		s.h.on_idle(s.h.arg);
}

static int queue(const char *p, size_t n)
{
	if (s.off > 0 && s.off == s.len)
		s.off = s.len = 0;
	if (s.len + n > s.cap) {
		size_t cap = s.cap ? s.cap : 4096;

		while (cap < s.len + n)
			cap *= 2;
		char *b = realloc(s.buf, cap);
		if (b == NULL) {
			s.err = ENOMEM;
			return -1;
		}
		s.buf = b;
		s.cap = cap;
	}
	memcpy(s.buf + s.len, p, n);
	s.len += n;
	if (s.w == NULL && hu_watch_start(s.loop, s.fd, HU_WRITABLE, writable,
					  NULL, &s.w) < 0) {
		s.err = EIO;
		return -1;
	}
	return 0;
}

int cli_out(const void *data, size_t len)
{
	const char *p = data;

	if (s.gone)
		return -1;
	if (s.err != 0) {
		fail();
		return -1;
	}
	if (s.len == s.off && len > 0) {
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
	if (s.len - s.off >= SINK_MARK) {
		s.above = 1;
		return 1;
	}
	return 0;
}

int cli_out_midline(void)
{
	if (!s.shared_tty || !s.midline)
		return 0;
	s.midline = 0;
	return 1;
}

size_t cli_out_pending(void)
{
	return s.len - s.off;
}

void cli_out_abandon(void)
{
	free(s.buf);
	s.buf = NULL;
	s.off = s.len = s.cap = 0;
	s.above = 0;
	stop_watch();
}

void cli_sink_done(void)
{
	cli_out_abandon();
	if (s.own)
		close(s.fd);
	s.own = 0;
	s.fd = -1;
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

hu_loop *cli_start(const char *cmd, int *sfd)
{
	hu_loop *loop = hu_loop_new();
	int err;

	if (loop == NULL) {
		err = errno; /* hu_loop_new() failed: errno is its cause */
		cli_diag("hangup %s: cannot start: %s\n", cmd, strerror(err));
		return NULL;
	}
	if ((*sfd = cli_signals()) < 0) {
		err = errno; /* sigprocmask() or signalfd() failed */
		cli_diag("hangup %s: cannot start: %s\n", cmd, strerror(err));
		hu_loop_free(loop);
		return NULL;
	}
	return loop;
}

int cli_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	sigset_t set;

	/* The library never raises SIGPIPE; this is for our own writes to
	 * a closed stdout or stderr, which must fail with EPIPE, not kill. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;

		/* A signal ignored when we started stays ignored, as the
		 * caller meant (nohup, or SIGINT for `cmd &` in a script);
		 * an ignored signal never reaches a signalfd anyway. */
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaddset(&set, sigs[i]);
	}
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int cli_signal_read(int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}
