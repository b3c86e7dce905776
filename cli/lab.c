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
    "and need root (they are skipped otherwise). As root (or CAP_NET_RAW)\n"
    "each scenario's own TCP segments are captured on lo and drawn as a\n"
    "ladder diagram. Arguments pick scenarios by name, by glob\n"
    "('abortive-close*') or by family (see --list); default: all.\n\n"
    "  --list        list the scenarios and their families\n"
    "  --json        one JSON object per scenario per line\n"
    "  --markdown    the document docs/kernel-truth.md\n"
    "  --svg DIR     write one ladder diagram per scenario, DIR/NAME.svg\n"
    "  --no-capture  do not capture packets\n\n"
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

static void list(void)
{
	for (int i = 0; i < lab_nscenarios; i++)
		printf("%-28s %-18s %s%s\n", lab_scenarios[i].name,
		       lab_scenarios[i].family, lab_scenarios[i].title,
		       lab_scenarios[i].netns ? " [netns, root]" : "");
}

static int select_args(int argc, char **argv, char *sel)
{
	if (optind >= argc) {
		memset(sel, 1, (size_t)lab_nscenarios);
		return 0;
	}
	memset(sel, 0, (size_t)lab_nscenarios);
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

static void wait_all(struct job *jobs, int n, struct lab_result *res,
		     int progress)
{
	for (;;) {
		struct pollfd pf[64];
		int map[64], np = 0;
		double left = 0;

		for (int i = 0; i < n && np < 64; i++) {
			if (jobs[i].done)
				continue;
			pf[np].fd = jobs[i].fd;
			pf[np].events = POLLIN;
			map[np++] = i;
			if (jobs[i].deadline - lab_now() > left)
				left = jobs[i].deadline - lab_now();
		}
		if (np == 0)
			break;
		if (progress)
			fprintf(stderr,
				"\r\033[K  waiting for %d namespace "
				"scenario%s: ~%.0f s left",
				np, np == 1 ? "" : "s", left);
		if (poll(pf, (nfds_t)np, 250) <= 0)
			continue;
		for (int k = 0; k < np; k++)
			if (pf[k].revents)
				pump(&jobs[map[k]], &res[jobs[map[k]].index]);
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
	    {NULL, 0, NULL, 0},
	};
	struct lab_out o = {0};
	int c, do_list = 0, capture = 1, progress, failed = 0, nsel = 0;
	char sel[256], why[96] = "";
	struct lab_result *res;
	struct job *jobs;
	int njobs = 0, npass = 0, nfail = 0, nskip = 0;
	double t0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
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
		default:
			fputs(lab_usage, stderr);
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
	if (select_args(argc, argv, sel) < 0)
		return EXIT_USAGE;
	if (o.svgdir && mkdir(o.svgdir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "hangup lab: cannot create %s: %s\n", o.svgdir,
			strerror(errno));
		return EXIT_USAGE;
	}
	o.color = !o.json && !o.markdown && isatty(1) && !getenv("NO_COLOR");
	progress = isatty(2);
	if (capture && !lab_may_capture(why, sizeof(why))) {
		capture = 0;
		fprintf(stderr, "hangup lab: %s: showing the steps alone\n",
			why);
	}
	res = calloc((size_t)lab_nscenarios, sizeof(*res));
	jobs = calloc((size_t)lab_nscenarios, sizeof(*jobs));
	if (res == NULL || jobs == NULL) {
		free(res);
		free(jobs);
		fprintf(stderr, "hangup lab: out of memory\n");
		return EXIT_OTHER;
	}
	t0 = lab_now();
	/* The slow namespace scenarios first, in the background... */
	for (int i = 0; i < lab_nscenarios; i++) {
		if (!sel[i])
			continue;
		nsel++;
		if (lab_scenarios[i].netns &&
		    start(&jobs[njobs], i, capture) == 0)
			njobs++;
	}
	/* ...the quick ones one after another meanwhile. */
	for (int i = 0, k = 0; i < lab_nscenarios; i++) {
		struct job j;

		if (!sel[i] || lab_scenarios[i].netns)
			continue;
		k++;
		if (progress)
			fprintf(stderr, "\r\033[K  [%2d/%d] %s ...", k, nsel,
				lab_scenarios[i].name);
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
		if (progress)
			fprintf(stderr, " %s", verdict_word(res[i].verdict));
	}
	wait_all(jobs, njobs, res, progress);
	for (int i = 0; i < lab_nscenarios; i++)
		res[i].index = sel[i] ? i : -1;
	if (o.markdown)
		lab_md_begin(res, lab_nscenarios);
	for (int i = 0; i < lab_nscenarios; i++) {
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
		lab_md_end(res, lab_nscenarios);
	fprintf(o.json || o.markdown ? stderr : stdout,
		"%d scenario%s: %d passed, %d failed, %d skipped (%.1f s)\n",
		nsel, nsel == 1 ? "" : "s", npass, nfail, nskip,
		lab_now() - t0);
	free(res);
	free(jobs);
	return failed ? EXIT_OTHER : 0;
}
