/*
 * loop.h -- private structures of the event loop (layer 4).
 *
 * Files: epoll.c and uring.c (the backends), loop.c (run, dispatch,
 * deferred work),
 * timer.c (the min-heap and hu_timer), buf.c (write buffers), conn.c (a
 * connection's life: timers, reading, connecting, closing), conn-write.c
 * (its write path), conn-end.c (its end and the report), conn-api.c
 * (pause/resume and the accessors), conn-uring.c (io_uring's completions
 * for a connection), listen.c (listeners). Each conn file calls only the
 * ones after it in this order: conn-uring.c, conn-api.c, conn.c,
 * conn-write.c, conn-end.c; all of them may call the backends. Nothing
 * here is installed.
 *
 * Lifetime, in one paragraph (STYLE.md, "Lifetime"): a listener's or a
 * watch's epoll registration carries a pointer to it; a connection's
 * carries its fd and a generation (the low 31 bits of its id), looked up in
 * loop->conns, an fd-indexed table. Finishing a connection (for any
 * reason) closes its fd at once, records the close reason, and queues the
 * object; its on_close runs and its memory is freed only after the current
 * batch of events, so an event later in the same batch that names a
 * finished connection finds a valid object flagged FINISHED and is
 * dropped. A new socket that reuses the fd number has another generation.
 *
 * Why a generation and not a pointer: close() removes an epoll
 * registration only when the last reference to the file description goes.
 * If a forked child or a dup() still holds the socket, the registration
 * outlives the connection and goes on reporting events; with a pointer in
 * them, they would name freed memory, so every close had to pay an
 * EPOLL_CTL_DEL first. A stale event's generation matches nothing (the slot
 * is empty, or holds a newer connection), so the loop drops it, and the
 * DEL is paid only where sharing is known: after hu_conn_fd() (the
 * application may have passed the fd on) and after a fork() (pthread_atfork
 * tells). raw epoll's close path, recv() and close(), and nothing else.
 */
#ifndef HU_LOOP_H
#define HU_LOOP_H

#include "internal.h"

#include <stdint.h>
#include <sys/epoll.h>

/* ---- allocation (every allocation of the loop goes through these) ---- */
void *hu__malloc(size_t n);
void *hu__calloc(size_t n);
void *hu__realloc(void *p, size_t n);
void hu__free(void *p);

/* ---- timers: a binary min-heap of nodes keyed on a due time (ms) ---- */
struct hu__tnode;
typedef void (*hu__tfire)(hu_loop *loop, struct hu__tnode *n);
struct hu__tnode {
	uint64_t due;   /* loop time (ms) at which it fires */
	unsigned idx;   /* position in the heap + 1; 0 = not armed */
	hu__tfire fire; /* called with the node already disarmed; NULL for
			   a connection's: hu__conn_timer() */
};

struct hu__heap {
	struct hu__tnode **v;
	unsigned n, cap;
};

/* Arm (or re-arm) a node at `due`. Returns 0 or HU_ERROR (no memory). */
int hu__timer_arm(hu_loop *loop, struct hu__tnode *n, uint64_t due);
void hu__timer_disarm(hu_loop *loop, struct hu__tnode *n);
/* ms until the earliest node is due: -1 if none, 0 if overdue. */
int hu__timer_wait_ms(hu_loop *loop);
/* Fire every node due at loop->now. */
void hu__timer_run(hu_loop *loop);
/* Free every user timer still armed, and the heap (hu_loop_free). */
void hu__timer_free_all(hu_loop *loop);

/* ---- write buffers ---- */
struct hu__wbuf {
	size_t off; /* first unsent byte */
	size_t len; /* end of the queued bytes */
	size_t cap;
	char data[];
};

/* Append to *bp, growing it; 0 or HU_ERROR (no memory, *bp unchanged). */
int hu__wbuf_append(struct hu__wbuf **bp, const void *data, size_t len);
static inline size_t hu__wbuf_size(const struct hu__wbuf *b)
{
	return b ? b->len - b->off : 0;
}

/* ---- epoll backend (epoll.c) ---- */
int hu__ep_create(void);
/* Register fd edge-triggered for everything a stream socket can report:
 * IN, OUT, RDHUP (HUP and ERR are always reported). Once, for life. */
/* `data`: a pointer (listener), or hu__conn_key() (a connection). */
int hu__ep_add(int epfd, int fd, uint64_t data, uint32_t events, int *err);
/* Level-triggered (hu_watch): op EPOLL_CTL_ADD or EPOLL_CTL_MOD. */
int hu__ep_lt(int epfd, int op, int fd, void *ptr, uint32_t events);
void hu__ep_del(int epfd, int fd);
/* epoll_wait; EINTR reads as 0 events. */
int hu__ep_wait(int epfd, struct epoll_event *ev, int max, int timeout_ms);

