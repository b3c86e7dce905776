/*
 * lab.h -- `hangup lab`: the close scenarios, live on this machine's kernel.
 * The types of the lab, and its functions by the file that defines them
 * (lab.c's header comment says what each file is for).
 *
 * A scenario is a short C script of steps by a client and a server. Each
 * step records the call, its return, errno (only when it failed -- or, for
 * the myth scenarios, the stale errno after a success, labelled as such), a
 * non-destructive snapshot of the observed socket (epoll mask, TCP state,
 * SIOCOUTQ/SIOCINQ) and what hangup's classification says, and is checked
 * against the expected kernel behaviour (kernel-truth.md).
 *
 * Every scenario runs in its own forked process and hands its result back as
 * one fixed-size record over a pipe, so the dead-peer scenarios can run
 * concurrently (each in a private network namespace) and nothing a scenario
 * does -- a leaked fd, a signal -- can reach the others.
 */
#ifndef HU_LAB_H
#define HU_LAB_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/types.h>

#define LAB_MAX_STEPS 40
#define LAB_MAX_PKTS 100
#define LAB_MAX_MIS 8
#define LAB_ANY INT_MIN          /* an expectation that accepts anything */
#define LAB_NO_CQE (INT_MIN + 1) /* lab_step_cqe(): no completion came */

enum { LAB_PASS = 0, LAB_FAIL = 1, LAB_SKIP = 2 };

/* What a step is, for the code that draws it (the actor and the call are
 * only text to show). */
enum lab_step_kind {
	LAB_STEP_CALL = 0,   /* a call by one end (or by hangup) */
	LAB_STEP_OBSERVE,    /* a snapshot alone, no call: tables only */
	LAB_STEP_NFT_DROP,   /* nft starts dropping every TCP segment */
	LAB_STEP_NFT_UNDROP, /* ... and stops: the network, not an end */
};

/* One step of a scenario. Fixed-size strings: the record crosses a pipe. */
struct lab_step {
	enum lab_step_kind kind;
	double t;          /* seconds since the scenario started, at the call */
	double t_end;      /* ... when it returned (a blocking call: later) */
	char actor[12];    /* "us", "peer", "client", "server", "nft", ... */
	char call[80];     /* the call as written: recv(64), close(), ... */
	char ret[96];      /* its result as text ("" for an observation) */
	int ret_says_wait; /* `ret` already says how long the call waited */
	long val;   /* what the expectation compares: ret, SO_ERROR value,
		       HU_* status, epoll mask, signal number */
	int failed; /* the call returned -1: `err` is its errno */
	int err;    /* errno of the failed call, else 0 */
	int stale;  /* myth steps: errno after a *successful* call */
	int stale_before, stale_after;
	int snap;        /* a snapshot was taken */
	char obs[12];    /* the socket observed */
	int events;      /* epoll mask (fresh LT instance), -1 n/a */
	int state;       /* tcpi_state; -1 Unix socket; -2 n/a */
	int outq, inq;   /* SIOCOUTQ / SIOCINQ; -1 n/a (listener) */
	char hangup[64]; /* hangup's classification */
	char note[128];
	char expect[96];    /* what was expected, as text ("" = not checked) */
	int ok;             /* 1 unless the expectation failed */
	int cqe;            /* an io_uring completion: `val` is its res */
	unsigned cqe_flags; /* ... and these its flags (IORING_CQE_F_*) */
};

/* The TCP header's flag bits (RFC 9293, 3.1), as struct lab_pkt holds
 * them and lab_expect_packets() takes them; lab_flags_str() names them. */
enum lab_tcp_flag {
	LAB_TCP_FIN = 0x01,
	LAB_TCP_SYN = 0x02,
	LAB_TCP_RST = 0x04,
	LAB_TCP_PSH = 0x08,
	LAB_TCP_ACK = 0x10,
};

