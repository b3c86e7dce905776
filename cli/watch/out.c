/*
 * out.c -- one line per record, for a person or for jq.
 *
 * Text, fields in a fixed order (a count the kernel did not tell is "?",
 * a thing that did not happen is "-"):
 *
 *   [   2.113] 127.0.0.1:5000 127.0.0.1:41862 accepted reason=abort
 *   detail=unread-data fin=none rst=local state=ESTABLISHED in=6 out=0
 *   unread=6 undelivered=0 retrans=0 rtt_us=52 ms=101 pid=4242
 *   comm=python3
 *
 * JSON, one object per line with the same keys every time (null where a
 * value is unknown or does not apply), field names in the style of
 * `hangup listen --json` (reason, phase, errno, bytes_in, bytes_out,
 * undelivered, ms, t, time).
 */
#include "out.h"
#include "../cli.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int json;
static uint64_t t0_ns;
static int64_t wall_minus_mono; /* ns */

void wout_init(int as_json, uint64_t t0)
{
	struct timespec m, w;

	json = as_json;
	t0_ns = t0;
	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &w);
	wall_minus_mono = ((int64_t)w.tv_sec - m.tv_sec) * 1000000000LL +
			  (w.tv_nsec - m.tv_nsec);
}

uint64_t wout_t_ms(uint64_t ns)
{
	return ns > t0_ns ? (ns - t0_ns) / 1000000 : 0;
}

void wout_iso8601(uint64_t mono_ns, char *buf, size_t n)
{
	int64_t w = (int64_t)mono_ns + wall_minus_mono;
	time_t s = (time_t)(w / 1000000000LL);
	static time_t last = -1;
	static char sec[32];
	static size_t k;
	struct tm tm;

	if (s != last) { /* gmtime+strftime once a second, not per record */
		gmtime_r(&s, &tm);
		k = strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
		last = s;
	}
	/* "%s.%03dZ" by hand: snprintf per record cost more than the rest
	 * of this function. */
	int ms = (int)(w / 1000000 % 1000);
	if (k + 6 > n) { /* callers pass 40: never */
		if (n)
			buf[0] = '\0';
		return;
	}
	memcpy(buf, sec, k);
	buf[k] = '.';
	buf[k + 1] = (char)('0' + ms / 100);
	buf[k + 2] = (char)('0' + ms / 10 % 10);
	buf[k + 3] = (char)('0' + ms % 10);
	buf[k + 4] = 'Z';
	buf[k + 5] = '\0';
}

