/*
 * output-text.c -- a scenario's result on the terminal: the steps as a
 * table (or two lines a step when the terminal is narrow), the ladder,
 * the rule and any mismatch, in colour when stdout is a terminal.
 */
#include "lab.h"

#include <stdio.h>
#include <string.h>

#define ANSI_RED "\033[31m"

#define ANSI_GREEN "\033[32m"

#define ANSI_YELLOW "\033[33m"

#define ANSI_DIM "\033[2m"

#define ANSI_BOLD "\033[1m"

#define ANSI_OFF "\033[0m"

/* "   label text", wrapped at the terminal's width (cols 0: not). */
static void para(const char *label, const char *text, int cols)
{
	int ind = 3 + (int)strlen(label), w = cols - ind - 1;
	const char *p = text;

	printf("   %s", label);
	if (cols <= 0 || w < 30) {
		printf("%s\n", text);
		return;
	}
	while (*p) {
		int n = (int)strlen(p);

		if (n > w) {
			n = w;
			while (n > 0 && p[n] != ' ')
				n--;
			if (n == 0)
				n = w;
		}
		printf("%.*s\n", n, p);
		p += n;
		while (*p == ' ')
			p++;
		if (*p)
			printf("%*s", ind, "");
	}
}

/* The column widths of the step table: each as wide as its widest cell in
 * this scenario, so that one long result does not push the rest of its row
 * out of line. */
struct widths {
	int actor, call, ret, err, events, state;
};

static int widest(int w, const char *s)
{
	int n = (int)strlen(s);

	return n > w ? n : w;
}

static void measure(const struct lab_result *r, struct widths *w)
{
	*w = (struct widths){5, 4, 3, 5, 5, 5};
	for (int i = 0; i < r->nsteps; i++) {
		const struct lab_step *s = &r->steps[i];
		struct lab_cells c;

		lab_step_cells(s, &c);
		w->actor = widest(w->actor, s->actor);
		w->call = widest(w->call, s->call);
		w->ret = widest(w->ret, s->ret);
		w->err = widest(w->err, c.err);
		w->events = widest(w->events, c.events);
		w->state = widest(w->state, c.state);
	}
}

/* One step: a row of the table, or (compact, w NULL) two lines, the call
 * and its result, then the snapshot. Then what was expected when it was
 * not met, and the note. */
static void print_step(const struct lab_step *s, int n, const struct widths *w,
		       int col)
{
	const char *on = s->ok ? "" : (col ? ANSI_RED : "");
	const char *off = s->ok ? "" : (col ? ANSI_OFF : "");
	struct lab_cells c;

	lab_step_cells(s, &c);
	if (w)
		printf("   %s%3d %7.1f  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  "
		       "%-7s  %s%s\n",
		       on, n, s->t * 1e3, w->actor, s->actor, w->call, s->call,
		       w->ret, s->ret, w->err, c.err, w->events, c.events,
		       w->state, c.state, c.queues, s->hangup, off);
	else
		printf("   %s%3d %7.1f  %-7s %s%s%s%s%s%s\n", on, n, s->t * 1e3,
		       s->actor, s->call, s->ret[0] ? " = " : "", s->ret,
		       c.err[0] ? " " : "", c.err, off);
	if (!w && s->snap)
		printf("   %s%12s epoll %s  %s  out/in %s%s%s%s\n",
		       col ? ANSI_DIM : "", "", c.events, c.state, c.queues,
		       s->hangup[0] ? "  hangup " : "", s->hangup,
		       col ? ANSI_OFF : "");
	if (!s->ok && s->expect[0])
		printf("   %s%12s expected %s%s\n", col ? ANSI_RED : "", "",
		       s->expect, col ? ANSI_OFF : "");
	if (s->note[0])
		printf("   %s%12s -> %s%s\n", col ? ANSI_DIM : "", "", s->note,
		       col ? ANSI_OFF : "");
}

/* The steps as a table, or -- the full table is ~150 columns -- on a
 * narrower terminal each step on two lines instead of wrapped rows. */
