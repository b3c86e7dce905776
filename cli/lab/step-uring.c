/*
 * step-uring.c -- the io_uring step: submit what is queued on the ring and
 * wait for one completion, recording which request it belongs to, its res
 * and its flags, then take the snapshot (step.c) like every other step.
 *
 * A completion reports an error as a negative res (-ECONNRESET), never in
 * errno: the step does not count as a failed call (no errno column), and
 * the text names the error beside the number.
 */
#include "lab.h"

#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>

static const char *req_name(unsigned long long user_data)
{
	switch (user_data) {
	case LAB_REQ_RECV:
		return "recv";
	case LAB_REQ_MSHOT:
		return "multishot";
	case LAB_REQ_SEND:
		return "send";
	case LAB_REQ_CANCEL:
		return "cancel";
	}
	return "?";
}

/* The flags as "MORE+BUFFER", "0" for none; unknown bits in hex. */
static void cqe_flags_str(unsigned f, char *buf, size_t size)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
	    {IORING_CQE_F_MORE, "MORE"},
	    {IORING_CQE_F_BUFFER, "BUFFER"},
	    {IORING_CQE_F_SOCK_NONEMPTY, "SOCK_NONEMPTY"},
	};
	unsigned bits = f & 0xffff, rest = bits;
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (bits & names[i].bit) {
			n += (size_t)snprintf(buf + n, size > n ? size - n : 0,
					      "%s%s", n ? "+" : "",
					      names[i].name);
			rest &= ~names[i].bit;
		}
	if (rest)
		n += (size_t)snprintf(buf + n, size > n ? size - n : 0,
				      "%s0x%x", n ? "+" : "", rest);
	if (n == 0)
		snprintf(buf, size, "0");
}

/* The completion as text: `multishot res=5 "hello" flags=MORE+BUFFER
 * bid=0`, `recv res=-104 ECONNRESET flags=0`. */
static void cqe_text(const struct lab_ring *r, const struct io_uring_cqe *c,
		     char *buf, size_t size)
{
	char res[32], fl[32], bid[12] = "";
	const char *data = NULL;

	if (c->flags & IORING_CQE_F_BUFFER) {
		unsigned short b =
		    (unsigned short)(c->flags >> IORING_CQE_BUFFER_SHIFT);

		snprintf(bid, sizeof(bid), " bid=%u", b);
		data = lab_ring_buf(r, b);
	} else if (c->user_data == LAB_REQ_RECV) {
		data = r->rbuf;
	}
	if (c->res < 0)
		snprintf(res, sizeof(res), "%d %s", c->res,
			 lab_errno_name(-c->res));
	else if (c->res > 0 && data)
		lab_fmt_data(res, sizeof(res), c->res, data);
	else
		snprintf(res, sizeof(res), "%d", c->res);
	cqe_flags_str(c->flags, fl, sizeof(fl));
	snprintf(buf, size, "%s res=%s flags=%s%s", req_name(c->user_data), res,
		 fl, bid);
}

long lab_step_cqe(struct lab *L, struct lab_ring *r, const char *call,
		  int timeout_ms)
{
	struct lab_step *s = lab_step_begin(L, "us", call);
	struct io_uring_cqe c;
	double t0 = lab_now();
	int n = lab_ring_submit(r);

	if (n < 0) {
		lab_fail(L, "io_uring_enter (submit): %s", lab_errno_name(-n));
		lab_step_end(L, s, n, "submit failed");
		return n;
	}
	n = lab_ring_wait(r, &c, timeout_ms);
	if (n < 0) {
		lab_fail(L, "io_uring_enter (wait): %s", lab_errno_name(-n));
		lab_step_end(L, s, n, "wait failed");
		return n;
	}
	if (n == 0) {
		s->val = LAB_NO_CQE;
		snprintf(s->ret, sizeof(s->ret), "no CQE in %d ms", timeout_ms);
		s->ret_says_wait = 1;
	} else {
		s->cqe = 1;
		s->val = c.res;
		s->cqe_flags = c.flags;
		cqe_text(r, &c, s->ret, sizeof(s->ret));
		/* A completion that came after a wait: the ladder draws the
		 * call and its return apart, and the text says when. */
		if (lab_now() - t0 >= 0.5) {
			size_t len = strlen(s->ret);

			snprintf(s->ret + len, sizeof(s->ret) - len,
				 " after %.2f s", lab_now() - t0);
			s->ret_says_wait = 1;
		}
	}
	lab_snapshot(L, s);
	return s->val;
}
