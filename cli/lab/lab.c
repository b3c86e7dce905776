/*
 * lab.c -- `hangup lab`: options, choosing scenarios, running each in its
 * own forked process (the dead-peer ones concurrently, in private network
 * namespaces, with a countdown), and handing the results to an output.
 */
#include "lab.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A result must fit in a pipe's buffer (64 KiB on Linux), so a child can
 * write it whole and exit even before the parent reads. */
_Static_assert(sizeof(struct lab_result) < 65536, "lab_result too big");

#define SCENARIO_ALARM_S 30 /* a scenario process that hangs is killed */

static const char lab_usage[] =
    "usage: hangup lab [--list] [--json|--markdown] [--svg DIR] "
    "[--no-capture]\n"
    "                  [SCENARIO|GLOB|FAMILY...]\n\n"
    "Replay, on this machine's kernel, the ways a connection can end, and\n"
    "check each step against the expected kernel behaviour. Loopback only\n"
    "(port 0); the dead-peer scenarios run in private network namespaces\n"
    "and need root or CAP_SYS_ADMIN + CAP_NET_ADMIN (else they skip).\n"
    "As root (or CAP_NET_RAW) each scenario's own TCP segments are\n"
    "captured on lo and drawn as a ladder diagram. Arguments pick\n"
    "scenarios by name, by glob ('abortive-close*') or by family (see\n"
    "--list); default: all.\n\n"
    "  --list        list the scenarios and their families\n"
    "  --json        one JSON object per scenario per line\n"
    "  --markdown    the document docs/kernel-truth.md\n"
    "  --svg DIR     write one ladder diagram per scenario, DIR/NAME.svg\n"
    "  --no-capture  do not capture packets\n\n"
    "Colour only when stdout is a terminal and NO_COLOR is unset; a\n"
    "progress line (and the namespace scenarios' countdown) only when\n"
    "stderr is a terminal.\n\n"
    "Exit status: 0 every scenario behaved as expected (or was skipped),\n"
    "1 a mismatch, 2 usage.\n";

struct job {
	int index;
	pid_t pid;
	int fd;
	size_t got;
	double deadline;
	int done;
};

/*
 * The scenario processes still running, for the signal handler: a Ctrl-C
 * or SIGTERM must not leave them (and the network namespaces they hold)
 * behind. A namespace made by unshare() lives exactly as long as a process
 * in it, so killing the process removes it. PR_SET_PDEATHSIG covers the
 * parent being killed outright (SIGKILL) and the window between fork() and
 * the pid landing in this table.
 */
#define MAX_RUNNING 64
static volatile pid_t running[MAX_RUNNING];
static volatile sig_atomic_t progress_on;

static void track_pid(pid_t pid, int on)
{
	for (int i = 0; i < MAX_RUNNING; i++)
		if (on ? running[i] == 0 : running[i] == pid) {
			running[i] = on ? pid : 0;
			return;
		}
}

