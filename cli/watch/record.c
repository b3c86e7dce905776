/*
 * record.c -- a finished flow into a watch_record: the reason word, the
 * kernel's finer word, and payload bytes out of the kernel's counters.
 *
 * Counters (sock_diag at destroy, re-measured for each end in
 * tests/t-watch.sh):
 *  - tcpi_bytes_received counts sequence space: the peer's FIN adds 1.
 *    bytes_in = bytes_received - (1 if this socket took the peer's FIN).
 *  - idiag_rqueue = rcv_nxt - copied_seq: unread bytes, plus 1 for a FIN
 *    that the program never read (recv() returning 0 consumes it).
 *  - tcpi_bytes_acked counts sequence space too: +1 for the SYN of the
 *    side that connected, +1 for our FIN once acknowledged. bytes_out =
 *    what the program wrote = acked payload + undelivered. (Not
 *    tcpi_bytes_sent - tcpi_bytes_retrans: a retransmission that the
 *    output path refused, e.g. an nft drop, is counted in the first only.)
 *    For a socket that predates the watch we cannot tell whether a SYN is
 *    in bytes_acked, and fall back on bytes_sent - bytes_retrans.
 *  - idiag_wqueue = write_seq - snd_una: bytes written and not
 *    acknowledged, plus 1 for our FIN while it is unacknowledged.
 *  - tcp_disconnect() (SO_LINGER {1,0}, a failed connect) zeroes all of
 *    them and the peer port before the diag message: the counts are then
 *    unknown, except for a socket that never got established (0 bytes).
 */
#include "flow.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[] = {
    [TS_ESTABLISHED] = "ESTABLISHED",
    [TS_SYN_SENT] = "SYN_SENT",
    [TS_SYN_RECV] = "SYN_RECV",
    [TS_FIN_WAIT1] = "FIN_WAIT1",
    [TS_FIN_WAIT2] = "FIN_WAIT2",
    [TS_TIME_WAIT] = "TIME_WAIT",
    [TS_CLOSE] = "CLOSE",
    [TS_CLOSE_WAIT] = "CLOSE_WAIT",
    [TS_LAST_ACK] = "LAST_ACK",
    [TS_LISTEN] = "LISTEN",
    [TS_CLOSING] = "CLOSING",
    [TS_NEW_SYN_RECV] = "NEW_SYN_RECV",
};

/* The phase words of DESIGN.md, from the state before CLOSE. */
static const char *phase_of(int s)
{
	switch (s) {
	case TS_SYN_SENT:
	case TS_SYN_RECV:
		return "connecting";
	case TS_ESTABLISHED:
		return "open";
	case TS_CLOSE_WAIT:
		return "peer-done";
	case TS_FIN_WAIT1:
	case TS_FIN_WAIT2:
		return "local-done";
	case TS_LAST_ACK:
	case TS_CLOSING:
	case TS_TIME_WAIT:
		return "closing";
	}
	return NULL;
}

/* tcp_send_reset's reason (enum sk_rst_reason) in a word a person reads;
 * names not listed become lower-case with dashes. */
static const struct {
	const char *kernel, *word;
} rst_words[] = {
    {"NO_SOCKET", "no-socket"},
    {"TCP_ABORT_ON_CLOSE", "unread-data"},
    {"TCP_ABORT_ON_DATA", "data-after-close"},
    {"TCP_ABORT_ON_LINGER", "linger2-timeout"},
    {"TCP_ABORT_ON_MEMORY", "out-of-memory"},
    {"TCP_STATE", "linger-abort"},
    {"TCP_KEEPALIVE_TIMEOUT", "keepalive"},
    {"TCP_DISCONNECT_WITH_DATA", "disconnect-with-data"},
};

static const char *rst_name(const struct tp_syms *s, int v)
{
	for (int i = 0; v >= 0 && i < s->n; i++)
		if (s->value[i] == v)
			return s->name[i];
	return NULL;
}

