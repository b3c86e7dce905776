/*
 * connect.c -- `hangup connect ADDR`: stdin to the socket, the socket to
 * stdout, and an exit status that says how the connection ended.
 *
 * The careful client's end: when stdin ends we half-close (our FIN, after
 * everything queued is out) and keep reading until the peer closes too,
 * so nothing the peer still sends is lost and it sees a clean end, not an
 * RST. A peer that half-closes first is answered the same way: we go on
 * sending stdin until it ends. --liveness bounds the wait on a peer that
 * vanished.
 *
 * stdin is read with backpressure (stdin.c): at most a write buffer's
 * worth is held, whatever its size.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINGER_MS 1000

static const char connect_usage[] =
    "usage: hangup connect [--liveness MS] [--connect-timeout MS] [--json] "
    "ADDR\n\n"
    "Connect to ADDR (HOST:PORT, [V6]:PORT, :PORT for loopback, unix:PATH),\n"
    "send stdin to it and what it sends to stdout, like nc. When stdin ends,\n"
    "half-close (shutdown SHUT_WR) and wait for the peer to close; if the\n"
    "peer half-closes first, go on sending stdin until it ends. Event\n"
    "lines go to stderr:\n\n"
    "  hangup: [SECONDS] #1 PEER open ms=MS\n"
    "  hangup: [SECONDS] #1 PEER eof phase=PHASE in=N out=N ms=MS\n"
    "  hangup: [SECONDS] #1 PEER close reason=REASON errno=NAME "
    "phase=PHASE\n"
    "                    in=N out=N undelivered=N [discarded=N] ms=MS\n\n"
    "(see 'hangup listen --help' for the fields; open's ms is the time the\n"
    "connect took).\n\n"
    "  --liveness MS         detect a vanished peer within about MS\n"
    "                        (keepalive + TCP_USER_TIMEOUT; at least 2000,\n"
    "                        3000 or more where packets can be lost)\n"
    "  --connect-timeout MS  give up a connect not done within MS\n"
    "                        (default: the kernel's SYN retries, ~2 min)\n"
    "  --json                one JSON object per event on stdout, nothing\n"
    "                        else (received data is not printed)\n\n"
    "SIGINT, SIGTERM or SIGHUP closes gracefully (reason local, within 1 s:\n"
    "a peer that does not read gets errno ETIMEDOUT, the rest counted in\n"
    "undelivered, exit 1); a second one aborts (reason abort). Before the\n"
    "connect has completed, either ends it with exit 1.\n"
    "Exit status: 0 the peer closed cleanly (or we closed on a signal and it\n"
    "took all we sent), 3 refused, 4 reset, 5 timeout (dead peer, connect\n"
    "timeout), 6 unreachable (also no route: errno EINVAL for a blackhole\n"
    "route, EACCES for a prohibit route), 1 other error (also stdin closed,\n"
    "a directory, or unreadable), 2 usage.\n";

static struct {
	hu_loop *loop;
	hu_conn *c;
	int json, status, signals, closed, out_waiting;
	int shut; /* stdin ended: our FIN is on its way */
	/* for the open and eof lines */
	char peer[160];
	int have_peer;
	unsigned long long in, queued, start;
	int sfd;
	hu_watch *sigw;
	hu_timer *flush_timer, *abort_timer;
} C;

static void finish_if_done(void);

static void give_up_stdout(hu_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	C.flush_timer = NULL; /* freed after this call */
	cli_out_abandon();
	finish_if_done();
}

/*
 * The loop ends once nothing is left: no connection, nothing queued
 * for stdout, and (last) the signal watch stopped. After a signal, stdout
 * gets LINGER_MS more to take what is queued: a reader that stopped
 * reading must not keep us from exiting.
 */
static void finish_if_done(void)
{
	if (!(C.closed) || C.sigw == NULL)
		return;
	if (cli_out_pending() > 0) {
		if (C.signals > 0 && C.flush_timer == NULL)
			C.flush_timer = hu_timer_start(C.loop, LINGER_MS, 0,
						       give_up_stdout, NULL);
		return;
	}
	if (C.flush_timer) {
		hu_timer_stop(C.flush_timer);
		C.flush_timer = NULL;
	}
	hu_watch_stop(C.sigw);
	C.sigw = NULL;
}

static void conn_event(const char *event, const char *phase)
{
	struct cli_event e = {
	    .event = event,
	    .conn = hu_conn_id(C.c),
	    .peer = C.have_peer ? C.peer : NULL,
	    .phase = phase,
	    .bytes_in = C.in,
	    .bytes_out = C.queued - hu_conn_buffered(C.c),
	    .ms = hu_loop_now(C.loop) - C.start,
	};
	cli_event(&e);
}

