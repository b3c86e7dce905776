/*
 * t-backend.c -- choosing the loop's backend (issue 16): the config, the
 * HANGUP_BACKEND override and HU_LOOP_NOENV, a bad config, the fallback to
 * epoll where io_uring is refused (a seccomp filter makes io_uring_setup
 * fail, as a container's profile or an old kernel would), and that a loop
 * that fell back works. `make test` runs the loop's tests a second time
 * with HANGUP_BACKEND=io_uring; the first case here makes sure that pass
 * really runs on a ring.
 */
#include "hangup.h"
#include "lib/looplib.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Can this process have an io_uring at all? (0, or why not.) */
static int uring_refused(void)
{
	struct hu_loop_config cfg = {HU_BACKEND_IO_URING, HU_LOOP_NOENV};
	hu_loop *loop = hu_loop_new_with(&cfg);
	int err = loop ? hu_loop_backend_error(loop) : -1;

	hu_loop_free(loop);
	return err;
}

static void t_env_pass_is_real(void)
{
	const char *env = getenv("HANGUP_BACKEND");
	hu_loop *loop = hu_loop_new();

	REQUIRE(loop != NULL, "hu_loop_new");
	int b = hu_loop_backend(loop);
	if (env != NULL && strcmp(env, "io_uring") == 0) {
		int err = hu_loop_backend_error(loop);

		hu_loop_free(loop);
		if (b != HU_BACKEND_IO_URING && (err == ENOSYS || err == EPERM))
			SKIP("io_uring refused here (%s): the io_uring pass "
			     "runs on epoll",
			     strerror(err));
		CHECK(b == HU_BACKEND_IO_URING,
		      "HANGUP_BACKEND=io_uring: the loop is on %s (error %d)",
		      hu_backend_name(b), err);
		return;
	}
	CHECK(b == HU_BACKEND_EPOLL, "the default is epoll (got %s)",
	      hu_backend_name(b));
	CHECK(hu_loop_backend_error(loop) == 0, "no error when none asked");
	hu_loop_free(loop);
}

static void t_config(void)
{
	struct hu_loop_config ep = {HU_BACKEND_EPOLL, HU_LOOP_NOENV};
	struct hu_loop_config ur = {HU_BACKEND_IO_URING, HU_LOOP_NOENV};
	hu_loop *a = hu_loop_new_with(&ep), *b;

	REQUIRE(a != NULL, "epoll loop");
	CHECK(hu_loop_backend(a) == HU_BACKEND_EPOLL, "asked epoll, got %s",
	      hu_backend_name(hu_loop_backend(a)));
	hu_loop_free(a);
	int refused = uring_refused();
	b = hu_loop_new_with(&ur);
	REQUIRE(b != NULL, "io_uring loop");
	if (refused)
		CHECK(hu_loop_backend(b) == HU_BACKEND_EPOLL &&
			  hu_loop_backend_error(b) == refused,
		      "refused (%d): epoll, and why", refused);
	else
		CHECK(hu_loop_backend(b) == HU_BACKEND_IO_URING,
		      "asked io_uring, got %s",
		      hu_backend_name(hu_loop_backend(b)));
	hu_loop_free(b);
	CHECK(strcmp(hu_backend_name(HU_BACKEND_IO_URING), "io_uring") == 0 &&
		  strcmp(hu_backend_name(HU_BACKEND_EPOLL), "epoll") == 0 &&
		  strcmp(hu_backend_name(HU_BACKEND_AUTO), "auto") == 0 &&
		  strcmp(hu_backend_name(99), "unknown") == 0,
	      "backend names");
	CHECK(hu_loop_backend(NULL) == HU_INVAL, "NULL loop");
	CHECK(hu_loop_backend_error(NULL) == 0, "NULL loop's error");
}

static void t_bad_config(void)
{
	struct hu_loop_config bad = {7, 0}, flags = {0, 0x80};

	errno = 0;
	CHECK(hu_loop_new_with(&bad) == NULL && errno == EINVAL,
	      "an unknown backend: NULL, EINVAL");
	errno = 0;
	CHECK(hu_loop_new_with(&flags) == NULL && errno == EINVAL,
	      "an unknown flag: NULL, EINVAL");
	bad.backend = -1;
	CHECK(hu_loop_new_with(&bad) == NULL, "a negative backend: NULL");
}