static const char *rst_word(const char *kernel)
{
	static char buf[40];

	if (!kernel)
		return NULL;
	for (size_t i = 0; i < sizeof(rst_words) / sizeof(rst_words[0]); i++)
		if (strcmp(rst_words[i].kernel, kernel) == 0)
			return rst_words[i].word;
	size_t n = 0;
	const char *k = strncmp(kernel, "TCP_", 4) == 0 ? kernel + 4 : kernel;
	for (; *k && n < sizeof(buf) - 1; k++)
		buf[n++] = *k == '_' ? '-' : (char)(*k | 0x20);
	buf[n] = '\0';
	return buf;
}

/* The reason word (DESIGN.md) and the finer word, from what happened. */
static void classify(const struct flow *f, const char *rst,
		     struct watch_record *r)
{
	int connecting = f->last_state == TS_SYN_SENT ||
			 f->last_state == TS_SYN_RECV || !f->established;

	r->detail = NULL;
	if (!f->traced) {
		r->reason = "unknown";
	} else if (f->rst_first == WATCH_WHO_PEER) {
		r->reason = connecting && f->origin == WATCH_ORIGIN_OPENED
				? "refused"
				: "reset";
	} else if (f->rst_first == WATCH_WHO_LOCAL) {
		r->detail = rst_word(rst);
		r->reason = rst && strcmp(rst, "TCP_KEEPALIVE_TIMEOUT") == 0
				? "timeout"
				: "abort";
	} else if (f->error == 110) { /* ETIMEDOUT */
		r->reason = connecting ? "connect-timeout" : "timeout";
		r->detail = connecting ? "syn-retries" : "retransmits";
	} else if (f->error == 111) {
		r->reason = "refused";
	} else if (f->error == 113 || f->error == 101) {
		r->reason = "unreachable";
	} else if (f->first_fin == WATCH_WHO_PEER) {
		r->reason = "eof";
	} else if (f->first_fin == WATCH_WHO_LOCAL ||
		   f->first_fin == WATCH_WHO_BOTH) {
		r->reason = "local";
	} else {
		r->reason = f->error ? "error" : "unknown";
	}
	if (!r->detail && f->first_fin == WATCH_WHO_BOTH)
		r->detail = "simultaneous";
}

static void counts(const struct flow *f, struct watch_record *r)
{
	const struct diag_msg *d = &f->diag;
	/* 1 when this socket took the peer's FIN (see the top). */
	int fin_in =
	    f->peer_fin || (f->fw2_close && f->orphan && d->rqueue >= 1);
	int fin_out = f->local_fin && !f->local_fin_acked;

	r->bytes_in = r->bytes_out = r->unread = r->undelivered = WATCH_UNKNOWN;
	if (f->traced && !f->established) {
		r->bytes_in = r->bytes_out = r->unread = r->undelivered = 0;
		return;
	}
	if (!f->have_diag || !d->have_info)
		return;
	if (watch_port(&d->peer) == 0) /* tcp_disconnect() zeroed them */
		return;
	r->bytes_in = d->bytes_received - (fin_in && d->bytes_received > 0);
	r->unread = d->rqueue - (fin_in && d->rqueue > 0);
	r->undelivered = d->wqueue - (fin_out && d->wqueue > 0);
	/* Written by the program = acknowledged + not yet acknowledged. */
	uint64_t seq = (f->origin == WATCH_ORIGIN_OPENED) + f->local_fin_acked;
	if (f->origin == WATCH_ORIGIN_PREDATES) /* SYN in it or not? */
		r->bytes_out = d->bytes_sent - d->bytes_retrans;
	else
		r->bytes_out =
		    (d->bytes_acked > seq ? d->bytes_acked - seq : 0) +
		    r->undelivered;
	if (r->retransmits == WATCH_UNKNOWN ||
	    d->total_retrans > r->retransmits)
		r->retransmits = d->total_retrans;
	r->rtt_us = d->rtt_us;
}

void watch_sockaddr(struct sockaddr_storage *ss, int family, const void *a,
		    uint16_t port_be)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		s->sin_port = port_be;
		memcpy(&s->sin_addr, a, 4);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
		s->sin6_family = AF_INET6;
		s->sin6_port = port_be;
		memcpy(&s->sin6_addr, a, 16);
	}
}

