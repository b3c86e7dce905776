/*
 * listen.c -- `hangup listen ADDR`: a netcat -l that says how each
 * connection ended.
 *
 * Accepts any number of connections on hangup's loop. What a peer sends is
 * printed on stdout (default), sent back (--echo) or dropped (--discard);
 * every open, half-close (eof) and close is one event line (events.c).
 *
 * Backpressure both ways: an echo that the peer does not read pauses that
 * connection at the write buffer's high-water mark until on_drain, and data
 * that stdout cannot take yet pauses the connections feeding it until the
 * sink has room again (sink.c). So one slow reader stalls only itself.
 *
 * The end: --max-conns N stops listening after the Nth connection and
 * exits when the last one has closed (so `--max-conns 1` is `nc -l`).
 * SIGINT/SIGTERM/SIGHUP stop listening and close every connection
 * gracefully (our FIN, then up to LINGER_MS for the peer's); their close
 * lines say "local" (with ETIMEDOUT when the linger ran out, e.g. a peer
 * that does not read). A second signal aborts every connection still
 * closing (RST): "abort"; so does a safety net after 2 * LINGER_MS.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LINGER_MS 1000

static const char listen_usage[] =
    "usage: hangup listen [--echo|--discard] [--liveness MS] [--idle MS]\n"
    "                     [--max-conns N] [--json] ADDR\n\n"
    "Accept connections on ADDR (HOST:PORT, [V6]:PORT, :PORT for loopback,\n"
    "unix:PATH; port 0 picks a free port) and report how each one ends.\n"
    "What a peer sends goes to stdout (like nc -l), unless --echo or\n"
    "--discard. Event lines go to stderr, one per event:\n\n"
    "  hangup: [SECONDS] listening ADDR\n"
    "  hangup: [SECONDS] #ID PEER open ms=MS\n"
    "  hangup: [SECONDS] #ID PEER eof phase=PHASE in=N out=N ms=MS\n"
    "  hangup: [SECONDS] #ID PEER close reason=REASON errno=NAME "
    "phase=PHASE\n"
    "                    in=N out=N undelivered=N [discarded=N] ms=MS\n\n"
    "SECONDS since the start; in/out are bytes received and sent;\n"
    "undelivered, bytes we sent that the peer never acknowledged;\n"
    "discarded (only when not 0), bytes of in read and dropped while\n"
    "closing; ms, the connection's age. REASON: eof reset timeout idle\n"
    "local abort error.\n\n"
    "  --echo          send back what each peer sends\n"
    "  --discard       drop what peers send\n"
    "  --liveness MS   detect a vanished peer within about MS (keepalive +\n"
    "                  TCP_USER_TIMEOUT; at least 2000, and 3000 or more\n"
    "                  where packets can be lost): reason timeout\n"
    "  --idle MS       close a connection silent both ways for MS: idle\n"
    "  --max-conns N   accept N connections in all, then stop listening\n"
    "                  (a later connect is refused; one the kernel had\n"
    "                  already queued is reset) and exit when the last has\n"
    "                  closed. With N = 1, stdin goes to the connection, as\n"
    "                  with nc -l (not with --echo; no FIN at its end)\n"
    "  --json          one JSON object per event on stdout, nothing else\n"
    "                  (received data is not printed; --echo still "
    "echoes)\n\n"
    "A peer's FIN is answered with ours once our data is out (close\n"
    "reason eof). SIGINT, SIGTERM or SIGHUP: stop listening and close every\n"
    "connection gracefully (our FIN, then up to 1 s for the peer's: reason\n"
    "local, with errno ETIMEDOUT if the 1 s ran out, e.g. a peer that does\n"
    "not read); a second signal aborts them all (reason abort).\n"
    "A Unix socket file left by a server that died is replaced, once a\n"
    "connect to it is refused.\n"
    "Exit status: 0 done, 1 cannot listen (or stdout or stdin failed),\n"
    "2 usage.\n";

enum { MODE_PRINT, MODE_ECHO, MODE_DISCARD };

/* One accepted connection, as this tool knows it. */
struct lconn {
	hu_conn *c;
	struct lconn *prev, *next;
	char peer[160];
	int have_peer;
	int waiting; /* paused until stdout has room */
	unsigned long long in, queued, start;
};

