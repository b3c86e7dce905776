/*
 * flow.h -- what the engine knows about one socket while it is alive and
 * for a little while after the kernel destroyed it (flow.c keeps them;
 * engine.c feeds them events; record.c turns one into a watch_record).
 */
#ifndef HU_WATCH_FLOW_H
#define HU_WATCH_FLOW_H

#include "internal.h"

/* The kernel's TCP states (include/net/tcp_states.h). */
enum {
	TS_ESTABLISHED = 1,
	TS_SYN_SENT,
	TS_SYN_RECV,
	TS_FIN_WAIT1,
	TS_FIN_WAIT2,
	TS_TIME_WAIT,
	TS_CLOSE,
	TS_CLOSE_WAIT,
	TS_LAST_ACK,
	TS_LISTEN,
	TS_CLOSING,
	TS_NEW_SYN_RECV
};

/* Trace event common_flags (kernel/trace/trace.h, TRACE_FLAG_*). */
#define TF_HARDIRQ 0x08
#define TF_SOFTIRQ 0x10
#define TF_NMI 0x40
#define TF_BH_OFF 0x80

/* One decoded tracepoint sample. */
struct tp_event {
	uint64_t time;
	int type, cpu, flags;
	uint32_t pid;
	uint64_t skaddr, cookie;
	int oldstate, newstate, state, reason, error, protocol, family;
	uint16_t sport, dport;
	uint8_t saddr[16], daddr[16];
};

struct flow {
	struct flow *hnext, *cnext,
	    *qnext; /* skaddr hash, cookie hash, queue */
	uint64_t skaddr, cookie;
	int family;
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	enum watch_origin origin;
	enum watch_who first_fin, rst_first;
	int listener, established, moved, orphan, fw2_close;
	int local_fin, local_fin_acked, peer_fin;
	int rst_sent, rst_received, rst_reason, error;
	int last_state;
	uint32_t retrans, syn_retrans;
	int pid;
	char comm[16];
	uint64_t start_ns, end_ns, queued_ns;
	int destroyed, queued, have_diag, traced;
	int hashed; /* in the skaddr hash (a newer flow may have taken over) */
	struct diag_msg diag;
};

#define FLOW_MAX_CPUS 256

struct flow_table {
	struct flow **h, **c; /* by skaddr, by cookie */
	size_t size;          /* buckets, a power of two */
	size_t count;
	struct flow *qhead, *qtail; /* destroyed, waiting to become records */
	/* Per CPU, the flow of the last set_state/destroy: where an
	 * inet_sk_error_report (which names no socket) belongs. */
	struct flow *last[FLOW_MAX_CPUS];
	int nlast;         /* entries of last[] ever used */
	uint64_t replaced; /* live flows a new socket took the place of */
	/* Freed flows kept for the next ones: a malloc() and a free() per
	 * socket showed in the profile at 20k ends/s. */
	struct flow *spare;
	size_t nspare;
};

#define FLOW_SPARE_MAX 4096

int flow_table_init(struct flow_table *t);
void flow_table_free(struct flow_table *t);
/* The live (or recently destroyed) flow at skaddr, or NULL. */
struct flow *flow_by_skaddr(struct flow_table *t, uint64_t skaddr);
struct flow *flow_by_cookie(struct flow_table *t, uint64_t cookie);
/* A new flow at skaddr, replacing the one there in the skaddr hash (a
 * destroyed one stays queued). NULL when out of memory. */
struct flow *flow_new(struct flow_table *t, uint64_t skaddr);
void flow_set_cookie(struct flow_table *t, struct flow *f, uint64_t cookie);
/* Queue a destroyed flow (or a diag message alone) to become a record. */
void flow_enqueue(struct flow_table *t, struct flow *f, uint64_t now);
/* Take f out of the hashes and the queue (wherever it is), and free it. */
void flow_drop(struct flow_table *t, struct flow *f);
/* The same, when the flow before f in the queue is known (NULL: f is the
 * head). */
void flow_drop_after(struct flow_table *t, struct flow *prev, struct flow *f);
/* Remember f as the last flow an event touched on this CPU. */
void flow_touch(struct flow_table *t, int cpu, struct flow *f);

/* record.c */
struct tp_syms;
void flow_to_record(const struct flow *f, const struct tp_syms *syms,
		    struct watch_record *r);

#endif