void wout_host(const struct sockaddr_storage *a, char *buf, size_t n)
{
	const void *p =
	    a->ss_family == AF_INET
		? (const void *)&((const struct sockaddr_in *)a)->sin_addr
		: (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr;
	if (a->ss_family != AF_INET && a->ss_family != AF_INET6)
		snprintf(buf, n, "?");
	else if (!inet_ntop(a->ss_family, p, buf, (socklen_t)n))
		snprintf(buf, n, "?");
}

/* A count, or the word for unknown. */
static const char *num(char *b, size_t n, uint64_t v, const char *unknown)
{
	if (v == WATCH_UNKNOWN)
		return unknown;
	snprintf(b, n, "%llu", (unsigned long long)v);
	return b;
}

static uint64_t dur_ms(const struct watch_record *r)
{
	return r->start_ns && r->end_ns >= r->start_ns
		   ? (r->end_ns - r->start_ns) / 1000000
		   : WATCH_UNKNOWN;
}

static void text(FILE *f, const struct watch_record *r)
{
	char l[64], p[64], b[8][24];
	const char *rst =
	    r->rst_first == WATCH_WHO_NONE ? "-" : watch_who_name(r->rst_first);

	watch_addr_str(&r->local, l, sizeof(l));
	watch_addr_str(&r->peer, p, sizeof(p));
	fprintf(f,
		"[%4llu.%03llu] %s %s %s reason=%s detail=%s fin=%s rst=%s "
		"state=%s in=%s out=%s unread=%s undelivered=%s retrans=%s "
		"rtt_us=%s ms=%s",
		(unsigned long long)wout_t_ms(r->end_ns) / 1000,
		(unsigned long long)wout_t_ms(r->end_ns) % 1000, l, p,
		watch_origin_name(r->origin), r->reason,
		r->detail ? r->detail : "-", watch_who_name(r->first_fin), rst,
		r->state ? r->state : "?", num(b[0], 24, r->bytes_in, "?"),
		num(b[1], 24, r->bytes_out, "?"), num(b[2], 24, r->unread, "?"),
		num(b[3], 24, r->undelivered, "?"),
		num(b[4], 24, r->retransmits, "?"),
		num(b[5], 24, r->rtt_us, "?"), num(b[6], 24, dur_ms(r), "?"));
	if (r->pid >= 0)
		fprintf(f, " pid=%d comm=%s", r->pid,
			r->comm[0] ? r->comm : "unknown");
	else
		fprintf(f, " pid=unknown");
	if (r->netns && strcmp(r->netns, "host") != 0)
		fprintf(f, " netns=%s", r->netns);
	fputc('\n', f);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A JSON line built by hand: fprintf() with thirty conversions was half of
 * watch's CPU per record at 20k records/s, and strlen() on every key and
 * word most of what was left: keys are literals whose length the compiler
 * knows (JKEY), values are copied as they are scanned. */
struct jb {
	char b[2048];
	size_t n;
};

/* ,"key": and its length, as two arguments. */
#define JKEY(k) ",\"" k "\":", sizeof(",\"" k "\":") - 1

static void jput(struct jb *j, const char *s, size_t k)
{
	if (j->n + k < sizeof(j->b)) {
		memcpy(j->b + j->n, s, k);
		j->n += k;
	}
}

static void jnum(struct jb *j, const char *key, size_t klen, uint64_t v)
{
	char d[24], *e = d + sizeof(d);

	jput(j, key, klen);
	if (v == WATCH_UNKNOWN) {
		jput(j, "null", 4);
		return;
	}
	do
		*--e = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	jput(j, e, (size_t)(d + sizeof(d) - e));
}

/* A string (escaped) or null. */
static void jstring(struct jb *j, const char *key, size_t klen, const char *v)
{
	jput(j, key, klen);
	if (!v) {
		jput(j, "null", 4);
		return;
	}
	/* Nearly every string here (addresses, words, a time) needs no
	 * escape: copied between quotes as it is scanned while every byte
	 * is printable ASCII other than '"' and '\\' (what cli_json_string()
	 * writes for those too); else written again by cli_json_string(). */
	size_t n = j->n, k = 0;
	char *b = j->b;
	if (n + 2 < sizeof(j->b)) {
		b[n++] = '"';
		for (;; k++) {
			char c = v[k];
			if (!c || c < 0x20 || c >= 0x7f || c == '"' ||
			    c == '\\' || n + 2 >= sizeof(j->b))
				break;
			b[n++] = c;
		}
		if (!v[k]) {
			b[n++] = '"';
			j->n = n;
			return;
		}
	}
	j->n += cli_json_string(j->b + j->n, sizeof(j->b) - j->n, v);
	if (j->n >= sizeof(j->b))
		j->n = sizeof(j->b) - 1;
}

static void jbool(struct jb *j, const char *key, size_t klen, int v)
{
	jput(j, key, klen);
	if (v)
		jput(j, "true", 4);
	else
		jput(j, "false", 5);
}

static void json_line(FILE *f, const struct watch_record *r)
{
	static const char start[] = "{\"event\":\"end\"";
	struct jb j = {.n = 0};
	char a[64], t[40];

	jput(&j, start, sizeof(start) - 1);
	watch_addr_str(&r->local, a, sizeof(a));
	jstring(&j, JKEY("local"), a);
	watch_addr_str(&r->peer, a, sizeof(a));
	jstring(&j, JKEY("peer"), a);
	jstring(&j, JKEY("family"), r->family == AF_INET6 ? "ipv6" : "ipv4");
	jstring(&j, JKEY("origin"), watch_origin_name(r->origin));
	jstring(&j, JKEY("reason"), r->reason);
	jstring(&j, JKEY("detail"), r->detail);
	jstring(&j, JKEY("rst_reason"), r->rst_reason);
	jstring(&j, JKEY("first_fin"), watch_who_name(r->first_fin));
	jstring(&j, JKEY("rst"), watch_who_name(r->rst_first));
	jbool(&j, JKEY("rst_sent"), r->rst_sent);
	jbool(&j, JKEY("rst_received"), r->rst_received);
	jstring(&j, JKEY("errno"), r->error ? hu_errno_name(r->error) : NULL);
	jstring(&j, JKEY("state"), r->state);
	jstring(&j, JKEY("phase"), r->phase);
	jnum(&j, JKEY("bytes_in"), r->bytes_in);
	jnum(&j, JKEY("bytes_out"), r->bytes_out);
	jnum(&j, JKEY("unread"), r->unread);
	jnum(&j, JKEY("undelivered"), r->undelivered);
	jnum(&j, JKEY("retransmits"), r->retransmits);
	jnum(&j, JKEY("rtt_us"), r->rtt_us);
	jnum(&j, JKEY("ms"), dur_ms(r));
	jnum(&j, JKEY("pid"), r->pid >= 0 ? (uint64_t)r->pid : WATCH_UNKNOWN);
	jstring(&j, JKEY("comm"), r->comm[0] ? r->comm : NULL);
	jstring(&j, JKEY("netns"), r->netns);
	jnum(&j, JKEY("cookie"), r->cookie);
	jnum(&j, JKEY("delay_us"), (now_ns() - r->end_ns) / 1000);
	jnum(&j, JKEY("t"), wout_t_ms(r->end_ns));
	wout_iso8601(r->end_ns, t, sizeof(t));
	jstring(&j, JKEY("time"), t);
	jput(&j, "}\n", 2);
	fwrite(j.b, 1, j.n, f);
}

void wout_record(FILE *f, const struct watch_record *r)
{
	if (json)
		json_line(f, r);
	else
		text(f, r);
}

void wout_loss(FILE *f, const struct watch_stats *now,
	       const struct watch_stats *before)
{
	uint64_t ls = now->lost_samples - before->lost_samples;
	uint64_t ov = now->netlink_overruns - before->netlink_overruns;
	struct timespec ts;
	char t[40];

	if (!ls && !ov)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns =
	    (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	wout_iso8601(ns, t, sizeof(t));
	if (json)
		fprintf(
		    f,
		    "{\"event\":\"lost\",\"lost_samples\":%llu,"
		    "\"netlink_overruns\":%llu,\"t\":%llu,\"time\":\"%s\"}\n",
		    (unsigned long long)ls, (unsigned long long)ov,
		    (unsigned long long)wout_t_ms(ns), t);
	else
		fprintf(f,
			"[%4llu.%03llu] LOST tracepoint samples=%llu "
			"sock_diag overruns=%llu (records are missing or "
			"incomplete)\n",
			(unsigned long long)wout_t_ms(ns) / 1000,
			(unsigned long long)wout_t_ms(ns) % 1000,
			(unsigned long long)ls, (unsigned long long)ov);
}
