/*
 * ladder-svg.c -- the ladder diagram (ladder.c) as an SVG file per
 * scenario: lanes, arrows coloured by what the segment carries, dropped
 * segments dashed and crossed, calls that blocked as bars, and a legend.
 */
#include "lab.h"

#include <stdio.h>
#include <string.h>

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

/* Where a step's actor stands: the client lane, the server lane, or -- for
 * nft, which is neither end but the network between them -- the middle. */
static int lane_x(const struct lab_step *s, int xc, int xs)
{
	if (s->kind == LAB_STEP_NFT_DROP || s->kind == LAB_STEP_NFT_UNDROP)
		return (xc + xs) / 2;
	if (strcmp(s->actor, "peer") == 0 || strcmp(s->actor, "server") == 0)
		return xs;
	return xc;
}

#define SVG_CLIENT_X 180 /* client lane */

#define SVG_SERVER_X 560 /* server lane */

#define SVG_TEXT_X 660 /* step text */

#define SVG_ROW_H 28

#define SVG_NOTE_H 15 /* extra height of a step row with a note */

#define SVG_CHAR_W 7.3 /* width of a 12 px DejaVu Sans Mono character */

#define SVG_NOTE_CHAR_W 6.7 /* ... of an 11 px one */

#define SVG_MIN_W 1000

/* Text wrapped at `width` characters into lines of the SVG from y on;
 * returns the y after the last line. With f NULL it only measures. */
static int svg_para(FILE *f, int y, int width, const char *label,
		    const char *text, const char *fill)
{
	size_t len = strlen(text), at = 0, ll = strlen(label);

	while (at < len) {
		size_t w = (size_t)width - ll, end = at + w;
		char line[512];

		if (end >= len) {
			end = len;
		} else {
			size_t sp = end;

			while (sp > at && text[sp] != ' ')
				sp--;
			if (sp > at)
				end = sp;
		}
		if (end - at >= sizeof(line))
			end = at + sizeof(line) - 1;
		memcpy(line, text + at, end - at);
		line[end - at] = '\0';
		if (f) {
			/* Continuation lines indent under the text. */
			fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\">",
				20 + (at ? (int)(ll * SVG_CHAR_W) : 0), y,
				fill);
			if (at == 0) {
				fprintf(f, "<tspan font-weight=\"bold\">");
				xml(f, label);
				fprintf(f, "</tspan>");
			}
			xml(f, line);
			fprintf(f, "</text>\n");
		}
		y += 16;
		at = end;
		while (at < len && text[at] == ' ')
			at++;
	}
	return y;
}

/* One arrow-and-label sample of the legend. */
static int legend_item(FILE *f, int x, int y, const char *color, int dashed,
		       int m, const char *what)
{
	fprintf(f,
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
		"stroke-width=\"2\"%s%s",
		x, y - 4, x + 36, y - 4, color,
		dashed ? " stroke-dasharray=\"5,4\"" : "", dashed ? "/>" : "");
	if (dashed)
		fprintf(f,
			"\n<path d=\"M%d,%d l8,8 m0,-8 l-8,8\" stroke=\"%s\" "
			"stroke-width=\"2\"/>\n",
			x + 36, y - 8, color);
	else
		fprintf(f, " marker-end=\"url(#m%d)\"/>\n", m);
	x += dashed ? 56 : 46;
	fprintf(f, "<text x=\"%d\" y=\"%d\">", x, y);
	xml(f, what);
	fprintf(f, "</text>\n");
	return x + (int)(strlen(what) * SVG_CHAR_W) + 28;
}

/* The arrow colours, and the marker (arrowhead) of each: RST, FIN, data,
 * anything else -- lab_ladder_pkt_color()'s, in this order. */
static const char *const colors[] = {"#c0392b", "#1e8449", "#1f5fbf",
				     "#444444"};

/* Where everything goes. The height is known only at the end: the
 * header's paragraphs wrap and rows with a note are taller. So lay out
 * first, then draw. */
struct layout {
	struct lab_ladder_row rows[LAB_LADDER_MAX_ROWS];
	int ys[LAB_LADDER_MAX_ROWS]; /* each row's y */
	int n;
	int w, h;
	int wrap; /* characters per line of the header's paragraphs */
	int top;  /* the y of the lanes' headers */
};

/* As wide as the longest step label and the longest note, so none is
 * cut. */
