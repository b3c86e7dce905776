/*
 * util.c -- the lab's leaf helpers: the clock, errno and flag names, the
 * verdict word, recording a failure or a skip, printable payload text, and
 * tying a forked child to its parent. It calls nothing else in cli/lab/;
 * every other file of the lab may call it.
 */
#include "lab.h"

#include "hangup.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double lab_now(void)
{
	struct timespec ts;

	/* CLOCK_REALTIME: the clock of the packet timestamps (SO_TIMESTAMPNS),
	 * so steps and packets sort on one time line. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void lab_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void lab_fail(struct lab *L, const char *fmt, ...)
{
	struct lab_result *r = L->r;
	va_list ap;

	if (r->nmis >= LAB_MAX_MIS) {
		r->nmis++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(r->mis[r->nmis++], sizeof(r->mis[0]), fmt, ap);
	va_end(ap);
}

void lab_skip(struct lab *L, const char *why)
{
	L->r->verdict = LAB_SKIP;
	snprintf(L->r->skip, sizeof(L->r->skip), "%s", why);
}

/* A scenario process dies with the lab: see running[] above. */
void lab_die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
}

const char *lab_errno_name(int err)
{
	static char buf[16];
	const char *n = hu_errno_name(err);

	if (n)
		return n;
	/* An errno hangup never reports, such as an io_uring completion's
	 * ECANCELED: libc's name for it. */
	n = strerrorname_np(err);
	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

/* A bit and its name, for the tables below. */
struct bit_name {
	unsigned bit;
	const char *name;
};

/* The names of the bits set in `bits`, in the table's order, joined by
 * `sep`; returns the length written ("" and 0 when none is set). */
static size_t bit_names(unsigned bits, const struct bit_name *t, size_t nt,
			const char *sep, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < nt; i++)
		if (bits & t[i].bit)
			n += snprintf(buf + n, size > n ? size - n : 0, "%s%s",
				      n ? sep : "", t[i].name);
	return n;
}

void lab_events_str(int ev, char *buf, size_t size)
{
	static const struct bit_name names[] = {{EPOLLIN, "IN"},
						{EPOLLOUT, "OUT"},
						{EPOLLRDHUP, "RDHUP"},
						{EPOLLHUP, "HUP"},
						{EPOLLERR, "ERR"}};

	if (ev < 0)
		snprintf(buf, size, "n/a");
	else if (bit_names((unsigned)ev, names,
			   sizeof(names) / sizeof(names[0]), "+", buf,
			   size) == 0)
		snprintf(buf, size, "-");
}

void lab_flags_str(unsigned char f, char *buf, size_t size)
{
	static const struct bit_name names[] = {{LAB_TCP_SYN, "SYN"},
						{LAB_TCP_FIN, "FIN"},
						{LAB_TCP_RST, "RST"},
						{LAB_TCP_PSH, "PSH"},
						{LAB_TCP_ACK, "ACK"}};

	bit_names(f, names, sizeof(names) / sizeof(names[0]), ",", buf, size);
}

void lab_fmt_data(char *buf, size_t size, long n, const char *data)
{
	char q[24];
	size_t j = 0;

	for (long i = 0; i < n && j + 4 < sizeof(q); i++)
		q[j++] = (data[i] >= 32 && data[i] < 127) ? data[i] : '.';
	q[j] = '\0';
	snprintf(buf, size, "%ld \"%s%s\"", n, q, j < (size_t)n ? "..." : "");
}

/* The verdict's one word, in every output: "pass", "fail", "skip". */
const char *lab_verdict_name(int verdict)
{
	return verdict == LAB_PASS   ? "pass"
	       : verdict == LAB_FAIL ? "fail"
				     : "skip";
}