static void print_steps(const struct lab_out *o, const struct lab_result *r)
{
	struct widths w;
	int col = o->color;

	measure(r, &w);
	if (o->cols > 0 && 3 + 3 + 1 + 7 + 2 * 8 + w.actor + w.call + w.ret +
				   w.err + w.events + w.state + 7 + 20 >
			       o->cols) {
		for (int i = 0; i < r->nsteps; i++)
			print_step(&r->steps[i], i + 1, NULL, col);
		return;
	}
	printf("   %s%3s %7s  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-7s  %s%s\n",
	       col ? ANSI_DIM : "", "#", "t(ms)", w.actor, "actor", w.call,
	       "call", w.ret, "ret", w.err, "errno", w.events, "epoll", w.state,
	       "state", "out/in", "hangup", col ? ANSI_OFF : "");
	for (int i = 0; i < r->nsteps; i++)
		print_step(&r->steps[i], i + 1, &w, col);
}

/* --watch: each socket's record in watch's words, and where the capture
 * says otherwise, what it says. */
static void print_watch(const struct lab_result *r, int col)
{
	if (r->watch == LAB_WATCH_OFF)
		return;
	if (r->watch == LAB_WATCH_NONE || r->wnote[0])
		printf("   watch: %s\n", r->wnote);
	for (int i = 0; i < r->nwatch; i++) {
		const struct lab_watch_rec *x = &r->wrec[i];
		char in[24], out[24];

		snprintf(in, sizeof(in), "%lld", x->bytes_in);
		snprintf(out, sizeof(out), "%lld", x->bytes_out);
		printf("   %swatch: %-6s %s -> %s  %s%s%s%s  first FIN %s, "
		       "RST %s%s%s  in %s out %s  [%s]%s\n",
		       col && !x->ok ? ANSI_RED : "", x->end, x->local, x->peer,
		       x->reason, x->detail[0] ? " (" : "", x->detail,
		       x->detail[0] ? ")" : "", x->first_fin, x->rst_first,
		       x->rst_reason[0] ? " " : "", x->rst_reason,
		       x->bytes_in < 0 ? "?" : in, x->bytes_out < 0 ? "?" : out,
		       x->ok ? "= capture" : "capture differs",
		       col && !x->ok ? ANSI_OFF : "");
		if (!x->ok)
			printf("   %s%12s capture: first FIN %s, RST %s, in "
			       "%lld out %lld%s\n",
			       col ? ANSI_RED : "", "", x->cap_fin, x->cap_rst,
			       x->cap_in, x->cap_out, col ? ANSI_OFF : "");
	}
}

void lab_print_text(const struct lab_out *o, const struct lab_result *r)
{
	const struct lab_scenario *sc = &lab_scenarios[r->index];
	const char *vc = r->verdict == LAB_PASS   ? ANSI_GREEN
			 : r->verdict == LAB_FAIL ? ANSI_RED
						  : ANSI_YELLOW;
	int col = o->color;

	printf("\n%s== %s%s  %s  %s[%s]%s\n", col ? ANSI_BOLD : "", sc->name,
	       col ? ANSI_OFF : "", sc->title, col ? vc : "",
	       lab_verdict_name(r->verdict), col ? ANSI_OFF : "");
	para("expected: ", sc->expected, o->cols);
	if (r->verdict == LAB_SKIP) {
		printf("   skipped: %s\n", r->skip);
		print_watch(r, col);
		return;
	}
	print_steps(o, r);
	if (r->npkts > 0)
		lab_ladder_text(stdout, r, col);
	else if (r->nocap[0] && r->capture != LAB_CAPTURE_OFF)
		printf("   (no packets: %s)\n", r->nocap);
	print_watch(r, col);
	para("rule: ", sc->rule, o->cols);
	for (int i = 0; i < r->nmis; i++)
		printf("   %sMISMATCH: %s%s\n", col ? ANSI_RED : "", r->mis[i],
		       col ? ANSI_OFF : "");
}
