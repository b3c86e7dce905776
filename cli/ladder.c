/*
 * ladder.c -- a scenario as a ladder diagram: the client's lane left, the
 * server's right, every captured segment an arrow in time order, the
 * syscalls and their results beside them. As text (terminal, markdown) and
 * as SVG.
 *
 * Every row -- a segment or a step -- gets its own line of the diagram, so
 * no label can overlap another, whatever the timing.
 */
#include "lab.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04

/* Merge steps and packets by time. kind[i] 0 = step, 1 = packet. Steps that
 * only observe are left out: the tables show them. */
int lab_ladder_rows(const struct lab_result *r, int *kind, int *idx, int max)
{
	int s = 0, p = 0, n = 0;

	while ((s < r->nsteps || p < r->npkts) && n < max) {
		if (s < r->nsteps && strcmp(r->steps[s].actor, "-") == 0) {
			s++;
			continue;
		}
		if (p >= r->npkts ||
		    (s < r->nsteps && r->steps[s].t <= r->pkts[p].t)) {
			kind[n] = 0;
			idx[n++] = s++;
		} else {
			kind[n] = 1;
			idx[n++] = p++;
		}
	}
	return n;
}

/*
 * A keepalive probe is a bare ACK whose sequence number is one below what
 * the sender already sent (tcp_xmit_probe_skb(): snd_una - 1), so that the
 * peer must answer it. Tell it from a plain ACK by comparing with the
 * sender's previous segment.
 */
static int is_keepalive(const struct lab_result *r, int i)
{
	const struct lab_pkt *p = &r->pkts[i];

	if (p->len != 0 || p->flags != 0x10)
		return 0;
	for (int j = i - 1; j >= 0; j--) {
		const struct lab_pkt *q = &r->pkts[j];

		if (q->dir != p->dir)
			continue;
		return p->seq + 1 == q->seq + q->len + !!(q->flags & 0x03) ||
		       (is_keepalive(r, j) && p->seq == q->seq);
	}
	return 0;
}

static void pkt_label(const struct lab_result *r, int i, char *buf, size_t size)
{
	const struct lab_pkt *p = &r->pkts[i];
	char f[32];

	lab_flags_str(p->flags, f, sizeof(f));
	if (p->len)
		snprintf(buf, size, "%s [%u] \"%s%s\"", f, p->len, p->data,
			 p->len > sizeof(p->data) - 1 ? ".." : "");
	else if (is_keepalive(r, i))
		snprintf(buf, size, "%s (keepalive probe)", f);
	else
		snprintf(buf, size, "%s", f);
}

static void step_label(const struct lab_step *s, char *buf, size_t size)
{
	char er[40] = "";

	if (s->failed)
		snprintf(er, sizeof(er), " %s", lab_errno(s->err));
	else if (s->stale)
		snprintf(er, sizeof(er), " (stale errno %s)",
			 s->stale_after ? lab_errno(s->stale_after) : "0");
	snprintf(buf, size, "%s: %s = %s%s", s->actor, s->call, s->ret, er);
}

static const char *pkt_color(const struct lab_pkt *p, int svg)
{
	if (p->flags & F_RST)
		return svg ? "#c0392b" : "\033[31m";
	if (p->flags & F_FIN)
		return svg ? "#1e8449" : "\033[32m";
	if (p->len)
		return svg ? "#1f5fbf" : "\033[34m";
	return svg ? "#444444" : "";
}

/*
 * In the namespace scenarios nft drops every TCP segment at the input hook.
 * The capture is a packet tap, before netfilter, so it still sees them: they
 * were sent but never reached the other socket, and are drawn as such.
 */
static int drop_state(const struct lab_step *s, int cur)
{
	if (strcmp(s->actor, "nft") != 0)
		return cur;
	return strncmp(s->call, "drop", 4) == 0;
}

#define LANE 34 /* text arrow width */

