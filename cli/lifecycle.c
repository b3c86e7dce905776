/*
 * lifecycle.c -- one run of a tool command: what listen and connect share
 * on the loop, and the start that probe shares without one.
 *
 * A run is: cli_tool_start() (the loop, the signalfd, stdout through the
 * sink, the event clock), the command's own setup (listen: hu_listen();
 * connect: hu_connect()), cli_tool_run() until nothing is left, teardown.
 * In between, this file owns what is the same for every command:
 *
 *   - the connections as the tool knows them (struct cli_conn: peer, byte
 *     counts, paused for stdout), their open/eof/close event lines, and
 *     what they send printed on stdout with backpressure (cli_conn_data());
 *   - the signals, read from a signalfd watched by the loop: the first
 *     SIGINT, SIGTERM or SIGHUP stops the command (listen stops listening)
 *     and closes every connection gracefully -- our FIN, then up to
 *     CLI_LINGER_MS for the peer's, which the library bounds, flush
 *     included; a second one aborts them all (RST) and abandons stdout;
 *   - stdout failing (EPIPE, EBADF: the sink's on_gone): said once, and
 *     handled as a first signal, with exit status 1;
 *   - one straggler policy: a graceful close still going after twice the
 *     linger is aborted. The library keeps its linger bound (since commit
 *     9b16766, a peer that does not read included), so this is a safety
 *     net against hanging on the way out, not a workaround;
 *   - the end: the loop returns once nothing is left -- no connection,
 *     nothing of the command's own (a listener), nothing queued for stdout
 *     -- and then the signal watch is stopped last. After a signal, stdout
 *     gets CLI_LINGER_MS more to take what is queued: a reader that stopped
 *     reading must not keep us from exiting.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static struct {
	const char *cmd; /* "listen", "connect": for messages */
	int json;        /* stdout holds JSON lines and nothing else */
	struct cli_tool_hooks h;
	hu_loop *loop;
	int sfd; /* signalfd: SIGINT, SIGTERM, SIGHUP */
	hu_watch *sigw;
	int signals, failed;
	struct cli_conn *conns;
	unsigned nconns;
	hu_timer *flush_timer, *abort_timer;
} tool = {.sfd = -1};

static void stop_timer(hu_timer **t)
{
	if (*t) {
		hu_timer_stop(*t);
		*t = NULL;
	}
}

static void finish_if_done(void);

static void give_up_stdout(hu_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	tool.flush_timer = NULL; /* freed after this call */
	cli_out_abandon();
	finish_if_done();
}

/* End the run if nothing is left: the signal watch, stopped last, is
 * what keeps the loop running. Called by everything that may end it. */
static void finish_if_done(void)
{
	if ((tool.h.busy && tool.h.busy()) || tool.nconns > 0 ||
	    tool.sigw == NULL)
		return;
	if (cli_out_pending() > 0) {
		if (tool.signals > 0 && tool.flush_timer == NULL)
			tool.flush_timer = hu_timer_start(
			    tool.loop, CLI_LINGER_MS, 0, give_up_stdout, NULL);
		return;
	}
	stop_timer(&tool.flush_timer);
	stop_timer(&tool.abort_timer);
	hu_watch_stop(tool.sigw); /* the last thing the loop waits on */
	tool.sigw = NULL;
}

static void stop_all(int how);

static void abort_stragglers(hu_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	tool.abort_timer = NULL; /* freed after this call */
	if (tool.nconns == 0) {
		finish_if_done();
		return;
	}
	cli_diag("hangup %s: %u connection%s still closing after %d ms: "
		 "aborting\n",
		 tool.cmd, tool.nconns, tool.nconns == 1 ? "" : "s",
		 2 * CLI_LINGER_MS);
	stop_all(HU_ABORT);
}

/* Stop the command and close every connection: gracefully (HU_GRACEFUL,
 * with the straggler timer) or at once (HU_ABORT, stdout abandoned). */