/* stdin is over (stdin.c): EOF, or a read error it reported. */
static void stdin_ended(int err)
{
	/* Not all of stdin went out: not a clean run, whatever the peer
	 * does next. */
	if (err != 0)
		C.status = EXIT_OTHER;
	C.shut = 1;
	/* Our FIN goes once everything queued is written; the connection
	 * then ends when the peer's FIN comes (reason eof). */
	(void)hu_conn_shutdown(C.c);
}

/* ---- the connection ---- */

static void on_open(hu_conn *c)
{
	C.have_peer = hu_conn_peer(c, C.peer, sizeof(C.peer)) >= 0;
	conn_event("open", hu_phase_name(HU_PHASE_OPEN));
	cli_stdin_start(C.loop, c, "connect", &C.queued, stdin_ended);
}

static void on_data(hu_conn *c, const void *data, size_t len)
{
	C.in += len;
	if (C.json)
		return; /* stdout holds JSON lines and nothing else */
	if (cli_out(data, len) == 1) {
		hu_conn_pause(c); /* until the sink's on_room */
		C.out_waiting = 1;
	}
}

static void on_drain(hu_conn *c)
{
	(void)c;
	cli_stdin_drain();
}

static void on_eof(hu_conn *c)
{
	(void)c;
	/* Half-close: the peer will send no more, but may still read. We go
	 * on sending stdin; when it ends, our FIN ends the connection. */
	conn_event("eof", hu_phase_name(C.shut ? HU_PHASE_LOCAL_DONE
					       : HU_PHASE_PEER_DONE));
}

static void on_close(hu_conn *c, const struct hu_close_info *info)
{
	if (!C.have_peer) /* never opened: the address we were given */
		C.have_peer = hu_conn_peer(c, C.peer, sizeof(C.peer)) >= 0;
	struct cli_event e = {
	    .event = "close",
	    .conn = hu_conn_id(c),
	    .peer = C.have_peer ? C.peer : NULL,
	    .phase = hu_phase_name(info->phase),
	    .info = info,
	};
	cli_event(&e);
	if (C.status == 0)
		C.status = cli_exit_for_reason(info->reason);
	/* We gave up (a signal) before the connection existed: nothing
	 * succeeded, so `hangup connect X && echo reachable` must not say
	 * so. Not "reset" either, for a second signal's abort. */
	if (info->phase == HU_PHASE_CONNECTING &&
	    (info->reason == HU_CLOSE_LOCAL || info->reason == HU_CLOSE_ABORT))
		C.status = EXIT_OTHER;
	/* We closed (a signal), but the peer never took all we sent: not a
	 * clean end, whatever the reason word says. */
	if (C.status == 0 && info->reason == HU_CLOSE_LOCAL &&
	    info->undelivered > 0)
		C.status = EXIT_OTHER;
	C.closed = 1;
	cli_stdin_stop();
	if (C.abort_timer) {
		hu_timer_stop(C.abort_timer);
		C.abort_timer = NULL;
	}
	finish_if_done();
}

/*
 * A safety net: the library's linger bounds a graceful close (flush
 * included) to LINGER_MS; should the close still not have ended after
 * twice that, abort it rather than hang on the way out.
 */
static void abort_straggler(hu_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	C.abort_timer = NULL; /* freed after this call */
	if (C.closed)
		return;
	cli_diag("hangup connect: still closing after %d ms (the peer is not "
		 "reading): aborting\n",
		 2 * LINGER_MS);
	hu_conn_close(C.c, HU_ABORT);
}

static void close_gracefully(void)
{
	if (C.closed)
		return;
	hu_conn_close(C.c, HU_GRACEFUL);
	if (C.abort_timer == NULL)
		C.abort_timer = hu_timer_start(C.loop, 2 * LINGER_MS, 0,
					       abort_straggler, NULL);
}

static void on_signal(hu_watch *w, unsigned events, void *arg)
{
	int sig = cli_signal_read(C.sfd);

	(void)w;
	(void)events;
	(void)arg;
	if (sig == 0)
		return;
	if (++C.signals == 1 && !C.closed) {
		close_gracefully();
		return;
	}
	/* Again, or while stdout is still being written: stop now. */
	if (!C.closed)
		hu_conn_close(C.c, HU_ABORT);
	cli_out_abandon();
	finish_if_done();
}

