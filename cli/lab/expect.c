/*
 * expect.c -- the checks of a step against the expected kernel behaviour
 * (its return, errno, epoll mask, TCP state, queues, a stale errno) and of
 * the captured packets: a mismatch is recorded in plain words and fails
 * the scenario.
 */
#include "lab.h"

#include "hangup.h"

#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>

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
				      lab_errno_name(err));
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
		      s->failed ? " " : "",
		      s->failed ? lab_errno_name(s->err) : "", e1, e2);
	lab_fail(L, "step %d %s %s: expected %s; got %s", L->r->nsteps,
		 s->actor, s->call, s->expect, got);
}

/*
 * An io_uring completion: its res (an error is a negative res, not errno)
 * and whether IORING_CQE_F_MORE is set -- clear on the last completion of
 * a multishot request, whatever ended it (io_uring/net.c).
 */
void lab_expect_cqe(struct lab *L, long res, int more, int ev, int st)
{
	struct lab_step *s = lab_last_step(L);
	int got_more = s->cqe && (s->cqe_flags & IORING_CQE_F_MORE);
	char rest[48], want[40];

	lab_expect(L, LAB_ANY, 0, ev, st);
	snprintf(rest, sizeof(rest), "%.47s", s->expect);
	if (res == LAB_NO_CQE)
		snprintf(want, sizeof(want), "no CQE");
	else if (res == LAB_ANY)
		snprintf(want, sizeof(want), "a CQE");
	else if (res < 0)
		snprintf(want, sizeof(want), "res=%ld %s", res,
			 lab_errno_name((int)-res));
	else
		snprintf(want, sizeof(want), "res=%ld", res);
	if (more != LAB_ANY && res != LAB_NO_CQE)
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
			 " F_MORE %s", more ? "set" : "clear");
	snprintf(s->expect, sizeof(s->expect), "%s%s%s", want,
		 rest[0] ? " " : "", rest);
	if (res == LAB_NO_CQE ? !s->cqe
			      : s->cqe && (res == LAB_ANY || s->val == res) &&
				    (more == LAB_ANY || got_more == !!more))
		return;
	s->ok = 0;
	lab_fail(L, "step %d %s %s: expected %s; got %s", L->r->nsteps,
		 s->actor, s->call, want, s->ret);
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
			 L->r->nsteps, lab_errno_name(err));
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
