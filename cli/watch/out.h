/*
 * out.h -- what `hangup watch` prints: record lines (out.c), the periodic
 * summary table (summary.c) and the Prometheus endpoint (prom.c).
 */
#ifndef HU_WATCH_OUT_H
#define HU_WATCH_OUT_H

#include "watch.h"

#include <stdint.h>
#include <stdio.h>

/* Record lines: text for a person, or JSON lines. t0 is the tool's start
 * (CLOCK_MONOTONIC ns). */
void wout_init(int json, uint64_t t0);
void wout_record(FILE *f, const struct watch_record *r);
/* A line saying what was lost since the last one (only when something
 * was). */
void wout_loss(FILE *f, const struct watch_stats *now,
	       const struct watch_stats *before);
/* "127.0.0.1" without the port, for grouping. */
void wout_host(const struct sockaddr_storage *a, char *buf, size_t n);
/* ms since the tool's start, for `t`; the wall clock of a monotonic
 * instant, ISO 8601. */
uint64_t wout_t_ms(uint64_t ns);
void wout_iso8601(uint64_t mono_ns, char *buf, size_t n);

/* The summary: add records, print and reset every SECS. */
struct wsum;
struct wsum *wsum_new(void);
void wsum_add(struct wsum *s, const struct watch_record *r);
void wsum_print(struct wsum *s, FILE *f, const struct watch_stats *st,
		unsigned secs);
void wsum_free(struct wsum *s);

/* Prometheus /metrics (OpenMetrics text), on a listening socket that the
 * command polls. */
struct wprom;
struct wprom *wprom_new(const char *addr, char *err, size_t len);
int wprom_fd(const struct wprom *p);
void wprom_add(struct wprom *p, const struct watch_record *r);
/* Accept and answer the scrapes that are waiting. */
void wprom_serve(struct wprom *p, const struct watch_stats *st);
void wprom_free(struct wprom *p);

#endif
