/*
 * t-loop-shared.c -- a connection whose socket is shared with another
 * holder: a forked child, a dup() of hu_conn_fd(). close() then does not
 * remove the epoll registration (the file description lives on), so
 * events for the ended connection can still come. The loop closes without
 * EPOLL_CTL_DEL when it knows the socket is its own, and must stay safe
 * when it is not (issue 15):
 *  - after fork() (pthread_atfork tells the loop) and after hu_conn_fd(),
 *    the close pays the DEL: no event for the ended connection arrives;
 *  - after a fork the loop cannot see (a raw SYS_fork runs no atfork
 *    handler; vfork and posix_spawn hold the fds until exec), the stale
 *    registration does report events: they carry the ended connection's
 *    generation, match nothing, and are dropped -- with a pointer in the
 *    event instead, ASan would see a use after free here;
 *  - a new connection that reuses the fd number meanwhile gets its own
 *    events only.
 * Every case checks one on_close per connection and runs under ASan in
 * `make check`.
 */
#include "hangup.h"
#include "lib/looplib.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int closed, target, reached; /* reached: closed >= target */
static void note_close(hu_conn *c, const struct hu_close_info *info)
{
	rec_on_close(c, info);
	reached = ++closed >= target;
}

/* Run until `n` connections have had their on_close. */
static int run_until_closed(hu_loop *loop, int n)
{
	target = n;
	reached = closed >= n;
	return run_until(loop, &reached, 2000);
}

static hu_loop *serve(char *where)
{
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};
	hu_loop *loop = hu_loop_new();

	REQUIRE(loop != NULL, "hu_loop_new");
	recs_reset();
	closed = reached = 0;
	cfg.conn.cb.on_close = note_close;
	listen_on(loop, "127.0.0.1:0", &cfg, where, 128);
	return loop;
}

/* A child that holds the server's fds until its pipe closes. It drops
 * the client sockets it inherited (this process is both ends), or a
 * client's close() would send no FIN while the child held a copy. */
enum how { HOW_FORK, HOW_RAW_FORK };

static pid_t hold_fds(enum how how, int *release, int client1, int client2)
{
	int p[2];

	REQUIRE(pipe(p) == 0, "pipe");
	fflush(stdout);
	pid_t pid = how == HOW_FORK ? fork() : (pid_t)syscall(SYS_fork);
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		char b;

		close(p[1]);
		close(client1);
		close(client2);
		while (read(p[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(0); /* no atexit, no stdio: the parent's */
	}
	close(p[0]);
	*release = p[1];
	return pid;
}

static void release_fds(pid_t pid, int release)
{
	close(release);
	waitpid(pid, NULL, 0);
}

/*
 * The connection ends (we abort it; the child's copy keeps the socket
 * alive, so the peer sees nothing yet) and the peer sends: the socket
 * turns readable. A second connection takes the freed fd number. Then the
 * first peer closes -- an RDHUP for the child's socket -- and the second
 * peer sends 5 bytes, in that order, before the loop looks: were the
 * stale event taken for the new connection, it would read the 5 bytes
 * with RDHUP set and conclude a FIN. It must stay open, with its own 5
 * bytes, until its peer really ends; one on_close each.
 */
static void shared_case(enum how how)
{
	char where[128];
	hu_loop *loop = serve(where);
	int peer = raw_connect(where);

	REQUIRE(run_until_accepted(loop, 1) == 1, "accepted");
	/* The second client's socket now, so that the fd number the first
	 * connection frees goes to the second accepted one, not to it. */
	struct hu_addr a;
	int peer2 = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE(peer2 >= 0 && hu_addr_parse(where, &a) == 0, "socket");
	int release;
	pid_t child = hold_fds(how, &release, peer, peer2);
	hu_conn_close(recs[0].conn, HU_ABORT);
	REQUIRE(run_until_closed(loop, 1), "on_close");
	CHECK(recs[0].closes == 1 && recs[0].info.reason == HU_CLOSE_ABORT,
	      "ended once, reason %s", hu_reason_name(recs[0].info.reason));
	/* The socket is the child's now: still open, so writable. */
	REQUIRE(send(peer, "STALE", 5, MSG_NOSIGNAL) == 5, "peer sends");
	run_for(loop, 100); /* a stale event, if any, comes now */

	REQUIRE(connect(peer2, (struct sockaddr *)&a.sa, a.len) == 0,
		"connect");
	REQUIRE(run_until_accepted(loop, 2) == 2, "second accepted");
	run_for(loop, 20);
	close(peer);
	sleep_ms(20);
	REQUIRE(send(peer2, "fresh", 5, MSG_NOSIGNAL) == 5, "send");
	sleep_ms(20);
	run_for(loop, 100);
	struct rec *r = &recs[1];
	CHECK(r->closes == 0 && r->len == 5 && memcmp(r->data, "fresh", 5) == 0,
	      "the new connection: its own 5 bytes (%zu), still open (%d "
	      "closes: %s)",
	      r->len, r->closes,
	      r->closes ? hu_reason_name(r->info.reason) : "-");
	shutdown(peer2, SHUT_WR);
	REQUIRE(run_until_closed(loop, 2), "second on_close");
	CHECK(r->info.reason == HU_CLOSE_EOF && r->info.bytes_in == 5,
	      "then eof (%s), 5 bytes in", hu_reason_name(r->info.reason));
	CHECK(recs[0].closes == 1 && recs[0].len == 0,
	      "nothing more for the ended one (%d closes, %zu bytes)",
	      recs[0].closes, recs[0].len);
	release_fds(child, release);
	run_for(loop, 50);
	CHECK(closed == 2, "%d on_close for 2 connections", closed);
	close(peer2);
	hu_loop_free(loop);
	recs_reset();
}

static void t_forked_child_holds_fd(void)
{
	shared_case(HOW_FORK);
}

static void t_unseen_fork_holds_fd(void)
{
	shared_case(HOW_RAW_FORK);
}

/* hu_conn_fd() and dup(): the application shares the socket. */
static void t_dup_of_conn_fd(void)
{
	char where[128];
	hu_loop *loop = serve(where);
	int peer = raw_connect(where);

	REQUIRE(run_until_accepted(loop, 1) == 1, "accepted");
	int dupfd = dup(hu_conn_fd(recs[0].conn));
	REQUIRE(dupfd >= 0, "dup");
	REQUIRE(send(peer, "abc", 3, MSG_NOSIGNAL) == 3, "send");
	run_for(loop, 50);
	hu_conn_close(recs[0].conn, HU_GRACEFUL);
	run_for(loop, 50);
	/* Our FIN went out (shutdown() acts on the shared socket). */
	REQUIRE(send(peer, "late", 4, MSG_NOSIGNAL) == 4, "send");
	shutdown(peer, SHUT_WR);
	REQUIRE(run_until_closed(loop, 1), "on_close");
	run_for(loop, 100); /* a stale event, if any, comes now */
	CHECK(closed == 1 && recs[0].closes == 1 && recs[0].len == 3 &&
		  recs[0].info.reason == HU_CLOSE_LOCAL,
	      "one on_close (%d), 3 bytes delivered (%zu), reason %s", closed,
	      recs[0].len, hu_reason_name(recs[0].info.reason));
	char b[8];
	CHECK(read(dupfd, b, sizeof(b)) == 0, "the dup still reads the FIN");
	close(dupfd);
	close(peer);
	hu_loop_free(loop);
	recs_reset();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(t_forked_child_holds_fd, 10);
	RUN(t_unseen_fork_holds_fd, 10);
	RUN(t_dup_of_conn_fd, 10);
	return tap_done();
}
