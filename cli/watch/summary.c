/*
 * summary.c -- `--summary SECS`: every SECS, one row per service and
 * reason -- what an operator reads first during an incident: which service
 * is losing connections, and how.
 *
 * The service of a record is the local port of an accepted socket (":80":
 * our server), or the peer's address of one we opened ("10.0.0.5:5432":
 * a server we use); a socket that predates the watch is grouped by its
 * local port. Durations are kept per row (up to MAX_DUR per interval, the
 * rest counted) for p50 and p99.
 */
#include "out.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 256
#define MAX_DUR 4096

struct row {
	char service[64];
	const char *reason;
	uint64_t ends, in, out, unread, undelivered;
	uint64_t *dur;
	size_t ndur;
};

struct wsum {
	struct row row[MAX_ROWS];
	int n;
	uint64_t other; /* records that found no free row */
};

struct wsum *wsum_new(void)
{
	return calloc(1, sizeof(struct wsum));
}

void wsum_free(struct wsum *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++)
		free(s->row[i].dur);
	free(s);
}

static void service(const struct watch_record *r, char *b, size_t n)
{
	if (r->origin == WATCH_ORIGIN_OPENED)
		watch_addr_str(&r->peer, b, n);
	else
		snprintf(b, n, ":%u", watch_port(&r->local));
}

static struct row *row_for(struct wsum *s, const char *svc, const char *why)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->row[i].service, svc) == 0 &&
		    strcmp(s->row[i].reason, why) == 0)
			return &s->row[i];
	if (s->n == MAX_ROWS)
		return NULL;
	struct row *r = &s->row[s->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->service, sizeof(r->service), "%s", svc);
	r->reason = why;
	return r;
}

static void add(uint64_t *sum, uint64_t v)
{
	if (v != WATCH_UNKNOWN)
		*sum += v;
}

void wsum_add(struct wsum *s, const struct watch_record *r)
{
	char svc[64];

	service(r, svc, sizeof(svc));
	struct row *w = row_for(s, svc, r->reason);
	if (!w) {
		s->other++;
		return;
	}
	w->ends++;
	add(&w->in, r->bytes_in);
	add(&w->out, r->bytes_out);
	add(&w->unread, r->unread);
	add(&w->undelivered, r->undelivered);
	if (r->start_ns && r->end_ns >= r->start_ns) {
		if (!w->dur)
			w->dur = malloc(MAX_DUR * sizeof(*w->dur));
		if (w->dur && w->ndur < MAX_DUR)
			w->dur[w->ndur++] = (r->end_ns - r->start_ns) / 1000;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-th percentile in ms, as text ("-" without any duration). */
static const char *pct(struct row *r, int q, char *b, size_t n)
{
	if (!r->ndur)
		return "-";
	size_t i = (r->ndur * (size_t)q + 99) / 100;
	i = i ? i - 1 : 0;
	snprintf(b, n, "%.1f", (double)r->dur[i] / 1000.0);
	return b;
}

void wsum_print(struct wsum *s, FILE *f, const struct watch_stats *st,
		unsigned secs)
{
	char a[24], b[24];

	fprintf(f,
		"-- last %us: %d rows; lost: %llu tracepoint samples, %llu "
		"sock_diag overruns (totals since start)\n",
		secs, s->n, (unsigned long long)st->lost_samples,
		(unsigned long long)st->netlink_overruns);
	fprintf(f, "%-24s %-16s %8s %10s %10s %8s %11s %9s %9s\n", "service",
		"reason", "ends", "bytes_in", "bytes_out", "unread",
		"undelivered", "p50_ms", "p99_ms");
	for (int i = 0; i < s->n; i++) {
		struct row *r = &s->row[i];
		if (r->ndur)
			qsort(r->dur, r->ndur, sizeof(*r->dur), cmp_u64);
		fprintf(
		    f, "%-24s %-16s %8llu %10llu %10llu %8llu %11llu %9s %9s\n",
		    r->service, r->reason, (unsigned long long)r->ends,
		    (unsigned long long)r->in, (unsigned long long)r->out,
		    (unsigned long long)r->unread,
		    (unsigned long long)r->undelivered,
		    pct(r, 50, a, sizeof(a)), pct(r, 99, b, sizeof(b)));
		free(r->dur);
	}
	if (s->other)
		fprintf(f, "(%llu more ends in services beyond %d rows)\n",
			(unsigned long long)s->other, MAX_ROWS);
	s->n = 0;
	s->other = 0;
}
