/*
 * prom.c -- `--prometheus ADDR`: GET /metrics in OpenMetrics text format,
 * so that the Prometheus a fleet already runs collects every host.
 *
 *   hangup_watch_ends_total{reason,first_fin,rst,port}  counter
 *   hangup_watch_lost_samples_total, hangup_watch_netlink_overruns_total,
 *   hangup_watch_unmatched_total{source}                counters
 *   hangup_watch_duration_seconds                       histogram
 *
 * Label cardinality is bounded: `port` is the local port of an accepted
 * socket or the peer's port of one we opened, for the first MAX_PORTS
 * ports seen; every other port is "other". reason, first_fin and rst take
 * a handful of words each.
 *
 * The server is deliberately small: one request per connection, read with
 * a short timeout, answered, closed; it runs in the watch's own loop.
 */
#include "../cli.h"
#include "out.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PORTS 32
#define MAX_SERIES 512
#define NBUCKETS 12

static const double bucket_s[NBUCKETS] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
					  1,     5,     10,   60,   300, 3600};

struct series {
	const char *reason, *fin, *rst;
	int port; /* -1: other */
	uint64_t n;
};

struct wprom {
	int fd;
	int ports[MAX_PORTS], nports;
	struct series s[MAX_SERIES];
	int ns;
	uint64_t overflow;
	uint64_t bucket[NBUCKETS + 1], count;
	double sum;
};

struct wprom *wprom_new(const char *addr, char *err, size_t len)
{
	struct hu_addr a;

	if (hu_addr_parse(addr, &a) < 0 ||
	    (a.sa.ss_family != AF_INET && a.sa.ss_family != AF_INET6)) {
		snprintf(err, len, "--prometheus '%s': not HOST:PORT", addr);
		return NULL;
	}
	struct wprom *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	int one = 1;
	p->fd = socket(a.sa.ss_family,
		       SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (p->fd >= 0)
		setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&a.sa, a.len) < 0 ||
	    listen(p->fd, 16) < 0) {
		snprintf(err, len, "--prometheus %s: %s", addr,
			 strerror(errno));
		if (p->fd >= 0)
			close(p->fd);
		free(p);
		return NULL;
	}
	/* Port 0 asks the kernel for one: say which, on stderr. */
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char b[80];
	if (getsockname(p->fd, (struct sockaddr *)&ss, &sl) == 0) {
		watch_addr_str(&ss, b, sizeof(b));
		fprintf(stderr, "hangup watch: metrics on http://%s/metrics\n",
			b);
	}
	return p;
}

int wprom_fd(const struct wprom *p)
{
	return p->fd;
}

static int port_label(struct wprom *p, int port)
{
	for (int i = 0; i < p->nports; i++)
		if (p->ports[i] == port)
			return port;
	if (p->nports == MAX_PORTS)
		return -1;
	p->ports[p->nports++] = port;
	return port;
}

void wprom_add(struct wprom *p, const struct watch_record *r)
{
	int port = port_label(p, watch_port(r->origin == WATCH_ORIGIN_OPENED
						? &r->peer
						: &r->local));
	const char *fin = watch_who_name(r->first_fin);
	const char *rst = watch_who_name(r->rst_first);
	int i;

	for (i = 0; i < p->ns; i++)
		if (p->s[i].port == port && p->s[i].reason == r->reason &&
		    p->s[i].fin == fin && p->s[i].rst == rst)
			break;
	if (i == p->ns) {
		if (p->ns == MAX_SERIES) {
			p->overflow++;
			return;
		}
		p->s[p->ns++] = (struct series){r->reason, fin, rst, port, 0};
	}
	p->s[i].n++;
	if (r->start_ns && r->end_ns >= r->start_ns) {
		double d = (double)(r->end_ns - r->start_ns) / 1e9;
		int b = 0;
		while (b < NBUCKETS && d > bucket_s[b])
			b++;
		p->bucket[b]++;
		p->count++;
		p->sum += d;
	}
}