static int svg_width(const struct lab_result *r, const struct layout *lay)
{
	size_t longest = 0;
	int w = SVG_MIN_W;
	char lab[200];

	for (int i = 0; i < lay->n; i++)
		if (lay->rows[i].kind != LAB_ROW_PKT) {
			lab_ladder_step_label(&r->steps[lay->rows[i].idx],
					      lay->rows[i].kind, lab,
					      sizeof(lab));
			if (strlen(lab) > longest)
				longest = strlen(lab);
		}
	if (SVG_TEXT_X + (int)(longest * SVG_CHAR_W) + 30 > w)
		w = SVG_TEXT_X + (int)(longest * SVG_CHAR_W) + 30;
	for (int i = 0; i < r->nsteps; i++) {
		int nw = SVG_TEXT_X + 14 +
			 (int)(strlen(r->steps[i].note) * SVG_NOTE_CHAR_W) + 30;

		if (nw > w)
			w = nw;
	}
	return w;
}

/* The header's paragraphs from y on (f NULL: only measure them). */
static int svg_paras(FILE *f, const struct lab_result *r, int wrap)
{
	const struct lab_scenario *sc = &lab_scenarios[r->index];
	int y = svg_para(f, 72, wrap, "expected: ", sc->expected, "#222");

	y = svg_para(f, y, wrap, "rule: ", sc->rule, "#1e5631");
	for (int i = 0; i < r->nmis; i++)
		y = svg_para(f, y, wrap, "MISMATCH: ", r->mis[i], "#c0392b");
	return y;
}

static void svg_layout(const struct lab_result *r, struct layout *lay)
{
	int y;

	lay->n = lab_ladder_rows(r, lay->rows);
	lay->w = svg_width(r, lay);
	lay->wrap = (int)((lay->w - 40) / SVG_CHAR_W);
	lay->top = svg_paras(NULL, r, lay->wrap) + 14;
	y = lay->top + 44;
	for (int i = 0; i < lay->n; i++) {
		const struct lab_ladder_row *row = &lay->rows[i];

		lay->ys[i] = y;
		y += SVG_ROW_H;
		if (row->kind == LAB_ROW_CALL && r->steps[row->idx].note[0] &&
		    !lab_ladder_blocked(&r->steps[row->idx]))
			y += SVG_NOTE_H;
		if (row->kind == LAB_ROW_RET && r->steps[row->idx].note[0])
			y += SVG_NOTE_H;
	}
	lay->h = y + 70;
}

/* "name: title", escaped. */
static void svg_name_title(FILE *f, const struct lab_scenario *sc)
{
	xml(f, sc->name);
	fprintf(f, ": ");
	xml(f, sc->title);
}

/* The document's start, the arrowheads, the heading, the verdict and the
 * header's paragraphs. */
static void svg_head(FILE *f, const struct lab_result *r,
		     const struct layout *lay)
{
	const struct lab_scenario *sc = &lab_scenarios[r->index];

	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" "
		"font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" "
		"font-size=\"12\">\n<title>",
		lay->w, lay->h, lay->w, lay->h);
	svg_name_title(f, sc);
	fprintf(f, "</title>\n<defs>\n");
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
	svg_name_title(f, sc);
	fprintf(
	    f,
	    "</text>\n<text x=\"20\" y=\"48\" fill=\"#555\">verdict: "
	    "<tspan font-weight=\"bold\" fill=\"%s\">%s</tspan>%s%s</text>\n",
	    r->verdict == LAB_PASS ? "#1e8449" : "#c0392b",
	    lab_verdict_name(r->verdict), r->npkts ? "" : " -- no packets: ",
	    r->npkts ? "" : (r->nocap[0] ? r->nocap : "none captured"));
	svg_paras(f, r, lay->wrap);
}

/* The lanes' headers and lines, and the columns' headers. */
static void svg_lanes(FILE *f, const struct lab_result *r,
		      const struct layout *lay)
{
	char hdr[96];

	lab_ladder_client_header(r, hdr, sizeof(hdr));
	fprintf(f,
		"<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
		"font-weight=\"bold\">",
		SVG_CLIENT_X, lay->top + 10);
	xml(f, hdr);
	fprintf(f,
		"</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
		"font-weight=\"bold\">",
		SVG_SERVER_X, lay->top + 10);
	xml(f, r->server[0] ? r->server : "server");
	fprintf(f,
		"</text>\n<text x=\"70\" y=\"%d\" text-anchor=\"end\" "
		"fill=\"#555\">t (ms)</text>\n",
		lay->top + 10);
	fprintf(f,
		"<text x=\"%d\" y=\"%d\" fill=\"#555\">syscalls and "
		"results</text>\n",
		SVG_TEXT_X, lay->top + 10);
	for (int x = SVG_CLIENT_X; x <= SVG_SERVER_X;
	     x += SVG_SERVER_X - SVG_CLIENT_X)
		fprintf(f,
			"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			"stroke=\"#999\" stroke-width=\"2\"/>\n",
			x, lay->top + 18, x, lay->h - 60);
}

