/*
 * cmd.c -- `hangup watch`: options, filters and the loop around the engine
 * (watch.h). Records go to stdout (text or JSON lines); what the watch can
 * and cannot see, and its counters at the end, go to stderr.
 */
#include "../cli.h"
#include "out.h"
#include "watch.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_NETNS 16

struct wopts {
	int json;
	const char *reason, *comm, *peer_text;
	struct sockaddr_storage peer;
	int peer_port; /* -1: any */
	int pid;       /* -1: any */
	unsigned summary, count, duration;
	const char *prom;
	const char *netns[MAX_NETNS];
	struct watch_opts eng;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: hangup watch [--json] [--port P] [--peer ADDR] "
	    "[--reason WORD]\n"
	    "                    [--pid PID | --comm NAME] [--netns NAME]... "
	    "[--all-netns]\n"
	    "                    [--summary SECS] [--prometheus ADDR] "
	    "[--count N] [--duration S]\n\n"
	    "One record per TCP socket that ends on this host: who sent "
	    "the first FIN,\nwhether an RST was sent or received, the "
	    "reason, payload bytes in and out,\nunread and undelivered "
	    "bytes, and the process where the kernel tells it.\n\n"
	    "  --json            JSON lines on stdout\n"
	    "  --port P          only sockets whose local or peer port is "
	    "P\n"
	    "  --peer ADDR       only this peer: HOST or HOST:PORT, "
	    "[V6]:PORT\n"
	    "  --reason WORD     only this reason (eof reset timeout local "
	    "abort refused\n"
	    "                    connect-timeout unreachable error "
	    "unknown)\n"
	    "  --pid PID, --comm NAME  only sockets that process "
	    "connected or closed\n"
	    "  --netns NAME      watch /run/netns/NAME (repeatable) "
	    "instead of the host's\n"
	    "  --all-netns       the host's namespace and every "
	    "/run/netns/*\n"
	    "  --summary SECS    every SECS a table per service and "
	    "reason\n"
	    "  --prometheus ADDR serve /metrics (OpenMetrics) on "
	    "HOST:PORT\n"
	    "  --count N         exit after N records\n"
	    "  --duration S      exit after S seconds\n\n"
	    "Text line: [T] LOCAL PEER ORIGIN reason= detail= fin= rst= "
	    "state= in= out=\nunread= undelivered= retrans= rtt_us= ms= "
	    "pid= comm= (\"?\": unknown).\nNeeds root (or CAP_PERFMON) "
	    "for the tracepoints; sock_diag alone needs none.\n");
}

/* --peer: HOST, HOST:PORT or [V6]:PORT. */
static int parse_peer(const char *s, struct wopts *o)
{
	struct hu_addr a;

	o->peer_text = s;
	memset(&o->peer, 0, sizeof(o->peer));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&o->peer;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->peer;
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		return 0;
	}
	if (s[0] == ':' || hu_addr_parse(s, &a) < 0 ||
	    (a.sa.ss_family != AF_INET && a.sa.ss_family != AF_INET6)) {
		fprintf(stderr,
			"hangup watch: --peer '%s': not an IP address "
			"(HOST, HOST:PORT or [V6]:PORT)\n",
			s);
		return -1;
	}
	memcpy(&o->peer, &a.sa, sizeof(o->peer));
	o->peer_port = watch_port(&o->peer);
	return 0;
}

