/*
 * ladder.c -- a scenario as a ladder diagram: the client's lane left, the
 * server's right, every captured segment an arrow in time order, the
 * syscalls and their results beside them. This file lays out the rows and
 * writes their labels, and draws the text ladder (terminal, markdown);
 * ladder-svg.c draws the same rows as SVG.
 *
 * Every row -- a segment, a call, the return of a call that blocked -- gets
 * its own line of the diagram, so no label can overlap another, whatever
 * the timing. A call that blocked (epoll_wait with a timeout, poll, a
 * lingering close) is drawn twice, where it started and where it returned,
 * so the segments that arrived meanwhile sit between the two and the result
 * is never shown before the packets that caused it.
 */
#include "lab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A call that took this long gets a second row at its return. */
#define BLOCKED_S 0.002

int lab_ladder_blocked(const struct lab_step *s)
{
	/* Only a call blocks: an nft step's time is the tool starting up,
	 * and an observation waits for nothing. */
	return s->t_end - s->t >= BLOCKED_S && s->kind == LAB_STEP_CALL;
}

static int row_cmp(const void *a, const void *b)
{
	const struct lab_ladder_row *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	/* At the same instant: the call, then what it sent, then its
	 * return. */
	if (x->kind != y->kind)
		return x->kind - y->kind;
	return x->idx - y->idx;
}

/* Steps, returns and packets, by time. Steps that only observe are left
 * out: the tables show them. */
int lab_ladder_rows(const struct lab_result *r, struct lab_ladder_row *rows)
{
	int n = 0;

	for (int i = 0; i < r->nsteps; i++) {
		const struct lab_step *s = &r->steps[i];

		if (s->kind == LAB_STEP_OBSERVE)
			continue;
		rows[n++] = (struct lab_ladder_row){LAB_ROW_CALL, i, s->t};
		if (lab_ladder_blocked(s))
			rows[n++] =
			    (struct lab_ladder_row){LAB_ROW_RET, i, s->t_end};
	}
	for (int i = 0; i < r->npkts; i++)
		rows[n++] =
		    (struct lab_ladder_row){LAB_ROW_PKT, i, r->pkts[i].t};
	qsort(rows, (size_t)n, sizeof(rows[0]), row_cmp);
	return n;
}

/* Dropped for sure: after the drop rule's nft returned, before the
 * delete's started (the scenarios send nothing in between). */
int lab_pkt_dropped(const struct lab_result *r, int i)
{
	return lab_dropped_at(r, r->pkts[i].t);
}

int lab_dropped_at(const struct lab_result *r, double t)
{
	int drop = 0;

	for (int k = 0; k < r->nsteps; k++) {
		const struct lab_step *s = &r->steps[k];

		if (s->kind == LAB_STEP_NFT_DROP && s->t_end <= t)
			drop = 1;
		else if (s->kind == LAB_STEP_NFT_UNDROP && s->t <= t)
			drop = 0;
	}
	return drop;
}

/* The port of the client's end of packet p. */
static unsigned client_port(const struct lab_pkt *p)
{
	return p->dir == 0 ? p->sport : p->dport;
}

/* How many client ports the scenario used (a second client, or a connect()
 * that started over on a new port), and the first of them. */
static int client_ports(const struct lab_result *r, unsigned *first)
{
	unsigned seen[8];
	int n = 0;

	for (int i = 0; i < r->npkts; i++) {
		unsigned p = client_port(&r->pkts[i]);
		int k = 0;

		while (k < n && seen[k] != p)
			k++;
		if (k == n && n < 8)
			seen[n++] = p;
	}
	*first = n ? seen[0] : 0;
	return n;
}

/*
 * A keepalive probe is a bare ACK whose sequence number is one below what
 * the sender already sent (tcp_xmit_probe_skb(): snd_una - 1), so that the
 * peer must answer it. Tell it from a plain ACK by comparing with the
 * sender's previous segment on the same connection.
 */
static int is_keepalive(const struct lab_result *r, int i)
{
	const struct lab_pkt *p = &r->pkts[i];

	if (p->len != 0 || p->flags != LAB_TCP_ACK)
		return 0;
	for (int j = i - 1; j >= 0; j--) {
		const struct lab_pkt *q = &r->pkts[j];

		if (q->dir != p->dir || client_port(q) != client_port(p))
			continue;
		return p->seq + 1 ==
			   q->seq + q->len +
			       !!(q->flags & (LAB_TCP_SYN | LAB_TCP_FIN)) ||
		       (is_keepalive(r, j) && p->seq == q->seq);
	}
	return 0;
}

/* The same segment again: same sender, connection, sequence number and
 * length, carrying data, SYN or FIN (tcp_retransmit_skb()). */
static int is_retransmission(const struct lab_result *r, int i)
{
	const struct lab_pkt *p = &r->pkts[i];

	if (p->len == 0 && !(p->flags & (LAB_TCP_SYN | LAB_TCP_FIN)))
		return 0;
	for (int j = 0; j < i; j++) {
		const struct lab_pkt *q = &r->pkts[j];

		if (q->dir == p->dir && client_port(q) == client_port(p) &&
		    q->seq == p->seq && q->len == p->len &&
		    (q->flags & (LAB_TCP_SYN | LAB_TCP_FIN | LAB_TCP_RST)) ==
			(p->flags & (LAB_TCP_SYN | LAB_TCP_FIN | LAB_TCP_RST)))
			return 1;
	}
	return 0;
}

/*
 * A segment's label: flags, payload length and start, what kind of segment
 * it is when that is not obvious, and -- when the scenario used more than
 * one client port -- which one. At most `max` characters: the payload
 * preview goes first, then the rest is cut.
 */