void lab_ladder_text(FILE *f, const struct lab_result *r, int color)
{
	int kind[LAB_MAX_STEPS + LAB_MAX_PKTS],
	    idx[LAB_MAX_STEPS + LAB_MAX_PKTS];
	int n = lab_ladder_rows(r, kind, idx, LAB_MAX_STEPS + LAB_MAX_PKTS);

	int drop = 0;

	fprintf(f, "   packets (client left, server right):\n");
	fprintf(f, "   %9s  %-*.*s  %s\n", "t(ms)", LANE + 2, LANE + 2,
		r->client, r->server);
	for (int i = 0; i < n; i++) {
		char lab[160], line[LANE + 1];

		if (kind[i] == 0) {
			const struct lab_step *s = &r->steps[idx[i]];

			drop = drop_state(s, drop);
			step_label(s, lab, sizeof(lab));
			fprintf(f, "   %9.1f  |%*s|  %s\n", s->t * 1e3, LANE,
				"", lab);
			continue;
		}
		const struct lab_pkt *p = &r->pkts[idx[i]];
		int len, start;

		pkt_label(r, idx[i], lab, sizeof(lab));
		len = (int)strlen(lab);
		if (len > LANE - 6)
			len = LANE - 6;
		memset(line, '-', LANE);
		line[LANE] = '\0';
		if (p->dir == 0)
			line[LANE - 1] = drop ? 'x' : '>';
		else
			line[0] = drop ? 'x' : '<';
		start = (LANE - len - 2) / 2;
		line[start] = ' ';
		memcpy(line + start + 1, lab, (size_t)len);
		line[start + 1 + len] = ' ';
		fprintf(f, "   %9.1f  |%s%s%s|%s\n", p->t * 1e3,
			color ? pkt_color(p, 0) : "", line,
			color ? "\033[0m" : "",
			drop ? "  (dropped by nft)" : "");
	}
}

static void xml(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			if ((unsigned char)*s >= 0x20)
				fputc(*s, f);
		}
	}
}

/* Which lane a step's actor belongs to: 0 client, 1 server. */
static int lane_of(const char *actor)
{
	return strcmp(actor, "peer") == 0 || strcmp(actor, "server") == 0;
}

#define SVG_W 1260
#define X_C 180 /* client lane */
#define X_S 560 /* server lane */
#define X_T 660 /* step text */
#define ROW 28
#define Y0 104
#define MAXCH 80 /* step text characters that fit right of the lanes */

