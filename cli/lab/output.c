/*
 * lab-out.c -- the lab's results as a terminal view, JSON lines, or the
 * markdown document docs/kernel-truth.md.
 */
#include "lab.h"

#include "hangup.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#define ANSI_RED "\033[31m"
#define ANSI_GREEN "\033[32m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_DIM "\033[2m"
#define ANSI_BOLD "\033[1m"
#define ANSI_OFF "\033[0m"

static const char *verdict_name(int v)
{
	return v == LAB_PASS ? "pass" : v == LAB_FAIL ? "fail" : "skip";
}

static void state_text(const struct lab_step *s, char *buf, size_t size)
{
	if (!s->snap)
		snprintf(buf, size, "%s", "");
	else if (s->state == -1)
		snprintf(buf, size, "unix");
	else if (s->state == -2)
		snprintf(buf, size, "n/a");
	else
		snprintf(buf, size, "%s", hu_tcp_state_name(s->state));
}

static void queues_text(const struct lab_step *s, char *buf, size_t size)
{
	if (!s->snap)
		buf[0] = '\0';
	else if (s->outq < 0 || s->inq < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%d/%d", s->outq, s->inq);
}

/* errno only for a failed call; for the myth steps, the stale value after
 * a success, labelled. */
static void errno_text(const struct lab_step *s, char *buf, size_t size)
{
	if (s->failed)
		snprintf(buf, size, "%s", lab_errno(s->err));
	else if (s->stale)
		snprintf(buf, size, "stale: %s",
			 s->stale_after ? lab_errno(s->stale_after) : "0");
	else
		buf[0] = '\0';
}

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

/* Each step on two lines: the call and its result; the snapshot. */
static void print_compact(const struct lab_out *o, const struct lab_result *r)
{
	int col = o->color;

	for (int i = 0; i < r->nsteps; i++) {
		const struct lab_step *s = &r->steps[i];
		char ev[48], st[24], q[24], er[32];

		if (s->snap)
			lab_events_str(s->events, ev, sizeof(ev));
		else
			ev[0] = '\0';
		state_text(s, st, sizeof(st));
		queues_text(s, q, sizeof(q));
		errno_text(s, er, sizeof(er));
		printf("   %s%3d %7.1f  %-7s %s%s%s%s%s%s\n",
		       s->ok ? "" : (col ? ANSI_RED : ""), i + 1, s->t * 1e3,
		       s->actor, s->call, s->ret[0] ? " = " : "", s->ret,
		       er[0] ? " " : "", er,
		       s->ok ? "" : (col ? ANSI_OFF : ""));
		if (s->snap)
			printf("   %s%12s epoll %s  %s  out/in %s%s%s%s\n",
			       col ? ANSI_DIM : "", "", ev, st, q,
			       s->hangup[0] ? "  hangup " : "", s->hangup,
			       col ? ANSI_OFF : "");
		if (!s->ok && s->expect[0])
			printf("   %s%12s expected %s%s\n", col ? ANSI_RED : "",
			       "", s->expect, col ? ANSI_OFF : "");
		if (s->note[0])
			printf("   %s%12s -> %s%s\n", col ? ANSI_DIM : "", "",
			       s->note, col ? ANSI_OFF : "");
	}
}

static int widest(int w, const char *s)
{
	int n = (int)strlen(s);

	return n > w ? n : w;
}

void lab_print_text(const struct lab_out *o, const struct lab_result *r)
{
	const struct lab_scenario *sc = &lab_scenarios[r->index];
	const char *vc = r->verdict == LAB_PASS   ? ANSI_GREEN
			 : r->verdict == LAB_FAIL ? ANSI_RED
						  : ANSI_YELLOW;
	int col = o->color;
	/* Columns as wide as their widest cell in this scenario, so that one
	 * long result does not push the rest of its row out of line. */
	int wa = 5, wc = 4, wr = 3, we = 5, wv = 5, ws = 5;

	for (int i = 0; i < r->nsteps; i++) {
		const struct lab_step *s = &r->steps[i];
		char ev[48] = "", st[24], er[32];

		if (s->snap)
			lab_events_str(s->events, ev, sizeof(ev));
		state_text(s, st, sizeof(st));
		errno_text(s, er, sizeof(er));
		wa = widest(wa, s->actor);
		wc = widest(wc, s->call);
		wr = widest(wr, s->ret);
		we = widest(we, er);
		wv = widest(wv, ev);
		ws = widest(ws, st);
	}

	/* The full table is ~150 columns; a narrower terminal gets each
	 * step on two lines instead of wrapped rows. */
	int compact = o->cols > 0 && 3 + 3 + 1 + 7 + 2 * 8 + wa + wc + wr + we +
					     wv + ws + 7 + 20 >
					 o->cols;

	printf("\n%s== %s%s  %s  %s[%s]%s\n", col ? ANSI_BOLD : "", sc->name,
	       col ? ANSI_OFF : "", sc->title, col ? vc : "",
	       verdict_name(r->verdict), col ? ANSI_OFF : "");
	para("expected: ", sc->expected, o->cols);
	if (r->verdict == LAB_SKIP) {
		printf("   skipped: %s\n", r->skip);
		return;
	}
	if (compact) {
		print_compact(o, r);
		goto tail;
	}
	printf("   %s%3s %7s  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-7s  %s%s\n",
	       col ? ANSI_DIM : "", "#", "t(ms)", wa, "actor", wc, "call", wr,
	       "ret", we, "errno", wv, "epoll", ws, "state", "out/in", "hangup",
	       col ? ANSI_OFF : "");
	for (int i = 0; i < r->nsteps; i++) {
		const struct lab_step *s = &r->steps[i];
		char ev[48], st[24], q[24], er[32];

		if (s->snap)
			lab_events_str(s->events, ev, sizeof(ev));
		else
			ev[0] = '\0';
		state_text(s, st, sizeof(st));
		queues_text(s, q, sizeof(q));
		errno_text(s, er, sizeof(er));
		printf(
		    "   %s%3d %7.1f  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-7s  "
		    "%s%s\n",
		    s->ok ? "" : (col ? ANSI_RED : ""), i + 1, s->t * 1e3, wa,
		    s->actor, wc, s->call, wr, s->ret, we, er, wv, ev, ws, st,
		    q, s->hangup, s->ok ? "" : (col ? ANSI_OFF : ""));
		if (!s->ok && s->expect[0])
			printf("   %s%12s expected %s%s\n", col ? ANSI_RED : "",
			       "", s->expect, col ? ANSI_OFF : "");
		if (s->note[0])
			printf("   %s%12s -> %s%s\n", col ? ANSI_DIM : "", "",
			       s->note, col ? ANSI_OFF : "");
	}
tail:
	if (r->npkts > 0)
		lab_ladder_text(stdout, r, col);
	else if (r->nocap[0] && strcmp(r->nocap, "--no-capture") != 0 &&
		 strstr(r->nocap, "root") == NULL)
		printf("   (no packets: %s)\n", r->nocap);
	para("rule: ", sc->rule, o->cols);
	for (int i = 0; i < r->nmis; i++)
		printf("   %sMISMATCH: %s%s\n", col ? ANSI_RED : "", r->mis[i],
		       col ? ANSI_OFF : "");
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			printf("\\n");
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_kv(const char *k, const char *v, int comma)
{
	printf("%s\"%s\":", comma ? "," : "", k);
	if (v)
		json_str(v);
	else
		printf("null");
}

void lab_print_json(const struct lab_result *r)
{
	const struct lab_scenario *sc = &lab_scenarios[r->index];
	char buf[64];

	printf("{");
	json_kv("name", sc->name, 0);
	json_kv("family", sc->family, 1);
	json_kv("title", sc->title, 1);
	json_kv("expected", sc->expected, 1);
	json_kv("rule", sc->rule, 1);
	json_kv("verdict", verdict_name(r->verdict), 1);
	json_kv("skip_reason", r->verdict == LAB_SKIP ? r->skip : NULL, 1);
	printf(",\"netns\":%s,\"seconds\":%.3f,\"captured\":%s",
	       sc->netns ? "true" : "false", r->secs,
	       r->captured ? "true" : "false");
	json_kv("capture_note", r->captured ? NULL : r->nocap, 1);
	json_kv("client", r->client, 1);
	json_kv("server", r->server, 1);
	printf(",\"steps\":[");
	for (int i = 0; i < r->nsteps; i++) {
		const struct lab_step *s = &r->steps[i];

		printf("%s{\"n\":%d,\"t_ms\":%.3f,\"t_end_ms\":%.3f",
		       i ? "," : "", i + 1, s->t * 1e3, s->t_end * 1e3);
		json_kv("actor", s->actor, 1);
		json_kv("call", s->call, 1);
		json_kv("ret", s->ret, 1);
		printf(",\"value\":%ld", s->val);
		json_kv("errno", s->failed ? lab_errno(s->err) : NULL, 1);
		if (s->stale) {
			json_kv("errno_before_call",
				s->stale_before ? lab_errno(s->stale_before)
						: "0",
				1);
			json_kv("stale_errno_after_success",
				s->stale_after ? lab_errno(s->stale_after)
					       : "0",
				1);
		}
		if (s->snap) {
			json_kv("observed", s->obs, 1);
			lab_events_str(s->events, buf, sizeof(buf));
			json_kv("epoll", buf, 1);
			state_text(s, buf, sizeof(buf));
			json_kv("state", buf, 1);
			printf(",\"outq\":%d,\"inq\":%d", s->outq, s->inq);
		}
		json_kv("hangup", s->hangup[0] ? s->hangup : NULL, 1);
		json_kv("note", s->note[0] ? s->note : NULL, 1);
		json_kv("expect", s->expect[0] ? s->expect : NULL, 1);
		printf(",\"ok\":%s}", s->ok ? "true" : "false");
	}
	printf("],\"packets\":[");
	for (int i = 0; i < r->npkts; i++) {
		const struct lab_pkt *p = &r->pkts[i];

		lab_flags_str(p->flags, buf, sizeof(buf));
		printf("%s{\"t_ms\":%.3f,\"dir\":\"%s\",\"sport\":%u,"
		       "\"dport\":%u",
		       i ? "," : "", p->t * 1e3,
		       p->dir == 0 ? "client->server" : "server->client",
		       p->sport, p->dport);
		json_kv("flags", buf, 1);
		printf(",\"len\":%u,\"seq\":%u", p->len, p->seq);
		json_kv("data", p->len ? p->data : NULL, 1);
		printf(",\"dropped\":%s",
		       lab_pkt_dropped(r, i) ? "true" : "false");
		printf("}");
	}
	printf("],\"mismatches\":[");
	for (int i = 0; i < r->nmis; i++) {
		if (i)
			putchar(',');
		json_str(r->mis[i]);
	}
	printf("]}\n");
	fflush(stdout);
}

/* Markdown table cells: no '|' or newline may leak into a cell. */
static void md_cell(const char *s, int code)
{
	const char *tick = (*s && code) ? "`" : "";

	printf(" %s", tick);
	for (; *s; s++) {
		if (*s == '|')
			printf("\\|");
		else
			putchar(*s == '\n' ? ' ' : *s);
	}
	printf("%s |", tick);
}

static void md_summary(const struct lab_result *rs, int n)
{
	printf("## Summary\n\n| scenario | verdict | what it shows |\n"
	       "|---|---|---|\n");
	for (int i = 0; i < n; i++) {
		if (rs[i].index < 0)
			continue;
		printf("| [`%s`](#%s) | %s |", lab_scenarios[rs[i].index].name,
		       lab_scenarios[rs[i].index].name,
		       verdict_name(rs[i].verdict));
		md_cell(lab_scenarios[rs[i].index].title, 0);
		printf("\n");
	}
	printf("\n");
}

void lab_md_begin(const struct lab_result *rs, int n)
{
	struct utsname u;
	time_t now = time(NULL);
	char date[32];

	uname(&u);
	strftime(date, sizeof(date), "%Y-%m-%d", gmtime(&now));
	printf("# Kernel truth: how Linux reports the end of a connection\n\n"
	       "*Generated by `hangup lab --markdown` -- do not edit by hand; "
	       "run `hangup lab --markdown > docs/kernel-truth.md` (as root, "
	       "for the namespace scenarios and the packets) to regenerate.*"
	       "\n\nKernel: %s %s %s. Generated %s.\n\n",
	       u.sysname, u.release, u.machine, date);
	printf(
	    "Every scenario below ran live on loopback (port 0) or in a "
	    "private network namespace. Each step shows the call, its return "
	    "value, `errno` **only when the call failed** (for the myth "
	    "scenarios also the *stale* errno after a success, labelled), a "
	    "snapshot of the observed socket ~15 ms later (epoll mask from a "
	    "fresh level-triggered instance asking IN+OUT+RDHUP, TCP state, "
	    "SIOCOUTQ/SIOCINQ) and what hangup's classification says "
	    "(`hu_probe`; *gone (error pending)* where probing would consume "
	    "the error the next raw call is meant to show). `SO_ERROR` and "
	    "`MSG_PEEK` are explicit steps because both consume the pending "
	    "error. Once a raw call has taken the error, hangup too can see "
	    "only an EOF (the kernel keeps no trace) -- which is why "
	    "`hu_probe` and `hu_recv` keep an error they take; the *through "
	    "hangup* scenarios show that path. The packets were captured on lo "
	    "with an AF_PACKET socket (a tap before netfilter: in the "
	    "namespace scenarios it also sees the segments nft then drops, "
	    "drawn ending in `x`). In the ladders a call that blocked "
	    "(`epoll_wait` or `poll` with a timeout) appears twice: where it "
	    "started (`...`) and where it returned, so the segments that "
	    "arrived meanwhile sit between the two."
	    "\n\n");
	md_summary(rs, n);
}

void lab_print_md(const struct lab_result *r)
{
	const struct lab_scenario *sc = &lab_scenarios[r->index];

	printf("## %s\n\n**%s** (family `%s`) -- verdict: **%s**\n\n", sc->name,
	       sc->title, sc->family, verdict_name(r->verdict));
	printf("Expected: %s\n\nRule: %s\n\n", sc->expected, sc->rule);
	if (r->verdict == LAB_SKIP) {
		printf("Skipped: %s\n\n", r->skip);
		return;
	}
	printf("| # | actor | call | ret | errno | epoll | state | out/in | "
	       "hangup | note |\n|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < r->nsteps; i++) {
		const struct lab_step *s = &r->steps[i];
		char ev[48] = "", st[24], q[24], er[32];

		if (s->snap)
			lab_events_str(s->events, ev, sizeof(ev));
		state_text(s, st, sizeof(st));
		queues_text(s, q, sizeof(q));
		errno_text(s, er, sizeof(er));
		printf("| %d |", i + 1);
		md_cell(s->actor, 0);
		md_cell(s->call, 1);
		md_cell(s->ret, 0);
		md_cell(er, 0);
		md_cell(ev, 0);
		md_cell(st, 0);
		md_cell(q, 0);
		md_cell(s->hangup, 0);
		md_cell(s->note, 0);
		printf("\n");
	}
	printf("\n");
	if (r->npkts > 0) {
		printf("```text\n");
		lab_ladder_text(stdout, r, 0);
		printf("```\n\n");
	} else if (r->nocap[0]) {
		printf("(no packets: %s)\n\n", r->nocap);
	}
	for (int i = 0; i < r->nmis; i++)
		printf("- **MISMATCH**: %s\n", r->mis[i]);
	if (r->nmis)
		printf("\n");
}

void lab_md_end(const struct lab_result *rs, int n)
{
	(void)rs;
	(void)n;
	printf("---\n\n*End of the generated document.*\n");
}
