/*
 * run.c -- running the scenarios: each in its own forked process that
 * hands its result back as one fixed-size record over a pipe; the
 * namespace (dead-peer) scenarios concurrently in the background, the
 * quick ones one after another meanwhile, with a progress line and a
 * countdown; and, in the scenario process, running one scenario and
 * checking it leaked no fd.
 */
#include "lab.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A result must fit in a pipe's buffer (64 KiB on Linux), so a child can
 * write it whole and exit even before the parent reads. */
_Static_assert(sizeof(struct lab_result) < 65536, "lab_result too big");

#define SCENARIO_ALARM_S 30 /* a scenario process that hangs is killed */

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

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* Run scenario `index` in this process (a forked child) and fill *r. */
void lab_run_one(int index, int want_capture, int watch, struct lab_result *r)
{
	const struct lab_scenario *sc = &lab_scenarios[index];
	struct lab L;
	int before, after;

	memset(&L, 0, sizeof(L));
	memset(r, 0, sizeof(*r));
	r->index = index;
	L.r = r;
	L.cap = -1;
	L.obs = -1;
	L.settle_ms = 15;
	L.want_watch = watch;
	signal(SIGPIPE, SIG_IGN);
	if (want_capture) {
		L.cap = lab_capture_open(r->nocap, sizeof(r->nocap));
		r->capture = L.cap >= 0 ? LAB_CAPTURE_ON : LAB_CAPTURE_NONE;
	} else {
		r->capture = LAB_CAPTURE_OFF;
	}
	before = count_fds();
	/* A namespace scenario opens watch once inside (lab_enter_netns). */
	if (!sc->netns)
		lab_wview_open(&L);
	L.t0 = lab_now();
	sc->run(&L);
	lab_capture_drain(&L);
	r->secs = lab_now() - L.t0;
	lab_wview_before_close(&L);
	for (int i = 0; i < L.nfds; i++)
		if (L.fds[i] >= 0)
			close(L.fds[i]);
	/* After the close: many sockets end only there. */
	lab_wview_finish(&L);
	after = count_fds();
	/* A netns scenario reopened the capture socket: same count. */
	if (after > before)
		lab_fail(&L, "fd leak: %d fds open before, %d after", before,
			 after);
	if (L.cap >= 0)
		close(L.cap);
	if (r->verdict != LAB_SKIP)
		r->verdict = r->nmis ? LAB_FAIL : LAB_PASS;
	if (r->nmis > LAB_MAX_MIS)
		r->nmis = LAB_MAX_MIS;
}

static int start(struct job *j, int index, int capture, int watch)
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
		lab_run_one(index, capture, watch, &r);
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

/* Kill the scenario processes and clear the progress line, then die of
 * the signal as if it had not been caught: see running[] above. */
void lab_catch_signals(int progress)
{
	progress_on = progress;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
}

/* A scenario that could not even start: failed, saying why. */
static void not_started(struct lab_result *r, int index)
{
	r->index = index;
	r->verdict = LAB_FAIL;
	r->nmis = 1;
	snprintf(r->mis[0], sizeof(r->mis[0]), "fork failed");
}

/* The progress line: which quick scenario runs, and the countdown of the
 * background ones (read meanwhile, so that they are not held up). */
static void show_progress(struct job *jobs, int njobs, struct lab_result *res,
			  int k, int nquick, int index)
{
	char cd[96];
	double left;
	int np = pump_ready(jobs, njobs, res, 0, &left);

	countdown(cd, sizeof(cd), np, left);
	fprintf(stderr, "\r\033[K  [%2d/%d] %-28s%s%s", k, nquick,
		lab_scenarios[index].name, np ? " | " : "", cd);
}

int lab_run_selected(const char *sel, int n, int capture, int watch,
		     int progress, struct lab_result *res)
{
	struct job *jobs = calloc((size_t)n, sizeof(*jobs));
	int njobs = 0, nsel = 0;

	if (jobs == NULL)
		return -1;
	/* The slow namespace scenarios first, in the background... */
	for (int i = 0; i < n; i++) {
		if (!sel[i])
			continue;
		nsel++;
		if (!lab_scenarios[i].netns)
			continue;
		if (start(&jobs[njobs], i, capture, watch) == 0)
			njobs++;
		else
			not_started(&res[i], i);
	}
	/* ...the quick ones one after another meanwhile. */
	for (int i = 0, k = 0; i < n; i++) {
		struct job j;

		if (!sel[i] || lab_scenarios[i].netns)
			continue;
		k++;
		if (progress)
			show_progress(jobs, njobs, res, k, nsel - njobs, i);
		if (start(&j, i, capture, watch) < 0) {
			not_started(&res[i], i);
			continue;
		}
		while (!j.done)
			pump(&j, &res[i]);
		if (res[i].verdict == LAB_FAIL && progress)
			fprintf(stderr, "\r\033[K  %s: %s\n",
				lab_scenarios[i].name,
				lab_verdict_name(res[i].verdict));
	}
	wait_all(jobs, njobs, res, progress);
	free(jobs);
	return 0;
}
