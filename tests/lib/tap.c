/* tap.c -- see tap.h. */
#include "tap.h"

#include <dirent.h>
#include <errno.h> /* program_invocation_short_name */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SKIP_EXIT 77

static int number, failed;
static int case_failures;
static int skip_pipe = -1;

/*
 * The plan comes last ("done_testing"), counted by the harness, not by
 * hand: TAP allows it after the tests, and prove fails a run that ends
 * without one (a crash before tap_done()), so nothing is lost.
 */
int tap_done(void)
{
	printf("1..%d\n", number);
	fflush(stdout);
	return failed ? 1 : 0;
}

int tap_case_failed(void)
{
	return case_failures != 0;
}

int tap_fd_count(void)
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
	return n - 1; /* the DIR's own fd */
}

static const char *case_name = "-";

static void vdiag(const char *fmt, va_list ap)
{
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(fmt, ap);
	va_end(ap);
}

static void vcheck(int ok, const char *file, int line, const char *fmt,
		   va_list ap)
{
	if (ok)
		return;
	case_failures++;
	/* On stderr, which prove shows (its stdout is read as TAP and the
	 * '#' lines hidden): a failure in CI says where and why. */
	fflush(stdout);
	fprintf(stderr,
		"# %s: %s: FAILED at %s:%d: ", program_invocation_short_name,
		case_name, file, line);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
}

void tap_check(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcheck(ok, file, line, fmt, ap);
	va_end(ap);
}

void tap_require(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcheck(ok, file, line, fmt, ap);
	va_end(ap);
	if (!ok)
		_exit(1);
}

void tap_skip(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (skip_pipe >= 0 && write(skip_pipe, buf, strlen(buf)) < 0)
		_exit(SKIP_EXIT);
	fflush(stdout);
	_exit(SKIP_EXIT);
}

void tap_run(const char *name, void (*fn)(void), unsigned timeout_s)
{
	int p[2];
	int status;
	char reason[256] = "";

	fflush(stdout);
	if (pipe(p) < 0) {
		perror("pipe");
		exit(2);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		close(p[0]);
		skip_pipe = p[1];
		case_name = name;
		/* Each case starts from default dispositions: SIGPIPE kills,
		 * as it would in a user's program that forgot MSG_NOSIGNAL. */
		signal(SIGPIPE, SIG_DFL);
		alarm(timeout_s);
		int before = tap_fd_count();
		fn();
		int after = tap_fd_count();
		if (after != before) {
			fprintf(stderr,
				"# %s: %s: FAILED: fd leak: %d open before, %d "
				"after\n",
				program_invocation_short_name, name, before,
				after);
			case_failures++;
		}
		fflush(stdout);
		_exit(case_failures ? 1 : 0);
	}
	close(p[1]);
	while (waitpid(pid, &status, 0) < 0)
		;
	/* Read the reason only after the child is gone: a grandchild that
	 * inherited the pipe must not keep us waiting. */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	ssize_t n = read(p[0], reason, sizeof(reason) - 1);
	reason[n > 0 ? n : 0] = '\0';
	close(p[0]);
	number++;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok %d - %s\n", number, name);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_EXIT) {
		printf("ok %d - %s # SKIP %s\n", number, name, reason);
	} else {
		failed++;
		if (WIFSIGNALED(status)) {
			printf("not ok %d - %s # killed by signal %d (%s)%s\n",
			       number, name, WTERMSIG(status),
			       strsignal(WTERMSIG(status)),
			       WTERMSIG(status) == SIGALRM ? ": timed out"
							   : "");
			fflush(stdout);
			fprintf(stderr, "# %s: %s: killed by signal %d (%s)\n",
				program_invocation_short_name, name,
				WTERMSIG(status), strsignal(WTERMSIG(status)));
		} else
			printf("not ok %d - %s\n", number, name);
	}
	fflush(stdout);
}