/* A captured TCP segment. dir 0 = client -> server, 1 = server -> client. */
struct lab_pkt {
	double t;
	int dir;
	unsigned char flags; /* enum lab_tcp_flag bits */
	unsigned len;        /* payload bytes */
	char data[12];       /* payload start, printable only */
	unsigned short sport, dport;
	unsigned seq;
};

/* Whether a scenario's packets were captured. */
enum lab_capture {
	/* Not captured, and `nocap` says why: Unix sockets send none, the
	 * filter or the namespace's capture failed (or, "", the scenario
	 * process died before it could say). Zero: a zeroed result. */
	LAB_CAPTURE_NONE = 0,
	LAB_CAPTURE_ON,
	/* The lab did not capture at all (--no-capture, or not permitted):
	 * said once on stderr; the parent writes the reason into `nocap` for
	 * the outputs that carry it per scenario (JSON, markdown, SVG). */
	LAB_CAPTURE_OFF,
};

/* --watch: what `hangup watch`'s engine said about one of the scenario's
 * TCP sockets, in watch's words, beside what the capture says of the same
 * socket (watch-view.c). Counts are -1 where unknown (or not compared). */
#define LAB_MAX_WATCH 6
struct lab_watch_rec {
	char end[8]; /* "client" or "server", by the lab's ports */
	char local[24], peer[24];
	char reason[16], detail[24], rst_reason[24];
	char first_fin[8], rst_first[8]; /* watch_who_name() */
	int rst_sent, rst_received;
	long long bytes_in, bytes_out;
	/* The capture's view: who sent the first FIN and RST, as seen from
	 * this end; its payload bytes delivered each way. */
	char cap_fin[8], cap_rst[8];
	long long cap_in, cap_out;
	int ok;
};

/* Whether the watch view was taken (--watch). */
enum lab_watch {
	LAB_WATCH_OFF = 0, /* not asked for (or a zeroed result) */
	LAB_WATCH_ON,      /* compared: wrec[] and any mismatch in mis[] */
	LAB_WATCH_NONE,    /* asked for, not compared: `wnote` says why */
};

/* What a scenario produced: crosses the pipe from the scenario process. */
struct lab_result {
	int index; /* into the scenario table */
	int verdict;
	char skip[120];
	enum lab_capture capture;
	char nocap[80];              /* why no packets, unless LAB_CAPTURE_ON */
	char client[48], server[48]; /* ladder column labels */
	double secs;
	int nsteps, npkts, nmis;
	struct lab_step steps[LAB_MAX_STEPS];
	struct lab_pkt pkts[LAB_MAX_PKTS];
	char mis[LAB_MAX_MIS][192];
	enum lab_watch watch;
	char wnote[120];
	int nwatch;
	struct lab_watch_rec wrec[LAB_MAX_WATCH];
};

struct lab;

struct lab_scenario {
	const char *name;   /* kebab-case, unique */
	const char *family; /* selects all its scenarios by one word */
	const char *title;
	const char *expected; /* the kernel behaviour it checks */
	const char *rule;     /* what a program should do about it */
	void (*run)(struct lab *L);
	int netns;   /* needs a private network namespace (root) */
	int seconds; /* roughly how long it waits, for the countdown */
};

/* lab_nscenarios counts the real scenarios; lab_scenarios[lab_nscenarios]
 * is the test-only one (--self-test-mismatch). */
extern const struct lab_scenario lab_scenarios[];
extern const int lab_nscenarios;

/* The runtime of one scenario, in its own process (run.c: lab_run_one). */
struct lab {
	struct lab_result *r;
	double t0;
	int cap; /* AF_PACKET socket or -1 */
	int obs; /* socket the snapshots look at */
	char obs_name[12];
	int settle_ms; /* pause before each snapshot */
	unsigned short cports[4], sports[4];
	int ncports, nsports;
	int fds[32]; /* every fd the scenario opened, closed at the end */
	int nfds;
	/* --watch (watch-view.c): 1, or 2 for its self-test (the records
	 * perturbed); the engine, its reader thread and the cookies of the
	 * scenario's TCP sockets, once open. */
	int want_watch;
	struct lab_wview *wv;
};