/* ---- io_uring backend (uring.c) ---- */
struct hu__ur;
struct io_uring_cqe;
/* A ring with its provided buffers, or NULL and *err (then epoll). */
struct hu__ur *hu__ur_new(int *err);
void hu__ur_free(struct hu__ur *ur);
/* Submit what is queued; with `wait`, wait up to timeout_ms (-1: no
 * limit) for one completion. 0 or a status; EINTR and ETIME read as 0. */
int hu__ur_enter(struct hu__ur *ur, int wait, int timeout_ms);
int hu__ur_has_pending(const struct hu__ur *ur);
/* Requests armed whose last completion has not been taken. */
unsigned long hu__ur_inflight(const struct hu__ur *ur);
/* The next completion, copied and released: 1, or 0 if none. */
int hu__ur_next(struct hu__ur *ur, struct io_uring_cqe *out);
/* A provided buffer, and giving it back once its data is handled. */
char *hu__ur_buf(struct hu__ur *ur, unsigned bid);
void hu__ur_buf_put(struct hu__ur *ur, unsigned bid);
/* A multishot POLLIN on fd (the epoll fd of listeners and watches). */
void hu__ur_poll_fd(struct hu__ur *ur, int fd, uint64_t key);
void hu__ur_cancel_key(struct hu__ur *ur, uint64_t key);
/* Arm or cancel what the connection's state calls for (uring.c). */
void hu__ur_sync(hu_conn *c);
/* Bytes wait in the write buffer: make sure room to write is reported. */
void hu__ur_want_out(hu_conn *c);
/* It ended: cancel what is armed, then close the fd, in that order. */
void hu__ur_close(hu_conn *c);
/* Reads by multishot receive (else by poll, as on epoll). */
int hu__ur_streaming(const hu_conn *c);
/* The user_data of a request `op` for c. */
uint64_t hu__ur_key(const hu_conn *c, unsigned op);

/* user_data: not a connection's */
#define HU__UR_IGNORE 0ull /* a cancel or a close: nothing to do */
#define HU__UR_EPOLL 1ull  /* the epoll fd is readable */
/* ... a connection's: its key, with the request in bits 28..30 and the
 * poll's sequence in 24..27 (so fds are below 2^24 on io_uring). */
#define HU__UR_OP_SHIFT 28
#define HU__UR_SEQ_BIT 24
#define HU__UR_FD_LIMIT (1u << 24)
enum { HU__UR_OP_RECV = 1, HU__UR_OP_POLL = 2, HU__UR_OP_POUT = 3 };

/* hu_conn.ur: what is armed on the ring for a connection. */
enum {
	HU__UR_RECV = 1u << 0,   /* a multishot receive, until its last CQE */
	HU__UR_CANCEL = 1u << 1, /* ... and its cancel is queued */
	HU__UR_POLL = 1u << 2,   /* a multishot POLLOUT (not reading) */
	HU__UR_POUT = 1u << 3,   /* a one-shot POLLOUT (reading, data owed) */
	HU__UR_EOF = 1u << 4     /* the FIN came while paused: held */
};
#define HU__UR_SEQ_SHIFT 8 /* 4 bits: the current poll's sequence */

/* ---- sets: listeners and watches ---- */

/*
 * An unordered set of objects that each keep their own index in it: add
 * at the end, remove by moving the last one into the hole. The loop's
 * listeners and watches; connections are found by fd instead (loop.c).
 */
struct hu__set {
	void **v;
	unsigned n, cap;
};

/* Room for one more: 0, or HU_ERROR (no memory; the set is unchanged). */
int hu__set_reserve(struct hu__set *s);
/* Add, with room reserved; returns the object's index. */
unsigned hu__set_add(struct hu__set *s, void *obj);
/* Remove the object at `slot`. Returns the object that moved into the
 * hole (its index is now `slot`: the caller tells it), or NULL. */
void *hu__set_del(struct hu__set *s, unsigned slot);
void hu__set_free(struct hu__set *s);

/* ---- objects ---- */
enum hu__io_kind { HU__IO_CONN = 1, HU__IO_LISTENER = 2, HU__IO_WATCH = 3 };

/* The head of every object that epoll reports (epoll_event.data.ptr). */
struct hu__io {
	int kind;
	int fd;
};

