/*
 * events.c -- tracepoint samples into flows: decode a raw sample by the
 * layout read from tracefs, then apply it to the socket's flow.
 *
 * The sequences each kind of end leaves (watch-notes.md, re-measured with
 * HANGUP_WATCH_DEBUG=1) decide what is recorded:
 *  - EST->FIN_WAIT1: we sent the first FIN; EST->CLOSE_WAIT: the peer did;
 *    FIN_WAIT1->CLOSING: both at once.
 *  - An orphan (closed) socket in FIN_WAIT1 whose FIN is acked goes
 *    FIN_WAIT2->CLOSE at once, into a timewait mini-socket that emits
 *    nothing more (tcp_fin_timeout <= 60 s): the peer's FIN, if it comes,
 *    is never seen here. A socket that only shut down writing goes
 *    FIN_WAIT2->CLOSE on the peer's FIN.
 *  - The pid of a sample is the process only when the transition is made
 *    inside a system call (connect(), close(), shutdown()): not in softirq
 *    or hardirq context, where it is whoever was on the CPU.
 */
#include "engine.h"

#include <stdio.h>
#include <string.h>

static inline uint64_t get(const uint8_t *raw, uint32_t n,
			   const struct tp_field *f)
{
	uint64_t v = 0;

	if (!f || f->offset < 0 || (uint32_t)(f->offset + f->size) > n)
		return 0;
	switch (f->size) {
	case 1:
		v = raw[f->offset];
		break;
	case 2: {
		uint16_t x;
		memcpy(&x, raw + f->offset, 2);
		v = x;
		break;
	}
	case 4: {
		uint32_t x;
		memcpy(&x, raw + f->offset, 4);
		v = x;
		break;
	}
	case 8:
		memcpy(&v, raw + f->offset, 8);
		break;
	}
	return v;
}

static void get_bytes(const uint8_t *raw, uint32_t n, const struct tp_field *f,
		      uint8_t *dst, size_t len)
{
	if (!f || (uint32_t)(f->offset + f->size) > n || (size_t)f->size < len)
		return;
	memcpy(dst, raw + f->offset, len);
}

/* Addresses: __u8 saddr[4] and saddr_v6[16] (the v4 one also mapped into
 * v6). tcp_send_reset has a sockaddr in __u8 saddr[28] instead: unused, its
 * socket's flow has the addresses. */
static void get_addrs(const struct tp_format *f, const uint8_t *raw, uint32_t n,
		      struct tp_event *e)
{
	const struct tp_field *const *k = f->k;

	if (k[TPF_SADDR] && k[TPF_SADDR]->size == 4) {
		int v6 = e->family == AF_INET6;
		get_bytes(raw, n, k[v6 ? TPF_SADDR6 : TPF_SADDR], e->saddr,
			  v6 ? 16 : 4);
		get_bytes(raw, n, k[v6 ? TPF_DADDR6 : TPF_DADDR], e->daddr,
			  v6 ? 16 : 4);
	}
}

void ev_decode(const struct engine *g, int cpu, uint32_t pid, uint64_t time,
	       const uint8_t *raw, uint32_t n, struct tp_event *e)
{
	uint16_t type;

	memset(e, 0, sizeof(*e));
	e->type = -1;
	if (n < 2)
		return;
	memcpy(&type, raw, 2); /* common_type: the event's id */
	for (int i = 0; i < TP_COUNT; i++)
		if (g->fmt[i].id == type)
			e->type = i;
	if (e->type < 0)
		return;
	const struct tp_field *const *k = g->fmt[e->type].k;
	e->time = time;
	e->cpu = cpu;
	e->pid = pid;
	e->flags = (int)get(raw, n, k[TPF_FLAGS]);
	e->skaddr = get(raw, n, k[TPF_SKADDR]);
	e->cookie = get(raw, n, k[TPF_COOKIE]);
	e->oldstate = (int)get(raw, n, k[TPF_OLDSTATE]);
	e->newstate = (int)get(raw, n, k[TPF_NEWSTATE]);
	e->state = (int)get(raw, n, k[TPF_STATE]);
	e->reason = k[TPF_REASON] ? (int)get(raw, n, k[TPF_REASON]) : -1;
	e->error = (int)(int32_t)get(raw, n, k[TPF_ERROR]);
	e->protocol = k[TPF_PROTOCOL] ? (int)get(raw, n, k[TPF_PROTOCOL]) : 6;
	e->family = (int)get(raw, n, k[TPF_FAMILY]);
	e->sport = (uint16_t)get(raw, n, k[TPF_SPORT]);
	e->dport = (uint16_t)get(raw, n, k[TPF_DPORT]);
	get_addrs(&g->fmt[e->type], raw, n, e);
}

static int in_syscall(const struct tp_event *e)
{
	return e->pid != 0 && !(e->flags & (TF_HARDIRQ | TF_SOFTIRQ | TF_NMI));
}