int lab_ladder_svg(const char *dir, const struct lab_result *r)
{
	const struct lab_scenario *sc = &lab_scenarios[r->index];
	int kind[LAB_MAX_STEPS + LAB_MAX_PKTS],
	    idx[LAB_MAX_STEPS + LAB_MAX_PKTS];
	int n = lab_ladder_rows(r, kind, idx, LAB_MAX_STEPS + LAB_MAX_PKTS);
	int h = Y0 + n * ROW + 40;
	char path[4096], lab[160];
	static const char *colors[] = {"#c0392b", "#1e8449", "#1f5fbf",
				       "#444444"};
	int drop = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.svg", dir, sc->name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" "
		"font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" "
		"font-size=\"12\">\n<defs>\n",
		SVG_W, h, SVG_W, h);
	for (int i = 0; i < 4; i++)
		fprintf(f,
			"<marker id=\"m%d\" viewBox=\"0 0 10 10\" refX=\"10\" "
			"refY=\"5\" markerWidth=\"10\" markerHeight=\"10\" "
			"markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path "
			"d=\"M0,0 L10,5 L0,10 z\" "
			"fill=\"%s\"/></marker>\n",
			i, colors[i]);
	fprintf(f, "</defs>\n<rect width=\"100%%\" height=\"100%%\" "
		   "fill=\"white\"/>\n<text x=\"20\" y=\"28\" font-size=\"16\" "
		   "font-weight=\"bold\">");
	xml(f, sc->name);
	fprintf(f, ": ");
	xml(f, sc->title);
	fprintf(f,
		"</text>\n<text x=\"20\" y=\"48\" fill=\"#555\">verdict: "
		"%s%s%s</text>\n",
		r->verdict == LAB_PASS ? "pass" : "FAIL",
		r->npkts ? "" : " -- no packets: ",
		r->npkts ? "" : (r->nocap[0] ? r->nocap : "none captured"));
	fprintf(f,
		"<text x=\"%d\" y=\"80\" text-anchor=\"middle\" "
		"font-weight=\"bold\">",
		X_C);
	xml(f, r->client[0] ? r->client : "client");
	fprintf(f,
		"</text>\n<text x=\"%d\" y=\"80\" text-anchor=\"middle\" "
		"font-weight=\"bold\">",
		X_S);
	xml(f, r->server[0] ? r->server : "server");
	fprintf(f, "</text>\n<text x=\"70\" y=\"80\" text-anchor=\"end\" "
		   "fill=\"#555\">t (ms)</text>\n");
	fprintf(f,
		"<text x=\"%d\" y=\"80\" fill=\"#555\">syscalls and "
		"results</text>\n",
		X_T);
	for (int x = X_C; x <= X_S; x += X_S - X_C)
		fprintf(f,
			"<line x1=\"%d\" y1=\"88\" x2=\"%d\" y2=\"%d\" "
			"stroke=\"#999\" stroke-width=\"2\"/>\n",
			x, x, h - 30);
	for (int i = 0; i < n; i++) {
		int y = Y0 + i * ROW;

		if (kind[i] == 0) {
			const struct lab_step *s = &r->steps[idx[i]];
			int lx = lane_of(s->actor) ? X_S : X_C;

			drop = drop_state(s, drop);
			step_label(s, lab, sizeof(lab));
			if (strlen(lab) > MAXCH)
				strcpy(lab + MAXCH - 2, "..");
			fprintf(f,
				"<text x=\"70\" y=\"%d\" text-anchor=\"end\" "
				"fill=\"#555\">%.1f</text>\n",
				y + 4, s->t * 1e3);
			fprintf(f,
				"<circle cx=\"%d\" cy=\"%d\" r=\"4\" "
				"fill=\"%s\"/>\n",
				lx, y, s->ok ? "#333" : "#c0392b");
			fprintf(f,
				"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
				"stroke=\"#ccc\" stroke-dasharray=\"2,3\"/>\n",
				lx + 6, y, X_T - 6, y);
			fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\">", X_T,
				y + 4, s->ok ? "#000" : "#c0392b");
			xml(f, lab);
			fprintf(f, "</text>\n");
			continue;
		}
		const struct lab_pkt *p = &r->pkts[idx[i]];
		const char *c = pkt_color(p, 1);
		int m = (p->flags & F_RST)   ? 0
			: (p->flags & F_FIN) ? 1
			: p->len             ? 2
					     : 3;
		int x1 = p->dir == 0 ? X_C : X_S, x2 = p->dir == 0 ? X_S : X_C;
		int xe = x2 + (p->dir == 0 ? -40 : 40), lx = (X_C + X_S) / 2;

		pkt_label(r, idx[i], lab, sizeof(lab));
		fprintf(f,
			"<text x=\"70\" y=\"%d\" text-anchor=\"end\" "
			"fill=\"#555\">%.1f</text>\n",
			y + 4, p->t * 1e3);
		if (drop) {
			/* Sent, never delivered: dashed, ending in a cross
			 * short of the other lane. */
			lx = (x1 + xe) / 2;
			fprintf(
			    f,
			    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			    "stroke=\"%s\" stroke-width=\"1.3\" "
			    "stroke-dasharray=\"5,4\"/>\n"
			    "<path d=\"M%d,%d l8,8 m0,-8 l-8,8\" stroke=\"%s\" "
			    "stroke-width=\"2\"/>\n",
			    x1, y - 6, xe, y + 4, c, xe - 4, y, c);
			strncat(lab, " (dropped)",
				sizeof(lab) - strlen(lab) - 1);
		} else {
			fprintf(
			    f,
			    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			    "stroke=\"%s\" stroke-width=\"%s\" "
			    "marker-end=\"url(#m%d)\"/>\n",
			    x1, y - 6, x2 + (p->dir == 0 ? -2 : 2), y + 6, c,
			    (p->flags & (F_RST | F_FIN | F_SYN)) ? "2" : "1.3",
			    m);
		}
		fprintf(f,
			"<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
			"fill=\"%s\"%s>",
			lx, y - 9, c,
			(p->flags & (F_RST | F_FIN)) ? " font-weight=\"bold\""
						     : "");
		xml(f, lab);
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</svg>\n");
	if (fclose(f) != 0)
		return -1;
	return 0;
}