/* A connection configuration, shared by a listener and every connection it
 * accepted (each holds a reference), so closing the listener leaves its
 * connections their callbacks. */
struct hu__cfg {
	unsigned refs;
	hu_loop *loop; /* every connection of a cfg is on one loop */
	struct hu_conn_config c;
};

struct hu__cfg *hu__cfg_new(hu_loop *loop, const struct hu_conn_config *c);
void hu__cfg_unref(struct hu__cfg *cfg);

/* Connection flags; the phase and the reason live in the high bits. */
enum {
	HU__C_TCP = 1u << 0,        /* TCP, not a Unix-domain socket */
	HU__C_CONNECTING = 1u << 1, /* outgoing connect not completed */
	HU__C_PAUSED = 1u << 2,     /* hu_conn_pause(): not reading */
	HU__C_CLOSING = 1u << 3,    /* graceful close under way */
	HU__C_SHUT_WANT = 1u << 4,  /* send our FIN once flushed */
	HU__C_SHUT_DONE = 1u << 5,  /* our FIN is sent */
	HU__C_PEER_DONE = 1u << 6,  /* the peer's FIN arrived */
	HU__C_ABOVE_HW = 1u << 7,   /* write said 1: on_drain owed */
	HU__C_FINISHED = 1u << 8,   /* closed; on_close queued */
	HU__C_READY = 1u << 9,      /* on the ready queue (read owed) */
	HU__C_LINGER = 1u << 10,    /* graceful close: linger armed */
	HU__C_DRAIN = 1u << 11,     /* done; waiting for our data's ACK */
	HU__C_IDLE = 1u << 12,      /* the graceful close is an idle close */
	HU__C_ENDED = 1u << 13,     /* duration is final (end learned) */
	HU__C_SHARED = 1u << 14     /* the fd may be shared: DEL it first */
};
#define HU__C_PHASE_SHIFT 16  /* 3 bits: enum hu_phase */
#define HU__C_REASON_SHIFT 20 /* 4 bits: enum hu_reason, once ended */

/*
 * What a connection needs only sometimes -- a deadline (connect, idle,
 * heartbeat, linger, flush), a graceful close's state, the peer's address
 * once asked -- lives apart, allocated when first needed, so that an idle
 * connection with no timer costs 72 bytes (issue 15).
 */
struct hu__conn_more {
	struct hu__tnode timer; /* one node for every deadline below */
	hu_conn *conn;
	uint64_t last_io;      /* loop ms of the last byte either way */
	uint64_t deadline;     /* connect, linger or flush deadline, or 0 */
	uint64_t next_beat;    /* next heartbeat (or drain poll), or 0 */
	uint64_t mark;         /* flush progress: bytes acknowledged */
	uint64_t discarded;    /* read and dropped while closing */
	struct hu_addr *peer;  /* cached by the first hu_conn_peer() */
	struct hu__wbuf *held; /* io_uring: received while paused, owed */
	unsigned poll_ms;      /* drain: the current poll interval */
};

struct hu_conn {
	int fd;              /* the socket, and its index in loop->conns */
	unsigned flags;      /* HU__C_*, the phase and the reason */
	uint32_t id;         /* hu_conn_id(); its low 31 bits, the generation */
	uint8_t error;       /* the errno behind the end (Linux's are < 256) */
	uint8_t pending;     /* an errno taken by SO_ERROR early, or 0 */
	uint16_t ur;         /* io_uring: HU__UR_* armed, and a sequence */
	struct hu__cfg *cfg; /* callbacks, options, and the loop */
	void *user;
	union {
		struct hu__wbuf *wbuf; /* while open: unsent bytes */
		uint64_t undelivered;  /* once FINISHED (wbuf is freed) */
	} w;
	struct hu__conn_more *more; /* NULL until needed */
	uint64_t bytes_in, bytes_out;
	uint64_t born; /* loop ms at creation; once ENDED, the duration */
};
_Static_assert(sizeof(struct hu_conn) == 72,
	       "72 bytes: malloc's 80-byte chunk (issue 15's budget)");

