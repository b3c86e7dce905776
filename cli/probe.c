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

/* One JSON event (--json): open, probe or close. */
static void probe_event(const char *event, const char *peer, int phase,
			double ms, const struct hu_probe *p,
			const struct hu_close_info *info)
{
	struct cli_event e = {
	    .event = event,
	    .conn = 1,
	    .peer = peer,
	    .phase = phase,
	    .info = info,
	    .ms = (unsigned long long)ms,
	    .probe = p,
	};
	cli_event(&e);
}

int cmd_probe(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"liveness", required_argument, NULL, 'l'},
	    {"interval", required_argument, NULL, 'i'},
	    {"connect-timeout", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned liveness = 0, interval = 1000, ctimeout = 0;
	int json = 0;
	struct hu_addr addr;
	const char *text;
	int c;

	optind = 0; /* GNU: a full reset, nextchar included */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (cli_parse_ms("probe", "--liveness", optarg,
					 &liveness) < 0)
				return EXIT_USAGE;
			break;
		case 'i':
			/* 0 would make the wait below a busy loop. */
			if (cli_parse_count("probe", "--interval", optarg,
					    86400000u, &interval) < 0)
				return EXIT_USAGE;
			break;
		case 't':
			if (cli_parse_ms("probe", "--connect-timeout", optarg,
					 &ctimeout) < 0)
				return EXIT_USAGE;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(probe_usage, stdout);
			return 0;
		default:
			cli_bad_option("probe", c, argv);
			return EXIT_USAGE;
		}
	}
	if (cli_parse_operand("probe", "127.0.0.1:7000, unix:/tmp/s", argc,
			      argv, &text, &addr) < 0 ||
	    cli_check_dest("probe", text, &addr) < 0)
		return EXIT_USAGE;

	if (cli_closed_fds & (1u << STDOUT_FILENO)) {
		/* What it sees would go to /dev/null (main.c's guard). */
		fprintf(stderr, "hangup probe: stdout is closed\n");
		return EXIT_OTHER;
	}

	/* Non-blocking for TCP only: a Unix connect answers at once, except
	 * that non-blocking it would say EAGAIN for a full backlog. Nothing
	 * here reads, so the flag can stay once connected. */
	int fd = socket(addr.sa.ss_family,
			SOCK_STREAM | SOCK_CLOEXEC |
			    (addr.sa.ss_family == AF_UNIX ? 0 : SOCK_NONBLOCK),
			0);
	if (fd < 0) {
		fprintf(stderr, "hangup probe: socket: %s\n", strerror(errno));
		return EXIT_OTHER;
	}
	/* The peer as the events name it: ":7000" is 127.0.0.1:7000. */
	char peer[160];
	if (hu_addr_format((struct sockaddr *)&addr.sa, addr.len, peer,
			   sizeof(peer)) < 0)
		snprintf(peer, sizeof(peer), "%s", text);
	cli_sink_init(NULL, NULL);
	cli_events_init(json);
	double t0 = now_ms();
	int ours, err = connect_within(fd, &addr, ctimeout, &ours);
	if (err == ECONNRESET || err == EPIPE) {
		/* The handshake completed: an RST in SYN_SENT leaves
		 * ECONNREFUSED, one after it ECONNRESET (tcp_reset()). The
		 * peer accepted and reset before we looked: connected, then
		 * gone -- as the loop reports it (hu_connect()). */
		struct hu_probe gone = {.peer = HU_PEER_GONE,
					.status = HU_RESET,
					.error = err,
					.tcp_state = TCP_CLOSE};
		struct hu_close_info info = {
		    .reason = HU_CLOSE_RESET,
		    .error = err,
		    .phase = HU_PHASE_OPEN,
		};

		if (json) {
			probe_event("open", peer, HU_PHASE_OPEN, now_ms() - t0,
				    NULL, NULL);
			probe_event("probe", peer, HU_PHASE_OPEN, 0, &gone,
				    NULL);
			probe_event("close", peer, HU_PHASE_OPEN, 0, NULL,
				    &info);
		} else {
			printf("connected to %s\n", text);
			printf("%8.0f ms  peer=%-4s state=%-11s error=%s\n",
			       now_ms() - t0, hu_peer_name(HU_PEER_GONE),
			       "CLOSE", hu_errno_name(err));
			printf("peer reset: %s\n", hu_strerror(HU_RESET));
		}
		close(fd);
		return EXIT_RESET;
	}
	if (err != 0) {
		const char *name = hu_errno_name(err);
		struct hu_close_info info = {
		    .reason = connect_reason(err, addr.sa.ss_family, ours),
		    .error = err,
		    .phase = HU_PHASE_CONNECTING,
		    .duration_ms = (unsigned long long)(now_ms() - t0),
		};

		if (ours)
			fprintf(stderr,
				"hangup probe: connect %s: no answer within "
				"%u ms (--connect-timeout)\n",
				text, ctimeout);
		else
			fprintf(stderr, "hangup probe: connect %s: %s (%s)\n",
				text, strerror(err), name ? name : "?");
		close(fd);
		if (json)
			probe_event("close", peer, HU_PHASE_CONNECTING, 0, NULL,
				    &info);
		return cli_exit_for_reason(info.reason);
	}
	int rc;
	if (liveness > 0 && (rc = hu_liveness(fd, liveness)) < 0) {
		fprintf(stderr, "hangup probe: --liveness: %s\n",
			hu_strerror(rc));
		close(fd);
		return EXIT_OTHER;
	}
	double t_open = now_ms();
	if (json)
		probe_event("open", peer, HU_PHASE_OPEN, t_open - t0, NULL,
			    NULL);
	else
		printf("connected to %s\n", text);
	fflush(stdout);

	struct hu_probe last;
	int phase = HU_PHASE_OPEN;
	memset(&last, 0xff, sizeof(last));
	for (;;) {
		struct hu_probe p;

		rc = hu_probe(fd, &p);

		if (rc < 0) {
			fprintf(stderr, "hangup probe: %s\n", hu_strerror(rc));
			close(fd);
			return EXIT_OTHER;
		}
		if (p.peer == HU_PEER_EOF)
			phase = HU_PHASE_PEER_DONE;
		if (p.peer != last.peer || p.unread != last.unread ||
		    p.tcp_state != last.tcp_state || p.status != last.status) {
			const char *en = hu_errno_name(p.error);

			if (json)
				probe_event("probe", peer, phase,
					    now_ms() - t_open, &p, NULL);
			else
				printf("%8.0f ms  peer=%-4s state=%-11s "
				       "unread=%zu unsent=%zu%s%s\n",
				       now_ms() - t0, hu_peer_name(p.peer),
				       hu_tcp_state_name(p.tcp_state), p.unread,
				       p.unsent, en ? " error=" : "",
				       en ? en : "");
			fflush(stdout);
			last = p;
		}
		if (p.peer != HU_PEER_OPEN) {
			struct hu_close_info info = {
			    .reason = p.peer == HU_PEER_EOF
					  ? HU_CLOSE_EOF
					  : hu_reason_from_status(p.status),
			    .error = p.error,
			    .phase = phase,
			    .undelivered = p.unsent,
			    .duration_ms =
				(unsigned long long)(now_ms() - t_open),
			};
			if (json)
				probe_event("close", peer, phase, 0, NULL,
					    &info);
			else
				printf("peer %s: %s\n",
				       hu_reason_name(info.reason),
				       hu_strerror(p.status));
			fflush(stdout);
			close(fd);
			return cli_exit_for_reason(info.reason);
		}
		struct pollfd pf = {.fd = fd, .events = POLLRDHUP};
		(void)poll(&pf, 1, (int)interval);
	}
}
