/*
 * probe.c -- `hangup probe ADDR`: connect, read nothing, and say when and
 * how the peer goes away. A smoke test of the library on a real peer:
 *
 *	nc -l 127.0.0.1 9000 &  hangup probe 127.0.0.1:9000   # then stop nc
 *
 * It waits in poll() for POLLRDHUP (the FIN) -- POLLHUP and POLLERR are
 * always reported -- and calls hu_probe() on each wake-up and every
 * --interval ms, printing a line whenever what the probe sees changes.
 */
#include "cli.h"
#include "hangup.h"

#include <errno.h>
#include <getopt.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char probe_usage[] =
    "usage: hangup probe [--liveness MS] [--interval MS] [--connect-timeout "
    "MS]\n"
    "                    [--json] ADDR\n\n"
    "Connect to ADDR, send and read nothing, and print what hu_probe() sees\n"
    "each time it changes, until the peer has gone. Exit status: 0 the peer\n"
    "closed (FIN), 3 refused, 4 reset, 5 timed out (dead peer, or no answer\n"
    "to the connect in time), 6 unreachable, 1 other error, 2 usage.\n\n"
    "  --liveness MS         arm dead-peer detection (hu_liveness) with MS\n"
    "  --interval MS         also probe every MS milliseconds (default 1000)\n"
    "  --connect-timeout MS  give up a TCP connect after MS milliseconds\n"
    "                        (default 0: when the kernel's SYN retries end,\n"
    "                        about 2 minutes)\n"
    "  --json                JSON lines on stdout, with listen's and\n"
    "                        connect's keys: open, one \"probe\" event per\n"
    "                        change (plus seen, tcp_state, unread, unsent),\n"
    "                        close\n";

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Connect fd to a; a TCP connect is non-blocking, so that it can be bounded
 * by timeout_ms (0: as long as the kernel tries). 0, or the connect's
 * errno (ETIMEDOUT when our own bound ran out, *ours set).
 */