static struct {
	hu_loop *loop;
	hu_listener *l;
	int mode, json, status, signals;
	unsigned max, accepted;
	struct lconn *conns;
	unsigned nconns;
	int sfd;
	hu_watch *sigw;
	hu_timer *flush_timer, *abort_timer;
	const char *in_the_way; /* on a Unix path's EADDRINUSE */
	int use_stdin;          /* stdin to the one connection (nc -l) */
	struct lconn *stdin_conn;
} L;

static struct lconn *lc_of(hu_conn *c)
{
	return hu_conn_user(c);
}

static void finish_if_done(void);

static void give_up_stdout(hu_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	L.flush_timer = NULL; /* freed after this call */
	cli_out_abandon();
	finish_if_done();
}

/*
 * The loop ends once nothing is left: no connection, no listener, nothing
 * queued for stdout, and (last) the signal watch stopped. After a signal,
 * stdout gets LINGER_MS more to take what is queued: a reader that stopped
 * reading must not keep us from exiting.
 */
static void finish_if_done(void)
{
	if (!(L.l == NULL && L.nconns == 0) || L.sigw == NULL)
		return;
	if (cli_out_pending() > 0) {
		if (L.signals > 0 && L.flush_timer == NULL)
			L.flush_timer = hu_timer_start(L.loop, LINGER_MS, 0,
						       give_up_stdout, NULL);
		return;
	}
	if (L.flush_timer) {
		hu_timer_stop(L.flush_timer);
		L.flush_timer = NULL;
	}
	if (L.abort_timer) {
		hu_timer_stop(L.abort_timer);
		L.abort_timer = NULL;
	}
	hu_watch_stop(L.sigw);
	L.sigw = NULL;
}

static void stop_listening(void)
{
	if (L.l) {
		hu_listener_close(L.l);
		L.l = NULL;
	}
}

static void conn_event(struct lconn *lc, hu_conn *c, const char *event,
		       const char *phase)
{
	struct cli_event e = {
	    .event = event,
	    .conn = hu_conn_id(c),
	    .peer = lc->have_peer ? lc->peer : NULL,
	    .phase = phase,
	    .bytes_in = lc->in,
	    .bytes_out = lc->queued - hu_conn_buffered(c),
	    .ms = hu_loop_now(L.loop) - lc->start,
	};
	cli_event(&e);
}

/*
 * stdin ended (stdin.c). As nc -l without -N: no FIN for it -- the
 * connection goes on until the peer closes (or a signal) -- so a stdin
 * that is /dev/null, as for a job started with & in a script, changes
 * nothing for the peer.
 */
static void stdin_ended(int err)
{
	if (err != 0)
		L.status = EXIT_OTHER;
}

/*
 * nc -l sends stdin to its one connection; so does `listen --max-conns 1`
 * (not with --echo: the peer's own data is what goes back). Not when
 * stdin was closed at the start, nor a terminal that we do not hold in the
 * foreground: a job started with & would be stopped by SIGTTIN at the
 * first read.
 */
static int wants_stdin(const struct cli_listen_opts *o)
{
	if (o->max != 1 || o->echo || (cli_closed_fds & (1u << STDIN_FILENO)))
		return 0;
	return !isatty(STDIN_FILENO) || tcgetpgrp(STDIN_FILENO) == getpgrp();
}