/* The environment overrides the program's choice, unless NOENV. */
static void t_env_override(void)
{
	struct hu_loop_config ep = {HU_BACKEND_EPOLL, 0};
	struct hu_loop_config noenv = {HU_BACKEND_EPOLL, HU_LOOP_NOENV};
	int refused = uring_refused();

	REQUIRE(setenv("HANGUP_BACKEND", "io_uring", 1) == 0, "setenv");
	hu_loop *a = hu_loop_new_with(&ep), *b = hu_loop_new_with(&noenv);
	REQUIRE(a != NULL && b != NULL, "loops");
	CHECK(hu_loop_backend(a) ==
		  (refused ? HU_BACKEND_EPOLL : HU_BACKEND_IO_URING),
	      "HANGUP_BACKEND=io_uring overrides epoll: %s",
	      hu_backend_name(hu_loop_backend(a)));
	CHECK(hu_loop_backend(b) == HU_BACKEND_EPOLL,
	      "... but not with HU_LOOP_NOENV: %s",
	      hu_backend_name(hu_loop_backend(b)));
	hu_loop_free(a);
	hu_loop_free(b);
	REQUIRE(setenv("HANGUP_BACKEND", "epoll", 1) == 0, "setenv");
	a = hu_loop_new();
	CHECK(hu_loop_backend(a) == HU_BACKEND_EPOLL,
	      "HANGUP_BACKEND=epoll: %s", hu_backend_name(hu_loop_backend(a)));
	hu_loop_free(a);
	REQUIRE(setenv("HANGUP_BACKEND", "kqueue", 1) == 0, "setenv");
	a = hu_loop_new();
	CHECK(a != NULL && hu_loop_backend(a) == HU_BACKEND_EPOLL,
	      "an unknown name is ignored: the default");
	hu_loop_free(a);
}

/* Make io_uring_setup() fail with `err` in this process, for good. */
static void refuse_io_uring(int err)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		     offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		     offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K,
		     SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};

	REQUIRE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "no_new_privs");
	REQUIRE(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0,
		"seccomp");
}

static void echo_on(hu_loop *loop)
{
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
	char where[128], buf[5];
	int end = 0;

	recs_reset();
	listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
	int fd = raw_connect(where);
	REQUIRE(run_until_accepted(loop, 1) == 1, "accepted");
	recs[0].echo = 1;
	REQUIRE(send(fd, "hello", 5, MSG_NOSIGNAL) == 5, "send");
	run_for(loop, 50);
	CHECK(read_n(fd, buf, 5, &end) == 5 && memcmp(buf, "hello", 5) == 0,
	      "echoed");
	close(fd);
	REQUIRE(run_until(loop, &recs[0].closes, 2000), "closed");
	CHECK(recs[0].info.reason == HU_CLOSE_EOF && recs[0].info.bytes_in == 5,
	      "eof, 5 in (%s, %llu)", hu_reason_name(recs[0].info.reason),
	      recs[0].info.bytes_in);
	recs_reset();
}

static void fallback_case(int err)
{
	struct hu_loop_config ur = {HU_BACKEND_IO_URING, HU_LOOP_NOENV};

	refuse_io_uring(err);
	hu_loop *loop = hu_loop_new_with(&ur);
	REQUIRE(loop != NULL, "a loop, even so");
	CHECK(hu_loop_backend(loop) == HU_BACKEND_EPOLL,
	      "io_uring refused: the loop is on %s",
	      hu_backend_name(hu_loop_backend(loop)));
	CHECK(hu_loop_backend_error(loop) == err, "and says why: %d (%d)",
	      hu_loop_backend_error(loop), err);
	echo_on(loop); /* and works */
	hu_loop_free(loop);
}

static void t_fallback_enosys(void)
{
	fallback_case(ENOSYS); /* an old kernel, a container's seccomp */
}

static void t_fallback_eperm(void)
{
	fallback_case(EPERM); /* kernel.io_uring_disabled */
}

