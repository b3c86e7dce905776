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
 * worth is held, whatever its size. Signals, stdout and the end of the run
 * are the lifecycle's (lifecycle.c), as for listen; what is connect's own
 * is the stdin pump's end (our FIN) and the exit status.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

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
    "undelivered and an RST, exit 1); a second one aborts (reason abort).\n"
    "Before the connect has completed, either ends it with exit 1.\n"
    "Exit status: 0 the peer closed cleanly (or we closed on a signal and it\n"
    "took all we sent), 3 refused, 4 reset, 5 timeout (dead peer, connect\n"
    "timeout), 6 unreachable (also no route: errno EINVAL for a blackhole\n"
    "route, EACCES for a prohibit route), 1 other error (also stdin closed,\n"
    "a directory, or unreadable), 2 usage.\n";

static struct {
	hu_conn *c;
	int shut;   /* stdin ended: our FIN is on its way */
	int status; /* from the close (the run's own failures aside) */
} client;

/* stdin is over (stdin.c): EOF, or a read error it reported. */
static void stdin_ended(int err)
{
	/* Not all of stdin went out: not a clean run, whatever the peer
	 * does next. */
	if (err != 0)
		cli_tool_fail();
	client.shut = 1;
	/* Our FIN goes once everything queued is written; the connection
	 * then ends when the peer's FIN comes (reason eof). */
	(void)hu_conn_shutdown(client.c);
}

/* ---- the connection ---- */

static void on_open(hu_conn *c)
{
	struct cli_conn *tc = hu_conn_user(c);

	cli_conn_opened(tc);
	cli_stdin_start(hu_conn_loop(c), c, "connect", &tc->queued,
			stdin_ended);
}

static void on_drain(hu_conn *c)
{
	(void)c;
	cli_stdin_drain();
}

static void on_eof(hu_conn *c)
{
	/* Half-close: the peer will send no more, but may still read. We go
	 * on sending stdin; when it ends, our FIN ends the connection. */
	cli_conn_event(hu_conn_user(c), CLI_EVENT_EOF,
		       client.shut ? HU_PHASE_LOCAL_DONE : HU_PHASE_PEER_DONE);
}

/* The exit status that the end of the connection stands for. */
static int exit_status(const struct hu_close_info *info)
{
	/* We gave up (a signal) before the connection existed: nothing
	 * succeeded, so `hangup connect X && echo reachable` must not say
	 * so. Not "reset" either, for a second signal's abort. */
	if (info->phase == HU_PHASE_CONNECTING &&
	    (info->reason == HU_CLOSE_LOCAL || info->reason == HU_CLOSE_ABORT))
		return EXIT_OTHER;
	/* We closed (a signal), but the peer never took all we sent: not a
	 * clean end, whatever the reason word says. */
	if (info->reason == HU_CLOSE_LOCAL && info->undelivered > 0)
		return EXIT_OTHER;
	return cli_exit_for_reason(info->reason);
}

static void on_close(hu_conn *c, const struct hu_close_info *info)
{
	client.status = exit_status(info);
	cli_stdin_stop();
	cli_conn_closed(c, info);
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
	int c, st = -1;

	memset(o, 0, sizeof(*o));
	cli_options_begin();
	while ((c = cli_next_option("connect", connect_usage, argc, argv, opts,
				    &st)) != -1) {
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
		}
	}
	if (st >= 0)
		return st;
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
	if (hu_addr_parse(text, &a) < 0)
		snprintf(peer, sizeof(peer), "%s", text);
	else
		cli_event_peer(&a, text, peer, sizeof(peer));
	struct hu_close_info info = {
	    .reason = hu_reason_from_status(rc),
	    .error = err,
	    .phase = HU_PHASE_CONNECTING,
	};
	cli_event_close(0, peer, &info);
	cli_diag("hangup connect: cannot connect to %s: %s (%s)\n", text,
		 rc == HU_ERROR ? strerror(err) : hu_strerror(rc),
		 cli_errno_name(err));
}

int cmd_connect(int argc, char **argv)
{
	struct hu_conn_config cfg = {
	    .cb = {.on_open = on_open,
		   .on_data = cli_conn_data,
		   .on_eof = on_eof,
		   .on_drain = on_drain,
		   .on_close = on_close},
	    .linger_ms = CLI_LINGER_MS,
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
	memset(&client, 0, sizeof(client));
	cfg.liveness_ms = o.liveness_ms;
	cfg.connect_timeout_ms = o.connect_timeout_ms;

	hu_loop *loop = cli_tool_start("connect", o.json, NULL);
	if (loop == NULL)
		return EXIT_OTHER;
	int rc = hu_connect(loop, o.addr, &cfg, &client.c);
	if (rc < 0) {
		connect_failed(o.addr, rc, errno); /* the call failed */
		(void)cli_tool_quit();
		return EXIT_OTHER;
	}
	/* Tracked from now, not from on_open: a signal while connecting
	 * closes it, and the run goes on until its on_close. */
	(void)cli_conn_track(client.c);
	st = cli_tool_run();
	return st != 0 ? st : client.status;
}