static void on_open(hu_conn *c)
{
	struct lconn *lc = calloc(1, sizeof(*lc));

	L.accepted++;
	if (L.max && L.accepted >= L.max)
		stop_listening(); /* no further accept4() from this batch */
	if (lc == NULL) {
		cli_diag("hangup listen: out of memory; aborting #%llu\n",
			 hu_conn_id(c));
		hu_conn_close(c, HU_ABORT);
		return;
	}
	lc->c = c;
	lc->start = hu_loop_now(L.loop);
	/* Now, while the socket is open: on_close comes after its fd is
	 * gone. A connection reset before we accepted it has no peer any
	 * more (ENOTCONN): "?" then. */
	lc->have_peer = hu_conn_peer(c, lc->peer, sizeof(lc->peer)) >= 0;
	lc->next = L.conns;
	if (L.conns)
		L.conns->prev = lc;
	L.conns = lc;
	L.nconns++;
	hu_conn_set_user(c, lc);
	conn_event(lc, c, "open", hu_phase_name(HU_PHASE_OPEN));
	if (L.use_stdin) {
		L.stdin_conn = lc;
		cli_stdin_start(L.loop, c, "listen", &lc->queued, stdin_ended);
	}
}

static void on_data(hu_conn *c, const void *data, size_t len)
{
	struct lconn *lc = lc_of(c);
	int rc;

	lc->in += len;
	switch (L.mode) {
	case MODE_ECHO:
		rc = hu_conn_write(c, data, len);
		if (rc >= 0)
			lc->queued += len;
		if (rc == 1)
			hu_conn_pause(c); /* until on_drain */
		break;
	case MODE_PRINT:
		if (L.json)
			break; /* stdout holds JSON lines and nothing else */
		if (cli_out(data, len) == 1) {
			hu_conn_pause(c); /* until the sink's on_room */
			lc->waiting = 1;
		}
		break;
	default:
		break;
	}
}

static void on_drain(hu_conn *c)
{
	if (lc_of(c) == L.stdin_conn)
		cli_stdin_drain();
	if (!lc_of(c)->waiting)
		hu_conn_resume(c);
}

static void on_eof(hu_conn *c)
{
	struct lconn *lc = lc_of(c);

	conn_event(lc, c, "eof", hu_phase_name(HU_PHASE_PEER_DONE));
	/* The peer has finished; so have we, once our echo is out: our FIN
	 * follows it, and the connection ends with reason eof. */
	(void)hu_conn_shutdown(c);
}

static void on_close(hu_conn *c, const struct hu_close_info *info)
{
	struct lconn *lc = lc_of(c);
	char peer[160];
	int have_peer = 0;

	if (lc == NULL) /* on_open never ran, or ran out of memory */
		have_peer = hu_conn_peer(c, peer, sizeof(peer)) >= 0;
	struct cli_event e = {
	    .event = "close",
	    .conn = hu_conn_id(c),
	    .peer = lc ? (lc->have_peer ? lc->peer : NULL)
		       : (have_peer ? peer : NULL),
	    .phase = hu_phase_name(info->phase),
	    .info = info,
	};
	cli_event(&e);
	if (lc && lc == L.stdin_conn) {
		cli_stdin_stop();
		L.stdin_conn = NULL;
	}
	if (lc) {
		if (lc->prev)
			lc->prev->next = lc->next;
		else
			L.conns = lc->next;
		if (lc->next)
			lc->next->prev = lc->prev;
		L.nconns--;
		free(lc);
		hu_conn_set_user(c, NULL);
	}
	finish_if_done();
}

static void on_accept_error(hu_listener *l, int status, int err)
{
	const char *en = hu_errno_name(err);

	(void)l;
	cli_diag("hangup listen: accept: %s (%s); retrying\n",
		 status == HU_ERROR ? strerror(err) : hu_strerror(status),
		 en ? en : "?");
}

static void stop_all(int how);

/*
 * The library's graceful close starts its linger only once our write
 * buffer has drained, so a peer that never reads would keep such a
 * connection closing for ever (reported, with a reproducer). Whatever is
 * still closing after twice the linger is aborted.
 */
static void abort_stragglers(hu_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	L.abort_timer = NULL; /* freed after this call */
	if (L.nconns == 0) {
		finish_if_done();
		return;
	}
	cli_diag(
	    "hangup listen: %u connection%s still closing after %d ms (the "
	    "peer is not reading): aborting\n",
	    L.nconns, L.nconns == 1 ? "" : "s", 2 * LINGER_MS);
	stop_all(HU_ABORT);
}

/* Stop listening and close every connection: gracefully the first time,
 * abortively (RST, and stdout abandoned) after that. */