static void t_echo_on_each(void)
{
	for (int b = HU_BACKEND_EPOLL; b <= HU_BACKEND_IO_URING; b++) {
		struct hu_loop_config cfg = {b, HU_LOOP_NOENV};
		hu_loop *loop = hu_loop_new_with(&cfg);

		REQUIRE(loop != NULL, "loop");
		echo_on(loop);
		hu_loop_free(loop);
	}
}

/*
 * The report is never ahead of the peer (on io_uring an armed receive
 * holds the socket open after close(): the loop must have submitted the
 * cancel and the close before on_close runs). In on_close, the peer's
 * non-blocking recv() already sees our end: 0 for a FIN, ECONNRESET for
 * an abort. Both backends.
 */
static int peer_fd = -1;
static ssize_t peer_saw;
static int peer_err;

static void look_from_peer(hu_conn *c, const struct hu_close_info *info)
{
	char b[64];

	rec_on_close(c, info);
	peer_saw = recv(peer_fd, b, sizeof(b), MSG_DONTWAIT);
	peer_err = peer_saw < 0 ? errno : 0;
}

static void abort_on_data(hu_conn *c, const void *d, size_t n)
{
	rec_on_data(c, d, n);
	hu_conn_close(c, HU_ABORT);
}

static void t_peer_sees_end_at_on_close(void)
{
	for (int abort = 0; abort <= 1; abort++) {
		struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
		char where[128];
		hu_loop *loop = hu_loop_new();

		REQUIRE(loop != NULL, "loop");
		recs_reset();
		cfg.conn.cb.on_close = look_from_peer;
		if (abort)
			cfg.conn.cb.on_data = abort_on_data;
		listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
		peer_fd = raw_connect(where);
		REQUIRE(run_until_accepted(loop, 1) == 1, "accepted");
		if (abort)
			REQUIRE(send(peer_fd, "x", 1, MSG_NOSIGNAL) == 1,
				"send");
		else
			REQUIRE(shutdown(peer_fd, SHUT_WR) == 0, "shutdown");
		REQUIRE(run_until(loop, &recs[0].closes, 2000), "closed");
		if (abort)
			CHECK(peer_saw < 0 && peer_err == ECONNRESET,
			      "%s, abort: in on_close the peer has our RST "
			      "(recv %zd, errno %d)",
			      hu_backend_name(hu_loop_backend(loop)), peer_saw,
			      peer_err);
		else
			CHECK(peer_saw == 0,
			      "%s, eof: in on_close the peer has our FIN "
			      "(recv %zd, errno %d)",
			      hu_backend_name(hu_loop_backend(loop)), peer_saw,
			      peer_err);
		close(peer_fd);
		hu_loop_free(loop);
		recs_reset();
	}
}

/*
 * More data at once than the provided buffers hold: 40 connections send
 * 40 KiB each (10 buffers' worth each: 400 of 256) while the loop is not
 * running. On io_uring some receives end with -ENOBUFS, which is no end:
 * every byte arrives, in order, and every connection ends with eof.
 */
static void t_many_at_once(void)
{
	enum { N = 40, LEN = 40 * 1024 };
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
	char where[128];
	int fds[N];
	static char data[LEN];
	hu_loop *loop = hu_loop_new();

	REQUIRE(loop != NULL, "loop");
	recs_reset();
	for (int i = 0; i < LEN; i++)
		data[i] = (char)(i * 7 + i / 251);
	listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
	for (int i = 0; i < N; i++)
		fds[i] = raw_connect(where);
	REQUIRE(run_until_accepted(loop, N) == N, "accepted %d", nrecs);
	run_for(loop, 20);
	for (int i = 0; i < N; i++) {
		REQUIRE(send(fds[i], data, LEN, MSG_NOSIGNAL) == LEN, "send");
		close(fds[i]);
	}
	int ok = 0, closes = 0;
	for (int t = 0; t < 300 && closes < N; t++) {
		run_for(loop, 10);
		closes = 0;
		for (int i = 0; i < nrecs; i++)
			closes += recs[i].closes;
	}
	for (int i = 0; i < nrecs; i++)
		ok += recs[i].len == LEN &&
		      memcmp(recs[i].data, data, LEN) == 0 &&
		      recs[i].info.reason == HU_CLOSE_EOF &&
		      recs[i].info.bytes_in == LEN;
	CHECK(ok == N,
	      "%s: %d of %d connections got all %d bytes in order, "
	      "then eof",
	      hu_backend_name(hu_loop_backend(loop)), ok, N, LEN);
	hu_loop_free(loop);
	recs_reset();
}

