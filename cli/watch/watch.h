/*
 * watch.h -- the engine of `hangup watch`: every TCP socket that ends on
 * the host, one record each, saying who ended it and why.
 *
 * Two kernel sources, no BPF (see ../shared/watch-notes.md):
 *  - tracepoints (sock:inet_sock_set_state, tcp:tcp_destroy_sock,
 *    tcp:tcp_send_reset, tcp:tcp_receive_reset, tcp:tcp_retransmit_skb,
 *    sock:inet_sk_error_report) read through perf_event_open() rings, one
 *    per CPU: the state transitions, the resets and their reasons;
 *  - sock_diag destroy multicast, one netlink socket per watched network
 *    namespace: byte counts, queues, RTT at the moment of destruction.
 * They are joined by the socket cookie (tcp_destroy_sock carries skaddr and
 * cookie; the diag message carries the cookie).
 *
 * The engine prints nothing. A program opens it, waits on watch_fd() (or
 * calls watch_poll() with a timeout), and takes the finished records with
 * watch_next(). A record is ready a little after the kernel destroyed the
 * socket (hold_ms, 20 ms: the diag message and a late RST come after the
 * destroy). Poll no more often than every ~20 ms under load: each wake-up
 * costs more than a record.
 *
 * sock_diag is opened in the namespace the calling thread is in at
 * watch_open() (named "host" in records), plus any in opts.netns. A
 * socket whose destroy message comes from no watched namespace is not
 * reported (counted in unmatched_trace), unless all_netns.
 *
 * Checking a program's own sockets (what `hangup lab --watch` does): open
 * the engine in the process and namespace that will make the sockets,
 * before it makes them (tracepoints are on when watch_open() returns); take
 * getsockopt(fd, SOL_SOCKET, SO_COOKIE) of each socket (the cookie in
 * the record is the same); after the scenario, call watch_poll(w, 25)
 * until watch_next() has given a record for every cookie (allow ~1 s: 20 ms
 * hold + diag delay), ignore records of other cookies, then compare and
 * watch_close(). All strings in a record point into the engine or are
 * static: valid until watch_close().
 */
#ifndef HU_WATCH_H
#define HU_WATCH_H

#include <stdint.h>
#include <sys/socket.h>

struct watch;

/* What a record knows. A field the engine could not learn is marked
 * unknown (WATCH_UNKNOWN for counts, NULL or "unknown" for words); it is
 * never guessed. */
#define WATCH_UNKNOWN UINT64_MAX

enum watch_origin {
	WATCH_ORIGIN_PREDATES, /* opened before the watch began (or unseen) */
	WATCH_ORIGIN_OPENED,   /* this end called connect() */
	WATCH_ORIGIN_ACCEPTED  /* this end came from a listener */
};

enum watch_who {
	WATCH_WHO_NONE,  /* nobody sent a FIN before the end */
	WATCH_WHO_LOCAL, /* this end sent the first FIN (or RST) */
	WATCH_WHO_PEER,  /* the other end did */
	WATCH_WHO_BOTH,  /* both at once (simultaneous close) */
	WATCH_WHO_UNKNOWN
};

struct watch_record {
	uint64_t cookie; /* the kernel's socket cookie (0: unknown) */
	int family;      /* AF_INET, AF_INET6 */
	struct sockaddr_storage local, peer;
	const char *netns; /* the namespace's name, "host", or NULL */
	enum watch_origin origin;
	enum watch_who first_fin; /* who sent the first FIN */
	enum watch_who rst_first; /* who sent the first RST (NONE: no RST) */
	int rst_sent, rst_received;
	const char *reason;     /* DESIGN.md's word: eof, reset, abort, ... */
	const char *detail;     /* the kernel's finer word, or NULL */
	const char *rst_reason; /* tcp_send_reset's reason as named, or NULL */
	const char *state;      /* the last TCP state before CLOSE */
	const char *phase;      /* open, peer-done, local-done, closing, ... */
	int error;              /* sk_err reported (errno value), 0: none */
	uint64_t bytes_in, bytes_out; /* payload, not sequence space */
	uint64_t unread, undelivered; /* bytes */
	uint64_t retransmits;         /* segments */
	uint64_t rtt_us;
	uint64_t start_ns, end_ns; /* CLOCK_MONOTONIC; start 0: unknown */
	uint64_t ready_ns;         /* when the record became ready */
	int pid;                   /* -1: unknown */
	char comm[16];             /* "" when unknown */
	unsigned sources;          /* WATCH_SRC_* that saw this socket */
};

enum {
	WATCH_SRC_TRACE = 1, /* tracepoints */
	WATCH_SRC_DIAG = 2   /* sock_diag destroy message */
};

struct watch_opts {
	const char *const *netns; /* names under /run/netns; NULL: the host */
	int nnetns;
	int all_netns;    /* the host's and every one in /run/netns */
	int no_trace;     /* sock_diag only (tests, or by choice) */
	int no_diag;      /* tracepoints only */
	uint16_t port;    /* 0: all; else local or peer port == port */
	unsigned hold_ms; /* how long after destroy a record waits (20) */
};

/* Counters of what happened, including everything lost. */
struct watch_stats {
	uint64_t samples; /* tracepoint samples read */
	uint64_t
	    lost_samples; /* PERF_RECORD_LOST: samples the kernel dropped */
	uint64_t netlink_overruns; /* ENOBUFS on a sock_diag socket */
	uint64_t records;          /* records made ready */
	uint64_t unmatched_trace;  /* ends seen by tracepoints only */
	uint64_t unmatched_diag;   /* ends seen by sock_diag only */
	uint64_t other_netns; /* ends in namespaces not watched (dropped) */
	uint64_t replaced;    /* sockets whose destroy never came in order
			       * (events out of order or lost): no record */
	int ncpus;
	int trace_ok, diag_ok; /* which sources run */
};

/*
 * Start watching. On failure returns NULL and puts one line (no newline)
 * in err: what is missing. Sources that cannot start are left out and
 * named in `missing` (may be NULL), e.g. "tracepoints (perf_event_open:
 * Operation not permitted)"; the engine fails only when none can start, or
 * when a named namespace does not exist (*usage set to 1 then).
 */
struct watch *watch_open(const struct watch_opts *o, char *err, size_t len,
			 char *missing, size_t mlen, int *usage);
/* One fd that becomes readable when a source has data: poll it with yours. */
int watch_fd(const struct watch *w);
/* Read what the sources have (waiting up to timeout_ms for some), join and
 * classify; returns how many records are ready, or -1 (errno set). */
int watch_poll(struct watch *w, int timeout_ms);
/* Take the oldest ready record: 1, or 0 when none is ready. */
int watch_next(struct watch *w, struct watch_record *r);
/* Make every pending socket's record ready now (e.g. before exit): what is
 * still unknown stays unknown. */
void watch_flush(struct watch *w);
void watch_get_stats(const struct watch *w, struct watch_stats *s);
/* Stops everything, closes every fd; nothing is left behind. */
void watch_close(struct watch *w);

/* Words. */
const char *watch_origin_name(enum watch_origin o);
const char *watch_who_name(enum watch_who w);
/* 1 when `word` is a reason a record can carry (for --reason). */
int watch_reason_known(const char *word);
/* "127.0.0.1:80" or "[::1]:80". */
void watch_addr_str(const struct sockaddr_storage *a, char *buf, size_t n);
uint16_t watch_port(const struct sockaddr_storage *a);

#endif