void flow_to_record(const struct flow *f, const struct tp_syms *syms,
		    struct watch_record *r)
{
	memset(r, 0, sizeof(*r));
	r->cookie = f->cookie;
	r->origin = f->origin;
	r->first_fin = f->traced ? f->first_fin : WATCH_WHO_UNKNOWN;
	r->rst_first = f->traced ? f->rst_first : WATCH_WHO_UNKNOWN;
	r->rst_sent = f->rst_sent;
	r->rst_received = f->rst_received;
	r->rst_reason = f->rst_sent ? rst_name(syms, f->rst_reason) : NULL;
	classify(f, r->rst_reason, r);
	r->error = f->error;
	int ls = f->traced ? f->last_state : f->diag.state;
	r->state = ls > 0 && ls <= TS_NEW_SYN_RECV ? state_names[ls] : NULL;
	r->phase = phase_of(ls);
	r->retransmits = f->traced ? f->retrans : WATCH_UNKNOWN;
	r->rtt_us = WATCH_UNKNOWN;
	counts(f, r);
	r->start_ns = f->start_ns;
	r->end_ns = f->end_ns ? f->end_ns : f->queued_ns;
	r->pid = f->pid;
	memcpy(r->comm, f->comm, sizeof(r->comm));
	r->netns = f->have_diag ? f->diag.netns : NULL;
	r->sources = (f->traced ? WATCH_SRC_TRACE : 0) |
		     (f->have_diag ? WATCH_SRC_DIAG : 0);
	if (f->traced) {
		r->family = f->family;
		watch_sockaddr(&r->local, f->family, f->laddr, htons(f->lport));
		watch_sockaddr(&r->peer, f->family, f->raddr, htons(f->rport));
	} else {
		r->family = f->diag.family;
		r->local = f->diag.local;
		r->peer = f->diag.peer;
	}
}

const char *watch_origin_name(enum watch_origin o)
{
	return o == WATCH_ORIGIN_OPENED     ? "opened"
	       : o == WATCH_ORIGIN_ACCEPTED ? "accepted"
					    : "predates";
}

const char *watch_who_name(enum watch_who w)
{
	static const char *const n[] = {"none", "local", "peer", "both",
					"unknown"};
	return n[w];
}

int watch_reason_known(const char *word)
{
	static const char *const words[] = {
	    "eof",         "reset",   "timeout",
	    "idle",        "local",   "abort",
	    "unreachable", "refused", "connect-timeout",
	    "error",       "unknown"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(words[i], word) == 0)
			return 1;
	return 0;
}

uint16_t watch_port(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	if (a->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	return 0;
}

/* v in decimal, written backwards to end just before `end`; returns where
 * the digits start. */
static char *put_dec(char *end, unsigned v)
{
	do
		*--end = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return end;
}

/* IPv4 by hand: snprintf (inside inet_ntop too) was a tenth of watch's CPU
 * per record at 20k records/s. The same text as inet_ntop's "%u.%u.%u.%u"
 * then ":port". IPv6 keeps inet_ntop (the "::" rules). */
void watch_addr_str(const struct sockaddr_storage *a, char *buf, size_t n)
{
	if (a->ss_family == AF_INET) {
		const uint8_t *b =
		    (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
		char t[24], *e = t + sizeof(t), *s = e;
		*--s = '\0';
		s = put_dec(s, watch_port(a));
		*--s = ':';
		for (int i = 3; i >= 0; i--) {
			s = put_dec(s, b[i]);
			if (i)
				*--s = '.';
		}
		if ((size_t)(e - s) <= n)
			memcpy(buf, s, (size_t)(e - s));
		else
			snprintf(buf, n, "%s", s);
	} else if (a->ss_family == AF_INET6) {
		char ip[INET6_ADDRSTRLEN] = "?";
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)a)->sin6_addr, ip,
			  sizeof(ip));
		snprintf(buf, n, "[%s]:%u", ip, watch_port(a));
	} else {
		snprintf(buf, n, "?");
	}
}
