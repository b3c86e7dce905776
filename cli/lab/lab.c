/*
 * lab.c -- `hangup lab`: its options, which scenarios to run, and which
 * output gets the results. The lab replays, on this machine's kernel, every
 * way a connection can end, and checks each step against the expected
 * kernel behaviour.
 *
 * Where things are (cli/lab/, callers above the files they call):
 *
 *   lab.c              this file: options, choosing scenarios, exit status
 *   run.c              a forked process per scenario; the namespace ones
 *                      in the background with a countdown; lab_run_one()
 *   scenarios.c        THE TABLE: every scenario's name, family, title,
 *                      expected behaviour and rule, and its function
 *   scen-close.c       families peer-close, data-then-close,
 *                      write-after-close, half-close, peer-killed, myths
 *                      (and the test-only self-test-mismatch)
 *   scen-reset.c       families unread-close, abortive-close
 *   scen-epoll-accept.c  families epoll, accept
 *   scen-dead-peer.c   family dead-peer (private namespace, nft drops)
 *   scen-connect.c     family connect
 *   scen-unix.c        family unix
 *   scen-uring.c       family io_uring (recv completions; two in namespaces)
 *   step-syscall.c     steps that make one raw call: lab_step_recv(), ...
 *   step-hangup.c      steps through hangup: lab_step_hu_probe(), ...
 *   step-uring.c       the io_uring step: submit, wait for one completion
 *   uring.c            an io_uring by raw syscalls, a provided-buffer ring
 *   expect.c           lab_expect*(): a step or the packets vs expected
 *   step.c             the step machinery: a step, its snapshot, nft
 *   fixture.c          pairs and listeners on loopback, namespaces, fds
 *   capture.c          the scenario's TCP segments, off lo (AF_PACKET)
 *   watch-view.c       --watch: watch's records beside the capture
 *   output-text.c, output-json.c, output-md.c   the three outputs
 *   ladder.c           the packets as a ladder: rows, labels, text
 *   ladder-svg.c       ... and as SVG (--svg DIR)
 *   cells.c            a step's table cells, for every output
 *   util.c             leaves: clock, errno and flag names, lab_fail()
 *   lab.h              the types and every function above, by file
 *
 * Scenario NAME is the function scenario_NAME (dashes as underscores),
 * e.g. abortive-close-peek is scenario_abortive_close_peek() in
 * scen-reset.c; `hangup lab --list` shows each one's family. To add one:
 * write scenario_NAME() in the scen-*.c of its family, declare it in
 * lab.h, and add its row to scenarios.c.
 */
#include "lab.h"

#include "cli.h"
#include "watch/watch.h"

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char lab_usage[] =
    "usage: hangup lab [--list] [--json|--markdown] [--svg DIR] "
    "[--no-capture]\n"
    "                  [--watch] [SCENARIO|GLOB|FAMILY...]\n\n"
    "Replay, on this machine's kernel, the ways a connection can end, and\n"
    "check each step against the expected kernel behaviour. Loopback only\n"
    "(port 0); the dead-peer scenarios run in private network namespaces\n"
    "and need root or CAP_SYS_ADMIN + CAP_NET_ADMIN (else they skip); the\n"
    "io_uring ones skip where io_uring is unavailable.\n"
    "As root (or CAP_NET_RAW) each scenario's own TCP segments are\n"
    "captured on lo and drawn as a ladder diagram. Arguments pick\n"
    "scenarios by name, by glob ('abortive-close*') or by family (see\n"
    "--list); default: all.\n\n"
    "  --list        list the scenarios and their families\n"
    "  --json        one JSON object per scenario per line\n"
    "  --markdown    the document docs/kernel-truth.md\n"
    "  --svg DIR     write one ladder diagram per scenario, DIR/NAME.svg\n"
    "  --no-capture  do not capture packets\n"
    "  --watch       check `hangup watch`: run each scenario with watch's\n"
    "                engine attached and put its record of every TCP socket\n"
    "                the scenario made beside the capture (who sent the\n"
    "                first FIN and RST, RSTs sent and received, payload\n"
    "                bytes each way); a difference fails the scenario. Needs\n"
    "                root (tracepoints and the capture); Unix scenarios have\n"
    "                nothing to check and say so\n\n"
    "Colour only when stdout is a terminal and NO_COLOR is unset; a\n"
    "progress line (and the namespace scenarios' countdown) only when\n"
    "stderr is a terminal.\n\n"
    "Exit status: 0 every scenario behaved as expected (or was skipped),\n"
    "1 a mismatch, 2 usage, 3 cannot write the output (--svg DIR cannot be\n"
    "created or written; checked before any scenario runs), 4 --watch\n"
    "cannot run here (no tracepoints or no capture; checked before any\n"
    "scenario runs).\n";

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