static int parse_opt(int c, struct wopts *o, char **argv)
{
	unsigned v;

	switch (c) {
	case 'j':
		o->json = 1;
		return 0;
	case 'P':
		if (cli_parse_count("watch", "--port", optarg, 65535, &v) < 0)
			return -1;
		o->eng.port = (uint16_t)v;
		return 0;
	case 'a':
		return parse_peer(optarg, o);
	case 'r':
		if (!watch_reason_known(optarg)) {
			fprintf(stderr,
				"hangup watch: --reason '%s': not a reason "
				"word (see --help)\n",
				optarg);
			return -1;
		}
		o->reason = optarg;
		return 0;
	case 'p':
		if (cli_parse_count("watch", "--pid", optarg, 1u << 22, &v) < 0)
			return -1;
		o->pid = (int)v;
		return 0;
	case 'c':
		o->comm = optarg;
		return 0;
	case 'n':
		if (o->eng.nnetns >= MAX_NETNS) {
			fprintf(stderr, "hangup watch: at most %d --netns\n",
				MAX_NETNS);
			return -1;
		}
		o->netns[o->eng.nnetns++] = optarg;
		return 0;
	case 'A':
		o->eng.all_netns = 1;
		return 0;
	case 's':
		return cli_parse_count("watch", "--summary", optarg, 86400,
				       &o->summary);
	case 'm':
		o->prom = optarg;
		return 0;
	case 'N':
		return cli_parse_count("watch", "--count", optarg, 1u << 30,
				       &o->count);
	case 'd':
		return cli_parse_count("watch", "--duration", optarg,
				       86400 * 365, &o->duration);
	case 'D': /* --sources diag|trace: for tests and for comparison */
		o->eng.no_trace = strcmp(optarg, "diag") == 0;
		o->eng.no_diag = strcmp(optarg, "trace") == 0;
		return o->eng.no_trace || o->eng.no_diag ||
			       strcmp(optarg, "all") == 0
			   ? 0
			   : (fprintf(stderr,
				      "hangup watch: --sources: all, trace "
				      "or diag\n"),
			      -1);
	}
	cli_bad_option("watch", c, argv);
	return -1;
}

/* -1: run; else the exit status. */
static int parse(int argc, char **argv, struct wopts *o)
{
	static const struct option lo[] = {
	    {"json", no_argument, 0, 'j'},
	    {"port", required_argument, 0, 'P'},
	    {"peer", required_argument, 0, 'a'},
	    {"reason", required_argument, 0, 'r'},
	    {"pid", required_argument, 0, 'p'},
	    {"comm", required_argument, 0, 'c'},
	    {"netns", required_argument, 0, 'n'},
	    {"all-netns", no_argument, 0, 'A'},
	    {"summary", required_argument, 0, 's'},
	    {"prometheus", required_argument, 0, 'm'},
	    {"count", required_argument, 0, 'N'},
	    {"duration", required_argument, 0, 'd'},
	    {"sources", required_argument, 0, 'D'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0}};
	int c;

	memset(o, 0, sizeof(*o));
	o->pid = o->peer_port = -1;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (parse_opt(c, o, argv) < 0)
			return EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "hangup watch: unexpected operand '%s'\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (o->pid >= 0 && o->comm) {
		fprintf(stderr, "hangup watch: --pid or --comm, not both\n");
		return EXIT_USAGE;
	}
	o->eng.netns = o->netns;
	return -1;
}