/* ---- util.c: the leaves, calling nothing else of the lab ---- */
/* CLOCK_REALTIME in seconds: the clock of the packet timestamps. */
double lab_now(void);
void lab_sleep_ms(int ms);
/* Record a mismatch: the scenario fails (at most LAB_MAX_MIS are kept). */
void lab_fail(struct lab *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The scenario cannot run here (no root, no nft): it is skipped, saying
 * why. */
void lab_skip(struct lab *L, const char *why);
/* In a freshly forked child of `parent`: die (SIGKILL) when it does. */
void lab_die_with_parent(pid_t parent);
/* "ECONNRESET", or "errno 123" for one hangup has no name for. */
const char *lab_errno_name(int err);
/* An epoll mask as "IN+OUT+RDHUP" ("-" none, "n/a" for -1). */
void lab_events_str(int ev, char *buf, size_t size);
/* TCP flags (enum lab_tcp_flag bits) as "SYN,ACK". */
void lab_flags_str(unsigned char flags, char *buf, size_t size);
/* "pass", "fail" or "skip": the one name of a verdict. */
const char *lab_verdict_name(int verdict);
/* `n` bytes of data as `n "text"`, unprintable bytes as '.'. */
void lab_fmt_data(char *buf, size_t size, long n, const char *data);

/* ---- capture.c: the scenario's own TCP segments, off lo ---- */
/* An AF_PACKET socket on lo that passes nothing yet, or -1 (why says). */
int lab_capture_open(char *why, size_t size);
/* Whether this process may capture (why says why not). */
int lab_may_capture(char *why, size_t size);
/* Read what the capture holds now into the result's packets. */
void lab_capture_drain(struct lab *L);
/* ... into pk[] (*np of max used) instead: the segments after the
 * scenario, which the watch view compares but the outputs do not show. */
void lab_capture_drain_into(struct lab *L, struct lab_pkt *pk, int *np,
			    int max);
/* Narrow the kernel filter to the scenario's server ports. */
void lab_capture_ports(struct lab *L);

/* ---- watch-view.c: --watch, watch's records beside the capture ---- */
/* Open watch's engine, in the namespace that will make the sockets: before
 * the scenario runs, or right after it entered its own namespace. */
void lab_wview_open(struct lab *L);
/* Take the cookie of fd, when it is a TCP socket (lab_track calls it). */
void lab_wview_track(struct lab *L, int fd);
/* fd is not a connection (a listener, a port bound to refuse): watch
 * reports no record for it, and none is waited for. */
void lab_wview_not_conn(struct lab *L, int fd);
/* Before the fixture closes the scenario's fds: with the network still
 * cut (nft), close them abortively, or they would linger for minutes. */
void lab_wview_before_close(struct lab *L);
/* After the scenario's fds are closed: wait for a record of every socket,
 * compare each with the capture (a mismatch fails the scenario), close the
 * engine. */
void lab_wview_finish(struct lab *L);

/* ---- fixture.c: sockets, pairs, namespaces, fd bookkeeping ---- */
/* Remember fd (returned) to close it when the scenario ends. */
int lab_track(struct lab *L, int fd);
void lab_untrack(struct lab *L, int fd);
/* A connected TCP pair on 127.0.0.1: client = "us", server = "peer". */
int lab_tcp_pair(struct lab *L, int *client, int *server);
/* ... and observed as the scenario's first step: ESTABLISHED, OUT. */
int lab_connected_pair(struct lab *L, int *us, int *peer);
int lab_listener(struct lab *L, int backlog, unsigned short *port);
int lab_bind_loopback(int fd); /* 127.0.0.1, a free port; -1 errno */
int lab_tcp_socket(struct lab *L, int nonblock);
void lab_set_nonblock(int fd);
/* Capture the segments of fd's local port (a client) or of `port`. */
void lab_watch_client(struct lab *L, int fd);
void lab_watch_server_port(struct lab *L, unsigned short port);
/* The snapshots look at fd from now on, under `name`. */
void lab_observe_fd(struct lab *L, int fd, const char *name);
/* Enter a private network namespace with lo up (skips without root). */
int lab_enter_netns(struct lab *L);

/* ---- step.c: the step machinery ---- */
/* Open a step (stamped now) by `who`, recording `call`. */
struct lab_step *lab_step_begin(struct lab *L, const char *who,
				const char *call);
struct lab_step *lab_last_step(struct lab *L);
/* What a program could see of the observed socket now, without changing
 * it: epoll mask, TCP state, queues, hangup's view. */
void lab_snapshot(struct lab *L, struct lab_step *s);
/* A step made by hand around an action: lab_step_begin() before it (so the
 * step is stamped before the packets it causes), lab_step_end() after. */
void lab_step_end(struct lab *L, struct lab_step *s, long val, const char *ret);
void lab_step_custom(struct lab *L, const char *who, const char *call, long val,
		     const char *ret);
/* A step that only looks (a snapshot with a note). */
void lab_step_observe(struct lab *L, const char *note);
/* A note on the last step. */
void lab_note(struct lab *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drop (on = 1) or stop dropping every TCP segment at the input hook of
 * the namespace (nft): both ends then look dead to each other. */
int lab_step_nft_drop(struct lab *L, int on);

/* ---- step-syscall.c: steps that make one raw call; each returns the
 * call's raw result ---- */
long lab_step_recv(struct lab *L, const char *who, int fd, size_t len,
		   int flags);
long lab_step_send(struct lab *L, const char *who, int fd, const char *data,
		   int flags);
/* write() in a child without MSG_NOSIGNAL: the signal that killed it. */
long lab_step_write(struct lab *L, const char *who, int fd, const char *data);
long lab_step_close(struct lab *L, const char *who, int *fd);
long lab_step_abort(struct lab *L, const char *who, int *fd); /* linger {1,0} */
long lab_step_shutdown(struct lab *L, const char *who, int fd, int how);
/* getsockopt(SO_ERROR): the error it handed out. */
long lab_step_soerror(struct lab *L, const char *who, int fd);
long lab_step_connect(struct lab *L, const char *who, int fd,
		      unsigned short port, const char *what);
long lab_step_accept(struct lab *L, const char *who, int lfd, int *out);
long lab_step_getpeername(struct lab *L, const char *who, int fd);
long lab_step_epoll_add(struct lab *L, int ep, int fd, unsigned ev,
			const char *what);
/* The event mask reported (0 when none). */
long lab_step_epoll_wait(struct lab *L, int ep, const char *what,
			 int timeout_ms);
long lab_step_poll_out(struct lab *L, int fd, int timeout_ms);
/* The myth steps: errno set to `preset` before a call that succeeds. */
long lab_step_recv_stale(struct lab *L, const char *who, int fd, size_t len,
			 int preset);
long lab_step_send_stale(struct lab *L, const char *who, int fd,
			 const char *data, int preset, int do_preset);

/* ---- uring.c: an io_uring by raw system calls (no liburing) ---- */
struct io_uring_sqe;
struct io_uring_cqe;
struct io_uring_buf_ring;
struct lab_ring {
	int fd;
	char *ring; /* the SQ and CQ rings, one mapping */
	size_t sq_len, sqes_len, cq_len;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned to_submit;
	/* The provided-buffer ring of multishot receives (lab_ring_bufs). */
	struct io_uring_buf_ring *br;
	size_t br_len;
	char *bufs;
	unsigned nbufs, buf_len;
	unsigned short bgid;
	char rbuf[256]; /* a one-shot recv's buffer */
	char sbuf[128]; /* a send's data, alive until it completes */
};
/* The lab's requests, by user_data: named in the completion steps. */
enum lab_req { LAB_REQ_RECV = 1, LAB_REQ_MSHOT, LAB_REQ_SEND, LAB_REQ_CANCEL };
/* A ring of 8 entries, its fd tracked; -1 after lab_skip() saying why
 * io_uring is unavailable (ENOSYS, io_uring_disabled, seccomp). */
int lab_ring_open(struct lab *L, struct lab_ring *r);
void lab_ring_close(struct lab *L, struct lab_ring *r);
/* Queue one request (submitted by the next lab_ring_submit or step). */
void lab_ring_prep_recv(struct lab_ring *r, int fd, size_t len,
			unsigned long long user_data);
void lab_ring_prep_recv_multishot(struct lab_ring *r, int fd,
				  unsigned long long user_data);
void lab_ring_prep_send(struct lab_ring *r, int fd, const char *data,
			unsigned long long user_data);
void lab_ring_prep_cancel(struct lab_ring *r, unsigned long long target,
			  unsigned long long user_data);
/* How many were submitted, or -errno. */
int lab_ring_submit(struct lab_ring *r);
/* 1 a completion was taken into *out, 0 none within timeout_ms, -errno. */
int lab_ring_wait(struct lab_ring *r, struct io_uring_cqe *out, int timeout_ms);
/* Register a provided-buffer ring (IORING_REGISTER_PBUF_RING) of n
 * buffers of len bytes as group bgid, all of them in it; 0 or -errno. */
int lab_ring_bufs(struct lab_ring *r, unsigned short bgid, unsigned n,
		  unsigned len);
/* Hand buffer bid back to the kernel; its bytes, by buffer id. */
void lab_ring_buf_recycle(struct lab_ring *r, unsigned bid);
const char *lab_ring_buf(const struct lab_ring *r, unsigned bid);

/* ---- step-uring.c: the io_uring steps ---- */
/* Submit what is queued and wait up to timeout_ms for one completion,
 * recording its request, res and flags (`call` says what was done). The
 * value is the completion's res, or LAB_NO_CQE. */
long lab_step_cqe(struct lab *L, struct lab_ring *r, const char *call,
		  int timeout_ms);

/* ---- step-hangup.c: steps through hangup's own calls ---- */
long lab_step_hu_recv(struct lab *L, int fd);
long lab_step_hu_send(struct lab *L, int fd, const char *data);
/* The probe's status (0, HU_EOF, HU_RESET, ...). */
long lab_step_hu_probe(struct lab *L, int fd);
long lab_step_hu_liveness(struct lab *L, int fd, unsigned ms);
long lab_step_hu_close_graceful(struct lab *L, int *fd, unsigned linger_ms);

/* ---- expect.c: the checks; a mismatch fails the scenario ---- */
/* The last step must have returned `val` (LAB_ANY: anything), failed with
 * `err` (0: must not have failed), shown epoll mask `ev` and TCP state `st`
 * (LAB_ANY: not checked). */
void lab_expect(struct lab *L, long val, int err, int ev, int st);
/* ... and its snapshot's SIOCOUTQ / SIOCINQ (LAB_ANY: not checked). */
void lab_expect_queues(struct lab *L, int outq, int inq);
/* The myth steps: errno after the successful call must still be `err`. */
void lab_expect_stale_errno(struct lab *L, int err);
/* The last step's io_uring completion: res `res` (LAB_NO_CQE: none came),
 * IORING_CQE_F_MORE set (more = 1) or clear (0, the request ended; LAB_ANY
 * not checked), epoll mask and TCP state as lab_expect. */
void lab_expect_cqe(struct lab *L, long res, int more, int ev, int st);
/* Packets (when capturing): some segment has one of `must`'s flags, none
 * has one of `must_not`'s (enum lab_tcp_flag bits). */
void lab_expect_packets(struct lab *L, unsigned char must,
			unsigned char must_not);

/* The epoll masks the expectations name most often, as a fresh
 * level-triggered instance asking IN|OUT|RDHUP shows them. */
#define LAB_EPOLL_NONE 0
/* The peer's FIN: readable (EOF), still writable. */
#define LAB_EPOLL_FIN (EPOLLIN | EPOLLOUT | EPOLLRDHUP)
/* An RST with its error still pending (SO_ERROR, recv() would take it). */
#define LAB_EPOLL_RST (LAB_EPOLL_FIN | EPOLLHUP | EPOLLERR)
/* An RST whose error a call has already taken: only HUP is left of it. */
#define LAB_EPOLL_RST_TAKEN (LAB_EPOLL_FIN | EPOLLHUP)

/* ---- run.c: running the scenarios ---- */
/* Run scenario `index` in this process (a forked child) and fill *r;
 * watch: 0, 1 (--watch) or 2 (its self-test: records perturbed). */
void lab_run_one(int index, int want_capture, int watch, struct lab_result *r);
/* On SIGINT, SIGTERM, SIGHUP kill the scenario processes (and with them
 * their namespaces), clear the progress line, then die of the signal. */
void lab_catch_signals(int progress);
/* Run the n scenarios with sel[i] set, each in its own process, into
 * res[i]; -1 out of memory. */
int lab_run_selected(const char *sel, int n, int capture, int watch,
		     int progress, struct lab_result *res);

/* ---- cells.c, output-*.c, ladder*.c: the outputs ---- */
struct lab_out {
	int color;
	int cols; /* the terminal's width, 0 when not a terminal */
	int json, markdown;
	const char *svgdir;
};
/* A step's cells as the tables show them (cells.c); "" where it has none
 * (no snapshot, a call that did not fail). */
struct lab_cells {
	char events[48]; /* the epoll mask */
	char state[24];  /* the TCP state, "unix", "n/a" */
	char queues[24]; /* SIOCOUTQ/SIOCINQ as "out/in", "-" */
	char err[32];    /* errno of a failed call; "stale: X" (myths) */
};
void lab_step_cells(const struct lab_step *s, struct lab_cells *c);
/* The errno a step shows: a failed call's, a myth step's stale one ("0"
 * for none), or NULL. */
const char *lab_step_errno(const struct lab_step *s);
/* The TCP state cell alone. */
void lab_state_text(const struct lab_step *s, char *buf, size_t size);
void lab_print_text(const struct lab_out *o, const struct lab_result *r);
void lab_print_json(const struct lab_result *r);
void lab_md_begin(const struct lab_result *rs, int n);
void lab_print_md(const struct lab_result *r);
void lab_md_end(const struct lab_result *rs, int n);
void lab_ladder_text(FILE *f, const struct lab_result *r, int color);
int lab_ladder_svg(const char *dir, const struct lab_result *r);
/* Packet i was sent while nft dropped every TCP segment: captured (the tap
 * is before netfilter) but never delivered. */
int lab_pkt_dropped(const struct lab_result *r, int i);
/* ... and a segment at time t (seconds since the scenario started). */
int lab_dropped_at(const struct lab_result *r, double t);

/* A ladder's rows (ladder.c), for the text and the SVG drawing. */
enum lab_row_kind { LAB_ROW_CALL, LAB_ROW_PKT, LAB_ROW_RET };
struct lab_ladder_row {
	enum lab_row_kind kind;
	int idx; /* into steps[] or pkts[] */
	double t;
};
#define LAB_LADDER_MAX_ROWS (2 * LAB_MAX_STEPS + LAB_MAX_PKTS)
/* Steps, returns of calls that blocked, and packets, by time. */
int lab_ladder_rows(const struct lab_result *r, struct lab_ladder_row *rows);
/* The step took long enough to be drawn twice: its call and its return. */
int lab_ladder_blocked(const struct lab_step *s);
/* A segment's label, at most `max` characters. */
void lab_ladder_pkt_label(const struct lab_result *r, int i, char *buf,
			  size_t size, size_t max);
/* "actor: call = result", or for a blocked call its two halves. */
void lab_ladder_step_label(const struct lab_step *s, enum lab_row_kind kind,
			   char *buf, size_t size);
/* The client lane's header: its label and port(s). */
void lab_ladder_client_header(const struct lab_result *r, char *buf,
			      size_t size);
/* A segment's colour: RST red, FIN green, data blue (SVG or ANSI). */
const char *lab_ladder_pkt_color(const struct lab_pkt *p, int svg);

/* ---- the scenarios: scenario_NAME runs scenario NAME (scenarios.c) ---- */
/* scen-close.c */
void scenario_peer_close(struct lab *L);
void scenario_data_then_close(struct lab *L);
void scenario_write_after_close(struct lab *L);
void scenario_write_after_close_so_error(struct lab *L);
void scenario_write_after_close_sigpipe(struct lab *L);
void scenario_write_after_close_hangup(struct lab *L);
void scenario_half_close(struct lab *L);
void scenario_peer_killed(struct lab *L);
void scenario_peer_killed_unread(struct lab *L);
void scenario_myth_recv_eagain(struct lab *L);
void scenario_myth_send_einprogress(struct lab *L);
void scenario_self_test_mismatch(struct lab *L);
/* scen-reset.c */
void scenario_unread_close(struct lab *L);
void scenario_unread_close_send_first(struct lab *L);
void scenario_unread_close_so_error(struct lab *L);
void scenario_unread_close_hangup(struct lab *L);
void scenario_unread_close_graceful(struct lab *L);
void scenario_abortive_close(struct lab *L);
void scenario_abortive_close_so_error(struct lab *L);
void scenario_abortive_close_peek(struct lab *L);
void scenario_abortive_close_send_first(struct lab *L);
void scenario_abortive_close_data(struct lab *L);
void scenario_abortive_close_hangup(struct lab *L);
/* scen-epoll-accept.c */
void scenario_epoll_et_lt(struct lab *L);
void scenario_epoll_et_combined(struct lab *L);
void scenario_epoll_et_add_after_fin(struct lab *L);
void scenario_epoll_et_rst_edge(struct lab *L);
void scenario_reset_before_accept(struct lab *L);
void scenario_reset_before_accept_data(struct lab *L);
void scenario_fin_before_accept(struct lab *L);
void scenario_accept_queue_full(struct lab *L);
/* scen-dead-peer.c */
void scenario_dead_peer_idle(struct lab *L);
void scenario_dead_peer_idle_liveness(struct lab *L);
void scenario_dead_peer_busy(struct lab *L);
void scenario_dead_peer_busy_liveness(struct lab *L);
void scenario_dead_peer_busy_keepalive(struct lab *L);
void scenario_dead_peer_idle_user_timeout(struct lab *L);
/* scen-connect.c */
void scenario_connect_refused(struct lab *L);
void scenario_connect_refused_again(struct lab *L);
void scenario_connect_refused_blocking(struct lab *L);
void scenario_connect_ok(struct lab *L);
void scenario_connect_in_progress(struct lab *L);
/* scen-unix.c */
void scenario_unix_close(struct lab *L);
void scenario_unix_data_close(struct lab *L);
void scenario_unix_unread_close(struct lab *L);
void scenario_unix_half_close(struct lab *L);
void scenario_unix_sigpipe(struct lab *L);
/* scen-uring.c */
void scenario_uring_recv_fin(struct lab *L);
void scenario_uring_multishot_fin(struct lab *L);
void scenario_uring_recv_rst(struct lab *L);
void scenario_uring_multishot_rst(struct lab *L);
void scenario_uring_multishot_rst_unread(struct lab *L);
void scenario_uring_recv_fin_then_rst(struct lab *L);
void scenario_uring_multishot_enobufs(struct lab *L);
void scenario_uring_multishot_cancel(struct lab *L);
void scenario_uring_close_with_armed_recv(struct lab *L);
void scenario_uring_shutdown_armed_recv(struct lab *L);
void scenario_uring_dead_peer(struct lab *L);
void scenario_uring_dead_peer_busy(struct lab *L);

#endif
