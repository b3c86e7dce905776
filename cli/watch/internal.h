/*
 * internal.h -- the parts of the watch engine: tracefs formats (tracefs.c),
 * per-CPU perf rings (perf.c), sock_diag sockets (diag.c), the join and
 * classification (engine.c, flow.c).
 */
#ifndef HU_WATCH_INTERNAL_H
#define HU_WATCH_INTERNAL_H

#include "watch.h"

#include <stddef.h>
#include <stdint.h>

/* ---- tracefs.c: a tracepoint's id and field layout, read at run time ---- */

#define TP_MAX_FIELDS 24
#define TP_MAX_SYMS 40

struct tp_field {
	char name[32];
	int offset, size; /* -1: absent */
};

/* The fields the engine reads, looked up by name once (tp_load), not per
 * sample. */
enum tp_key {
	TPF_FLAGS,
	TPF_SKADDR,
	TPF_COOKIE,
	TPF_OLDSTATE,
	TPF_NEWSTATE,
	TPF_STATE,
	TPF_REASON,
	TPF_ERROR,
	TPF_PROTOCOL,
	TPF_FAMILY,
	TPF_SPORT,
	TPF_DPORT,
	TPF_SADDR,
	TPF_DADDR,
	TPF_SADDR6,
	TPF_DADDR6,
	TPF_COUNT
};

struct tp_format {
	int id; /* -1: the tracepoint does not exist */
	int nfields;
	struct tp_field f[TP_MAX_FIELDS];
	const struct tp_field *k[TPF_COUNT]; /* NULL: no such field */
};

/* tcp_send_reset's reason names, from its print fmt. */
struct tp_syms {
	int n;
	int value[TP_MAX_SYMS];
	char name[TP_MAX_SYMS][32];
};

enum tp_kind {
	TP_SET_STATE,
	TP_DESTROY,
	TP_RECV_RESET,
	TP_SEND_RESET,
	TP_RETRANSMIT,
	TP_ERROR_REPORT,
	TP_COUNT
};

/* Read the formats of every event (mounting tracefs on a private
 * directory for the time it takes if it is not mounted, and unmounting
 * it). Returns 0, or -1 with a message in err. */
int tp_load(struct tp_format *fmt, struct tp_syms *rst, char *err, size_t len);
/* The field's offset and size, or NULL. */
const struct tp_field *tp_field(const struct tp_format *f, const char *name);

/* ---- perf.c: one ring per CPU, all events redirected into it ---- */

struct perf_ring {
	int fd; /* the CPU's first event; the others SET_OUTPUT here */
	void *base;
	size_t size; /* data area bytes (a power of two) */
	size_t page;
	int nfds;
	int fds[TP_COUNT];
};

/* A process's command from PERF_RECORD_COMM (exec, prctl), or a new
 * process from PERF_RECORD_FORK (comm NULL, ppid set). */
typedef void (*perf_task_fn)(void *arg, uint32_t pid, uint32_t ppid,
			     const char *comm, uint64_t time);

struct perf_set {
	int ncpus;
	struct perf_ring *ring;
	uint64_t lost;
	perf_task_fn on_task;
};

int perf_open(struct perf_set *p, const struct tp_format *fmt, char *err,
	      size_t len);
/* Call fn for every sample of every ring (then release the ring's space). */
typedef void (*perf_sample_fn)(void *arg, int cpu, uint32_t pid, uint64_t time,
			       const uint8_t *raw, uint32_t n);
void perf_read(struct perf_set *p, perf_sample_fn fn, void *arg);
void perf_close(struct perf_set *p);

/* ---- diag.c: sock_diag destroy multicast, one socket per namespace ---- */

#define DIAG_MAX_NS 64

struct diag_msg {
	uint64_t cookie;
	int family, state;
	struct sockaddr_storage local, peer;
	uint32_t rqueue, wqueue;
	int have_info;
	uint64_t bytes_acked, bytes_received, total_retrans, rtt_us;
	uint64_t bytes_sent, bytes_retrans;
	const char *netns;
};

struct diag_set {
	int n;
	int fd[DIAG_MAX_NS];
	char name[DIAG_MAX_NS][64];
	uint64_t overruns;
};

/* Open one socket per namespace in o (the host's when none is named).
 * Returns 0, -1 (err set), or -2 (a named namespace does not exist). */
int diag_open(struct diag_set *d, const struct watch_opts *o, char *err,
	      size_t len);
typedef void (*diag_msg_fn)(void *arg, const struct diag_msg *m);
void diag_read(struct diag_set *d, int i, diag_msg_fn fn, void *arg);
void diag_close(struct diag_set *d);

/* ---- misc ---- */
/* A sockaddr_in/in6 from an address (4 or 16 bytes) and a port in network
 * order (record.c). */
void watch_sockaddr(struct sockaddr_storage *ss, int family, const void *a,
		    uint16_t port_be);
uint64_t watch_now_ns(void);

#endif