/* A call that blocked: a bar on its lane from call to return. */
static void svg_blocked_bars(FILE *f, const struct lab_result *r,
			     const struct layout *lay)
{
	for (int i = 0; i < lay->n; i++) {
		if (lay->rows[i].kind != LAB_ROW_RET)
			continue;
		for (int k = i - 1; k >= 0; k--)
			if (lay->rows[k].kind == LAB_ROW_CALL &&
			    lay->rows[k].idx == lay->rows[i].idx) {
				int lx = lane_x(&r->steps[lay->rows[i].idx],
						SVG_CLIENT_X, SVG_SERVER_X);

				fprintf(f,
					"<rect x=\"%d\" y=\"%d\" width=\"8\" "
					"height=\"%d\" fill=\"#e3e3e3\" "
					"stroke=\"#888\"/>\n",
					lx - 4, lay->ys[k],
					lay->ys[i] - lay->ys[k]);
				break;
			}
	}
}

/* The time of a row, left of the lanes. */
static void svg_time(FILE *f, int y, double t)
{
	fprintf(f,
		"<text x=\"70\" y=\"%d\" text-anchor=\"end\" "
		"fill=\"#555\">%.1f</text>\n",
		y + 4, t * 1e3);
}

/* A step's row: a dot on its lane (a diamond for nft, between them), a
 * dotted line to its label, and its note. */
static void svg_step_row(FILE *f, const struct lab_result *r,
			 const struct lab_ladder_row *row, int y)
{
	const struct lab_step *s = &r->steps[row->idx];
	int lx = lane_x(s, SVG_CLIENT_X, SVG_SERVER_X);
	const char *ink = s->ok ? "#000" : "#c0392b";
	char lab[200];

	lab_ladder_step_label(s, row->kind, lab, sizeof(lab));
	svg_time(f, y, row->t);
	if (s->kind != LAB_STEP_CALL)
		fprintf(f,
			"<path d=\"M%d,%d l6,6 l-6,6 l-6,-6 "
			"z\" fill=\"#8e44ad\"/>\n",
			lx, y - 6);
	else
		fprintf(f,
			"<circle cx=\"%d\" cy=\"%d\" r=\"4\" "
			"fill=\"%s\" stroke=\"%s\"/>\n",
			lx, y,
			row->kind == LAB_ROW_RET ? "white"
			: s->ok                  ? "#333"
						 : "#c0392b",
			s->ok ? "#333" : "#c0392b");
	fprintf(f,
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
		"stroke=\"#ccc\" stroke-dasharray=\"2,3\"/>\n",
		lx + 8, y, SVG_TEXT_X - 6, y);
	fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\">", SVG_TEXT_X, y + 4,
		ink);
	xml(f, lab);
	fprintf(f, "</text>\n");
	if (s->note[0] &&
	    (row->kind == LAB_ROW_RET || !lab_ladder_blocked(s))) {
		fprintf(f,
			"<text x=\"%d\" y=\"%d\" "
			"font-size=\"11\" fill=\"#666\" "
			"font-style=\"italic\">",
			SVG_TEXT_X + 14, y + 18);
		xml(f, s->note);
		fprintf(f, "</text>\n");
	}
}

/* A segment's row: an arrow from the sender's lane to the receiver's --
 * dashed and crossed short of it when nft dropped the segment -- and its
 * label above. The class and data-flags say the direction and the flags,
 * for tests and for styling. */
