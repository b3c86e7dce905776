/*
 * step-syscall.c -- the steps that make one raw system call (recv, send,
 * write, close, shutdown, SO_ERROR, connect, accept, epoll, poll, and the
 * myth steps that read a stale errno): each records the call and what it
 * returned, then takes the snapshot (step.c).
 */
#include "lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void fmt_ret(struct lab_step *s, long n, int err)
{
	s->val = n;
	if (n < 0) {
		s->failed = 1;
		s->err = err;
	}
	snprintf(s->ret, sizeof(s->ret), "%ld", n);
}

long lab_step_recv(struct lab *L, const char *who, int fd, size_t len,
		   int flags)
{
	char call[64], buf[256];
	struct lab_step *s;
	long n;
	int err = 0;

	snprintf(call, sizeof(call), "recv(%zu%s)", len,
		 (flags & MSG_PEEK) ? ",PEEK" : "");
	s = lab_step_begin(L, who, call);
	if (len > sizeof(buf))
		len = sizeof(buf);
	n = recv(fd, buf, len, flags | MSG_DONTWAIT);
	if (n < 0)
		err = errno;
	fmt_ret(s, n, err);
	if (n > 0)
		lab_fmt_data(s->ret, sizeof(s->ret), n, buf);
	lab_snapshot(L, s);
	return n;
}

long lab_step_send(struct lab *L, const char *who, int fd, const char *data,
		   int flags)
{
	char call[80];
	struct lab_step *s;
	long n;
	int err = 0;

	if (strlen(data) > 16)
		snprintf(call, sizeof(call), "send(%zu bytes)", strlen(data));
	else
		snprintf(call, sizeof(call), "send(\"%s\")", data);
	s = lab_step_begin(L, who, call);
	n = send(fd, data, strlen(data), flags | MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		err = errno;
	fmt_ret(s, n, err);
	lab_snapshot(L, s);
	return n;
}

/*
 * write() without MSG_NOSIGNAL, in a forked child with the default SIGPIPE
 * disposition: the step's value is the signal that killed the child (0 if it
 * lived). The child reports write()'s result in its exit status.
 */
long lab_step_write(struct lab *L, const char *who, int fd, const char *data)
{
	char call[80];
	struct lab_step *s;
	pid_t pid, parent = getpid();
	int st = 0;

	snprintf(call, sizeof(call), "write(\"%s\") in a child, no NOSIGNAL",
		 data);
	s = lab_step_begin(L, who, call);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		lab_die_with_parent(parent);
		signal(SIGPIPE, SIG_DFL);
		ssize_t n = write(fd, data, strlen(data));
		_exit(n >= 0 ? (int)(n & 0x7f) : 128 + (errno & 0x7f));
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid) {
		lab_fail(L, "fork/waitpid for the write() child failed");
		return -1;
	}
	if (WIFSIGNALED(st)) {
		s->val = WTERMSIG(st);
		snprintf(s->ret, sizeof(s->ret), "child killed by signal %d%s",
			 WTERMSIG(st),
			 WTERMSIG(st) == SIGPIPE ? " (SIGPIPE)" : "");
	} else if (WEXITSTATUS(st) >= 128) {
		s->val = 0;
		snprintf(s->ret, sizeof(s->ret), "-1 %s (child lived)",
			 lab_errno_name(WEXITSTATUS(st) - 128));
	} else {
		s->val = 0;
		snprintf(s->ret, sizeof(s->ret), "%d (child lived)",
			 WEXITSTATUS(st));
	}
	lab_snapshot(L, s);
	return s->val;
}

long lab_step_close(struct lab *L, const char *who, int *fd)
{
	struct lab_step *s = lab_step_begin(L, who, "close()");
	long n = close(*fd);
	int err = n < 0 ? errno : 0;

	lab_untrack(L, *fd);
	if (L->obs == *fd)
		L->obs = -1;
	*fd = -1;
	fmt_ret(s, n, err);
	lab_snapshot(L, s);
	return n;
}