void lab_ladder_pkt_label(const struct lab_result *r, int i, char *buf,
			  size_t size, size_t max)
{
	const struct lab_pkt *p = &r->pkts[i];
	char f[32], what[40] = "", port[24] = "";
	unsigned first;

	lab_flags_str(p->flags, f, sizeof(f));
	if (is_retransmission(r, i))
		snprintf(what, sizeof(what), " (retransmission)");
	else if (is_keepalive(r, i))
		snprintf(what, sizeof(what), " (keepalive probe)");
	if (client_ports(r, &first) > 1)
		snprintf(port, sizeof(port), " %s :%u",
			 p->dir == 0 ? "from" : "to", client_port(p));
	if (p->len)
		snprintf(buf, size, "%s [%u] \"%s%s\"%s%s", f, p->len, p->data,
			 p->len > sizeof(p->data) - 1 ? ".." : "", what, port);
	else
		snprintf(buf, size, "%s%s%s", f, what, port);
	if (strlen(buf) > max && p->len)
		snprintf(buf, size, "%s [%u]%s%s", f, p->len, what, port);
	if (strlen(buf) > max && max >= 2 && max < size)
		strcpy(buf + max - 2, "..");
}

static void errno_part(const struct lab_step *s, char *buf, size_t size)
{
	const char *e = lab_step_errno(s);

	if (e == NULL)
		buf[0] = '\0';
	else
		snprintf(buf, size, s->failed ? " %s" : " (stale errno %s)", e);
}

/* "actor: call = result", or for a blocked call its two halves. */
void lab_ladder_step_label(const struct lab_step *s, enum lab_row_kind kind,
			   char *buf, size_t size)
{
	char er[40];

	errno_part(s, er, sizeof(er));
	if (kind == LAB_ROW_RET) {
		int fn = (int)strcspn(s->call, "(");
		char after[32] = "";

		if (!s->ret_says_wait)
			snprintf(after, sizeof(after), " after %.2f s",
				 s->t_end - s->t);
		snprintf(buf, size, "%s: %.*s(...) = %s%s%s", s->actor, fn,
			 s->call, s->ret, er, after);
	} else if (lab_ladder_blocked(s))
		snprintf(buf, size, "%s: %s ...", s->actor, s->call);
	else
		snprintf(buf, size, "%s: %s = %s%s", s->actor, s->call, s->ret,
			 er);
}

/* The lane header: the label the scenario gave, with the port(s). */
void lab_ladder_client_header(const struct lab_result *r, char *buf,
			      size_t size)
{
	const char *c = r->client[0] ? r->client : "client";
	unsigned first;
	int n = client_ports(r, &first);

	if (n == 1 && strchr(c, ':') == NULL)
		snprintf(buf, size, "%s :%u", c, first);
	else if (n > 1)
		snprintf(buf, size, "%s (%d ports)", c, n);
	else
		snprintf(buf, size, "%s", c);
}

const char *lab_ladder_pkt_color(const struct lab_pkt *p, int svg)
{
	if (p->flags & LAB_TCP_RST)
		return svg ? "#c0392b" : "\033[31m";
	if (p->flags & LAB_TCP_FIN)
		return svg ? "#1e8449" : "\033[32m";
	if (p->len)
		return svg ? "#1f5fbf" : "\033[34m";
	return svg ? "#444444" : "";
}

#define TEXT_LANE_W 44 /* text arrow width */

void lab_ladder_text(FILE *f, const struct lab_result *r, int color)
{
	struct lab_ladder_row rows[LAB_LADDER_MAX_ROWS];
	int n = lab_ladder_rows(r, rows);
	char hdr[96];

	lab_ladder_client_header(r, hdr, sizeof(hdr));
	fprintf(f, "   packets (client left, server right):\n");
	fprintf(f, "   %9s  %-*.*s  %s\n", "t(ms)", TEXT_LANE_W + 2,
		TEXT_LANE_W + 2, hdr, r->server);
	for (int i = 0; i < n; i++) {
		char lab[160], line[TEXT_LANE_W + 1];

		if (rows[i].kind != LAB_ROW_PKT) {
			const struct lab_step *s = &r->steps[rows[i].idx];

			lab_ladder_step_label(s, rows[i].kind, lab,
					      sizeof(lab));
			fprintf(f, "   %9.1f  |%*s|  %s\n", rows[i].t * 1e3,
				TEXT_LANE_W, "", lab);
			continue;
		}
		const struct lab_pkt *p = &r->pkts[rows[i].idx];
		int drop = lab_pkt_dropped(r, rows[i].idx);
		int len, start;

		lab_ladder_pkt_label(r, rows[i].idx, lab, sizeof(lab),
				     TEXT_LANE_W - 6);
		len = (int)strlen(lab);
		memset(line, '-', TEXT_LANE_W);
		line[TEXT_LANE_W] = '\0';
		if (p->dir == 0)
			line[TEXT_LANE_W - 1] = drop ? 'x' : '>';
		else
			line[0] = drop ? 'x' : '<';
		start = (TEXT_LANE_W - len - 2) / 2;
		line[start] = ' ';
		memcpy(line + start + 1, lab, (size_t)len);
		line[start + 1 + len] = ' ';
		fprintf(f, "   %9.1f  |%s%s%s|%s\n", p->t * 1e3,
			color ? lab_ladder_pkt_color(p, 0) : "", line,
			color ? "\033[0m" : "",
			drop ? "  (dropped by nft)" : "");
	}
}