static int connect_within(int fd, const struct hu_addr *a, unsigned timeout_ms,
			  int *ours)
{
	int err = 0;
	socklen_t len = sizeof(err);
	struct pollfd pf = {.fd = fd, .events = POLLOUT};

	*ours = 0;
	if (connect(fd, (const struct sockaddr *)&a->sa, a->len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	for (;;) {
		int n = poll(&pf, 1, timeout_ms > 0 ? (int)timeout_ms : -1);

		if (n > 0)
			break;
		if (n == 0) {
			*ours = 1;
			return ETIMEDOUT;
		}
		if (errno != EINTR)
			return errno;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

/*
 * The close reason of a connect that failed with `err`: as the loop says
 * it (src/listen.c, status.c), so that probe and connect agree -- a Unix
 * path with no socket file is refused, and a TCP connect the kernel
 * refused at once for want of a route (EINVAL from a blackhole route,
 * EACCES from a prohibit route) is unreachable.
 */
static int connect_reason(int err, int family, int ours)
{
	if (ours)
		return HU_CLOSE_CONNECT_TIMEOUT;
	switch (err) {
	case ECONNREFUSED:
		return HU_CLOSE_REFUSED;
	case ENOENT:
		return family == AF_UNIX ? HU_CLOSE_REFUSED : HU_CLOSE_ERROR;
	case ETIMEDOUT:
		return HU_CLOSE_CONNECT_TIMEOUT;
	case ENETUNREACH:
	case EHOSTUNREACH:
		return HU_CLOSE_UNREACH;
	case EINVAL:
	case EACCES:
		return family == AF_UNIX ? HU_CLOSE_ERROR : HU_CLOSE_UNREACH;
	default:
		return HU_CLOSE_ERROR;
	}
}

/* The options, and what the run knows for its lines. */
static struct {
	unsigned liveness, interval, connect_timeout;
	int json;
	const char *text;    /* ADDR as given */
	struct hu_addr addr; /* ADDR parsed */
	char peer[160];      /* as the events name it */
	double t0, t_open;   /* the connect began; it completed */
} probe_run;

/* The options into probe_run: -1 to run, else the exit status. */
static int parse_options(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"liveness", required_argument, NULL, 'l'},
	    {"interval", required_argument, NULL, 'i'},
	    {"connect-timeout", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, st = -1;

	memset(&probe_run, 0, sizeof(probe_run));
	probe_run.interval = 1000;
	cli_options_begin();
	while ((c = cli_next_option("probe", probe_usage, argc, argv, opts,
				    &st)) != -1) {
		switch (c) {
		case 'l':
			if (cli_parse_ms("probe", "--liveness", optarg,
					 &probe_run.liveness) < 0)
				return EXIT_USAGE;
			break;
		case 'i':
			/* 0 would make the wait below a busy loop. */
			if (cli_parse_count("probe", "--interval", optarg,
					    86400000u, &probe_run.interval) < 0)
				return EXIT_USAGE;
			break;
		case 't':
			if (cli_parse_ms("probe", "--connect-timeout", optarg,
					 &probe_run.connect_timeout) < 0)
				return EXIT_USAGE;
			break;
		case 'j':
			probe_run.json = 1;
			break;
		}
	}
	if (st >= 0)
		return st;
	if (cli_parse_operand("probe", "127.0.0.1:7000, unix:/tmp/s", argc,
			      argv, &probe_run.text, &probe_run.addr) < 0 ||
	    cli_check_dest("probe", probe_run.text, &probe_run.addr) < 0)
		return EXIT_USAGE;
	return -1;
}

/* An open or probe JSON event (--json). */
static void probe_event(int kind, int phase, double ms,
			const struct hu_probe *p)
{
	struct cli_event e = {
	    .kind = kind,
	    .conn = 1,
	    .peer = probe_run.peer,
	    .phase = phase,
	    .ms = (unsigned long long)ms,
	    .probe = p,
	};
	cli_event(&e);
}

/* Connected: said once, as text or as the "open" event. */
static void report_open(void)
{
	probe_run.t_open = now_ms();
	if (probe_run.json)
		probe_event(CLI_EVENT_OPEN, HU_PHASE_OPEN,
			    probe_run.t_open - probe_run.t0, NULL);
	else
		printf("connected to %s\n", probe_run.text);
	fflush(stdout);
}

/* What the probe sees now, when it changed. */
static void report_probe(const struct hu_probe *p, int phase)
{
	const char *en = hu_errno_name(p->error);

	if (probe_run.json)
		probe_event(CLI_EVENT_PROBE, phase, now_ms() - probe_run.t_open,
			    p);
	else
		printf("%8.0f ms  peer=%-4s state=%-11s unread=%zu "
		       "unsent=%zu%s%s\n",
		       now_ms() - probe_run.t0, hu_peer_name(p->peer),
		       hu_tcp_state_name(p->tcp_state), p->unread, p->unsent,
		       en ? " error=" : "", en ? en : "");
	fflush(stdout);
}

/* The peer has gone (p->peer is not HU_PEER_OPEN): the last line, and
 * the exit status. */
static int report_end(const struct hu_probe *p, int phase)
{
	struct hu_close_info info = {
	    .reason = p->peer == HU_PEER_EOF ? HU_CLOSE_EOF
					     : hu_reason_from_status(p->status),
	    .error = p->error,
	    .phase = phase,
	    .undelivered = p->unsent,
	    .duration_ms = (unsigned long long)(now_ms() - probe_run.t_open),
	};

	if (probe_run.json)
		cli_event_close(1, probe_run.peer, &info);
	else
		printf("peer %s: %s\n", hu_reason_name(info.reason),
		       hu_strerror(p->status));
	fflush(stdout);
	return cli_exit_for_reason(info.reason);
}

/*
 * The connect failed (err): said on stderr, and with --json as the close
 * event in phase connecting. Returns the exit status. A reset is not a
 * failed connect: the handshake completed (reset_at_once()).
 */
static int connect_failed(int err, int ours)
{
	struct hu_close_info info = {
	    .reason = connect_reason(err, probe_run.addr.sa.ss_family, ours),
	    .error = err,
	    .phase = HU_PHASE_CONNECTING,
	    .duration_ms = (unsigned long long)(now_ms() - probe_run.t0),
	};

	if (ours)
		fprintf(stderr,
			"hangup probe: connect %s: no answer within %u ms "
			"(--connect-timeout)\n",
			probe_run.text, probe_run.connect_timeout);
	else
		fprintf(stderr, "hangup probe: connect %s: %s (%s)\n",
			probe_run.text, strerror(err), cli_errno_name(err));
	if (probe_run.json)
		cli_event_close(1, probe_run.peer, &info);
	return cli_exit_for_reason(info.reason);
}

/*
 * The handshake completed, but the peer had reset before we looked: an
 * RST in SYN_SENT leaves ECONNREFUSED, one after it ECONNRESET
 * (tcp_reset()). Connected, then gone -- as the loop reports it
 * (hu_connect()): open, what a probe would have seen, the end.
 */
static int reset_at_once(int err)
{
	struct hu_probe gone = {.peer = HU_PEER_GONE,
				.status = HU_RESET,
				.error = err,
				.tcp_state = TCP_CLOSE};

	report_open();
	report_probe(&gone, HU_PHASE_OPEN);
	return report_end(&gone, HU_PHASE_OPEN);
}

/* Probe fd until the peer has gone: on every POLLRDHUP and every
 * --interval ms, a line whenever what it sees changes. The exit status. */
static int watch(int fd)
{
	struct hu_probe last;
	int phase = HU_PHASE_OPEN;

	memset(&last, 0xff, sizeof(last));
	for (;;) {
		struct hu_probe p;
		int rc = hu_probe(fd, &p);

		if (rc < 0) {
			fprintf(stderr, "hangup probe: %s\n", hu_strerror(rc));
			return EXIT_OTHER;
		}
		if (p.peer == HU_PEER_EOF)
			phase = HU_PHASE_PEER_DONE;
		if (p.peer != last.peer || p.unread != last.unread ||
		    p.tcp_state != last.tcp_state || p.status != last.status) {
			report_probe(&p, phase);
			last = p;
		}
		if (p.peer != HU_PEER_OPEN)
			return report_end(&p, phase);
		struct pollfd pf = {.fd = fd, .events = POLLRDHUP};
		(void)poll(&pf, 1, (int)probe_run.interval);
	}
}

/* Connect, arm --liveness, and watch: the exit status. */
static int probe_peer(int fd)
{
	int ours, rc;

	probe_run.t0 = now_ms();
	int err = connect_within(fd, &probe_run.addr, probe_run.connect_timeout,
				 &ours);
	if (err == ECONNRESET || err == EPIPE)
		return reset_at_once(err);
	if (err != 0)
		return connect_failed(err, ours);
	if (probe_run.liveness > 0 &&
	    (rc = hu_liveness(fd, probe_run.liveness)) < 0) {
		fprintf(stderr, "hangup probe: --liveness: %s\n",
			hu_strerror(rc));
		return EXIT_OTHER;
	}
	report_open();
	return watch(fd);
}

int cmd_probe(int argc, char **argv)
{
	int st = parse_options(argc, argv);

	if (st >= 0)
		return st;
	if (cli_closed_fds & (1u << STDOUT_FILENO)) {
		/* What it sees would go to /dev/null (main.c's guard). */
		fprintf(stderr, "hangup probe: stdout is closed\n");
		return EXIT_OTHER;
	}
	/* Non-blocking for TCP only: a Unix connect answers at once, except
	 * that non-blocking it would say EAGAIN for a full backlog. Nothing
	 * here reads, so the flag can stay once connected. */
	int family = probe_run.addr.sa.ss_family;
	int fd = socket(family,
			SOCK_STREAM | SOCK_CLOEXEC |
			    (family == AF_UNIX ? 0 : SOCK_NONBLOCK),
			0);
	if (fd < 0) {
		fprintf(stderr, "hangup probe: socket: %s\n", strerror(errno));
		return EXIT_OTHER;
	}
	cli_event_peer(&probe_run.addr, probe_run.text, probe_run.peer,
		       sizeof(probe_run.peer));
	cli_tool_start_direct(probe_run.json);
	st = probe_peer(fd);
	close(fd);
	return st;
}