static void svg_pkt_row(FILE *f, const struct lab_result *r,
			const struct lab_ladder_row *row, int y)
{
	const struct lab_pkt *p = &r->pkts[row->idx];
	const char *c = lab_ladder_pkt_color(p, 1);
	int m = (p->flags & LAB_TCP_RST)   ? 0
		: (p->flags & LAB_TCP_FIN) ? 1
		: p->len                   ? 2
					   : 3;
	int x1 = p->dir == 0 ? SVG_CLIENT_X : SVG_SERVER_X,
	    x2 = p->dir == 0 ? SVG_SERVER_X : SVG_CLIENT_X;
	int xe = x2 + (p->dir == 0 ? -40 : 40),
	    lx = (SVG_CLIENT_X + SVG_SERVER_X) / 2;
	int drop = lab_pkt_dropped(r, row->idx);
	char lab[200], f2[32];

	/* The label must fit between the lanes (~52 characters). */
	lab_ladder_pkt_label(r, row->idx, lab, sizeof(lab), drop ? 38 : 48);
	lab_flags_str(p->flags, f2, sizeof(f2));
	svg_time(f, y, p->t);
	if (drop) {
		lx = (x1 + xe) / 2;
		fprintf(f,
			"<line class=\"seg %s dropped\" data-flags=\"%s\" "
			"x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			"stroke=\"%s\" stroke-width=\"1.3\" "
			"stroke-dasharray=\"5,4\"/>\n"
			"<path d=\"M%d,%d l8,8 m0,-8 l-8,8\" stroke=\"%s\" "
			"stroke-width=\"2\"/>\n",
			p->dir == 0 ? "c2s" : "s2c", f2, x1, y - 6, xe, y + 4,
			c, xe - 4, y, c);
		strncat(lab, " (dropped)", sizeof(lab) - strlen(lab) - 1);
	} else {
		fprintf(f,
			"<line class=\"seg %s\" data-flags=\"%s\" "
			"x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			"stroke=\"%s\" stroke-width=\"%s\" "
			"marker-end=\"url(#m%d)\"/>\n",
			p->dir == 0 ? "c2s" : "s2c", f2, x1, y - 6,
			x2 + (p->dir == 0 ? -2 : 2), y + 6, c,
			(p->flags & (LAB_TCP_RST | LAB_TCP_FIN | LAB_TCP_SYN))
			    ? "2"
			    : "1.3",
			m);
	}
	fprintf(f,
		"<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
		"fill=\"%s\"%s>",
		lx, y - 9, c,
		(p->flags & (LAB_TCP_RST | LAB_TCP_FIN))
		    ? " font-weight=\"bold\""
		    : "");
	xml(f, lab);
	fprintf(f, "</text>\n");
}

static void svg_legend(FILE *f, int y)
{
	int x = 20;

	x = legend_item(f, x, y, colors[3], 0, 3, "SYN / ACK");
	x = legend_item(f, x, y, colors[2], 0, 2, "data");
	x = legend_item(f, x, y, colors[1], 0, 1, "FIN");
	x = legend_item(f, x, y, colors[0], 0, 0, "RST");
	legend_item(f, x, y, colors[3], 1, 3,
		    "sent, dropped by nft (captured before the filter)");
	fprintf(f,
		"<circle cx=\"24\" cy=\"%d\" r=\"4\" fill=\"#333\"/>\n"
		"<text x=\"36\" y=\"%d\">a call and its result (red: "
		"not as expected)</text>\n"
		"<rect x=\"400\" y=\"%d\" width=\"8\" height=\"14\" "
		"fill=\"#e3e3e3\" stroke=\"#888\"/><circle cx=\"404\" "
		"cy=\"%d\" r=\"4\" fill=\"white\" stroke=\"#333\"/>\n"
		"<text x=\"416\" y=\"%d\">a call that blocked, and "
		"its return</text>\n"
		"<path d=\"M700,%d l6,6 l-6,6 l-6,-6 z\" "
		"fill=\"#8e44ad\"/>\n<text x=\"712\" y=\"%d\">nft, "
		"between the two ends</text>\n",
		y + 18, y + 22, y + 8, y + 22, y + 22, y + 12, y + 22);
}

int lab_ladder_svg(const char *dir, const struct lab_result *r)
{
	struct layout lay;
	char path[4096];
	FILE *f;

	svg_layout(r, &lay);
	snprintf(path, sizeof(path), "%s/%s.svg", dir,
		 lab_scenarios[r->index].name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	svg_head(f, r, &lay);
	svg_lanes(f, r, &lay);
	svg_blocked_bars(f, r, &lay);
	for (int i = 0; i < lay.n; i++) {
		if (lay.rows[i].kind == LAB_ROW_PKT)
			svg_pkt_row(f, r, &lay.rows[i], lay.ys[i]);
		else
			svg_step_row(f, r, &lay.rows[i], lay.ys[i]);
	}
	svg_legend(f, lay.h - 34);
	fprintf(f, "</svg>\n");
	if (fclose(f) != 0)
		return -1;
	return 0;
}
