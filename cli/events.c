/*
 * events.c -- the event lines of `hangup listen`, `hangup connect` and
 * `hangup probe --json`.
 *
 * Text (stderr), one line per event, fields in a fixed order so that grep
 * and awk can rely on them; the time is seconds since the tool started,
 * like dmesg. The examples are whole lines, as the tool writes them:
 *
 *   hangup: [   0.000] listening 127.0.0.1:43567
 *   hangup: [   1.204] #1 127.0.0.1:51234 open ms=0
 *   hangup: [   3.518] #1 127.0.0.1:51234 eof phase=peer-done in=6 out=0 ms=2314
 *   hangup: [   3.518] #1 127.0.0.1:51234 close reason=eof errno=- phase=peer-done in=6 out=0 undelivered=0 ms=2314
 *
 * JSON (stdout), one object per line, DESIGN.md's field names. Every
 * connection event has the same keys (a field that does not apply yet is
 * null), so a jq filter never has to test for a missing one:
 *
 *   {"event":"close","conn":1,"peer":"127.0.0.1:51234","reason":"eof","phase":"peer-done","errno":null,"bytes_in":6,"bytes_out":0,"undelivered":0,"discarded":0,"ms":2314,"t":3518,"time":"2026-12-01T21:26:20.123Z"}
 *
 * `t` is monotonic milliseconds since the start (immune to clock steps);
 * `time` is the wall clock, UTC, for matching other logs.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int json;
static struct timespec t0;

void cli_events_init(int as_json)
{
	json = as_json;
	clock_gettime(CLOCK_MONOTONIC, &t0);
}

unsigned long long cli_elapsed_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long ms = (long long)(ts.tv_sec - t0.tv_sec) * 1000 +
		       (ts.tv_nsec - t0.tv_nsec) / 1000000;
	return ms > 0 ? (unsigned long long)ms : 0;
}

/* 2026-12-01T21:26:20.123Z */
static void iso8601(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* A line under construction; a line that would not fit is cut, never
 * overrun (it cannot happen with the fields we write). */
struct line {
	char b[2048];
	size_t n;
};

/* Keeps l->n below sizeof(l->b): one byte stays free (put_stderr). */
static void vadd(struct line *l, const char *fmt, va_list ap)
{
	if (l->n >= sizeof(l->b) - 1)
		return;
	int k = vsnprintf(l->b + l->n, sizeof(l->b) - l->n, fmt, ap);
	if (k > 0)
		l->n += (size_t)k;
	if (l->n >= sizeof(l->b))
		l->n = sizeof(l->b) - 1;
}

static void add(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(l, fmt, ap);
	va_end(ap);
}

/*
 * A whole line to stderr in one write (stderr is unbuffered: lines from
 * several tools on one terminal do not mix mid-line). When stdout left
 * that same terminal mid-line (a peer's "abc"), a newline first, so the
 * line does not run on as "abchangup: ...": the byte vadd() keeps free.
 */
static void put_stderr(struct line *l)
{
	if (cli_out_midline()) {
		memmove(l->b + 1, l->b, l->n);
		l->b[0] = '\n';
		l->n++;
	}
	fwrite(l->b, 1, l->n, stderr);
}

void cli_diag(const char *fmt, ...)
{
	struct line l;
	va_list ap;

	l.n = 0;
	va_start(ap, fmt);
	vadd(&l, fmt, ap);
	va_end(ap);
	put_stderr(&l);
}

/* The length of the UTF-8 sequence at p (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	size_t n = (p[0] & 0xe0) == 0xc0   ? 2
		   : (p[0] & 0xf0) == 0xe0 ? 3
		   : (p[0] & 0xf8) == 0xf0 ? 4
					   : 0;
	if (n == 0 || (n == 2 && p[0] < 0xc2) || (n == 4 && p[0] > 0xf4))
		return 0; /* overlong, or beyond U+10FFFF */
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 &&
	    ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0)))
		return 0; /* overlong, or a surrogate */
	if (n == 4 &&
	    ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90)))
		return 0;
	return n;
}

size_t cli_json_string(char *buf, size_t size, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

#define PUT(c)                              \
	do {                                \
		if (n + 1 < size)           \
			buf[n] = (char)(c); \
		n++;                        \
	} while (0)
	PUT('"');
	while (*p) {
		size_t k = utf8_len(p);
		char esc[8];

		if (*p == '"' || *p == '\\') {
			PUT('\\');
			PUT(*p++);
		} else if (*p == '\n' || *p == '\t' || *p == '\r') {
			PUT('\\');
			PUT(*p == '\n' ? 'n' : *p == '\t' ? 't' : 'r');
			p++;
		} else if (*p < 0x20 || *p == 0x7f || k == 0) {
			/* Control characters, and bytes that are not UTF-8
			 * (a Unix path may hold any byte): as code points
			 * U+0000..U+00FF, so distinct bytes stay distinct. */
			snprintf(esc, sizeof(esc), "\\u%04x", *p++);
			for (char *e = esc; *e; e++)
				PUT(*e);
		} else {
			while (k-- > 0)
				PUT(*p++);
		}
	}
	PUT('"');
#undef PUT
	if (size > 0)
		buf[n < size ? n : size - 1] = '\0';
	return n;
}