static inline hu_loop *hu__loop_of(const hu_conn *c)
{
	return c->cfg->loop;
}
static inline int hu__phase(const hu_conn *c)
{
	return (int)((c->flags >> HU__C_PHASE_SHIFT) & 7u);
}
static inline void hu__set_phase(hu_conn *c, int phase)
{
	c->flags = (c->flags & ~(7u << HU__C_PHASE_SHIFT)) |
		   ((unsigned)phase << HU__C_PHASE_SHIFT);
}
static inline int hu__reason(const hu_conn *c)
{
	return (int)((c->flags >> HU__C_REASON_SHIFT) & 15u);
}
static inline void hu__set_reason(hu_conn *c, int reason)
{
	c->flags = (c->flags & ~(15u << HU__C_REASON_SHIFT)) |
		   ((unsigned)reason << HU__C_REASON_SHIFT);
}
/* The write buffer; NULL once the connection has ended. */
static inline struct hu__wbuf *hu__wbuf(const hu_conn *c)
{
	return (c->flags & HU__C_FINISHED) ? NULL : c->w.wbuf;
}

struct hu_listener {
	struct hu__io io;
	hu_loop *loop;
	struct hu__cfg *cfg;
	void (*on_accept_error)(hu_listener *l, int status, int error);
	struct hu__tnode retry; /* accept retry after EMFILE & co */
	int failing;            /* accept is failing: reported once */
	int tcp;                /* not a Unix-domain listener */
	int closed;
	unsigned slot;   /* index in loop->listeners */
	char *unix_path; /* unlinked on close */
	hu_listener *next_dead;
};

struct hu_timer {
	struct hu__tnode node; /* first */
	hu_loop *loop;
	unsigned repeat;
	int running, stopped;
	void (*cb)(hu_timer *t, void *arg);
	void *arg;
};

struct hu_watch {
	struct hu__io io; /* first */
	hu_loop *loop;
	unsigned events;
	int stopped;
	unsigned slot; /* index in loop->watches */
	void (*cb)(hu_watch *w, unsigned events, void *arg);
	void *arg;
	hu_watch *next_dead;
};

#define HU__EVENTS 256
#define HU__RBUF (64 * 1024)

struct hu_loop {
	int epfd;          /* everything on epoll; on io_uring, listeners and
		     watches (the ring polls this fd) */
	struct hu__ur *ur; /* the io_uring backend, or NULL: epoll */
	int backend_err;   /* why io_uring was asked for and not used */
	int ep_armed;      /* io_uring: the poll on epfd is armed */
	int ep_again;      /* io_uring: look at epfd again (level) */
	int stop;
	int in_run;
	int freeing; /* hu_loop_free() under way */
	uint64_t now;
	uint32_t next_id;
	struct hu__heap heap;
	unsigned user_timers; /* armed or running hu_timers */
	/* Connections by fd: the live ones (a finished one keeps its entry
	 * until freed, unless a new socket took the fd meanwhile). */
	hu_conn **conns;
	unsigned capconns; /* entries in conns[]: one more than the top fd */
	unsigned nconns;   /* connections not yet freed */
	/* The safe point's queues. Each holds a waiting connection once;
	 * while the safe point serves them, the served entries stay ahead
	 * of any queued meanwhile, so each has room for 2 * roomconns, and
	 * that room grows (with roomconns >= nconns) when a connection is
	 * made: queueing never fails, and an end is never lost for want of
	 * memory. Room that is never used is never touched (loop.c, grow). */
	hu_conn **ready; /* resumed or closing while paused: a read owed */
	unsigned nready;
	hu_conn **closed; /* finished: on_close owed */
	unsigned nclosed;
	unsigned roomconns;
	unsigned forks_seen; /* hu__forks when this loop last looked */
	struct hu__set listeners;
	hu_listener *dead; /* closed listeners to free */
	struct hu__set watches;
	hu_watch *dead_watches; /* stopped watches to free */
	char *rbuf;             /* the one read buffer */
	/* During the on_open of an accepted connection: the address accept4()
	 * gave, for hu_conn_peer() (getpeername() fails once a peer that
	 * connected and reset at once is gone; accept4() still knew it). */
	hu_conn *accepting;
	const struct hu_addr *accepted;
	struct epoll_event events[HU__EVENTS];
};

/* ---- loop.c ---- */
/* Track / untrack a connection in loop->conns (by its fd), making room
 * in the queues; add fails with HU_ERROR (no memory). */
int hu__loop_add_conn(hu_loop *loop, hu_conn *c);
void hu__loop_del_conn(hu_loop *loop, hu_conn *c);
/* The epoll data that names c: its fd and generation, tagged. */
uint64_t hu__conn_key(const hu_conn *c);
/* Has this process forked since the loop last looked? Then every
 * connection it has is flagged HU__C_SHARED (their fds are in the child
 * too). Called before a close decides whether to DEL. */
void hu__loop_check_fork(hu_loop *loop);
/* Queue a resumed connection for a read at the next safe point. */
void hu__loop_ready(hu_conn *c);
/* Queue a finished connection for its on_close. */
void hu__loop_closed(hu_conn *c);