static void stop_all(int how)
{
	stop_listening();
	for (struct lconn *lc = L.conns; lc; lc = lc->next)
		hu_conn_close(lc->c, how);
	if (how == HU_ABORT)
		cli_out_abandon();
	else if (L.nconns > 0 && L.abort_timer == NULL)
		L.abort_timer = hu_timer_start(L.loop, 2 * LINGER_MS, 0,
					       abort_stragglers, NULL);
	finish_if_done();
}

static void on_signal(hu_watch *w, unsigned events, void *arg)
{
	int sig = cli_signal_read(L.sfd);

	(void)w;
	(void)events;
	(void)arg;
	if (sig == 0)
		return;
	if (++L.signals == 1 && L.nconns > 0)
		cli_diag("hangup listen: SIG%s: closing %u connection%s (again "
			 "to abort)\n",
			 sigabbrev_np(sig), L.nconns, L.nconns == 1 ? "" : "s");
	stop_all(L.signals == 1 ? HU_GRACEFUL : HU_ABORT);
}

static void on_room(void *arg)
{
	(void)arg;
	for (struct lconn *lc = L.conns; lc; lc = lc->next)
		if (lc->waiting) {
			lc->waiting = 0;
			hu_conn_resume(lc->c);
		}
}

static void on_idle(void *arg)
{
	(void)arg;
	finish_if_done();
}

static void on_gone(void *arg, int err)
{
	const char *en = hu_errno_name(err);

	(void)arg;
	cli_diag("hangup listen: stdout: %s (%s); stopping\n", strerror(err),
		 en ? en : "?");
	L.status = EXIT_OTHER;
	stop_all(HU_GRACEFUL);
}

int cli_listen_parse(int argc, char **argv, struct cli_listen_opts *o)
{
	static const struct option opts[] = {
	    {"echo", no_argument, NULL, 'e'},
	    {"discard", no_argument, NULL, 'd'},
	    {"liveness", required_argument, NULL, 'l'},
	    {"idle", required_argument, NULL, 'i'},
	    {"max-conns", required_argument, NULL, 'm'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0; /* GNU: a full reset, nextchar included */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			o->echo = 1;
			break;
		case 'd':
			o->discard = 1;
			break;
		case 'l':
			if (cli_parse_ms("listen", "--liveness", optarg,
					 &o->liveness_ms) < 0)
				return EXIT_USAGE;
			break;
		case 'i':
			if (cli_parse_ms("listen", "--idle", optarg,
					 &o->idle_ms) < 0)
				return EXIT_USAGE;
			break;
		case 'm':
			if (cli_parse_count("listen", "--max-conns", optarg,
					    1000000000u, &o->max) < 0)
				return EXIT_USAGE;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			fputs(listen_usage, stdout);
			return 0;
		default:
			cli_bad_option("listen", c, argv);
			return EXIT_USAGE;
		}
	}
	if (o->echo && o->discard) {
		fputs(
		    "hangup listen: --echo and --discard exclude each other\n",
		    stderr);
		return EXIT_USAGE;
	}
	struct hu_addr a;
	if (cli_parse_operand("listen", ":0, 127.0.0.1:7000, unix:/tmp/s", argc,
			      argv, &o->addr, &a) < 0)
		return EXIT_USAGE;
	return -1;
}

/*
 * bind() on a Unix path says EADDRINUSE when any file is there -- most
 * often the socket file of a server that was killed (kill -9 leaves it
 * behind). If it is a socket and nothing answers a connect on it
 * (ECONNREFUSED), it is stale: remove it, as many servers do, and say so.
 * Otherwise leave it and say what is in the way (L.in_the_way). Returns 1
 * when the path is free to try again.
 */