static void add_str(struct line *l, const char *key, const char *s)
{
	if (s == NULL) {
		add(l, ",\"%s\":null", key);
		return;
	}
	add(l, ",\"%s\":", key);
	if (l->n < sizeof(l->b)) {
		size_t k = cli_json_string(l->b + l->n, sizeof(l->b) - l->n, s);
		l->n += k;
		if (l->n >= sizeof(l->b))
			l->n = sizeof(l->b) - 1;
	}
}

static void emit(struct line *l)
{
	if (json) {
		char now[40];

		iso8601(now, sizeof(now));
		add(l, ",\"t\":%llu,\"time\":\"%s\"}\n", cli_elapsed_ms(), now);
		(void)cli_out(l->b, l->n);
	} else {
		add(l, "\n");
		put_stderr(l);
	}
}

static void text_head(struct line *l)
{
	unsigned long long t = cli_elapsed_ms();

	add(l, "hangup: [%4llu.%03llu] ", t / 1000, t % 1000);
}

void cli_event_listening(const char *addr)
{
	struct line l = {.n = 0};

	if (json) {
		add(&l, "{\"event\":\"listening\"");
		add_str(&l, "addr", addr);
	} else {
		text_head(&l);
		add(&l, "listening %s", addr);
	}
	emit(&l);
}

const char *cli_event_name(int kind)
{
	static const char *const names[] = {
	    [CLI_EVENT_OPEN] = "open",
	    [CLI_EVENT_EOF] = "eof",
	    [CLI_EVENT_CLOSE] = "close",
	    [CLI_EVENT_PROBE] = "probe",
	};

	if (kind < 0 || (size_t)kind >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[kind];
}

/* What hu_probe() saw, after the common keys: the peer as it looks
 * (open, eof, gone), the TCP state, and the two queues. */
static void add_probe(struct line *l, const struct hu_probe *p)
{
	add_str(l, "seen", hu_peer_name(p->peer));
	add_str(l, "tcp_state", hu_tcp_state_name(p->tcp_state));
	add(l, ",\"unread\":%zu,\"unsent\":%zu", p->unread, p->unsent);
}

void cli_event(const struct cli_event *e)
{
	const struct hu_close_info *in = e->info;
	const char *phase = hu_phase_name(e->phase);
	unsigned long long bin = in ? in->bytes_in : e->bytes_in;
	unsigned long long bout = in ? in->bytes_out : e->bytes_out;
	unsigned long long ms = in ? in->duration_ms : e->ms;
	int err = in ? in->error : e->probe ? e->probe->error : 0;
	const char *en = hu_errno_name(err);
	char num[16];
	struct line l = {.n = 0};

	if (err != 0 && en == NULL) {
		/* An errno hangup has no name for: its number, not null. */
		snprintf(num, sizeof(num), "%d", err);
		en = num;
	}

	if (json) {
		add(&l, "{\"event\":\"%s\"", cli_event_name(e->kind));
		if (e->conn != 0)
			add(&l, ",\"conn\":%llu", e->conn);
		else
			add(&l, ",\"conn\":null"); /* no connection made */
		add_str(&l, "peer", e->peer);
		add_str(&l, "reason", in ? hu_reason_name(in->reason) : NULL);
		add_str(&l, "phase", phase);
		add_str(&l, "errno", en);
		add(&l, ",\"bytes_in\":%llu,\"bytes_out\":%llu", bin, bout);
		if (in)
			add(&l, ",\"undelivered\":%llu,\"discarded\":%llu",
			    in->undelivered, in->discarded);
		else
			add(&l, ",\"undelivered\":null,\"discarded\":null");
		add(&l, ",\"ms\":%llu", ms);
		if (e->probe)
			add_probe(&l, e->probe);
		emit(&l);
		return;
	}
	text_head(&l);
	if (e->conn != 0)
		add(&l, "#%llu", e->conn);
	else
		add(&l, "#-");
	add(&l, " %s %s", e->peer ? e->peer : "?", cli_event_name(e->kind));
	if (in) {
		add(&l, " reason=%s errno=%s", hu_reason_name(in->reason),
		    en ? en : "-");
	}
	if (in || e->kind != CLI_EVENT_OPEN)
		add(&l, " phase=%s in=%llu out=%llu", phase, bin, bout);
	if (in)
		add(&l, " undelivered=%llu", in->undelivered);
	/* Of in=, the bytes read and dropped while closing: said only when
	 * there were some, so the usual line stays short. */
	if (in && in->discarded > 0)
		add(&l, " discarded=%llu", in->discarded);
	add(&l, " ms=%llu", ms);
	emit(&l);
}

void cli_event_close(unsigned long long conn, const char *peer,
		     const struct hu_close_info *info)
{
	struct cli_event e = {
	    .kind = CLI_EVENT_CLOSE,
	    .conn = conn,
	    .peer = peer,
	    .phase = info->phase,
	    .info = info,
	};
	cli_event(&e);
}

void cli_event_peer(const struct hu_addr *a, const char *text, char *buf,
		    size_t size)
{
	const struct sockaddr *sa = (const struct sockaddr *)&a->sa;

	if (hu_addr_format(sa, a->len, buf, size) < 0)
		snprintf(buf, size, "%s", text);
}

const char *cli_errno_name(int err)
{
	const char *en = hu_errno_name(err);

	return en ? en : "?";
}