/* A finished connection: on_close is queued, nothing more happens. */
#define HU__GONE(c) (((c)->flags & HU__C_FINISHED) != 0)

static inline const struct hu_conn_callbacks *hu__cbs(const hu_conn *c)
{
	return &c->cfg->c.cb;
}

/* ---- conn-end.c ---- */
/* The connection's hu__conn_more, made if need be (NULL: no memory). */
struct hu__conn_more *hu__conn_more(hu_conn *c);
/* Move the phase forward (open -> peer-done/local-done, or closing). */
void hu__conn_enter(hu_conn *c, int phase);
/* Bytes written that the peer has not acknowledged (TCP; our FIN not
 * counted), 0 on a Unix socket. */
uint64_t hu__conn_unacked(const hu_conn *c);
/* End it: fill the report (`kernel` is hu__conn_unacked() taken just now,
 * or -1 to take it), close the fd (with an RST if `abort`), queue on_close. */
void hu__conn_end(hu_conn *c, int reason, int err, int abort, int64_t kernel);
/* Give up on data the peer did not take: an RST if anything is owed. */
void hu__conn_give_up(hu_conn *c, int reason);
/* At a flush deadline: did the peer acknowledge anything since the last
 * one? If so the deadline moves linger_ms on. */
int hu__conn_progressed(hu_conn *c);
/* HU_CLOSE_IDLE for an idle close, HU_CLOSE_LOCAL for ours. */
int hu__conn_closing_reason(const hu_conn *c);
/* The loop will close once the buffer is flushed (peer done, no on_eof
 * or our FIN asked for), and the flush is bounded by progress. */
int hu__conn_flushing_to_close(const hu_conn *c);
/* The pending socket error, consumed and kept in pending_err. */
int hu__conn_take_error(hu_conn *c);
/* Arm the connection's one timer at its earliest deadline. */
void hu__conn_rearm(hu_conn *c);

/* ---- conn-write.c ---- */
/* Write what is buffered (an EPOLLOUT edge, or a resumed read). */
void hu__conn_flush(hu_conn *c);
/* Everything is written: send the FIN or end, as was asked. */
void hu__conn_settle(hu_conn *c);

/* ---- conn-uring.c ---- */
/* A completion for c: `key` its user_data, `buf` the provided buffer's
 * data if it carries one. */
void hu__conn_cqe(hu_conn *c, uint64_t key, int res, unsigned flags, char *buf);

/* ---- conn.c ---- */
/* A connection's timer fired (timer.c: a node with no fire function). */
void hu__conn_timer(hu_loop *loop, struct hu__tnode *n);
/* A new connection on an open, non-blocking fd; on_open is NOT called. */
hu_conn *hu__conn_new(hu_loop *loop, int fd, int tcp, struct hu__cfg *cfg,
		      int connecting);
/* Start life: epoll registration, liveness, timers. 0 or a status. */
int hu__conn_start(hu_conn *c, int *err);
/* on_open, then a read if the peer already sent something. */
void hu__conn_opened(hu_conn *c);
void hu__conn_event(hu_conn *c, uint32_t events);
void hu__conn_read_ready(hu_conn *c);
/* io_uring: bytes a multishot receive took for c; counted and handed on
 * (or held while paused). */
void hu__conn_chunk(hu_conn *c, char *buf, size_t n);
/* io_uring: the receive said 0 (the FIN). */
void hu__conn_recv_eof(hu_conn *c);
/* io_uring: the receive failed with err (an RST, a timeout). */
void hu__conn_recv_error(hu_conn *c, int err);
/* End it now with `reason` (close the fd; on_close is queued). */
void hu__conn_finish(hu_conn *c, int reason, int err, int abort);
/* End it because a call failed with status/err (the reason follows). */
void hu__conn_fail(hu_conn *c, int status, int err);
/* Run its on_close and free it (from the loop's safe point). */
void hu__conn_free(hu_conn *c);
/* Free a connection the application never saw: no callbacks. */
void hu__conn_discard(hu_conn *c);

/* ---- watch.c ---- */
void hu__watch_event(hu_watch *w, uint32_t events);
/* Free stopped watches (the loop's safe point); stop all (loop free). */
void hu__watch_reap(hu_loop *loop);
void hu__watch_stop_all(hu_loop *loop);

/* ---- listen.c ---- */
void hu__listener_event(hu_listener *l, uint32_t events);
void hu__listener_free(hu_listener *l);

#endif /* HU_LOOP_H */
