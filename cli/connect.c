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
 * Backpressure: stdin is read only while the connection's write buffer is
 * below its high-water mark (hu_conn_write() returns 1 at the mark: stop
 * until on_drain), so `hangup connect < 10G.img` holds at most a buffer's
 * worth. A regular file cannot be watched by epoll (it is always
 * "ready"): it is read directly, a few chunks per loop pass.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINGER_MS 1000
#define CHUNK 65536
#define FILE_ROUNDS 16 /* chunks per pass, so signals are still seen */

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
    "                    in=N out=N undelivered=N ms=MS\n\n"
    "(see 'hangup listen --help' for the fields; open's ms is the time the\n"
    "connect took).\n\n"
    "  --liveness MS         detect a vanished peer within about MS\n"
    "                        (keepalive + TCP_USER_TIMEOUT; at least 2000,\n"
    "                        3000 or more where packets can be lost)\n"
    "  --connect-timeout MS  give up a connect not done within MS\n"
    "                        (default: the kernel's SYN retries, ~2 min)\n"
    "  --json                one JSON object per event on stdout, nothing\n"
    "                        else (received data is not printed)\n\n"
    "SIGINT/SIGTERM closes gracefully (reason local; aborted after 2 s if\n"
    "the peer does not read what we sent); a second one aborts.\n"
    "Exit status: 0 the peer closed cleanly (or we did), 3 refused, 4 reset,\n"
    "5 timeout (dead peer, connect timeout), 6 unreachable, 1 other error,\n"
    "2 usage.\n";

static struct {
	hu_loop *loop;
	hu_conn *c;
	int json, status, signals, closed, out_waiting;
	/* stdin */
	hu_watch *inw;
	hu_timer *pump;
	int in_file, in_paused, in_done, shut;
	/* for the open and eof lines */
	char peer[160];
	int have_peer;
	unsigned long long in, queued, start;
	int sfd;
	hu_watch *sigw;
	hu_timer *flush_timer, *abort_timer;
	char buf[CHUNK];
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

/* ---- stdin ---- */

static void stdin_stop(void)
{
	C.in_done = 1;
	if (C.inw) {
		hu_watch_stop(C.inw);
		C.inw = NULL;
	}
	if (C.pump) {
		hu_timer_stop(C.pump);
		C.pump = NULL;
	}
}

static void stdin_ended(void)
{
	stdin_stop();
	C.shut = 1;
	/* Our FIN goes once everything queued is written; the connection
	 * then ends when the peer's FIN comes (reason eof). */
	(void)hu_conn_shutdown(C.c);
}

/* Send what stdin gave; 0 to go on reading, -1 to wait (or stop). */
static int send_chunk(const char *p, size_t n)
{
	int rc = hu_conn_write(C.c, p, n);

	if (rc < 0) { /* closing or gone: its on_close says why */
		stdin_stop();
		return -1;
	}
	C.queued += n;
	if (rc == 1) { /* at the high-water mark: wait for on_drain */
		C.in_paused = 1;
		if (C.inw)
			(void)hu_watch_set(C.inw, 0);
		return -1;
	}
	return 0;
}

/* Read stdin once; 0 to go on, -1 to stop this round. */
static int read_stdin(void)
{
	ssize_t n = read(STDIN_FILENO, C.buf, sizeof(C.buf));

	if (n > 0)
		return send_chunk(C.buf, (size_t)n);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return -1;
	if (n < 0 && errno != EBADF) {
		const char *en = hu_errno_name(errno);

		cli_diag("hangup connect: stdin: %s (%s); ending it\n",
			 strerror(errno), en ? en : "?");
	}
	stdin_ended(); /* EOF (or no stdin at all: nothing to send) */
	return -1;
}

static void pump_file(void);

static void pump_fire(hu_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	C.pump = NULL; /* a one-shot timer is freed after this call */
	pump_file();
}

/* A regular file: read it directly, a few chunks a pass. */
static void pump_file(void)
{
	for (int i = 0; i < FILE_ROUNDS; i++)
		if (read_stdin() < 0)
			return;
	C.pump = hu_timer_start(C.loop, 0, 0, pump_fire, NULL);
	if (C.pump == NULL) {
		cli_diag("hangup connect: out of memory\n");
		C.status = EXIT_OTHER;
		stdin_stop();
		hu_conn_close(C.c, HU_ABORT);
	}
}

static void stdin_ready(hu_watch *w, unsigned events, void *arg)
{
	(void)w;
	(void)events;
	(void)arg;
	(void)read_stdin(); /* level-triggered: called again while ready */
}

static void stdin_start(void)
{
	int rc = hu_watch_start(C.loop, STDIN_FILENO, HU_READABLE, stdin_ready,
				NULL, &C.inw);

	if (rc == HU_BADF) {
		/* A regular file, /dev/null, or no stdin at all. */
		C.inw = NULL;
		C.in_file = 1;
		pump_file();
	} else if (rc < 0) {
		cli_diag("hangup connect: cannot watch stdin: %s\n",
			 hu_strerror(rc));
		stdin_ended();
	}
}

/* ---- the connection ---- */

static void on_open(hu_conn *c)
{
	C.have_peer = hu_conn_peer(c, C.peer, sizeof(C.peer)) >= 0;
	conn_event("open", hu_phase_name(HU_PHASE_OPEN));
	stdin_start();
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
	if (!C.in_paused || C.in_done)
		return;
	C.in_paused = 0;
	if (C.inw)
		(void)hu_watch_set(C.inw, HU_READABLE);
	else if (C.in_file)
		pump_file();
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
	/* We closed (a signal), but the peer never took all we sent: not a
	 * clean end, whatever the reason word says. */
	if (C.status == 0 && info->reason == HU_CLOSE_LOCAL &&
	    info->undelivered > 0)
		C.status = EXIT_OTHER;
	C.closed = 1;
	stdin_stop();
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
	memset(&C, 0, sizeof(C));
	C.sfd = -1;
	C.json = o.json;
	cfg.liveness_ms = o.liveness_ms;
	cfg.connect_timeout_ms = o.connect_timeout_ms;
	const char *text = o.addr;

	C.loop = hu_loop_new();
	C.sfd = cli_signals();
	if (C.loop == NULL || C.sfd < 0) {
		cli_diag("hangup connect: cannot start: %s\n", strerror(errno));
		hu_loop_free(C.loop);
		return EXIT_OTHER;
	}
	struct cli_sink_hooks hooks = {
	    .on_room = on_room, .on_idle = on_idle, .on_gone = on_gone};
	cli_sink_init(C.loop, &hooks);
	cli_events_init(C.json);

	int rc = hu_connect(C.loop, text, &cfg, &C.c);
	if (rc < 0) {
		int err = errno; /* meaningful: the call failed */
		const char *en = hu_errno_name(err);

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