long lab_step_abort(struct lab *L, const char *who, int *fd)
{
	struct linger lg = {1, 0};
	struct lab_step *s;
	long n;

	s = lab_step_begin(L, who, "setsockopt(SO_LINGER,{1,0}); close()");
	n = setsockopt(*fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (n == 0)
		n = close(*fd);
	else
		lab_fail(L, "SO_LINGER failed");
	lab_untrack(L, *fd);
	if (L->obs == *fd)
		L->obs = -1;
	*fd = -1;
	fmt_ret(s, n, 0);
	lab_snapshot(L, s);
	return n;
}

long lab_step_shutdown(struct lab *L, const char *who, int fd, int how)
{
	struct lab_step *s;
	long n;
	int err = 0;

	s = lab_step_begin(L, who,
			   how == SHUT_WR   ? "shutdown(SHUT_WR)"
			   : how == SHUT_RD ? "shutdown(SHUT_RD)"
					    : "shutdown(SHUT_RDWR)");
	n = shutdown(fd, how);
	if (n < 0)
		err = errno;
	fmt_ret(s, n, err);
	lab_snapshot(L, s);
	return n;
}

/* getsockopt(SO_ERROR): the step's value is the error it handed out. */
long lab_step_soerror(struct lab *L, const char *who, int fd)
{
	struct lab_step *s = lab_step_begin(L, who, "getsockopt(SO_ERROR)");
	int v = 0;
	socklen_t len = sizeof(v);
	int n = getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len);

	if (n < 0) {
		fmt_ret(s, n, errno);
	} else {
		s->val = v;
		snprintf(s->ret, sizeof(s->ret), "0 [%s]",
			 v ? lab_errno_name(v) : "0");
	}
	lab_snapshot(L, s);
	return s->val;
}

long lab_step_connect(struct lab *L, const char *who, int fd,
		      unsigned short port, const char *what)
{
	struct sockaddr_in a;
	char call[80];
	struct lab_step *s;
	long n;
	int err = 0;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(call, sizeof(call), "connect(%s)", what);
	s = lab_step_begin(L, who, call);
	n = connect(fd, (struct sockaddr *)&a, sizeof(a));
	if (n < 0)
		err = errno;
	fmt_ret(s, n, err);
	lab_watch_client(L, fd);
	lab_snapshot(L, s);
	return n;
}

long lab_step_accept(struct lab *L, const char *who, int lfd, int *out)
{
	struct lab_step *s = lab_step_begin(L, who, "accept4()");
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		fmt_ret(s, -1, errno);
	} else {
		lab_track(L, fd);
		s->val = 0;
		snprintf(s->ret, sizeof(s->ret), "new fd (>= 0)");
	}
	*out = fd;
	if (fd >= 0)
		lab_observe_fd(L, fd, "accepted");
	lab_snapshot(L, s);
	return s->val;
}

long lab_step_getpeername(struct lab *L, const char *who, int fd)
{
	struct lab_step *s = lab_step_begin(L, who, "getpeername()");
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	long n = getpeername(fd, (struct sockaddr *)&ss, &len);

	fmt_ret(s, n, n < 0 ? errno : 0);
	lab_snapshot(L, s);
	return n;
}

long lab_step_epoll_add(struct lab *L, int ep, int fd, unsigned evmask,
			const char *what)
{
	char call[80];
	struct epoll_event ev = {.events = evmask};
	struct lab_step *s;
	long n;

	snprintf(call, sizeof(call), "epoll_ctl(ADD, %s)", what);
	s = lab_step_begin(L, "us", call);
	ev.data.fd = fd;
	n = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	fmt_ret(s, n, n < 0 ? errno : 0);
	lab_snapshot(L, s);
	return n;
}