/* pid -> command: from PERF_RECORD_COMM and _FORK as they come (so that a
 * process that has exited by the time its record is made still has its
 * name), else read from /proc/PID/comm when first needed. */
#define COMM_TABLE 4096
static struct {
	uint32_t pid;
	uint64_t time; /* of the record that set it: an older one loses */
	char comm[16];
} comm_table[COMM_TABLE];

void ev_task(uint32_t pid, uint32_t ppid, const char *comm, uint64_t time)
{
	__typeof__(comm_table[0]) *c = &comm_table[pid % COMM_TABLE];
	const __typeof__(comm_table[0]) *pc = &comm_table[ppid % COMM_TABLE];

	if (c->pid == pid && c->time > time)
		return; /* read after a newer one (another CPU's ring) */
	if (!comm && pc->pid == ppid && ppid)
		comm = pc->comm; /* a fork: the parent's command */
	c->pid = comm ? pid : 0;
	c->time = time;
	if (comm)
		snprintf(c->comm, sizeof(c->comm), "%s", comm);
}

static void set_comm(struct flow *f, uint32_t pid)
{
	char path[64];
	__typeof__(comm_table[0]) *c = &comm_table[pid % COMM_TABLE];

	f->pid = (int)pid;
	if (c->pid == pid) {
		memcpy(f->comm, c->comm, sizeof(f->comm));
		return;
	}
	/* A process that predates the watch: read it now, while it most
	 * likely still runs; if it is gone the command stays unknown ("",
	 * not a guess). */
	f->comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	FILE *fp = fopen(path, "re");
	if (!fp)
		return;
	if (fgets(f->comm, sizeof(f->comm), fp))
		f->comm[strcspn(f->comm, "\n")] = '\0';
	fclose(fp);
	c->pid = pid;
	c->time = watch_now_ns(); /* what /proc says now is newer than all */
	memcpy(c->comm, f->comm, sizeof(c->comm));
}

static void take_addrs(struct flow *f, const struct tp_event *e)
{
	if (e->family != AF_INET && e->family != AF_INET6)
		return;
	f->family = e->family;
	memcpy(f->laddr, e->saddr, 16);
	memcpy(f->raddr, e->daddr, 16);
	f->lport = e->sport;
	/* tcp_disconnect() zeroes dport before the last events: keep the
	 * one we saw while the socket was connected. */
	if (e->dport || !f->rport)
		f->rport = e->dport;
}

/* The flow an event is about: a new one when the event starts a socket
 * (or we never saw it start: it predates us), else the one we have. */
static struct flow *flow_for(struct engine *g, const struct tp_event *e,
			     int start)
{
	struct flow *f = flow_by_skaddr(&g->flows, e->skaddr);

	if (f && !start && !f->destroyed)
		return f;
	if (f && !start && e->type == TP_SEND_RESET)
		return f; /* the late RST of data after close */
	f = flow_new(&g->flows, e->skaddr);
	if (!f)
		return NULL;
	f->origin = WATCH_ORIGIN_PREDATES;
	f->traced = 1;
	take_addrs(f, e);
	return f;
}

static void fin_transitions(struct flow *f, const struct tp_event *e)
{
	int o = e->oldstate, s = e->newstate;

	if (s == TS_FIN_WAIT1) {
		f->local_fin = 1;
		if (f->first_fin == WATCH_WHO_NONE)
			f->first_fin = WATCH_WHO_LOCAL;
	} else if (s == TS_CLOSE_WAIT) {
		f->peer_fin = 1;
		if (f->first_fin == WATCH_WHO_NONE)
			f->first_fin = WATCH_WHO_PEER;
	} else if (s == TS_LAST_ACK) {
		f->local_fin = 1;
	} else if (s == TS_CLOSING) {
		f->peer_fin = 1;
		f->first_fin = WATCH_WHO_BOTH;
	}
	/* (FIN_WAIT1->FIN_WAIT2 is filtered out in the kernel: perf.c.) */
	if ((o == TS_FIN_WAIT2 || o == TS_CLOSING || o == TS_LAST_ACK) &&
	    s == TS_CLOSE)
		f->local_fin_acked = 1;
	/* Into timewait: on the peer's FIN, or (an orphan) on the ACK of
	 * ours. Which one, the destroy tells (on_destroy). */
	if (o == TS_FIN_WAIT2 && s == TS_CLOSE)
		f->fw2_close = 1;
}

