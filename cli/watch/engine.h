/*
 * engine.h -- the engine's state, shared by engine.c (sources, queue of
 * records) and events.c (tracepoint samples into flows).
 */
#ifndef HU_WATCH_ENGINE_H
#define HU_WATCH_ENGINE_H

#include "flow.h"

/* A sample's place in the sort: its time, then its index in ev. */
struct ev_key {
	uint64_t time;
	size_t i;
};

struct diag_pending {
	struct diag_msg m;
	uint64_t read_ns; /* when it was read */
};

struct engine {
	struct watch_opts opts;
	struct tp_format fmt[TP_COUNT];
	struct tp_syms syms;
	struct perf_set perf;
	struct diag_set diag;
	int trace_ok, diag_ok;
	int epfd;
	struct flow_table flows;
	/* Samples of one read, sorted by time before they are applied: the
	 * rings are per CPU, and one socket's events may sit in two. */
	struct tp_event *ev, *ev2; /* ev2: where the kept ones are moved */
	size_t nev, cap;
	struct ev_key *key; /* 2 * cap: the sort's keys and its scratch */
	/* sock_diag messages read before their socket's destroy sample was
	 * applied (the samples wait 10 ms, the message comes 0.2-5 ms after
	 * the destroy): retried after each round of samples. */
	struct diag_pending *pend;
	size_t npend, pcap;
	/* Ready records, a FIFO ring. */
	struct watch_record *ready;
	size_t rhead, rcount, rcap;
	struct watch_stats st;
	uint64_t hold_ns, diag_wait_ns;
	int debug; /* HANGUP_WATCH_DEBUG: every sample on stderr */
};

void ev_decode(const struct engine *g, int cpu, uint32_t pid, uint64_t time,
	       const uint8_t *raw, uint32_t n, struct tp_event *e);
void ev_apply(struct engine *g, const struct tp_event *e);
void ev_debug(const struct tp_event *e);
void ev_task(uint32_t pid, uint32_t ppid, const char *comm, uint64_t time);

#endif
