/*
 * t-loop.c -- the event loop against real peers on loopback: echo over
 * TCP v4/v6 and Unix sockets, and every close reason that needs no
 * namespace (eof, reset, late-data reset, idle, local, abort, refused,
 * error), each with its phase and its byte counts; half-close both ways,
 * backpressure, writes queued before the connect completes, pause/resume.
 * The dead-peer, connect-timeout and unreachable reasons are in
 * t-loop-netns.c; lifetime safety in t-loop-safety.c.
 */
#include "hangup.h"
#include "lib/looplib.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct hu_listen_config server_cfg(void)
{
	struct hu_listen_config cfg = {0};

	cfg.conn.cb = rec_callbacks();
	return cfg;
}

/* Make every accepted connection echo. */
static void echo_open(hu_conn *c)
{
	rec_on_open(c);
	rec_of(c)->echo = 1;
}

static int closes_total(void)
{
	int n = 0;

	for (int i = 0; i < nrecs; i++)
		n += recs[i].closes;
	return n;
}

static int all_closed;
static void note_closed(void)
{
	all_closed = nrecs > 0 && closes_total() >= nrecs;
}

static void close_and_note(hu_conn *c, const struct hu_close_info *info)
{
	rec_on_close(c, info);
	note_closed();
}

/* Echo over `addr`, then the peer closes: reason eof, phase peer-done. */
static void echo_case(const char *addr)
{
	char where[128], buf[64];
	int end;

	recs_reset();
	all_closed = 0;
	hu_loop *loop = hu_loop_new();
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.cb.on_open = echo_open;
	cfg.conn.cb.on_close = close_and_note;
	hu_listener *l = listen_on(loop, addr, &cfg, where, sizeof(where));

	int fd = raw_connect(where);
	REQUIRE(send(fd, "hello", 5, MSG_NOSIGNAL) == 5, "send");
	run_for(loop, 50);
	size_t got = read_n(fd, buf, 5, &end);
	CHECK(got == 5 && memcmp(buf, "hello", 5) == 0, "echoed %zu", got);
	close(fd);
	CHECK(run_until(loop, &all_closed, 2000), "on_close after FIN");
	REQUIRE(nrecs == 1, "one connection (%d)", nrecs);
	struct rec *r = &recs[0];
	CHECK(r->opens == 1 && r->closes == 1, "opens %d closes %d", r->opens,
	      r->closes);
	CHECK(r->info.reason == HU_CLOSE_EOF, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(r->info.phase == HU_PHASE_PEER_DONE, "phase %s",
	      hu_phase_name(r->info.phase));
	CHECK(r->info.error == 0, "errno %d", r->info.error);
	CHECK(r->info.bytes_in == 5 && r->info.bytes_out == 5,
	      "bytes in %llu out %llu", r->info.bytes_in, r->info.bytes_out);
	CHECK(r->info.undelivered == 0, "undelivered %llu",
	      r->info.undelivered);
	CHECK(r->fd_at_close == -1, "hu_conn_fd in on_close is -1");
	CHECK(strcmp(r->peer, "?") != 0, "peer address known: %s", r->peer);
	hu_listener_close(l);
	hu_loop_free(loop);
	recs_reset();
}

static void t_echo_ipv4(void)
{
	echo_case("127.0.0.1:0");
}

static void t_echo_ipv6(void)
{
	echo_case("[::1]:0");
}

static void t_echo_unix(void)
{
	char path[96];

	snprintf(path, sizeof(path), "unix:/tmp/hu-t-loop-%d.sock", getpid());
	echo_case(path);
	CHECK(access(path + 5, F_OK) != 0, "socket file removed on close");
}

static void t_echo_unix_abstract(void)
{
	char path[96];

	snprintf(path, sizeof(path), "unix:@hu-t-loop-%d", getpid());
	echo_case(path);
}

/* A server with rec callbacks; returns the loop, fills where. */
static hu_loop *server(struct hu_listen_config *cfg, char *where)
{
	hu_loop *loop = hu_loop_new();

	REQUIRE(loop != NULL, "hu_loop_new");
	recs_reset();
	all_closed = 0;
	if (cfg->conn.cb.on_close == NULL ||
	    cfg->conn.cb.on_close == rec_on_close)
		cfg->conn.cb.on_close = close_and_note;
	listen_on(loop, "127.0.0.1:0", cfg, where, 128);
	return loop;
}

/* The peer resets: reason reset, ECONNRESET, and data sent before the
 * RST is delivered first (kernel-truth.md, conclusion 4). */
static void t_reason_reset_data_first(void)
{
	char where[128];
	struct hu_listen_config cfg = server_cfg();
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	run_for(loop, 20);
	REQUIRE(send(fd, "data", 4, MSG_NOSIGNAL) == 4, "send");
	close_rst(fd);
	CHECK(run_until(loop, &all_closed, 2000), "on_close after RST");
	struct rec *r = &recs[0];
	CHECK(r->len == 4 && memcmp(r->data, "data", 4) == 0,
	      "data before the RST delivered (%zu bytes)", r->len);
	CHECK(r->info.reason == HU_CLOSE_RESET, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(r->info.error == ECONNRESET, "errno %s",
	      hu_errno_name(r->info.error));
	CHECK(r->info.phase == HU_PHASE_OPEN, "phase %s",
	      hu_phase_name(r->info.phase));
	CHECK(r->closes == 1, "one on_close");
	hu_loop_free(loop);
	recs_reset();
}

/* The peer connects and resets before the loop accepts: accept4() still
 * returns the socket (getpeername() on it says ENOTCONN), the reason is
 * reset, and hu_conn_peer() in on_open names the peer all the same -- from
 * the address accept4() gave. */
static void t_reset_before_accept(void)
{
	char where[128], mine[128];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct hu_listen_config cfg = server_cfg();
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	REQUIRE(getsockname(fd, (struct sockaddr *)&ss, &len) == 0,
		"getsockname");
	REQUIRE(
	    hu_addr_format((struct sockaddr *)&ss, len, mine, sizeof(mine)) > 0,
	    "format");
	close_rst(fd);
	sleep_ms(10);
	CHECK(run_until(loop, &all_closed, 2000), "on_close");
	REQUIRE(nrecs == 1, "one connection (%d)", nrecs);
	struct rec *r = &recs[0];
	CHECK(r->opens == 1 && r->closes == 1, "opens %d closes %d", r->opens,
	      r->closes);
	CHECK(r->info.reason == HU_CLOSE_RESET, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(strcmp(r->peer, mine) == 0, "peer %s, want %s", r->peer, mine);
	hu_loop_free(loop);
	recs_reset();
}

/* FIN, then RST, both in before the loop looks: the FIN came first, so
 * the phase is peer-done (recv() says 0, SO_ERROR has the EPIPE). */
static void t_fin_then_rst_together(void)
{
	char where[128];
	struct hu_listen_config cfg = server_cfg();
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	run_for(loop, 20);
	shutdown(fd, SHUT_WR);
	sleep_ms(10);
	close_rst(fd);
	sleep_ms(10);
	CHECK(run_until(loop, &all_closed, 2000), "on_close");
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_RESET, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(r->info.phase == HU_PHASE_PEER_DONE, "phase %s, errno %s",
	      hu_phase_name(r->info.phase), hu_errno_name(r->info.error));
	hu_loop_free(loop);
	recs_reset();
}

/* The peer closes; with on_eof we keep writing; its RST refuses the late
 * data: reason reset, EPIPE (the RST hit CLOSE_WAIT), phase peer-done. */
static void late_write(hu_conn *c)
{
	rec_on_eof(c);
	CHECK(hu_conn_write(c, "late", 4) == 0, "the late write is queued");
}

static void t_reason_reset_late_data(void)
{
	char where[128];
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.cb.on_eof = late_write;
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	run_for(loop, 20);
	close(fd);
	CHECK(run_until(loop, &all_closed, 2000), "on_close after RST");
	struct rec *r = &recs[0];
	CHECK(r->eofs == 1, "on_eof once (%d)", r->eofs);
	CHECK(r->info.reason == HU_CLOSE_RESET, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(r->info.error == EPIPE, "errno %s", hu_errno_name(r->info.error));
	CHECK(r->info.phase == HU_PHASE_PEER_DONE, "phase %s",
	      hu_phase_name(r->info.phase));
	CHECK(r->info.bytes_out == 4 && r->info.undelivered == 4,
	      "out %llu, undelivered %llu (the peer never took them)",
	      r->info.bytes_out, r->info.undelivered);
	hu_loop_free(loop);
	recs_reset();
}

/* On a Unix socket the first write after the peer's close already fails
 * (EPIPE, kernel-truth.md, 10): with SIGPIPE at its default disposition
 * (the harness resets it in every case) the process must live, and the
 * reason is reset with EPIPE. */
static void unix_late_write(hu_conn *c)
{
	rec_on_eof(c);
	CHECK(hu_conn_write(c, "late", 4) == HU_PIPE,
	      "the write after the close fails at once");
}

static void t_unix_late_write_no_sigpipe(void)
{
	char path[96], where[128];
	struct hu_listen_config cfg = server_cfg();

	snprintf(path, sizeof(path), "unix:/tmp/hu-t-late-%d.sock", getpid());
	cfg.conn.cb.on_eof = unix_late_write;
	recs_reset();
	all_closed = 0;
	cfg.conn.cb.on_close = close_and_note;
	hu_loop *loop = hu_loop_new();
	listen_on(loop, path, &cfg, where, sizeof(where));
	int fd = raw_connect(where);
	run_for(loop, 20);
	close(fd);
	CHECK(run_until(loop, &all_closed, 2000), "on_close");
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_RESET && r->info.error == EPIPE,
	      "reason %s errno %s", hu_reason_name(r->info.reason),
	      hu_errno_name(r->info.error));
	hu_loop_free(loop);
	recs_reset();
}

/* No data either way for idle_ms: reason idle; data refreshes it. */
/*
 * Idle: no byte either way for idle_ms. The close is graceful (issue 11):
 * our FIN first, then the loop lingers, reading and discarding, until the
 * peer's FIN -- so the peer sees a clean FIN, and bytes that cross our FIN
 * draw no RST. Reason idle, phase open (what the timer found), errno 0
 * since the peer answered in time; what came after our FIN is counted in
 * bytes_in and discarded.
 */
static void t_reason_idle(void)
{
	char where[128], buf[16];
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.idle_ms = 200;
	cfg.conn.linger_ms = 3000;
	cfg.conn.cb.on_close = close_and_note;
	all_closed = 0;
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	/* Keep it busy for 500 ms: a byte every 100 ms. */
	for (int i = 0; i < 5; i++) {
		run_for(loop, 100);
		REQUIRE(send(fd, "x", 1, MSG_NOSIGNAL) == 1, "send");
	}
	CHECK(closes_total() == 0, "not idle while data flows");
	double t0 = now_ms();
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (poll(&p, 1, 0) == 0 && now_ms() - t0 < 2000)
		run_for(loop, 5);
	double waited = now_ms() - t0;
	CHECK(waited >= 150 && waited < 600,
	      "our FIN %.0f ms after the last byte (idle 200)", waited);
	CHECK(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 0,
	      "the peer sees a clean FIN");
	CHECK(closes_total() == 0, "still lingering for the peer's FIN");
	/* Bytes that cross our FIN: read, counted, discarded; no RST. */
	REQUIRE(send(fd, "late", 4, MSG_NOSIGNAL) == 4, "send after our FIN");
	run_for(loop, 50);
	shutdown(fd, SHUT_WR);
	CHECK(run_until(loop, &all_closed, 2000), "closed at the peer's FIN");
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_IDLE, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(r->info.phase == HU_PHASE_OPEN, "phase %s (the timer's)",
	      hu_phase_name(r->info.phase));
	CHECK(r->info.error == 0, "errno %d", r->info.error);
	CHECK(r->info.bytes_in == 9 && r->info.discarded == 4 && r->len == 5,
	      "bytes in %llu, discarded %llu, delivered %zu", r->info.bytes_in,
	      r->info.discarded, r->len);
	int err;
	read_all(fd, &err);
	CHECK(err == 0, "no RST for the late bytes (errno %d)", err);
	close(fd);
	hu_loop_free(loop);
	recs_reset();
}

/*
 * Graceful close with unread data waiting for us: the loop keeps reading
 * (and discarding) until the peer's FIN, so no RST is sent and the peer
 * receives every byte we queued: reason local, phase closing.
 */
#define BIG (1 << 20)
static char *big;

static void write_big_and_close(hu_conn *c, const void *d, size_t n)
{
	rec_on_data(c, d, n);
	if (rec_of(c)->datas == 1) {
		CHECK(hu_conn_write(c, big, BIG) >= 0, "write 1 MiB");
		hu_conn_close(c, HU_GRACEFUL);
		CHECK(hu_conn_write(c, "x", 1) == HU_PIPE,
		      "writes after close fail with HU_PIPE");
	}
}

static void t_reason_local_graceful_unread(void)
{
	char where[128];
	struct reader rd;
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.cb.on_data = write_big_and_close;
	hu_loop *loop = server(&cfg, where);

	big = calloc(1, BIG);
	REQUIRE(big != NULL, "calloc");
	int fd = raw_connect(where);
	/* More than the server will read before it closes. */
	char junk[4096] = {0};
	REQUIRE(send(fd, "go", 2, MSG_NOSIGNAL) == 2, "send");
	run_for(loop, 30);
	for (int i = 0; i < 16; i++)
		REQUIRE(send(fd, junk, sizeof(junk), MSG_NOSIGNAL) > 0, "send");
	reader_start(&rd, fd, 100);
	/* The reader gets everything and a clean EOF; then it closes. */
	CHECK(run_until(loop, &rd.done, 5000), "the reader finished");
	reader_join(&rd);
	CHECK(rd.got == BIG, "the peer received %zu of %d bytes", rd.got, BIG);
	CHECK(rd.err == 0, "and a FIN, not an RST (errno %s)",
	      hu_errno_name(rd.err));
	shutdown(fd, SHUT_WR);
	CHECK(run_until(loop, &all_closed, 3000), "on_close");
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_LOCAL, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(r->info.phase == HU_PHASE_CLOSING, "phase %s",
	      hu_phase_name(r->info.phase));
	CHECK(r->info.error == 0, "errno %d", r->info.error);
	CHECK(r->info.bytes_out == BIG && r->info.undelivered == 0,
	      "out %llu undelivered %llu", r->info.bytes_out,
	      r->info.undelivered);
	close(fd);
	free(big);
	hu_loop_free(loop);
	recs_reset();
}

/* The peer never sends its FIN: the linger runs out (reason local,
 * errno ETIMEDOUT). */
static void close_on_open(hu_conn *c)
{
	rec_on_open(c);
	hu_conn_close(c, HU_GRACEFUL);
}

static void t_reason_local_linger_expires(void)
{
	char where[128];
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.cb.on_open = close_on_open;
	cfg.conn.linger_ms = 200;
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	double t0 = now_ms();
	CHECK(run_until(loop, &all_closed, 2000), "on_close");
	double took = now_ms() - t0;
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_LOCAL && r->info.error == ETIMEDOUT,
	      "reason %s errno %s", hu_reason_name(r->info.reason),
	      hu_errno_name(r->info.error));
	CHECK(took >= 150 && took < 1000, "after the 200 ms linger (%.0f)",
	      took);
	char c;
	CHECK(recv(fd, &c, 1, 0) == 0, "the peer got our FIN");
	close(fd);
	hu_loop_free(loop);
	recs_reset();
}

/* A graceful close whose flush can never finish (the peer does not read):
 * linger_ms bounds the whole close, flush included -- reason local,
 * ETIMEDOUT, and what never left our buffer counts as undelivered. */
static char stuck_chunk[65536];
static void fill_then_close(hu_conn *c)
{
	int small = 16384;

	rec_on_open(c);
	setsockopt(hu_conn_fd(c), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	/* Far more than the peer's receive buffer can hold: most of it
	 * stays in ours for good. */
	while (hu_conn_buffered(c) < (4u << 20))
		if (hu_conn_write(c, stuck_chunk, sizeof(stuck_chunk)) < 0)
			break;
	hu_conn_close(c, HU_GRACEFUL);
}

static void t_graceful_close_peer_never_reads(void)
{
	char where[128];
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.cb.on_open = fill_then_close;
	cfg.conn.linger_ms = 300;
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where); /* never reads */
	double t0 = now_ms();
	CHECK(run_until(loop, &all_closed, 3000), "on_close within 3 s");
	double took = now_ms() - t0;
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_LOCAL && r->info.error == ETIMEDOUT,
	      "reason %s errno %s", hu_reason_name(r->info.reason),
	      hu_errno_name(r->info.error));
	CHECK(took >= 250 && took < 1500, "after the 300 ms linger (%.0f)",
	      took);
	/* ~4 MiB written; the peer's kernel took (and acknowledged) what
	 * its receive buffer holds, the rest was never delivered. */
	CHECK(r->info.undelivered > (3u << 20) &&
		  r->info.undelivered <= (4u << 20) + sizeof(stuck_chunk),
	      "undelivered %llu of ~4 MiB written (out %llu)",
	      r->info.undelivered, r->info.bytes_out);
	close(fd);
	hu_loop_free(loop);
	recs_reset();
}

/* Abort: reason abort, and the peer gets an RST. */
static void abort_on_data(hu_conn *c, const void *d, size_t n)
{
	rec_on_data(c, d, n);
	CHECK(hu_conn_write(c, "bye", 3) == 0, "write");
	hu_conn_close(c, HU_ABORT);
	hu_conn_close(c, HU_ABORT); /* a second close is a no-op */
	hu_conn_close(c, HU_GRACEFUL);
}

static void t_reason_abort(void)
{
	char where[128], buf[16];
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.cb.on_data = abort_on_data;
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	REQUIRE(send(fd, "hi", 2, MSG_NOSIGNAL) == 2, "send");
	CHECK(run_until(loop, &all_closed, 2000), "on_close");
	struct rec *r = &recs[0];
	CHECK(r->closes == 1, "exactly one on_close (%d)", r->closes);
	CHECK(r->info.reason == HU_CLOSE_ABORT, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(r->info.phase == HU_PHASE_OPEN, "phase %s",
	      hu_phase_name(r->info.phase));
	wait_for(fd, POLLHUP | POLLERR, 1000);
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	if (n == 3) /* the RST may come after the data it overtook */
		n = recv(fd, buf, sizeof(buf), 0);
	CHECK(n < 0 && errno == ECONNRESET, "the peer sees ECONNRESET (%zd)",
	      n);
	close(fd);
	hu_loop_free(loop);
	recs_reset();
}

/* A connect to a closed port: on_close "refused", never on_open, and
 * never from inside hu_connect(). */
static void t_reason_refused(void)
{
	int port;
	char where[64];
	int lfd = tcp_listener(AF_INET, &port);

	close(lfd); /* nobody listens there now */
	snprintf(where, sizeof(where), "127.0.0.1:%d", port);
	recs_reset();
	all_closed = 0;
	hu_loop *loop = hu_loop_new();
	struct hu_conn_config cfg = {.cb = rec_callbacks()};
	cfg.cb.on_close = close_and_note;
	hu_conn *c = NULL;
	REQUIRE(hu_connect(loop, where, &cfg, &c) == 0 && c != NULL,
		"hu_connect");
	CHECK(nrecs == 0, "no callback from inside hu_connect");
	CHECK(run_until(loop, &all_closed, 2000), "on_close");
	struct rec *r = &recs[0];
	CHECK(r->opens == 0 && r->closes == 1, "opens %d closes %d", r->opens,
	      r->closes);
	CHECK(r->info.reason == HU_CLOSE_REFUSED, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(r->info.error == ECONNREFUSED, "errno %s",
	      hu_errno_name(r->info.error));
	CHECK(r->info.phase == HU_PHASE_CONNECTING, "phase %s",
	      hu_phase_name(r->info.phase));
	hu_loop_free(loop);
	recs_reset();
}

/* A Unix path nobody listens on is refused too (ENOENT), from the loop. */
static void t_reason_refused_unix(void)
{
	recs_reset();
	all_closed = 0;
	hu_loop *loop = hu_loop_new();
	struct hu_conn_config cfg = {.cb = rec_callbacks()};
	cfg.cb.on_close = close_and_note;
	REQUIRE(hu_connect(loop, "unix:/nonexistent/hu.sock", &cfg, NULL) == 0,
		"hu_connect");
	CHECK(nrecs == 0, "no callback from inside hu_connect");
	CHECK(run_until(loop, &all_closed, 1000), "on_close");
	CHECK(recs[0].info.reason == HU_CLOSE_REFUSED &&
		  recs[0].info.error == ENOENT,
	      "reason %s errno %s", hu_reason_name(recs[0].info.reason),
	      hu_errno_name(recs[0].info.error));
	hu_loop_free(loop);
	recs_reset();
}

/* Allocation failure while queueing a write that the kernel took in part:
 * the stream would have a hole, so the connection ends with reason
 * "error", ENOMEM -- a clean close, not a crash. */
static int fail_allocs;
static void *failing_malloc(size_t n)
{
	return fail_allocs ? NULL : malloc(n);
}
static void *failing_realloc(void *p, size_t n)
{
	return fail_allocs ? NULL : realloc(p, n);
}

static void flood_on_open(hu_conn *c)
{
	int small = 16384;

	rec_on_open(c);
	setsockopt(hu_conn_fd(c), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	fail_allocs = 1;
	int rc = hu_conn_write(c, big, BIG);
	fail_allocs = 0;
	CHECK(rc == HU_ERROR, "the write fails (%s)", hu_status_name(rc));
	CHECK(hu_conn_write(c, "x", 1) == HU_PIPE, "and the conn is gone");
}

static void t_reason_error_enomem(void)
{
	char where[128];
	struct hu_allocator a = {failing_malloc, failing_realloc, free};
	struct hu_listen_config cfg = server_cfg();

	cfg.conn.cb.on_open = flood_on_open;
	hu_set_allocator(&a);
	big = calloc(1, BIG);
	hu_loop *loop = server(&cfg, where);
	int fd = raw_connect(where);
	CHECK(run_until(loop, &all_closed, 2000), "on_close");
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_ERROR && r->info.error == ENOMEM,
	      "reason %s errno %s", hu_reason_name(r->info.reason),
	      hu_errno_name(r->info.error));
	close(fd);
	hu_loop_free(loop);
	hu_set_allocator(NULL);
	free(big);
	recs_reset();
}

/* Half-close, the peer first: on_eof lets us answer after its FIN, then
 * our shutdown ends it: reason eof, phase peer-done. */
static void answer_on_eof(hu_conn *c)
{
	rec_on_eof(c);
	CHECK(hu_conn_write(c, "answer", 6) == 0, "write after FIN");
	CHECK(hu_conn_shutdown(c) == 0, "shutdown");
}

static void t_half_close_peer_first(void)
{
	char where[128], buf[16];
	int end;
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.cb.on_eof = answer_on_eof;
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	REQUIRE(send(fd, "question", 8, MSG_NOSIGNAL) == 8, "send");
	shutdown(fd, SHUT_WR);
	CHECK(run_until(loop, &all_closed, 2000), "on_close");
	size_t got = read_n(fd, buf, sizeof(buf), &end);
	CHECK(got == 6 && memcmp(buf, "answer", 6) == 0 && end == -1,
	      "the half-closed peer reads the answer, then EOF (%zu, %d)", got,
	      end);
	struct rec *r = &recs[0];
	CHECK(r->len == 8 && r->eofs == 1, "question delivered, on_eof once");
	CHECK(r->info.reason == HU_CLOSE_EOF, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(r->info.phase == HU_PHASE_PEER_DONE, "phase %s",
	      hu_phase_name(r->info.phase));
	close(fd);
	hu_loop_free(loop);
	recs_reset();
}

/* Half-close, we first: after our FIN we still receive; the peer's FIN
 * ends it: reason eof, phase local-done. */
static void shut_on_open(hu_conn *c)
{
	rec_on_open(c);
	CHECK(hu_conn_write(c, "first", 5) == 0, "write");
	CHECK(hu_conn_shutdown(c) == 0, "shutdown");
	CHECK(hu_conn_shutdown(c) == 0, "twice is fine");
	CHECK(hu_conn_write(c, "x", 1) == HU_PIPE, "no write after it");
}

static void t_half_close_local_first(void)
{
	char where[128], buf[16];
	int end;
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.cb.on_open = shut_on_open;
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	run_for(loop, 50);
	size_t got = read_n(fd, buf, sizeof(buf), &end);
	CHECK(got == 5 && end == -1, "data then our FIN (%zu, %d)", got, end);
	REQUIRE(send(fd, "after", 5, MSG_NOSIGNAL) == 5,
		"the peer can still send");
	run_for(loop, 50);
	CHECK(recs[0].len == 5 && recs[0].closes == 0,
	      "and we still receive it (%zu)", recs[0].len);
	close(fd);
	CHECK(run_until(loop, &all_closed, 2000), "on_close");
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_EOF, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(r->info.phase == HU_PHASE_LOCAL_DONE, "phase %s",
	      hu_phase_name(r->info.phase));
	hu_loop_free(loop);
	recs_reset();
}

/* Without on_eof, the peer's FIN means: flush what is buffered, then
 * close. A peer that half-closed but reads gets everything. */
static void t_eof_flushes_first(void)
{
	char where[128];
	struct reader rd;
	struct hu_listen_config cfg = server_cfg();
	hu_loop *loop = server(&cfg, where);

	big = calloc(1, BIG);
	int fd = raw_connect(where);
	REQUIRE(run_until_accepted(loop, 1) == 1, "accepted");
	/* A small send buffer, so most of the 1 MiB waits in ours. */
	int small = 16384;
	setsockopt(hu_conn_fd(recs[0].conn), SOL_SOCKET, SO_SNDBUF, &small,
		   sizeof(small));
	int rc = hu_conn_write(recs[0].conn, big, BIG);
	CHECK(rc == 1, "1 MiB is above the 64 KiB mark (%d)", rc);
	CHECK(hu_conn_buffered(recs[0].conn) > 0, "buffered");
	shutdown(fd, SHUT_WR);
	reader_start(&rd, fd, 100);
	CHECK(run_until(loop, &all_closed, 5000), "on_close");
	reader_join(&rd);
	CHECK(rd.got == BIG && rd.err == 0, "the peer got %zu bytes, errno %d",
	      rd.got, rd.err);
	struct rec *r = &recs[0];
	CHECK(r->info.reason == HU_CLOSE_EOF && r->info.undelivered == 0,
	      "reason %s undelivered %llu", hu_reason_name(r->info.reason),
	      r->info.undelivered);
	CHECK(r->drains == 1, "on_drain once (%d)", r->drains);
	close(fd);
	free(big);
	hu_loop_free(loop);
	recs_reset();
}

/* Backpressure: the write says 1 at the high-water mark and on_drain says
 * when to go on; the buffer never exceeds what was written. */
static int drained;
static void count_drain(hu_conn *c)
{
	rec_on_drain(c);
	drained = 1;
}

static void t_backpressure(void)
{
	char where[128];
	char chunk[16384] = {0};
	struct reader rd;
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.high_water = 32768;
	cfg.conn.cb.on_drain = count_drain;
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	REQUIRE(run_until_accepted(loop, 1) == 1, "accepted");
	hu_conn *c = recs[0].conn;
	size_t written = 0;
	int rc = 0;
	for (int i = 0; i < 10000 && rc == 0; i++) {
		rc = hu_conn_write(c, chunk, sizeof(chunk));
		written += sizeof(chunk);
	}
	CHECK(rc == 1, "the write says stop (%d) after %zu bytes", rc, written);
	CHECK(hu_conn_buffered(c) >= 32768 &&
		  hu_conn_buffered(c) < 32768 + sizeof(chunk),
	      "buffered %zu: at the mark, not past it by more than a write",
	      hu_conn_buffered(c));
	drained = 0;
	reader_start(&rd, fd, 50);
	CHECK(run_until(loop, &drained, 3000), "on_drain");
	hu_conn_close(c, HU_GRACEFUL);
	shutdown(fd, SHUT_WR);
	CHECK(run_until(loop, &all_closed, 3000), "on_close");
	reader_join(&rd);
	CHECK(rd.got == written, "the peer got %zu of %zu", rd.got, written);
	close(fd);
	hu_loop_free(loop);
	recs_reset();
}

/* Writes queued before the connect completed go out after it; a client
 * on the loop to a server on the same loop. */
static void t_write_before_connect(void)
{
	char where[128];
	struct hu_listen_config cfg = server_cfg();
	hu_loop *loop = server(&cfg, where);
	struct hu_conn_config ccfg = {.cb = rec_callbacks()};
	ccfg.cb.on_close = close_and_note;
	hu_conn *c = NULL;

	REQUIRE(hu_connect(loop, where, &ccfg, &c) == 0, "hu_connect");
	CHECK(hu_conn_write(c, "early", 5) == 0, "write while connecting");
	CHECK(hu_conn_shutdown(c) == 0, "shutdown while connecting");
	CHECK(run_until(loop, &all_closed, 2000), "both closed");
	REQUIRE(nrecs == 2, "two connections (%d)", nrecs);
	struct rec *cl = recs[0].conn == c ? &recs[0] : &recs[1];
	struct rec *sv = cl == &recs[0] ? &recs[1] : &recs[0];
	CHECK(sv->len == 5 && memcmp(sv->data, "early", 5) == 0,
	      "the server got the early bytes (%zu)", sv->len);
	CHECK(cl->opens == 1 && sv->opens == 1, "both opened");
	CHECK(cl->info.reason == HU_CLOSE_EOF &&
		  sv->info.reason == HU_CLOSE_EOF,
	      "both eof: %s %s", hu_reason_name(cl->info.reason),
	      hu_reason_name(sv->info.reason));
	CHECK(cl->info.phase == HU_PHASE_LOCAL_DONE, "client phase %s",
	      hu_phase_name(cl->info.phase));
	CHECK(cl->info.bytes_out == 5 && sv->info.bytes_in == 5, "counts");
	hu_loop_free(loop);
	recs_reset();
}

/* Paused, the peer sends data and resets: nothing is lost -- on resume
 * the data comes, then on_close says reset. */
static void pause_on_open(hu_conn *c)
{
	rec_on_open(c);
	hu_conn_pause(c);
}

static void t_pause_then_reset(void)
{
	char where[128];
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.cb.on_open = pause_on_open;
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	run_for(loop, 30);
	REQUIRE(send(fd, "kept", 4, MSG_NOSIGNAL) == 4, "send");
	close_rst(fd);
	run_for(loop, 100);
	REQUIRE(nrecs == 1, "accepted");
	CHECK(recs[0].len == 0 && recs[0].closes == 0,
	      "nothing delivered while paused");
	hu_conn_resume(recs[0].conn);
	CHECK(run_until(loop, &all_closed, 2000), "on_close after resume");
	struct rec *r = &recs[0];
	CHECK(r->len == 4 && memcmp(r->data, "kept", 4) == 0,
	      "the data (%zu bytes)", r->len);
	CHECK(r->info.reason == HU_CLOSE_RESET && r->info.error == ECONNRESET,
	      "then reset: %s %s", hu_reason_name(r->info.reason),
	      hu_errno_name(r->info.error));
	hu_loop_free(loop);
	recs_reset();
}

/* Paused across the FIN: the EOF edge passed while paused, and resume
 * still finds it. */
static void t_pause_across_fin(void)
{
	char where[128];
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.cb.on_open = pause_on_open;
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	run_for(loop, 30);
	REQUIRE(send(fd, "tail", 4, MSG_NOSIGNAL) == 4, "send");
	close(fd);
	run_for(loop, 100);
	REQUIRE(nrecs == 1 && recs[0].closes == 0, "not closed while paused");
	hu_conn_resume(recs[0].conn);
	CHECK(run_until(loop, &all_closed, 2000), "on_close after resume");
	CHECK(recs[0].len == 4 && recs[0].info.reason == HU_CLOSE_EOF,
	      "data then eof (%zu, %s)", recs[0].len,
	      hu_reason_name(recs[0].info.reason));
	hu_loop_free(loop);
	recs_reset();
}

/* hu_loop_free with connections still open: each gets on_close "abort". */
static void t_loop_free_aborts(void)
{
	char where[128];
	struct hu_listen_config cfg = server_cfg();
	hu_loop *loop = server(&cfg, where);
	int fds[3];

	for (int i = 0; i < 3; i++)
		fds[i] = raw_connect(where);
	run_for(loop, 50);
	REQUIRE(nrecs == 3, "three accepted (%d)", nrecs);
	hu_loop_free(loop);
	for (int i = 0; i < 3; i++) {
		CHECK(recs[i].closes == 1 &&
			  recs[i].info.reason == HU_CLOSE_ABORT,
		      "conn %d: closes %d reason %s", i, recs[i].closes,
		      hu_reason_name(recs[i].info.reason));
		char c;
		wait_for(fds[i], POLLIN | POLLHUP, 1000);
		CHECK(recv(fds[i], &c, 1, 0) < 0 && errno == ECONNRESET,
		      "peer %d sees the RST", i);
		close(fds[i]);
	}
	recs_reset();
}

/* Several loops share one port with SO_REUSEPORT; without it, EADDRINUSE
 * comes back as HU_ERROR with errno set. */
static void t_reuseport(void)
{
	char where[128];
	hu_loop *a = hu_loop_new(), *b = hu_loop_new();
	struct hu_listen_config cfg = {.reuseport = 1};
	hu_listener *la, *lb;

	la = listen_on(a, "127.0.0.1:0", &cfg, where, sizeof(where));
	CHECK(hu_listen(b, where, &cfg, &lb) == 0, "second loop, same port");
	struct hu_listen_config plain = {0};
	hu_listener *lc = NULL;
	errno = 0;
	int rc = hu_listen(b, where, &plain, &lc);
	CHECK(rc == HU_ERROR && errno == EADDRINUSE,
	      "without SO_REUSEPORT: %s, errno %s", hu_status_name(rc),
	      hu_errno_name(errno));
	(void)la;
	hu_loop_free(a);
	hu_loop_free(b);
}

/* Heartbeats arrive every heartbeat_ms while the connection is open. */
static void t_heartbeat(void)
{
	char where[128];
	struct hu_listen_config cfg = server_cfg();
	cfg.conn.heartbeat_ms = 50;
	hu_loop *loop = server(&cfg, where);

	int fd = raw_connect(where);
	run_for(loop, 340);
	REQUIRE(nrecs == 1, "accepted");
	CHECK(recs[0].beats >= 4 && recs[0].beats <= 7,
	      "%d heartbeats in 340 ms at 50 ms", recs[0].beats);
	close(fd);
	CHECK(run_until(loop, &all_closed, 2000), "on_close");
	int beats = recs[0].beats;
	hu_loop_free(loop);
	CHECK(beats == recs[0].beats, "none after close");
	recs_reset();
}

/* Bad input: clear errors, no crash, nothing called. */
static void t_bad_input(void)
{
	hu_loop *loop = hu_loop_new();
	hu_listener *l = NULL;
	hu_conn *c = NULL;
	static const char *const bad[] = {
	    "",
	    "nonsense",
	    "127.0.0.1",
	    "127.0.0.1:99999",
	    "1.2.3.4.5:80",
	    "::1:80",
	    "[::1]80",
	    "unix:",
	    "unix:/tmp/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(hu_listen(loop, bad[i], NULL, &l) == HU_INVAL,
		      "hu_listen(\"%s\")", bad[i]);
		CHECK(hu_connect(loop, bad[i], NULL, &c) == HU_INVAL,
		      "hu_connect(\"%s\")", bad[i]);
	}
	CHECK(hu_listen(NULL, ":0", NULL, &l) == HU_INVAL, "NULL loop");
	CHECK(hu_listen(loop, NULL, NULL, &l) == HU_INVAL, "NULL addr");
	CHECK(hu_listen(loop, ":0", NULL, NULL) == HU_INVAL, "NULL out");
	struct hu_listen_config neg = {.backlog = -1};
	CHECK(hu_listen(loop, ":0", &neg, &l) == HU_INVAL, "backlog -1");
	CHECK(hu_connect(NULL, ":1", NULL, &c) == HU_INVAL, "NULL loop");
	CHECK(hu_conn_write(NULL, "x", 1) == HU_INVAL, "write NULL conn");
	CHECK(hu_conn_writev(NULL, NULL, 0) == HU_INVAL, "writev NULL");
	CHECK(hu_conn_shutdown(NULL) == HU_INVAL, "shutdown NULL");
	hu_conn_close(NULL, HU_ABORT);
	hu_conn_pause(NULL);
	hu_conn_resume(NULL);
	CHECK(hu_conn_fd(NULL) == -1 && hu_conn_user(NULL) == NULL,
	      "accessors on NULL");
	CHECK(hu_loop_run(NULL) == HU_INVAL, "run NULL");
	CHECK(hu_listener_addr(NULL, NULL, 0) == HU_INVAL, "addr NULL");
	CHECK(hu_timer_start(NULL, 1, 0, NULL, NULL) == NULL, "timer NULL");
	CHECK(hu_timer_start(loop, 1, 0, NULL, NULL) == NULL, "timer no cb");
	hu_timer_stop(NULL);
	hu_listener_close(NULL);
	hu_loop_stop(NULL);
	hu_loop_free(NULL);

	/* A real connection, for the argument checks that need one. */
	char where[128];
	struct hu_listen_config cfg = server_cfg();
	recs_reset();
	listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
	int fd = raw_connect(where);
	REQUIRE(run_until_accepted(loop, 1) == 1, "accepted");
	c = recs[0].conn;
	struct iovec iov[2] = {{NULL, 3}, {"ok", 2}};
	CHECK(hu_conn_write(c, NULL, 3) == HU_INVAL, "write NULL data");
	CHECK(hu_conn_writev(c, iov, 2) == HU_INVAL, "writev NULL base");
	CHECK(hu_conn_writev(c, iov + 1, -1) == HU_INVAL, "writev -1");
	CHECK(hu_conn_writev(c, iov + 1, 100000) == HU_INVAL, "writev huge");
	CHECK(hu_conn_write(c, "", 0) == 0, "an empty write is fine");
	CHECK(recs[0].closes == 0, "and none of it closed the connection");
	close(fd);
	hu_loop_free(loop);
	recs_reset();
}

int main(void)
{
	tap_plan(28);
	RUN(t_echo_ipv4, 10);
	RUN(t_echo_ipv6, 10);
	RUN(t_echo_unix, 10);
	RUN(t_echo_unix_abstract, 10);
	RUN(t_reason_reset_data_first, 10);
	RUN(t_reason_reset_late_data, 10);
	RUN(t_fin_then_rst_together, 10);
	RUN(t_reset_before_accept, 10);
	RUN(t_unix_late_write_no_sigpipe, 10);
	RUN(t_reason_idle, 10);
	RUN(t_reason_local_graceful_unread, 20);
	RUN(t_reason_local_linger_expires, 10);
	RUN(t_graceful_close_peer_never_reads, 10);
	RUN(t_reason_abort, 10);
	RUN(t_reason_refused, 10);
	RUN(t_reason_refused_unix, 10);
	RUN(t_reason_error_enomem, 10);
	RUN(t_half_close_peer_first, 10);
	RUN(t_half_close_local_first, 10);
	RUN(t_eof_flushes_first, 20);
	RUN(t_backpressure, 20);
	RUN(t_write_before_connect, 10);
	RUN(t_pause_then_reset, 10);
	RUN(t_pause_across_fin, 10);
	RUN(t_loop_free_aborts, 10);
	RUN(t_reuseport, 10);
	RUN(t_heartbeat, 10);
	RUN(t_bad_input, 10);
	return tap_done();
}