/* The step's value is the event mask reported (0 when none). */
long lab_step_epoll_wait(struct lab *L, int ep, const char *what,
			 int timeout_ms)
{
	char call[80], evs[32];
	struct epoll_event out;
	struct lab_step *s;
	double t0;
	int n;

	if (timeout_ms > 0)
		snprintf(call, sizeof(call), "epoll_wait(%s, %d ms)", what,
			 timeout_ms);
	else
		snprintf(call, sizeof(call), "epoll_wait(%s)", what);
	s = lab_step_begin(L, "us", call);
	t0 = lab_now();
	do
		n = epoll_wait(ep, &out, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		fmt_ret(s, n, errno);
	} else if (n == 0) {
		s->val = 0;
		snprintf(s->ret, sizeof(s->ret), "0");
	} else {
		s->val = (long)out.events;
		lab_events_str((int)out.events, evs, sizeof(evs));
		s->ret_says_wait = timeout_ms > 0;
		if (timeout_ms > 0)
			snprintf(s->ret, sizeof(s->ret), "1 {%s} after %.2f s",
				 evs, lab_now() - t0);
		else
			snprintf(s->ret, sizeof(s->ret), "1 {%s}", evs);
	}
	lab_snapshot(L, s);
	return s->val;
}

long lab_step_poll_out(struct lab *L, int fd, int timeout_ms)
{
	char call[64], evs[32];
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	struct lab_step *s;
	double t0 = lab_now();
	int n;

	snprintf(call, sizeof(call), "poll(POLLOUT, %d ms)", timeout_ms);
	s = lab_step_begin(L, L->obs_name, call);
	n = poll(&p, 1, timeout_ms);
	if (n < 0) {
		fmt_ret(s, n, errno);
	} else {
		s->val = n ? p.revents : 0;
		lab_events_str((int)s->val, evs, sizeof(evs));
		snprintf(s->ret, sizeof(s->ret), "%s after %.2f s",
			 n ? evs : "timeout", lab_now() - t0);
		s->ret_says_wait = 1;
	}
	lab_snapshot(L, s);
	return s->val;
}

/*
 * The myth steps. errno is deliberately read after a call that did NOT fail
 * -- the one place the project does so -- to show that the value is stale:
 * recv() returning 0 and send() returning > 0 never write errno (they return
 * through the syscall's success path; only the libc wrapper of a failing
 * call stores errno).
 */
/* A myth step's call returned n, errno was `preset` before it and `err`
 * after: after a success, `err` is the stale value the myth misreads. */
static void end_stale(struct lab_step *s, long n, int preset, int err)
{
	fmt_ret(s, n, n < 0 ? err : 0);
	if (n >= 0) {
		s->stale = 1;
		s->stale_before = preset;
		s->stale_after = err;
	}
}

long lab_step_recv_stale(struct lab *L, const char *who, int fd, size_t len,
			 int preset)
{
	char buf[64];
	struct lab_step *s;
	char call[64];
	long n;
	int err;

	snprintf(call, sizeof(call), "errno = %s; recv(%zu)",
		 preset ? lab_errno_name(preset) : "0", len);
	s = lab_step_begin(L, who, call);
	errno = preset;
	n = recv(fd, buf, len < sizeof(buf) ? len : sizeof(buf), MSG_DONTWAIT);
	err = errno;
	end_stale(s, n, preset, err);
	if (n > 0)
		lab_fmt_data(s->ret, sizeof(s->ret), n, buf);
	lab_snapshot(L, s);
	return n;
}

long lab_step_send_stale(struct lab *L, const char *who, int fd,
			 const char *data, int preset, int do_preset)
{
	struct lab_step *s;
	char call[80];
	long n;
	int err;

	if (do_preset)
		snprintf(call, sizeof(call), "errno = %s; send(\"%s\")",
			 preset ? lab_errno_name(preset) : "0", data);
	else
		snprintf(call, sizeof(call), "send(\"%s\")", data);
	s = lab_step_begin(L, who, call);
	/* Without do_preset, errno still holds what the caller says the last
	 * failing call left (connect()'s EINPROGRESS): we restore exactly that,
	 * because the lab's own bookkeeping between the steps may have made
	 * failing calls of its own. */
	errno = preset;
	n = send(fd, data, strlen(data), MSG_NOSIGNAL | MSG_DONTWAIT);
	err = errno;
	end_stale(s, n, preset, err);
	lab_snapshot(L, s);
	return n;
}
