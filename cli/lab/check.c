/*
 * lab-check.c -- the lab steps that go through hangup itself (hu_recv,
 * hu_send, hu_probe, hu_liveness), and the checks of each step against the
 * expected kernel behaviour: a mismatch is recorded in plain words and fails
 * the scenario.
 */
#include "lab.h"

#include "hangup.h"

#include <stdarg.h>
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

long lab_step_hu_recv(struct lab *L, int fd)
{
	struct lab_step *s = lab_step_begin(L, "hangup", "hu_recv(64)");
	char buf[64];
	long n = hu_recv(fd, buf, sizeof(buf));

	hu_ret(s, n, buf);
	lab_snapshot(L, s);
	if (n < 0)
		snprintf(s->hangup, sizeof(s->hangup), "%s",
			 hu_status_name((int)n));
	return n;
}

long lab_step_hu_send(struct lab *L, int fd, const char *data)
{
	char call[64];
	struct lab_step *s;
	long n;

	snprintf(call, sizeof(call), "hu_send(\"%s\")", data);
	s = lab_step_begin(L, "hangup", call);
	n = hu_send(fd, data, strlen(data));
	hu_ret(s, n, NULL);
	lab_snapshot(L, s);
	if (n < 0)
		snprintf(s->hangup, sizeof(s->hangup), "%s",
			 hu_status_name((int)n));
	return n;
}

/* hu_probe: the step's value is the probe's status (0, HU_EOF, HU_RESET..). */
long lab_step_hu_probe(struct lab *L, int fd)
{
	struct lab_step *s = lab_step_begin(L, "hangup", "hu_probe()");
	struct hu_probe p;
	int rc = hu_probe(fd, &p);
	static const char *peer[] = {"open", "eof", "gone"};

	if (rc < 0) {
		hu_ret(s, rc, NULL);
	} else {
		s->val = p.status;
		snprintf(s->ret, sizeof(s->ret), "peer=%s status=%s%s%s",
			 peer[p.peer % 3],
			 p.status ? hu_status_name(p.status) : "0",
			 p.error ? " " : "", p.error ? lab_errno(p.error) : "");
	}
	lab_snapshot(L, s);
	if (rc == 0)
		snprintf(s->hangup, sizeof(s->hangup), "%s%s%s",
			 peer[p.peer % 3], p.status ? ": " : "",
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

void lab_step_end(struct lab *L, struct lab_step *s, long val, const char *ret)
{
	s->val = val;
	snprintf(s->ret, sizeof(s->ret), "%s", ret);
	lab_snapshot(L, s);
}

void lab_step_custom(struct lab *L, const char *who, const char *call, long val,
		     const char *ret)
{
	lab_step_end(L, lab_step_begin(L, who, call), val, ret);
}

void lab_note(struct lab *L, const char *fmt, ...)
{
	struct lab_step *s = lab_last_step(L);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->note, sizeof(s->note), fmt, ap);
	va_end(ap);
}

static void state_str(int st, char *buf, size_t size)
{
	snprintf(buf, size, "%s", st == -2 ? "n/a" : hu_tcp_state_name(st));
}

void lab_expect(struct lab *L, long val, int err, int ev, int st)
{
	struct lab_step *s = lab_last_step(L);
	char want[96] = "", got[160] = "", e1[48], e2[48];
	size_t w = 0, g = 0;
	int bad = 0;

	if (val != LAB_ANY) {
		w += snprintf(want + w, sizeof(want) - w, "%s%ld", "", val);
		if (s->val != val)
			bad = 1;
	}
	if (err != LAB_ANY) {
		if (err)
			w += snprintf(want + w, sizeof(want) - w, " %s",
				      lab_errno(err));
		if (s->err != err)
			bad = 1;
	}
	if (ev != LAB_ANY) {
		lab_events_str(ev, e1, sizeof(e1));
		w += snprintf(want + w, sizeof(want) - w, " {%s}", e1);
		if (s->events != ev)
			bad = 1;
	}
	if (st != LAB_ANY) {
		state_str(st, e1, sizeof(e1));
		w += snprintf(want + w, sizeof(want) - w, " %s", e1);
		if (s->state != st)
			bad = 1;
	}
	snprintf(s->expect, sizeof(s->expect), "%s",
		 want[0] == ' ' ? want + 1 : want);
	if (!bad)
		return;
	s->ok = 0;
	lab_events_str(s->events, e1, sizeof(e1));
	state_str(s->state, e2, sizeof(e2));
	g += snprintf(got + g, sizeof(got) - g, "%ld%s%s {%s} %s", s->val,
		      s->failed ? " " : "", s->failed ? lab_errno(s->err) : "",
		      e1, e2);
	lab_fail(L, "step %d %s %s: expected %s; got %s", L->r->nsteps,
		 s->actor, s->call, s->expect, got);
}

void lab_expect_queues(struct lab *L, int outq, int inq)
{
	struct lab_step *s = lab_last_step(L);

	if ((outq == LAB_ANY || s->outq == outq) &&
	    (inq == LAB_ANY || s->inq == inq))
		return;
	s->ok = 0;
	lab_fail(L, "step %d %s %s: expected queues %s%d/%s%d; got %d/%d",
		 L->r->nsteps, s->actor, s->call, outq == LAB_ANY ? "any " : "",
		 outq == LAB_ANY ? 0 : outq, inq == LAB_ANY ? "any " : "",
		 inq == LAB_ANY ? 0 : inq, s->outq, s->inq);
}

void lab_expect_stale_errno(struct lab *L, int err)
{
	struct lab_step *s = lab_last_step(L);

	if (!s->stale || s->stale_after != err) {
		s->ok = 0;
		lab_fail(L, "step %d: expected errno still %s after success",
			 L->r->nsteps, lab_errno(err));
	}
}

/*
 * The packets are part of the expected behaviour too: an abortive close is
 * an RST and no FIN, an orderly one a FIN and no RST. Checked only when the
 * lab captures; `must` needs at least one segment with one of its flags,
 * `must_not` forbids any segment with one of its flags.
 */
void lab_expect_packets(struct lab *L, unsigned char must,
			unsigned char must_not)
{
	struct lab_result *r = L->r;
	int have = 0, bad = 0;
	char f1[32], f2[32];

	if (L->cap < 0)
		return;
	lab_capture_drain(L);
	for (int i = 0; i < r->npkts; i++) {
		if (r->pkts[i].flags & must)
			have = 1;
		if (r->pkts[i].flags & must_not)
			bad = 1;
	}
	lab_flags_str(must, f1, sizeof(f1));
	lab_flags_str(must_not, f2, sizeof(f2));
	if (must && !have)
		lab_fail(L, "packets: expected a%s %s segment, saw none",
			 f1[0] == 'R' ? "n" : "", f1);
	if (bad)
		lab_fail(L, "packets: expected no %s segment, saw one", f2);
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