static size_t body(struct wprom *p, const struct watch_stats *st, char *b,
		   size_t n)
{
	FILE *f = fmemopen(b, n, "w");
	char port[16];

	if (!f)
		return 0;
	fprintf(f,
		"# TYPE hangup_watch_ends counter\n"
		"# HELP hangup_watch_ends TCP sockets that ended, by reason, "
		"who sent the first FIN, who sent the first RST, and port.\n");
	for (int i = 0; i < p->ns; i++) {
		if (p->s[i].port < 0)
			snprintf(port, sizeof(port), "other");
		else
			snprintf(port, sizeof(port), "%d", p->s[i].port);
		fprintf(
		    f,
		    "hangup_watch_ends_total{reason=\"%s\",first_fin=\"%s\","
		    "rst=\"%s\",port=\"%s\"} %llu\n",
		    p->s[i].reason, p->s[i].fin, p->s[i].rst, port,
		    (unsigned long long)p->s[i].n);
	}
	fprintf(f,
		"# TYPE hangup_watch_lost_samples counter\n"
		"# HELP hangup_watch_lost_samples Tracepoint samples the "
		"kernel dropped (ring full).\n"
		"hangup_watch_lost_samples_total %llu\n"
		"# TYPE hangup_watch_netlink_overruns counter\n"
		"# HELP hangup_watch_netlink_overruns sock_diag messages lost "
		"(ENOBUFS).\n"
		"hangup_watch_netlink_overruns_total %llu\n"
		"# TYPE hangup_watch_unmatched counter\n"
		"# HELP hangup_watch_unmatched Ends seen by one source only.\n"
		"hangup_watch_unmatched_total{source=\"trace\"} %llu\n"
		"hangup_watch_unmatched_total{source=\"diag\"} %llu\n"
		"# TYPE hangup_watch_series_overflow counter\n"
		"# HELP hangup_watch_series_overflow Ends not counted by label "
		"(too many series).\n"
		"hangup_watch_series_overflow_total %llu\n",
		(unsigned long long)st->lost_samples,
		(unsigned long long)st->netlink_overruns,
		(unsigned long long)st->unmatched_trace,
		(unsigned long long)st->unmatched_diag,
		(unsigned long long)p->overflow);
	fprintf(f, "# TYPE hangup_watch_duration_seconds histogram\n"
		   "# HELP hangup_watch_duration_seconds How long connections "
		   "lived (those seen from their start).\n");
	uint64_t cum = 0;
	for (int i = 0; i <= NBUCKETS; i++) {
		cum += p->bucket[i];
		if (i < NBUCKETS)
			fprintf(
			    f,
			    "hangup_watch_duration_seconds_bucket{le=\"%g\"} "
			    "%llu\n",
			    bucket_s[i], (unsigned long long)cum);
		else
			fprintf(
			    f,
			    "hangup_watch_duration_seconds_bucket{le=\"+Inf\"}"
			    " %llu\n",
			    (unsigned long long)cum);
	}
	fprintf(f,
		"hangup_watch_duration_seconds_count %llu\n"
		"hangup_watch_duration_seconds_sum %.6f\n# EOF\n",
		(unsigned long long)p->count, p->sum);
	long len = ftell(f);
	fclose(f);
	return len > 0 ? (size_t)len : 0;
}

static void answer(struct wprom *p, int c, const struct watch_stats *st)
{
	static char b[256 * 1024];
	char req[2048], hdr[256];
	struct pollfd pf = {c, POLLIN, 0};
	size_t got = 0;

	/* The request line and headers, for at most 1 s. */
	while (got < sizeof(req) - 1 && poll(&pf, 1, 1000) == 1) {
		ssize_t k = recv(c, req + got, sizeof(req) - 1 - got, 0);
		if (k <= 0)
			break;
		got += (size_t)k;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[got] = '\0';
	int ok = strncmp(req, "GET /metrics ", 13) == 0;
	size_t n = ok ? body(p, st, b, sizeof(b)) : 0;
	int h = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 ok ? "200 OK" : "404 Not Found",
			 "application/openmetrics-text; version=1.0.0; "
			 "charset=utf-8",
			 n);
	send(c, hdr, (size_t)h, MSG_NOSIGNAL);
	for (size_t off = 0; off < n;) {
		ssize_t k = send(c, b + off, n - off, MSG_NOSIGNAL);
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	shutdown(c, SHUT_WR);
}

void wprom_serve(struct wprom *p, const struct watch_stats *st)
{
	int c;

	while ((c = accept4(p->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		answer(p, c, st);
		close(c);
	}
}

void wprom_free(struct wprom *p)
{
	if (!p)
		return;
	close(p->fd);
	free(p);
}
