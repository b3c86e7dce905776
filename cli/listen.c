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
 * Signals, stdout failing and the end of the run are the lifecycle's
 * (lifecycle.c), as for connect: the first SIGINT/SIGTERM/SIGHUP stops
 * listening and closes every connection gracefully, a second aborts them.
 * What is listen's own: accepting (and a stale Unix socket file), the
 * three modes, --max-conns, and stdin to the one connection of
 * --max-conns 1.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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
    "  --idle MS       close a connection silent both ways for MS: idle,\n"
    "                  gracefully (our FIN, then up to 1 s for the peer's)\n"
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
    "not read: what it never took is undelivered, and it gets an RST); a\n"
    "second signal aborts them all (reason abort).\n"
    "A Unix socket file left by a server that died is replaced, once a\n"
    "connect to it is refused.\n"
    "Exit status: 0 done, 1 cannot listen (or stdout or stdin failed),\n"
    "2 usage.\n";

enum { MODE_PRINT, MODE_ECHO, MODE_DISCARD };

static struct {
	hu_listener *l; /* NULL once we stopped listening */
	int mode;
	unsigned max, accepted;
	const char *in_the_way; /* on a Unix path's EADDRINUSE */
	int use_stdin;          /* stdin to the one connection (nc -l) */
	struct cli_conn *stdin_conn;
} server;

static void stop_listening(void)
{
	if (server.l) {
		hu_listener_close(server.l);
		server.l = NULL;
	}
}

static int listening(void)
{
	return server.l != NULL;
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
		cli_tool_fail();
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
	server.accepted++;
	if (server.max && server.accepted >= server.max)
		stop_listening(); /* no further accept4() from this batch */
	struct cli_conn *tc = cli_conn_track(c);
	if (tc == NULL)
		return;
	/* A connection reset before we accepted it still has its peer: the
	 * library keeps accept4()'s address. */
	cli_conn_opened(tc);
	if (server.use_stdin) {
		server.stdin_conn = tc;
		cli_stdin_start(hu_conn_loop(c), c, "listen", &tc->queued,
				stdin_ended);
	}
}

static void on_data(hu_conn *c, const void *data, size_t len)
{
	struct cli_conn *tc = hu_conn_user(c);
	int rc;

	switch (server.mode) {
	case MODE_PRINT:
		cli_conn_data(c, data, len); /* counted, to stdout */
		break;
	case MODE_ECHO:
		tc->in += len;
		rc = hu_conn_write(c, data, len);
		if (rc >= 0)
			tc->queued += len;
		if (rc == 1)
			hu_conn_pause(c); /* until on_drain */
		break;
	default:
		tc->in += len;
		break;
	}
}

static void on_drain(hu_conn *c)
{
	struct cli_conn *tc = hu_conn_user(c);

	if (tc == server.stdin_conn)
		cli_stdin_drain();
	if (!tc->waiting)
		hu_conn_resume(c);
}

static void on_eof(hu_conn *c)
{
	cli_conn_event(hu_conn_user(c), CLI_EVENT_EOF, HU_PHASE_PEER_DONE);
	/* The peer has finished; so have we, once our echo is out: our FIN
	 * follows it, and the connection ends with reason eof. */
	(void)hu_conn_shutdown(c);
}

static void on_close(hu_conn *c, const struct hu_close_info *info)
{
	struct cli_conn *tc = hu_conn_user(c);

	if (tc && tc == server.stdin_conn) {
		cli_stdin_stop();
		server.stdin_conn = NULL;
	}
	cli_conn_closed(c, info);
}

static void on_accept_error(hu_listener *l, int status, int err)
{
	(void)l;
	cli_diag("hangup listen: accept: %s (%s); retrying\n",
		 status == HU_ERROR ? strerror(err) : hu_strerror(status),
		 cli_errno_name(err));
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
	int c, st = -1;

	memset(o, 0, sizeof(*o));
	cli_options_begin();
	while ((c = cli_next_option("listen", listen_usage, argc, argv, opts,
				    &st)) != -1) {
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
		}
	}
	if (st >= 0)
		return st;
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
 * Otherwise leave it and say what is in the way (server.in_the_way). Returns 1
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
		server.in_the_way = "another socket has that abstract name";
		return 0;
	}
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		server.in_the_way = "a file that is not a socket is in the way "
				    "(remove it, or choose another path)";
		return 0;
	}
	server.in_the_way = "something is listening on that socket file";
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

/*
 * hu_listen() on text, and once more if a stale Unix socket file was in
 * the way; a message naming the problem if it still fails. 0 or -1.
 */
static int start_listening(hu_loop *loop, const char *text,
			   const struct hu_listen_config *cfg)
{
	/* errno is taken at once, where it is hu_listen()'s: replace_stale()
	 * makes calls of its own. */
	int rc = hu_listen(loop, text, cfg, &server.l);
	int err = rc < 0 ? errno : 0;

	if (rc == HU_ERROR && err == EADDRINUSE && replace_stale(text)) {
		rc = hu_listen(loop, text, cfg, &server.l);
		err = rc < 0 ? errno : 0;
	}
	if (rc >= 0)
		return 0;
	if (rc == HU_ERROR && err == EADDRINUSE && server.in_the_way)
		cli_diag("hangup listen: cannot listen on %s: %s\n", text,
			 server.in_the_way);
	else if (rc == HU_ERROR)
		cli_diag("hangup listen: cannot listen on %s: %s (%s)\n", text,
			 strerror(err), cli_errno_name(err));
	else
		cli_diag("hangup listen: cannot listen on %s: %s\n", text,
			 hu_strerror(rc));
	return -1;
}

int cmd_listen(int argc, char **argv)
{
	static const struct cli_tool_hooks hooks = {.busy = listening,
						    .stop = stop_listening};
	struct hu_listen_config cfg = {
	    .conn.cb = {.on_open = on_open,
			.on_data = on_data,
			.on_eof = on_eof,
			.on_drain = on_drain,
			.on_close = on_close},
	    .conn.linger_ms = CLI_LINGER_MS,
	    .on_accept_error = on_accept_error,
	};
	struct cli_listen_opts o;
	int st = cli_listen_parse(argc, argv, &o);

	if (st >= 0)
		return st;
	memset(&server, 0, sizeof(server));
	server.max = o.max;
	server.use_stdin = wants_stdin(&o);
	server.mode = o.echo      ? MODE_ECHO
		      : o.discard ? MODE_DISCARD
				  : MODE_PRINT;
	cfg.conn.liveness_ms = o.liveness_ms;
	cfg.conn.idle_ms = o.idle_ms;

	hu_loop *loop = cli_tool_start("listen", o.json, &hooks);
	if (loop == NULL)
		return EXIT_OTHER;
	if (start_listening(loop, o.addr, &cfg) < 0) {
		(void)cli_tool_quit();
		return EXIT_OTHER;
	}
	char bound[160];
	if (hu_listener_addr(server.l, bound, sizeof(bound)) < 0)
		snprintf(bound, sizeof(bound), "%s", o.addr);
	cli_event_listening(bound);
	return cli_tool_run();
}