/*
 * The exit statuses (--help, hangup(1)). Not being able to write the SVGs
 * is neither a mismatch (the kernel behaved as expected) nor a usage error
 * (the options were right): it has its own status, whether the directory
 * is missing, not a directory, or not writable. A mismatch found in the
 * same run wins: it is the lab's finding, and the write error is said on
 * stderr.
 */
enum {
	LAB_EXIT_MISMATCH = 1,
	LAB_EXIT_USAGE = EXIT_USAGE,
	LAB_EXIT_CANNOT_WRITE = 3,
	LAB_EXIT_CANNOT_WATCH = 4,
};

/* What the options asked for. */
struct lab_opts {
	struct lab_out out;
	int list, capture, self_test;
	int watch; /* 0, 1, or 2: the self-test of the comparison */
};

/* 0 run, 1 done (--help), -1 a usage error (said). */
static int parse_options(int argc, char **argv, struct lab_opts *opt)
{
	static const struct option opts[] = {
	    {"list", no_argument, NULL, 'l'},
	    {"json", no_argument, NULL, 'j'},
	    {"markdown", no_argument, NULL, 'm'},
	    {"svg", required_argument, NULL, 's'},
	    {"no-capture", no_argument, NULL, 'n'},
	    {"watch", no_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    /* Undocumented, for tests/t-lab.sh only: see scenarios.c. */
	    {"self-test-mismatch", no_argument, NULL, 'T'},
	    /* ... and --watch with every record perturbed (watch-view.c):
	     * the comparison must then fail. */
	    {"self-test-watch-mismatch", no_argument, NULL, 'W'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(opt, 0, sizeof(*opt));
	opt->capture = 1;
	optind = 0; /* GNU: a full reset, nextchar included */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			opt->list = 1;
			break;
		case 'j':
			opt->out.json = 1;
			break;
		case 'm':
			opt->out.markdown = 1;
			break;
		case 's':
			opt->out.svgdir = optarg;
			break;
		case 'n':
			opt->capture = 0;
			break;
		case 'h':
			fputs(lab_usage, stdout);
			return 1;
		case 'T':
			opt->self_test = 1;
			break;
		case 'w':
			opt->watch = opt->watch ? opt->watch : 1;
			break;
		case 'W':
			opt->watch = 2;
			break;
		default:
			cli_bad_option("lab", c, argv);
			return -1;
		}
	}
	if (opt->out.json && opt->out.markdown) {
		fprintf(stderr, "hangup lab: --json and --markdown exclude "
				"each other\n");
		return -1;
	}
	if (opt->watch && !opt->capture) {
		fprintf(stderr, "hangup lab: --watch compares watch with the "
				"capture: not with --no-capture\n");
		return -1;
	}
	return 0;
}

/* --watch needs watch's tracepoints (who and why) and the capture (the
 * truth it is compared with): found out before the scenarios run. */
static int watch_ready(void)
{
	struct watch_opts o = {.hold_ms = 20};
	struct watch_stats st;
	char err[160], missing[160] = "", why[96] = "";
	struct watch *w;
	int usage = 0;

	if (!lab_may_capture(why, sizeof(why))) {
		fprintf(stderr, "hangup lab: --watch: %s\n", why);
		return -1;
	}
	w = watch_open(&o, err, sizeof(err), missing, sizeof(missing), &usage);
	if (w == NULL) {
		fprintf(stderr, "hangup lab: --watch: %s\n", err);
		return -1;
	}
	watch_get_stats(w, &st);
	watch_close(w);
	if (!st.trace_ok) {
		fprintf(stderr,
			"hangup lab: --watch: watch lacks %s: who and why "
			"cannot be checked\n",
			missing);
		return -1;
	}
	return 0;
}

/* The --svg directory exists (made if need be) and we may write in it:
 * found out before the scenarios run, not after. */
static int svg_dir_ready(const char *dir)
{
	struct stat st;
	int err = 0;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		err = errno;
	else if (stat(dir, &st) < 0)
		err = errno;
	else if (!S_ISDIR(st.st_mode))
		err = ENOTDIR;
	else if (access(dir, W_OK | X_OK) < 0)
		err = errno;
	if (err == 0)
		return 0;
	fprintf(stderr, "hangup lab: cannot write to %s: %s\n", dir,
		strerror(err));
	return -1;
}

/* Colour only on a terminal and without NO_COLOR (no-color.org: set and
 * not empty); the terminal's width for wrapping. */
static void terminal(struct lab_out *o)
{
	const char *nc = getenv("NO_COLOR");

	o->color = !o->json && !o->markdown && isatty(1) && !(nc && *nc);
	if (isatty(1)) {
		struct winsize ws;

		if (ioctl(1, TIOCGWINSZ, &ws) == 0)
			o->cols = ws.ws_col;
	}
}

/* Say in each result (JSON, SVG) why it holds no packets. */
static void explain_no_capture(struct lab_result *res, int n, const char *why)
{
	for (int i = 0; i < n; i++)
		if (res[i].capture == LAB_CAPTURE_OFF)
			snprintf(res[i].nocap, sizeof(res[i].nocap), "%.*s",
				 (int)sizeof(res[i].nocap) - 1,
				 why[0] ? why : "--no-capture");
}

/* How the selected scenarios went. */
struct tally {
	int nsel, npass, nfail, nskip;
	int svg_failed;
};

/* Hand each selected result to the chosen output (and its SVG). */
static void print_results(const struct lab_out *o, const char *sel, int n,
			  struct lab_result *res, struct tally *t)
{
	for (int i = 0; i < n; i++)
		res[i].index = sel[i] ? i : -1;
	if (o->markdown)
		lab_md_begin(res, n);
	for (int i = 0; i < n; i++) {
		if (!sel[i])
			continue;
		t->nsel++;
		t->npass += res[i].verdict == LAB_PASS;
		t->nfail += res[i].verdict == LAB_FAIL;
		t->nskip += res[i].verdict == LAB_SKIP;
		if (o->json)
			lab_print_json(&res[i]);
		else if (o->markdown)
			lab_print_md(&res[i]);
		else
			lab_print_text(o, &res[i]);
		if (o->svgdir && res[i].verdict != LAB_SKIP &&
		    lab_ladder_svg(o->svgdir, &res[i]) < 0) {
			fprintf(stderr, "hangup lab: writing SVG for %s: %s\n",
				lab_scenarios[i].name, strerror(errno));
			t->svg_failed = 1;
		}
	}
	if (o->markdown)
		lab_md_end(res, n);
}

int cmd_lab(int argc, char **argv)
{
	struct lab_opts opt;
	struct tally t = {0};
	int nall = lab_nscenarios + 1, progress, rc;
	char sel[256], why[96] = "";
	struct lab_result *res;
	double t0;

	rc = parse_options(argc, argv, &opt);
	if (rc != 0)
		return rc > 0 ? 0 : LAB_EXIT_USAGE;
	if (opt.list) {
		list();
		return 0;
	}
	if (select_args(argc, argv, sel, opt.self_test) < 0)
		return LAB_EXIT_USAGE;
	if (opt.out.svgdir && svg_dir_ready(opt.out.svgdir) < 0)
		return LAB_EXIT_CANNOT_WRITE;
	if (opt.watch && watch_ready() < 0)
		return LAB_EXIT_CANNOT_WATCH;
	terminal(&opt.out);
	progress = isatty(2);
	lab_catch_signals(progress);
	if (opt.capture && !lab_may_capture(why, sizeof(why))) {
		opt.capture = 0;
		fprintf(stderr, "hangup lab: %s: showing the steps alone\n",
			why);
	}
	res = calloc((size_t)nall, sizeof(*res));
	t0 = lab_now();
	if (res == NULL || lab_run_selected(sel, nall, opt.capture, opt.watch,
					    progress, res) < 0) {
		free(res);
		fprintf(stderr, "hangup lab: out of memory\n");
		return EXIT_OTHER;
	}
	explain_no_capture(res, nall, why);
	print_results(&opt.out, sel, nall, res, &t);
	fprintf(opt.out.json || opt.out.markdown ? stderr : stdout,
		"%d scenario%s: %d passed, %d failed, %d skipped (%.1f s)\n",
		t.nsel, t.nsel == 1 ? "" : "s", t.npass, t.nfail, t.nskip,
		lab_now() - t0);
	free(res);
	if (t.nfail)
		return LAB_EXIT_MISMATCH;
	return t.svg_failed ? LAB_EXIT_CANNOT_WRITE : 0;
}