static int same_host(const struct sockaddr_storage *a,
		     const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr,
			      4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static int wanted(const struct wopts *o, const struct watch_record *r)
{
	if (o->reason && strcmp(o->reason, r->reason) != 0)
		return 0;
	if (o->peer_text &&
	    (!same_host(&o->peer, &r->peer) ||
	     (o->peer_port >= 0 && watch_port(&r->peer) != o->peer_port)))
		return 0;
	if (o->pid >= 0 && r->pid != o->pid)
		return 0;
	if (o->comm && strcmp(o->comm, r->comm) != 0)
		return 0;
	return 1;
}

struct run {
	struct wopts *o;
	struct watch *w;
	struct wsum *sum;
	struct wprom *prom;
	struct watch_stats last;
	unsigned shown;
};

/* Print what is ready; 1 when --count is reached. */
static int drain(struct run *x)
{
	struct watch_record r;
	struct watch_stats st;

	while (watch_next(x->w, &r)) {
		if (!wanted(x->o, &r))
			continue;
		if (!x->o->summary || x->o->json)
			wout_record(stdout, &r);
		if (x->sum)
			wsum_add(x->sum, &r);
		if (x->prom)
			wprom_add(x->prom, &r);
		if (++x->shown >= x->o->count && x->o->count)
			break;
	}
	watch_get_stats(x->w, &st);
	wout_loss(stdout, &st, &x->last);
	x->last = st;
	fflush(stdout);
	return x->o->count && x->shown >= x->o->count;
}

static void say_sources(const struct run *x, const char *missing)
{
	struct watch_stats st;

	watch_get_stats(x->w, &st);
	fprintf(stderr, "hangup watch: %s%s%s%s%s\n",
		st.trace_ok ? "tracepoints on all CPUs" : "",
		st.trace_ok && st.diag_ok ? " + " : "",
		st.diag_ok ? "sock_diag" : "", missing[0] ? "; missing: " : "",
		missing);
}

static void say_totals(const struct watch_stats *st, unsigned shown)
{
	fprintf(stderr,
		"hangup watch: %u shown, %llu ends seen, %llu lost samples, "
		"%llu netlink overruns, %llu seen by tracepoints only "
		"(%llu of them dropped as another namespace's), %llu by "
		"sock_diag only, %llu never destroyed in order\n",
		shown, (unsigned long long)st->records,
		(unsigned long long)st->lost_samples,
		(unsigned long long)st->netlink_overruns,
		(unsigned long long)st->unmatched_trace,
		(unsigned long long)st->other_netns,
		(unsigned long long)st->unmatched_diag,
		(unsigned long long)st->replaced);
}

#define BATCH_MS 25

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int loop(struct run *x, int sfd)
{
	uint64_t last = 0;
	uint64_t start = (uint64_t)time(NULL), next_sum = start + x->o->summary;
	struct pollfd p[3] = {{watch_fd(x->w), POLLIN, 0},
			      {sfd, POLLIN, 0},
			      {x->prom ? wprom_fd(x->prom) : -1, POLLIN, 0}};

	for (;;) {
		/* Batches: a wake-up per diag message would cost more than
		 * the message. Read at most every BATCH_MS (the records wait
		 * 20 ms anyway); signals and scrapes still wake us at once. */
		uint64_t t = mono_ms(), since = t - last;
		p[0].fd = since < BATCH_MS ? -1 : watch_fd(x->w);
		poll(p, 3, since < BATCH_MS ? (int)(BATCH_MS - since) : 50);
		if (p[1].revents && cli_signal_read(sfd))
			break;
		if (mono_ms() - last >= BATCH_MS) {
			last = mono_ms();
			if (watch_poll(x->w, 0) < 0)
				return EXIT_OTHER;
			if (drain(x))
				return 0;
		}
		uint64_t now = (uint64_t)time(NULL);
		if (x->sum && now >= next_sum) {
			watch_get_stats(x->w, &x->last);
			wsum_print(x->sum, stdout, &x->last, x->o->summary);
			fflush(stdout);
			next_sum = now + x->o->summary;
		}
		if (x->prom && p[2].revents) {
			struct watch_stats st;
			watch_get_stats(x->w, &st);
			wprom_serve(x->prom, &st);
		}
		if (x->o->duration && now >= start + x->o->duration)
			break;
	}
	watch_flush(x->w);
	drain(x);
	return 0;
}

int cmd_watch(int argc, char **argv)
{
	struct wopts o;
	struct run x = {.o = &o};
	char err[512], missing[512];
	int usage_err, rc = parse(argc, argv, &o);

	if (rc >= 0)
		return rc;
	if (o.prom && !(x.prom = wprom_new(o.prom, err, sizeof(err)))) {
		fprintf(stderr, "hangup watch: %s\n", err);
		return EXIT_USAGE;
	}
	x.w = watch_open(&o.eng, err, sizeof(err), missing, sizeof(missing),
			 &usage_err);
	if (!x.w) {
		fprintf(stderr, "hangup watch: %s\n", err);
		wprom_free(x.prom);
		return usage_err ? EXIT_USAGE : EXIT_OTHER;
	}
	/* Fully buffered, flushed once per batch (drain()): stdio's default
	 * (4 KiB to a file, a line at a time to a terminal) made a write()
	 * per few records, a tenth of watch's CPU at 20k records/s. */
	static char obuf[1 << 18];
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	wout_init(o.json,
		  (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	say_sources(&x, missing);
	if (o.summary)
		x.sum = wsum_new();
	int sfd = cli_signals();
	rc = loop(&x, sfd);
	if (x.sum) {
		watch_get_stats(x.w, &x.last);
		wsum_print(x.sum, stdout, &x.last, o.summary);
	}
	fflush(stdout);
	watch_get_stats(x.w, &x.last);
	say_totals(&x.last, x.shown);
	wsum_free(x.sum);
	wprom_free(x.prom);
	watch_close(x.w);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