static int replace_stale(const char *text)
{
	struct hu_addr a;
	struct stat st;

	if (strncmp(text, "unix:", 5) != 0 || hu_addr_parse(text, &a) < 0)
		return 0;
	const char *path = ((struct sockaddr_un *)&a.sa)->sun_path;
	if (path[0] == '\0') { /* abstract: no file, a live listener */
		L.in_the_way = "another socket has that abstract name";
		return 0;
	}
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		L.in_the_way = "a file that is not a socket is in the way "
			       "(remove it, or choose another path)";
		return 0;
	}
	L.in_the_way = "something is listening on that socket file";
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	/* Non-blocking: a live listener with a full backlog says EAGAIN,
	 * never ECONNREFUSED. */
	int stale = connect(fd, (struct sockaddr *)&a.sa, a.len) < 0 &&
		    errno == ECONNREFUSED;
	close(fd);
	if (!stale || unlink(path) < 0)
		return 0;
	cli_diag("hangup listen: removed the stale socket file %s (nothing "
		 "was listening on it)\n",
		 path);
	return 1;
}

int cmd_listen(int argc, char **argv)
{
	struct hu_listen_config cfg = {
	    .conn.cb = {.on_open = on_open,
			.on_data = on_data,
			.on_eof = on_eof,
			.on_drain = on_drain,
			.on_close = on_close},
	    .conn.linger_ms = LINGER_MS,
	    .on_accept_error = on_accept_error,
	};
	struct cli_listen_opts o;
	int st = cli_listen_parse(argc, argv, &o);

	if (st >= 0)
		return st;
	memset(&L, 0, sizeof(L));
	L.sfd = -1;
	L.json = o.json;
	L.max = o.max;
	L.use_stdin = wants_stdin(&o);
	cfg.conn.liveness_ms = o.liveness_ms;
	cfg.conn.idle_ms = o.idle_ms;
	const char *text = o.addr;
	L.mode = o.echo ? MODE_ECHO : o.discard ? MODE_DISCARD : MODE_PRINT;

	if ((L.loop = cli_start("listen", &L.sfd)) == NULL)
		return EXIT_OTHER;
	struct cli_sink_hooks hooks = {
	    .on_room = on_room, .on_idle = on_idle, .on_gone = on_gone};
	cli_sink_init(L.loop, &hooks);
	cli_events_init(L.json);

	/* errno is taken at once, where it is hu_listen()'s: replace_stale()
	 * makes calls of its own. */
	int rc = hu_listen(L.loop, text, &cfg, &L.l);
	int err = rc < 0 ? errno : 0;
	if (rc == HU_ERROR && err == EADDRINUSE && replace_stale(text)) {
		rc = hu_listen(L.loop, text, &cfg, &L.l);
		err = rc < 0 ? errno : 0;
	}
	if (rc < 0) {
		const char *en = hu_errno_name(err);

		if (rc == HU_ERROR && err == EADDRINUSE && L.in_the_way)
			cli_diag("hangup listen: cannot listen on %s: %s\n",
				 text, L.in_the_way);
		else if (rc == HU_ERROR)
			cli_diag("hangup listen: cannot listen on %s: %s "
				 "(%s)\n",
				 text, strerror(err), en ? en : "?");
		else
			cli_diag("hangup listen: cannot listen on %s: %s\n",
				 text, hu_strerror(rc));
		hu_loop_free(L.loop);
		cli_sink_done();
		close(L.sfd);
		return EXIT_OTHER;
	}
	char bound[160];
	if (hu_listener_addr(L.l, bound, sizeof(bound)) < 0)
		snprintf(bound, sizeof(bound), "%s", text);
	cli_event_listening(bound);
	if (hu_watch_start(L.loop, L.sfd, HU_READABLE, on_signal, NULL,
			   &L.sigw) < 0) {
		cli_diag("hangup listen: cannot watch signals\n");
		L.status = EXIT_OTHER;
		stop_all(HU_ABORT);
	}
	/* stdout may have failed already, at the listening event: then
	 * nothing is left to wait for but the watch just started. */
	finish_if_done();

	rc = hu_loop_run(L.loop);
	if (rc < 0) {
		cli_diag("hangup listen: loop: %s\n", hu_strerror(rc));
		L.status = EXIT_OTHER;
	}
	hu_loop_free(L.loop); /* aborts what is left (none, normally) */
	cli_sink_done();
	close(L.sfd);
	return L.status;
}