static void stop_all(int how)
{
	if (tool.h.stop)
		tool.h.stop();
	/* on_close comes later (the loop defers it): the list holds. */
	for (struct cli_conn *tc = tool.conns; tc; tc = tc->next)
		hu_conn_close(tc->c, how);
	if (how == HU_ABORT)
		cli_out_abandon();
	else if (tool.nconns > 0 && tool.abort_timer == NULL)
		tool.abort_timer = hu_timer_start(tool.loop, 2 * CLI_LINGER_MS,
						  0, abort_stragglers, NULL);
	finish_if_done();
}

int cli_signal_read(int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

static void on_signal(hu_watch *w, unsigned events, void *arg)
{
	int sig = cli_signal_read(tool.sfd);

	(void)w;
	(void)events;
	(void)arg;
	if (sig == 0)
		return;
	if (++tool.signals == 1 && tool.nconns > 0)
		cli_diag("hangup %s: SIG%s: closing %u connection%s (again to "
			 "abort)\n",
			 tool.cmd, sigabbrev_np(sig), tool.nconns,
			 tool.nconns == 1 ? "" : "s");
	stop_all(tool.signals == 1 ? HU_GRACEFUL : HU_ABORT);
}

/* ---- the sink's hooks: stdout has room, is empty, or is gone ---- */

static void on_room(void *arg)
{
	(void)arg;
	for (struct cli_conn *tc = tool.conns; tc; tc = tc->next)
		if (tc->waiting) {
			tc->waiting = 0;
			hu_conn_resume(tc->c);
		}
}

static void on_idle(void *arg)
{
	(void)arg;
	finish_if_done();
}

static void on_gone(void *arg, int err)
{
	(void)arg;
	cli_diag("hangup %s: stdout: %s (%s); stopping\n", tool.cmd,
		 strerror(err), cli_errno_name(err));
	tool.failed = 1;
	stop_all(HU_GRACEFUL);
}

/* ---- start and end ---- */

/*
 * Block SIGINT, SIGTERM and SIGHUP and return a signalfd for them (or -1);
 * ignore SIGPIPE.
 */
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

hu_loop *cli_tool_start(const char *cmd, int json,
			const struct cli_tool_hooks *h)
{
	static const struct cli_sink_hooks sink = {
	    .on_room = on_room, .on_idle = on_idle, .on_gone = on_gone};
	int err;

	memset(&tool, 0, sizeof(tool));
	tool.cmd = cmd;
	tool.json = json;
	tool.sfd = -1;
	if (h)
		tool.h = *h;
	if ((tool.loop = hu_loop_new()) == NULL) {
		err = errno; /* hu_loop_new() failed: errno is its cause */
		cli_diag("hangup %s: cannot start: %s\n", cmd, strerror(err));
		return NULL;
	}
	/* HANGUP_BACKEND=io_uring where the kernel refuses it: the loop
	 * runs on epoll, and the user who asked hears it once. */
	if ((err = hu_loop_backend_error(tool.loop)) != 0)
		cli_diag("hangup %s: io_uring unavailable (%s): using epoll\n",
			 cmd, strerror(err));
	if ((tool.sfd = cli_signals()) < 0) {
		err = errno; /* sigprocmask() or signalfd() failed */
		cli_diag("hangup %s: cannot start: %s\n", cmd, strerror(err));
		hu_loop_free(tool.loop);
		return NULL;
	}
	cli_sink_init(tool.loop, &sink);
	cli_events_init(json);
	return tool.loop;
}

void cli_tool_start_direct(int json)
{
	cli_sink_init(NULL, NULL);
	cli_events_init(json);
}

void cli_tool_fail(void)
{
	tool.failed = 1;
}

int cli_tool_quit(void)
{
	hu_loop_free(tool.loop); /* aborts what is left (none, normally) */
	tool.loop = NULL;
	cli_sink_done();
	close(tool.sfd);
	tool.sfd = -1;
	return tool.failed ? EXIT_OTHER : 0;
}

int cli_tool_run(void)
{
	if (hu_watch_start(tool.loop, tool.sfd, HU_READABLE, on_signal, NULL,
			   &tool.sigw) < 0) {
		cli_diag("hangup %s: cannot watch signals\n", tool.cmd);
		tool.failed = 1;
		stop_all(HU_ABORT);
	}
	/* stdout may have failed already (at the listening event): then
	 * nothing is left to wait for but the watch just started. */
	finish_if_done();
	int rc = hu_loop_run(tool.loop);
	if (rc < 0) {
		cli_diag("hangup %s: loop: %s\n", tool.cmd, hu_strerror(rc));
		tool.failed = 1;
	}
	return cli_tool_quit();
}

int cli_exit_for_reason(int reason)
{
	switch (reason) {
	case HU_CLOSE_EOF:
	case HU_CLOSE_LOCAL:
		return EXIT_PEER_CLOSED;
	case HU_CLOSE_REFUSED:
		return EXIT_REFUSED;
	case HU_CLOSE_RESET:
	case HU_CLOSE_ABORT:
		return EXIT_RESET;
	case HU_CLOSE_TIMEOUT:
	case HU_CLOSE_CONNECT_TIMEOUT:
	case HU_CLOSE_IDLE:
		return EXIT_TIMEOUT;
	case HU_CLOSE_UNREACH:
		return EXIT_UNREACH;
	default:
		return EXIT_OTHER;
	}
}

/* ---- the connections ---- */

struct cli_conn *cli_conn_track(hu_conn *c)
{
	struct cli_conn *tc = calloc(1, sizeof(*tc));

	if (tc == NULL) {
		cli_diag("hangup %s: out of memory; aborting #%llu\n", tool.cmd,
			 hu_conn_id(c));
		hu_conn_close(c, HU_ABORT);
		return NULL;
	}
	tc->c = c;
	tc->start = hu_loop_now(tool.loop);
	tc->next = tool.conns;
	if (tool.conns)
		tool.conns->prev = tc;
	tool.conns = tc;
	tool.nconns++;
	hu_conn_set_user(c, tc);
	return tc;
}

void cli_conn_event(struct cli_conn *tc, int kind, int phase)
{
	struct cli_event e = {
	    .kind = kind,
	    .conn = hu_conn_id(tc->c),
	    .peer = tc->have_peer ? tc->peer : NULL,
	    .phase = phase,
	    .bytes_in = tc->in,
	    .bytes_out = tc->queued - hu_conn_buffered(tc->c),
	    .ms = hu_loop_now(tool.loop) - tc->start,
	};
	cli_event(&e);
}

void cli_conn_opened(struct cli_conn *tc)
{
	/* Now, while the socket is open: on_close comes after its fd is
	 * gone (the library keeps the address once asked). */
	tc->have_peer = hu_conn_peer(tc->c, tc->peer, sizeof(tc->peer)) >= 0;
	cli_conn_event(tc, CLI_EVENT_OPEN, HU_PHASE_OPEN);
}

void cli_conn_data(hu_conn *c, const void *data, size_t len)
{
	struct cli_conn *tc = hu_conn_user(c);

	if (tc == NULL)
		return;
	tc->in += len;
	if (tool.json)
		return; /* stdout holds JSON lines and nothing else */
	if (cli_out(data, len) == 1) {
		hu_conn_pause(c); /* until the sink's on_room */
		tc->waiting = 1;
	}
}

void cli_conn_closed(hu_conn *c, const struct hu_close_info *info)
{
	struct cli_conn *tc = hu_conn_user(c);
	char peer[160];
	const char *name = NULL;

	if (tc && tc->have_peer)
		name = tc->peer;
	else if (hu_conn_peer(c, peer, sizeof(peer)) >= 0)
		name = peer; /* never opened: the address it was for */
	cli_event_close(hu_conn_id(c), name, info);
	if (tc) {
		if (tc->prev)
			tc->prev->next = tc->next;
		else
			tool.conns = tc->next;
		if (tc->next)
			tc->next->prev = tc->prev;
		tool.nconns--;
		free(tc);
		hu_conn_set_user(c, NULL);
	}
	finish_if_done();
}
