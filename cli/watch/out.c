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
	struct tm tm;

	gmtime_r(&s, &tm);
	size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, n - k, ".%03dZ", (int)(w / 1000000 % 1000));
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

/* A JSON string or null. */
static const char *jstr(char *b, size_t n, const char *s)
{
	if (!s)
		return "null";
	cli_json_string(b, n, s);
	return b;
}

static void json_line(FILE *f, const struct watch_record *r)
{
	char l[64], p[64], t[40], s[6][160], b[8][24];
	const char *en = r->error ? hu_errno_name(r->error) : NULL;

	watch_addr_str(&r->local, l, sizeof(l));
	watch_addr_str(&r->peer, p, sizeof(p));
	wout_iso8601(r->end_ns, t, sizeof(t));
	fprintf(f,
		"{\"event\":\"end\",\"local\":\"%s\",\"peer\":\"%s\","
		"\"family\":\"%s\",\"origin\":\"%s\",\"reason\":\"%s\","
		"\"detail\":%s,\"rst_reason\":%s,\"first_fin\":\"%s\","
		"\"rst\":\"%s\",\"rst_sent\":%s,\"rst_received\":%s,"
		"\"errno\":%s,\"state\":%s,\"phase\":%s,",
		l, p, r->family == AF_INET6 ? "ipv6" : "ipv4",
		watch_origin_name(r->origin), r->reason,
		jstr(s[0], 160, r->detail), jstr(s[1], 160, r->rst_reason),
		watch_who_name(r->first_fin), watch_who_name(r->rst_first),
		r->rst_sent ? "true" : "false",
		r->rst_received ? "true" : "false", jstr(s[2], 160, en),
		jstr(s[3], 160, r->state), jstr(s[4], 160, r->phase));
	fprintf(
	    f,
	    "\"bytes_in\":%s,\"bytes_out\":%s,\"unread\":%s,"
	    "\"undelivered\":%s,\"retransmits\":%s,\"rtt_us\":%s,"
	    "\"ms\":%s,\"pid\":%s,\"comm\":%s,\"netns\":%s,"
	    "\"cookie\":%llu,\"delay_us\":%llu,\"t\":%llu,\"time\":\"%s\"}\n",
	    num(b[0], 24, r->bytes_in, "null"),
	    num(b[1], 24, r->bytes_out, "null"),
	    num(b[2], 24, r->unread, "null"),
	    num(b[3], 24, r->undelivered, "null"),
	    num(b[4], 24, r->retransmits, "null"),
	    num(b[5], 24, r->rtt_us, "null"), num(b[6], 24, dur_ms(r), "null"),
	    r->pid >= 0 ? num(b[7], 24, (uint64_t)r->pid, "null") : "null",
	    jstr(s[5], 160, r->comm[0] ? r->comm : NULL),
	    jstr(s[1], 160, r->netns), (unsigned long long)r->cookie,
	    (unsigned long long)((now_ns() - r->end_ns) / 1000),
	    (unsigned long long)wout_t_ms(r->end_ns), t);
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