/*
 * Paused in the middle of a burst. On io_uring the multishot receive has
 * usually taken more of it than the first on_data: what it took after the
 * pause is held and must come, in order, only after resume; then the end
 * that followed the data (a FIN, or an RST) -- after the data, once. On
 * epoll the bytes simply wait in the socket. Both backends.
 */
enum { BURST = 64 * 1024 };
static char burst[BURST], got[BURST];
static size_t ngot;
static int datas_paused, paused_once;

static void pause_first(hu_conn *c, const void *d, size_t n)
{
	if (paused_once == 1)
		datas_paused++; /* on_data while paused: wrong */
	if (ngot + n <= BURST)
		memcpy(got + ngot, d, n);
	ngot += n;
	if (!paused_once) {
		paused_once = 1;
		hu_conn_pause(c);
	}
}

static void burst_case(int end)
{
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
	char where[128];
	hu_loop *loop = hu_loop_new();

	REQUIRE(loop != NULL, "loop");
	recs_reset();
	ngot = 0;
	datas_paused = paused_once = 0;
	for (int i = 0; i < BURST; i++)
		burst[i] = (char)(i * 13 + i / 4093);
	cfg.conn.cb.on_data = pause_first;
	listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
	int fd = raw_connect(where);
	REQUIRE(run_until_accepted(loop, 1) == 1, "accepted");
	run_for(loop, 20); /* the receive is armed */
	REQUIRE(send(fd, burst, BURST, MSG_NOSIGNAL) == BURST, "send");
	if (end == 1)
		REQUIRE(shutdown(fd, SHUT_WR) == 0, "FIN");
	else if (end == 2)
		close_rst(fd);
	run_for(loop, 150);
	size_t while_paused = ngot;
	CHECK(paused_once == 1 && datas_paused == 0 && recs[0].closes == 0,
	      "%s: paused after the first chunk (%zu bytes), no on_data and "
	      "no on_close while paused (%d, %d)",
	      hu_backend_name(hu_loop_backend(loop)), while_paused,
	      datas_paused, recs[0].closes);
	paused_once = 2;
	hu_conn_resume(recs[0].conn);
	if (end == 0) {
		for (int t = 0; t < 200 && ngot < BURST; t++)
			run_for(loop, 5);
		close(fd);
	}
	REQUIRE(run_until(loop, &recs[0].closes, 3000), "on_close");
	CHECK(ngot == BURST && memcmp(got, burst, BURST) == 0,
	      "%s: all %d bytes, in order, after resume (got %zu)",
	      hu_backend_name(hu_loop_backend(loop)), BURST, ngot);
	int want = end == 2 ? HU_CLOSE_RESET : HU_CLOSE_EOF;
	CHECK(recs[0].info.reason == want && recs[0].info.bytes_in == BURST,
	      "%s: then %s once, bytes_in %llu",
	      hu_backend_name(hu_loop_backend(loop)),
	      hu_reason_name(recs[0].info.reason), recs[0].info.bytes_in);
	if (end == 1)
		close(fd); /* else closed above */
	hu_loop_free(loop);
	recs_reset();
}

static void t_paused_mid_burst(void)
{
	burst_case(0);
}

static void t_paused_mid_burst_then_fin(void)
{
	burst_case(1);
}

static void t_paused_mid_burst_then_rst(void)
{
	burst_case(2);
}

int main(void)
{
	RUN(t_env_pass_is_real, 5);
	RUN(t_config, 5);
	RUN(t_bad_config, 5);
	RUN(t_env_override, 5);
	RUN(t_fallback_enosys, 10);
	RUN(t_fallback_eperm, 10);
	RUN(t_echo_on_each, 10);
	RUN(t_peer_sees_end_at_on_close, 10);
	RUN(t_many_at_once, 20);
	RUN(t_paused_mid_burst, 10);
	RUN(t_paused_mid_burst_then_fin, 10);
	RUN(t_paused_mid_burst_then_rst, 10);
	return tap_done();
}