static void on_room(void *arg)
{
	(void)arg;
	if (C.out_waiting && !C.closed) {
		C.out_waiting = 0;
		hu_conn_resume(C.c);
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
	cli_diag("hangup connect: stdout: %s (%s); closing\n", strerror(err),
		 en ? en : "?");
	C.status = EXIT_OTHER;
	close_gracefully();
	finish_if_done();
}

int cli_connect_parse(int argc, char **argv, struct cli_connect_opts *o)
{
	static const struct option opts[] = {
	    {"liveness", required_argument, NULL, 'l'},
	    {"connect-timeout", required_argument, NULL, 't'},
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
		case 'l':
			if (cli_parse_ms("connect", "--liveness", optarg,
					 &o->liveness_ms) < 0)
				return EXIT_USAGE;
			break;
		case 't':
			if (cli_parse_ms("connect", "--connect-timeout", optarg,
					 &o->connect_timeout_ms) < 0)
				return EXIT_USAGE;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			fputs(connect_usage, stdout);
			return 0;
		default:
			cli_bad_option("connect", c, argv);
			return EXIT_USAGE;
		}
	}
	struct hu_addr a;
	if (cli_parse_operand("connect", "127.0.0.1:7000, :7000, unix:/tmp/s",
			      argc, argv, &o->addr, &a) < 0 ||
	    cli_check_dest("connect", o->addr, &a) < 0)
		return EXIT_USAGE;
	return -1;
}

/*
 * hu_connect() failed before there was a connection (out of fds or
 * memory): no on_close will come, but a run that tried to connect still
 * ends with a close event, so that a jq pipeline reading stdout learns
 * why. conn is 0 (null): no connection number was given.
 */
static void connect_failed(const char *text, int rc, int err)
{
	struct hu_addr a;
	char peer[160];

	/* As the loop's events write it: ":1" is 127.0.0.1:1. */
	if (hu_addr_parse(text, &a) < 0 ||
	    hu_addr_format((struct sockaddr *)&a.sa, a.len, peer,
			   sizeof(peer)) < 0)
		snprintf(peer, sizeof(peer), "%s", text);
	struct hu_close_info info = {
	    .reason = hu_reason_from_status(rc),
	    .error = err,
	    .phase = HU_PHASE_CONNECTING,
	};
	struct cli_event e = {
	    .event = "close",
	    .peer = peer,
	    .phase = hu_phase_name(HU_PHASE_CONNECTING),
	    .info = &info,
	};
	cli_event(&e);
}

int cmd_connect(int argc, char **argv)
{
	struct hu_conn_config cfg = {
	    .cb = {.on_open = on_open,
		   .on_data = on_data,
		   .on_eof = on_eof,
		   .on_drain = on_drain,
		   .on_close = on_close},
	    .linger_ms = LINGER_MS,
	};
	struct cli_connect_opts o;
	int st = cli_connect_parse(argc, argv, &o);

	if (st >= 0)
		return st;
	/* stdin must be something to read, or a run that sent nothing
	 * would say success. Before connecting: the peer sees nothing of a
	 * run that could not have worked. */
	if (cli_stdin_check("connect") < 0)
		return EXIT_OTHER;
	memset(&C, 0, sizeof(C));
	C.sfd = -1;
	C.json = o.json;
	cfg.liveness_ms = o.liveness_ms;
	cfg.connect_timeout_ms = o.connect_timeout_ms;
	const char *text = o.addr;

	if ((C.loop = cli_start("connect", &C.sfd)) == NULL)
		return EXIT_OTHER;
	struct cli_sink_hooks hooks = {
	    .on_room = on_room, .on_idle = on_idle, .on_gone = on_gone};
	cli_sink_init(C.loop, &hooks);
	cli_events_init(C.json);

	int rc = hu_connect(C.loop, text, &cfg, &C.c);
	if (rc < 0) {
		int err = errno; /* meaningful: the call failed */
		const char *en = hu_errno_name(err);

		connect_failed(text, rc, err);
		cli_diag("hangup connect: cannot connect to %s: %s (%s)\n",
			 text, rc == HU_ERROR ? strerror(err) : hu_strerror(rc),
			 en ? en : "?");
		hu_loop_free(C.loop);
		cli_sink_done();
		close(C.sfd);
		return EXIT_OTHER;
	}
	C.start = hu_loop_now(C.loop);
	if (hu_watch_start(C.loop, C.sfd, HU_READABLE, on_signal, NULL,
			   &C.sigw) < 0) {
		cli_diag("hangup connect: cannot watch signals\n");
		C.status = EXIT_OTHER;
		hu_conn_close(C.c, HU_ABORT);
	}

	rc = hu_loop_run(C.loop);
	if (rc < 0) {
		cli_diag("hangup connect: loop: %s\n", hu_strerror(rc));
		C.status = EXIT_OTHER;
	}
	hu_loop_free(C.loop);
	cli_sink_done();
	close(C.sfd);
	return C.status;
}
