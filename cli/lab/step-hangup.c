/*
 * step-hangup.c -- the steps that go through hangup itself: hu_recv,
 * hu_send, hu_probe, hu_liveness, hu_close_graceful. Each records what the
 * library returned and what it says about the peer.
 */
#include "lab.h"

#include "hangup.h"

#include <stdio.h>
#include <string.h>

static void hu_ret(struct lab_step *s, long n, const char *data)
{
	s->val = n;
	if (n > 0 && data)
		lab_fmt_data(s->ret, sizeof(s->ret), n, data);
	else if (n >= 0)
		snprintf(s->ret, sizeof(s->ret), "%ld", n);
	else
		snprintf(s->ret, sizeof(s->ret), "%s", hu_status_name((int)n));
	snprintf(s->hangup, sizeof(s->hangup), "%s",
		 n >= 0 ? "" : hu_status_name((int)n));
}

/* The end of hu_recv's or hu_send's step: the result, the snapshot, and,
 * when it failed, the status it returned as hangup's view (the snapshot's
 * probe sees only what the failure left). */
static long hu_io_end(struct lab *L, struct lab_step *s, long n,
		      const char *data)
{
	hu_ret(s, n, data);
	lab_snapshot(L, s);
	if (n < 0)
		snprintf(s->hangup, sizeof(s->hangup), "%s",
			 hu_status_name((int)n));
	return n;
}

long lab_step_hu_recv(struct lab *L, int fd)
{
	struct lab_step *s = lab_step_begin(L, "hangup", "hu_recv(64)");
	char buf[64];
	long n = hu_recv(fd, buf, sizeof(buf));

	return hu_io_end(L, s, n, buf);
}

long lab_step_hu_send(struct lab *L, int fd, const char *data)
{
	char call[64];
	struct lab_step *s;
	long n;

	snprintf(call, sizeof(call), "hu_send(\"%s\")", data);
	s = lab_step_begin(L, "hangup", call);
	n = hu_send(fd, data, strlen(data));
	return hu_io_end(L, s, n, NULL);
}

/* hu_probe: the step's value is the probe's status (0, HU_EOF, HU_RESET..). */
long lab_step_hu_probe(struct lab *L, int fd)
{
	struct lab_step *s = lab_step_begin(L, "hangup", "hu_probe()");
	struct hu_probe p;
	int rc = hu_probe(fd, &p);

	if (rc < 0) {
		hu_ret(s, rc, NULL);
	} else {
		s->val = p.status;
		snprintf(s->ret, sizeof(s->ret), "peer=%s status=%s%s%s",
			 hu_peer_name(p.peer),
			 p.status ? hu_status_name(p.status) : "0",
			 p.error ? " " : "",
			 p.error ? lab_errno_name(p.error) : "");
	}
	lab_snapshot(L, s);
	if (rc == 0)
		snprintf(s->hangup, sizeof(s->hangup), "%s%s%s",
			 hu_peer_name(p.peer), p.status ? ": " : "",
			 p.status ? hu_status_name(p.status) : "");
	return s->val;
}

long lab_step_hu_liveness(struct lab *L, int fd, unsigned ms)
{
	char call[64];
	struct lab_step *s;
	long n;

	snprintf(call, sizeof(call), "hu_liveness(%u ms)", ms);
	s = lab_step_begin(L, "hangup", call);
	n = hu_liveness(fd, ms);
	hu_ret(s, n, NULL);
	lab_snapshot(L, s);
	return n;
}

long lab_step_hu_close_graceful(struct lab *L, int *fd, unsigned linger_ms)
{
	char call[64], ret[64];
	struct lab_step *s;
	struct hu_report rep;
	long n;

	snprintf(call, sizeof(call), "hu_close_graceful(%u ms)", linger_ms);
	s = lab_step_begin(L, "hangup", call);
	memset(&rep, 0, sizeof(rep));
	n = hu_close_graceful(*fd, linger_ms, &rep);
	lab_untrack(L, *fd);
	if (L->obs == *fd)
		L->obs = -1;
	*fd = -1;
	s->val = n;
	snprintf(ret, sizeof(ret), "%s, unacked %zu",
		 n == 0 ? "0 (FIN in time)" : hu_status_name((int)n),
		 rep.unsent);
	snprintf(s->ret, sizeof(s->ret), "%s", ret);
	lab_snapshot(L, s);
	return n;
}
