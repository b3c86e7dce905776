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
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char probe_usage[] =
    "usage: hangup probe [--liveness MS] [--interval MS] [--connect-timeout "
    "MS] ADDR\n\n"
    "Connect to ADDR, send and read nothing, and print what hu_probe() sees\n"
    "each time it changes, until the peer has gone. Exit status: 0 the peer\n"
    "closed (FIN), 3 refused, 4 reset, 5 timed out (dead peer, or no answer\n"
    "to the connect in time), 6 unreachable, 1 other error, 2 usage.\n\n"
    "  --liveness MS         arm dead-peer detection (hu_liveness) with MS\n"
    "  --interval MS         also probe every MS milliseconds (default 1000)\n"
    "  --connect-timeout MS  give up a TCP connect after MS milliseconds\n"
    "                        (default 0: when the kernel's SYN retries end,\n"
    "                        about 2 minutes)\n";

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

static const char *peer_word(int peer)
{
	return peer == HU_PEER_OPEN  ? "open"
	       : peer == HU_PEER_EOF ? "eof"
				     : "gone";
}

int cmd_probe(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"liveness", required_argument, NULL, 'l'},
	    {"interval", required_argument, NULL, 'i'},
	    {"connect-timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned liveness = 0, interval = 1000, ctimeout = 0;
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
	double t0 = now_ms();
	int ours, err = connect_within(fd, &addr, ctimeout, &ours);
	if (err == ECONNRESET || err == EPIPE) {
		/* The handshake completed: an RST in SYN_SENT leaves
		 * ECONNREFUSED, one after it ECONNRESET (tcp_reset()). The
		 * peer accepted and reset before we looked: connected, then
		 * gone -- as the loop reports it (hu_connect()). */
		printf("connected to %s\n", text);
		printf("%8.0f ms  peer=%-4s state=%-11s error=%s\n",
		       now_ms() - t0, peer_word(HU_PEER_GONE), "CLOSE",
		       hu_errno_name(err));
		printf("peer reset: %s\n", hu_strerror(HU_RESET));
		close(fd);
		return EXIT_RESET;
	}
	if (err != 0) {
		const char *name = hu_errno_name(err);
		if (ours)
			fprintf(stderr,
				"hangup probe: connect %s: no answer within "
				"%u ms (--connect-timeout)\n",
				text, ctimeout);
		else
			fprintf(stderr, "hangup probe: connect %s: %s (%s)\n",
				text, strerror(err), name ? name : "?");
		close(fd);
		/* As the loop says it: no socket file is nobody listening. */
		if (err == ENOENT && addr.sa.ss_family == AF_UNIX)
			err = ECONNREFUSED;
		return err == ECONNREFUSED ? EXIT_REFUSED
		       : (err == ENETUNREACH || err == EHOSTUNREACH)
			   ? EXIT_UNREACH
		       : err == ETIMEDOUT ? EXIT_TIMEOUT
					  : EXIT_OTHER;
	}
	int rc;
	if (liveness > 0 && (rc = hu_liveness(fd, liveness)) < 0) {
		fprintf(stderr, "hangup probe: --liveness: %s\n",
			hu_strerror(rc));
		close(fd);
		return EXIT_OTHER;
	}
	printf("connected to %s\n", text);
	fflush(stdout);

	struct hu_probe last;
	memset(&last, 0xff, sizeof(last));
	for (;;) {
		struct hu_probe p;

		rc = hu_probe(fd, &p);

		if (rc < 0) {
			fprintf(stderr, "hangup probe: %s\n", hu_strerror(rc));
			close(fd);
			return EXIT_OTHER;
		}
		if (p.peer != last.peer || p.unread != last.unread ||
		    p.tcp_state != last.tcp_state || p.status != last.status) {
			const char *en = hu_errno_name(p.error);

			printf("%8.0f ms  peer=%-4s state=%-11s unread=%zu "
			       "unsent=%zu%s%s\n",
			       now_ms() - t0, peer_word(p.peer),
			       hu_tcp_state_name(p.tcp_state), p.unread,
			       p.unsent, en ? " error=" : "", en ? en : "");
			fflush(stdout);
			last = p;
		}
		if (p.peer != HU_PEER_OPEN) {
			int reason = p.peer == HU_PEER_EOF
					 ? HU_CLOSE_EOF
					 : hu_reason_from_status(p.status);
			printf("peer %s: %s\n", hu_reason_name(reason),
			       hu_strerror(p.status));
			close(fd);
			return cli_exit_for_reason(reason);
		}
		struct pollfd pf = {.fd = fd, .events = POLLRDHUP};
		(void)poll(&pf, 1, (int)interval);
	}
}