static void on_signal(int sig)
{
	for (int i = 0; i < MAX_RUNNING; i++)
		if (running[i] > 0)
			kill(running[i], SIGKILL);
	if (progress_on) {
		static const char clear[] = "\r\033[K";
		ssize_t n = write(2, clear, sizeof(clear) - 1);
		(void)n;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A scenario process dies with the lab: see running[] above. */
void lab_die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
}

static void list(void)
{
	for (int i = 0; i < lab_nscenarios; i++)
		printf("%-28s %-18s %s%s\n", lab_scenarios[i].name,
		       lab_scenarios[i].family, lab_scenarios[i].title,
		       lab_scenarios[i].netns ? " [netns, root]" : "");
}

static int select_args(int argc, char **argv, char *sel, int selftest)
{
	memset(sel, 0, (size_t)lab_nscenarios + 1);
	/* The test-only scenario runs alone unless names are given too. */
	sel[lab_nscenarios] = (char)selftest;
	if (optind >= argc) {
		memset(sel, !selftest, (size_t)lab_nscenarios);
		return 0;
	}
	for (int a = optind; a < argc; a++) {
		int hit = 0;

		/* A name (or a glob of names) first; a family word only when
		 * no name matches, so "abortive-close" is that one scenario
		 * and "abortive-close*" its whole family. */
		for (int i = 0; i < lab_nscenarios; i++)
			if (fnmatch(argv[a], lab_scenarios[i].name, 0) == 0)
				sel[i] = hit = 1;
		for (int i = 0, fam = !hit; i < lab_nscenarios && fam; i++)
			if (strcmp(argv[a], lab_scenarios[i].family) == 0)
				sel[i] = hit = 1;
		if (!hit) {
			fprintf(stderr,
				"hangup lab: unknown scenario '%s' (try "
				"'hangup lab --list')\n",
				argv[a]);
			return -1;
		}
	}
	return 0;
}

static int start(struct job *j, int index, int capture)
{
	int p[2];

	pid_t parent = getpid();

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	j->pid = fork();
	if (j->pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (j->pid == 0) {
		static struct lab_result r;
		const char *b = (const char *)&r;
		size_t off = 0;

		close(p[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		lab_die_with_parent(parent);
		alarm(SCENARIO_ALARM_S);
		lab_run_one(index, capture, &r);
		while (off < sizeof(r)) {
			ssize_t n = write(p[1], b + off, sizeof(r) - off);
			if (n <= 0)
				_exit(1);
			off += (size_t)n;
		}
		_exit(0);
	}
	close(p[1]);
	track_pid(j->pid, 1);
	j->index = index;
	j->fd = p[0];
	j->got = 0;
	j->done = 0;
	j->deadline = lab_now() + lab_scenarios[index].seconds + 1;
	return 0;
}

/* Read what is there; on EOF reap the child and check the record. */
static void pump(struct job *j, struct lab_result *r)
{
	ssize_t n = read(j->fd, (char *)r + j->got, sizeof(*r) - j->got);
	int st = 0;

	if (n > 0) {
		j->got += (size_t)n;
		if (j->got < sizeof(*r))
			return;
	} else if (n < 0 && errno == EINTR) {
		return;
	}
	close(j->fd);
	j->done = 1;
	waitpid(j->pid, &st, 0);
	track_pid(j->pid, 0);
	if (j->got == sizeof(*r))
		return;
	memset(r, 0, sizeof(*r));
	r->index = j->index;
	r->verdict = LAB_FAIL;
	r->nmis = 1;
	if (WIFSIGNALED(st))
		snprintf(r->mis[0], sizeof(r->mis[0]),
			 "the scenario process died of signal %d%s",
			 WTERMSIG(st),
			 WTERMSIG(st) == SIGALRM ? " (it hung)" : "");
	else
		snprintf(r->mis[0], sizeof(r->mis[0]),
			 "the scenario process exited (%d) without a result",
			 WEXITSTATUS(st));
}

/*
 * Read whatever the background (namespace) scenarios have sent, waiting at
 * most timeout_ms. Returns how many are still running and sets *left to the
 * longest expected time still to go, for the countdown.
 */
static int pump_ready(struct job *jobs, int n, struct lab_result *res,
		      int timeout_ms, double *left)
{
	struct pollfd pf[MAX_RUNNING];
	int map[MAX_RUNNING], np = 0;

	*left = 0;
	for (int i = 0; i < n && np < MAX_RUNNING; i++) {
		if (jobs[i].done)
			continue;
		pf[np].fd = jobs[i].fd;
		pf[np].events = POLLIN;
		map[np++] = i;
	}
	if (np > 0 && poll(pf, (nfds_t)np, timeout_ms) > 0)
		for (int k = 0; k < np; k++)
			if (pf[k].revents)
				pump(&jobs[map[k]], &res[jobs[map[k]].index]);
	np = 0;
	for (int i = 0; i < n; i++) {
		double l = jobs[i].deadline - lab_now();

		if (jobs[i].done)
			continue;
		np++;
		if (l > *left)
			*left = l;
	}
	return np;
}

/* The countdown of the background scenarios, as a suffix or a line. */
static void countdown(char *buf, size_t size, int np, double left)
{
	if (np == 0)
		buf[0] = '\0';
	else
		snprintf(buf, size,
			 "%d namespace scenario%s running, ~%.0f s left", np,
			 np == 1 ? "" : "s", left < 1 ? 1 : left);
}

static void wait_all(struct job *jobs, int n, struct lab_result *res,
		     int progress)
{
	char cd[96];
	double left;
	int np;

	while ((np = pump_ready(jobs, n, res, 250, &left)) > 0)
		if (progress) {
			countdown(cd, sizeof(cd), np, left);
			fprintf(stderr, "\r\033[K  waiting: %s", cd);
		}
	if (progress)
		fprintf(stderr, "\r\033[K");
}

static const char *verdict_word(int v)
{
	return v == LAB_PASS ? "pass" : v == LAB_FAIL ? "FAIL" : "skip";
}

int cmd_lab(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"list", no_argument, NULL, 'l'},
	    {"json", no_argument, NULL, 'j'},
	    {"markdown", no_argument, NULL, 'm'},
	    {"svg", required_argument, NULL, 's'},
	    {"no-capture", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    /* Undocumented, for tests/t-lab.sh only: see lab-scenarios.c. */
	    {"self-test-mismatch", no_argument, NULL, 'T'},
	    {NULL, 0, NULL, 0},
	};
	struct lab_out o = {0};
	int c, do_list = 0, capture = 1, progress, failed = 0, nsel = 0;
	int selftest = 0, nall = lab_nscenarios + 1;
	char sel[256], why[96] = "";
	const char *nc;
	struct lab_result *res;
	struct job *jobs;
	int njobs = 0, npass = 0, nfail = 0, nskip = 0;
	double t0;

	optind = 0; /* GNU: a full reset, nextchar included */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			do_list = 1;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'm':
			o.markdown = 1;
			break;
		case 's':
			o.svgdir = optarg;
			break;
		case 'n':
			capture = 0;
			break;
		case 'h':
			fputs(lab_usage, stdout);
			return 0;
		case 'T':
			selftest = 1;
			break;
		default:
			cli_bad_option("lab", c, argv);
			return EXIT_USAGE;
		}
	}
	if (o.json && o.markdown) {
		fprintf(stderr, "hangup lab: --json and --markdown exclude "
				"each other\n");
		return EXIT_USAGE;
	}
	if (do_list) {
		list();
		return 0;
	}
	if (select_args(argc, argv, sel, selftest) < 0)
		return EXIT_USAGE;
	if (o.svgdir && mkdir(o.svgdir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "hangup lab: cannot create %s: %s\n", o.svgdir,
			strerror(errno));
		return EXIT_USAGE;
	}
	/* NO_COLOR (no-color.org): set and not empty. */
	nc = getenv("NO_COLOR");
	o.color = !o.json && !o.markdown && isatty(1) && !(nc && *nc);
	if (isatty(1)) {
		struct winsize ws;

		if (ioctl(1, TIOCGWINSZ, &ws) == 0)
			o.cols = ws.ws_col;
	}
	progress = isatty(2);
	progress_on = progress;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (capture && !lab_may_capture(why, sizeof(why))) {
		capture = 0;
		fprintf(stderr, "hangup lab: %s: showing the steps alone\n",
			why);
	}
	res = calloc((size_t)nall, sizeof(*res));
	jobs = calloc((size_t)nall, sizeof(*jobs));
	if (res == NULL || jobs == NULL) {
		free(res);
		free(jobs);
		fprintf(stderr, "hangup lab: out of memory\n");
		return EXIT_OTHER;
	}
	t0 = lab_now();
	/* The slow namespace scenarios first, in the background... */
	for (int i = 0; i < nall; i++) {
		if (!sel[i])
			continue;
		nsel++;
		if (lab_scenarios[i].netns &&
		    start(&jobs[njobs], i, capture) == 0)
			njobs++;
	}
	/* ...the quick ones one after another meanwhile. */
	for (int i = 0, k = 0; i < nall; i++) {
		struct job j;

		if (!sel[i] || lab_scenarios[i].netns)
			continue;
		k++;
		if (progress) {
			char cd[96];
			double left;
			int np = pump_ready(jobs, njobs, res, 0, &left);

			countdown(cd, sizeof(cd), np, left);
			fprintf(stderr, "\r\033[K  [%2d/%d] %-28s%s%s", k,
				nsel - njobs, lab_scenarios[i].name,
				np ? " | " : "", cd);
		}
		if (start(&j, i, capture) < 0) {
			res[i].index = i;
			res[i].verdict = LAB_FAIL;
			res[i].nmis = 1;
			snprintf(res[i].mis[0], sizeof(res[i].mis[0]),
				 "fork failed");
			continue;
		}
		while (!j.done)
			pump(&j, &res[i]);
		if (res[i].verdict == LAB_FAIL && progress)
			fprintf(stderr, "\r\033[K  %s: %s\n",
				lab_scenarios[i].name,
				verdict_word(res[i].verdict));
	}
	wait_all(jobs, njobs, res, progress);
	/* Say in each result (JSON, SVG) why it holds no packets. */
	for (int i = 0; i < nall; i++)
		if (strcmp(res[i].nocap, "capture off") == 0)
			snprintf(res[i].nocap, sizeof(res[i].nocap), "%.*s",
				 (int)sizeof(res[i].nocap) - 1,
				 why[0] ? why : "--no-capture");
	for (int i = 0; i < nall; i++)
		res[i].index = sel[i] ? i : -1;
	if (o.markdown)
		lab_md_begin(res, nall);
	for (int i = 0; i < nall; i++) {
		if (!sel[i])
			continue;
		if (res[i].verdict == LAB_FAIL)
			failed = 1;
		npass += res[i].verdict == LAB_PASS;
		nfail += res[i].verdict == LAB_FAIL;
		nskip += res[i].verdict == LAB_SKIP;
		if (o.json)
			lab_print_json(&res[i]);
		else if (o.markdown)
			lab_print_md(&res[i]);
		else
			lab_print_text(&o, &res[i]);
		if (o.svgdir && res[i].verdict != LAB_SKIP &&
		    lab_ladder_svg(o.svgdir, &res[i]) < 0) {
			fprintf(stderr, "hangup lab: writing SVG for %s: %s\n",
				lab_scenarios[i].name, strerror(errno));
			failed = 1;
		}
	}
	if (o.markdown)
		lab_md_end(res, nall);
	fprintf(o.json || o.markdown ? stderr : stdout,
		"%d scenario%s: %d passed, %d failed, %d skipped (%.1f s)\n",
		nsel, nsel == 1 ? "" : "s", npass, nfail, nskip,
		lab_now() - t0);
	free(res);
	free(jobs);
	return failed ? EXIT_OTHER : 0;
}