static void on_set_state(struct engine *g, const struct tp_event *e)
{
	int o = e->oldstate, s = e->newstate;
	int start = (o == TS_CLOSE && s == TS_SYN_SENT) ||
		    (o == TS_LISTEN && s == TS_SYN_RECV);

	if (e->protocol != 6)
		return;
	struct flow *f = flow_for(g, e, start);
	if (!f)
		return;
	take_addrs(f, e);
	flow_touch(&g->flows, e->cpu, f);
	if (start) {
		f->origin = s == TS_SYN_SENT ? WATCH_ORIGIN_OPENED
					     : WATCH_ORIGIN_ACCEPTED;
		f->start_ns = e->time;
	}
	if (s == TS_LISTEN || o == TS_LISTEN)
		f->listener = !start;
	/* ->ESTABLISHED itself is filtered out in the kernel (perf.c): any
	 * state after it says it was reached. */
	if (s == TS_ESTABLISHED ||
	    (o != TS_CLOSE && o != TS_SYN_SENT && o != TS_SYN_RECV &&
	     o != TS_LISTEN && o != TS_NEW_SYN_RECV))
		f->established = 1;
	f->moved = 1;
	fin_transitions(f, e);
	if (s == TS_CLOSE)
		f->last_state = o;
	/* The process: who connected, or who closed (the later wins). */
	if (in_syscall(e) &&
	    (start || s == TS_FIN_WAIT1 || s == TS_LAST_ACK || s == TS_CLOSE))
		set_comm(f, e->pid);
}

static void on_destroy(struct engine *g, const struct tp_event *e)
{
	struct flow *f = flow_for(g, e, 0);

	if (!f)
		return;
	flow_touch(&g->flows, e->cpu, f);
	/* A diag message that came first (read before this sample). */
	struct flow *d = flow_by_cookie(&g->flows, e->cookie);
	if (d && d != f && d->have_diag && !d->traced) {
		f->diag = d->diag;
		f->have_diag = 1;
		flow_drop(&g->flows, d);
	}
	flow_set_cookie(&g->flows, f, e->cookie);
	f->destroyed = 1;
	f->end_ns = e->time;
	/* A socket still open in a program is destroyed inside close();
	 * an orphan (closed earlier) by the kernel, in softirq: then its
	 * FIN_WAIT2->CLOSE was the ACK of our FIN, and the peer's FIN
	 * counts only if it came before (diag rq). */
	f->orphan = !in_syscall(e);
	if (in_syscall(e)) /* close() of the last fd: the closer */
		set_comm(f, e->pid);
	if (f->fw2_close && !f->orphan && !f->rst_received)
		f->peer_fin = 1; /* (an RST also ends FIN_WAIT2) */
	/* Listeners and sockets that never connected are no connection's
	 * end; queued all the same, so that their diag message is
	 * matched and dropped with them. */
	flow_enqueue(&g->flows, f, e->time);
}

void ev_apply(struct engine *g, const struct tp_event *e)
{
	struct flow *f;

	switch (e->type) {
	case TP_SET_STATE:
		on_set_state(g, e);
		break;
	case TP_DESTROY:
		on_destroy(g, e);
		break;
	case TP_RECV_RESET:
		if ((f = flow_for(g, e, 0)) != NULL) {
			f->rst_received = 1;
			if (f->rst_first == WATCH_WHO_NONE)
				f->rst_first = WATCH_WHO_PEER;
		}
		break;
	case TP_SEND_RESET:
		/* skaddr 0: a stateless RST (no socket: a refused SYN). */
		if (e->skaddr && (f = flow_for(g, e, 0)) != NULL) {
			f->rst_sent = 1;
			if (f->rst_first == WATCH_WHO_NONE) {
				f->rst_first = WATCH_WHO_LOCAL;
				f->rst_reason = e->reason;
			}
		}
		break;
	case TP_RETRANSMIT:
		if ((f = flow_for(g, e, 0)) != NULL) {
			f->retrans++;
			if (e->state == TS_SYN_SENT)
				f->syn_retrans++;
		}
		break;
	case TP_ERROR_REPORT:
		/* No skaddr: it follows the socket's other events on the same
		 * CPU, with the same local port (dport may be 0 already). */
		f = g->flows.last[e->cpu % FLOW_MAX_CPUS];
		if (e->protocol == 6 && f && f->lport == e->sport && !f->error)
			f->error = e->error;
		break;
	}
}

void ev_debug(const struct tp_event *e)
{
	static const char *const names[TP_COUNT] = {
	    "set_state",  "destroy",    "recv_reset",
	    "send_reset", "retransmit", "error_report"};

	fprintf(stderr,
		"%llu.%06llu cpu%d pid=%u flags=%#x %s sk=%llx cookie=%llx "
		"%d->%d state=%d reason=%d err=%d %u->%u\n",
		(unsigned long long)(e->time / 1000000000),
		(unsigned long long)(e->time / 1000 % 1000000), e->cpu, e->pid,
		e->flags, names[e->type], (unsigned long long)e->skaddr,
		(unsigned long long)e->cookie, e->oldstate, e->newstate,
		e->state, e->reason, e->error, e->sport, e->dport);
}
