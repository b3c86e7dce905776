/*
 * loop.h -- private structures of the event loop (layer 4).
 *
 * Files: epoll.c (the backend), loop.c (run, dispatch, deferred work),
 * timer.c (the min-heap and hu_timer), buf.c (write buffers), conn.c (a
 * connection's life: timers, reading, connecting, closing), conn-write.c
 * (its write path), conn-end.c (its end and the report), listen.c
 * (listeners and connects). Each conn file calls only the ones after it
 * in this order: conn.c, conn-write.c, conn-end.c. Nothing here is
 * installed.
 *
 * Lifetime, in one paragraph (STYLE.md, "Lifetime"): the epoll registration
 * carries a pointer to the object. Finishing a connection (for any reason)
 * closes its fd at once, records the close reason, and queues the object;
 * its on_close runs and its memory is freed only after the current batch of
 * events, so an event later in the same batch that names a finished
 * connection finds a valid object flagged FINISHED and is dropped. A new
 * socket that reuses the fd number in the same batch has a different object,
 * so fd reuse cannot confuse the two.
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
	hu__tfire fire; /* called with the node already disarmed */
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
int hu__ep_add(int epfd, int fd, void *ptr, uint32_t events);
/* Level-triggered (hu_watch): op EPOLL_CTL_ADD or EPOLL_CTL_MOD. */
int hu__ep_lt(int epfd, int op, int fd, void *ptr, uint32_t events);
void hu__ep_del(int epfd, int fd);
/* epoll_wait; EINTR reads as 0 events. */
int hu__ep_wait(int epfd, struct epoll_event *ev, int max, int timeout_ms);

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
	struct hu_conn_config c;
};

struct hu__cfg *hu__cfg_new(const struct hu_conn_config *c);
void hu__cfg_unref(struct hu__cfg *cfg);

/* Connection flags. */
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
	HU__C_READY = 1u << 9,      /* on the ready list (read owed) */
	HU__C_LINGER = 1u << 10,    /* graceful close: linger armed */
	HU__C_DRAIN = 1u << 11,     /* done; waiting for our data's ACK */
	HU__C_IDLE = 1u << 12,      /* the graceful close is an idle close */
	HU__C_ENDED = 1u << 13      /* duration_ms is final (end learned) */
};

struct hu_conn {
	struct hu__io io; /* first: epoll's data.ptr points here */
	unsigned flags;
	unsigned slot;    /* index in loop->conns */
	int phase;        /* enum hu_phase: where it is now */
	int pending_err;  /* an error taken by SO_ERROR early */
	unsigned poll_ms; /* drain: the current poll interval */
	/* (the ints together: 192 bytes; malloc's chunk is 208) */
	hu_loop *loop;
	struct hu__cfg *cfg;
	void *user;
	struct hu__wbuf *wbuf;
	struct hu_addr *peer; /* cached by the first hu_conn_peer() */
	unsigned long long id;
	uint64_t last_io;       /* loop ms of the last byte either way */
	uint64_t deadline;      /* connect, linger or flush deadline, or 0 */
	uint64_t next_beat;     /* next heartbeat (or drain poll), or 0 */
	struct hu__tnode timer; /* one node for all of the above */
	hu_conn *next;          /* ready or closed list */
	/* Counted as it goes: bytes_in, bytes_out; duration_ms holds the
	 * creation time (ms) until the end. The rest is filled at the end. */
	struct hu_close_info info;
};

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
	int epfd;
	int stop;
	int in_run;
	int freeing; /* hu_loop_free() under way */
	uint64_t now;
	unsigned long long next_id;
	struct hu__heap heap;
	unsigned user_timers; /* armed or running hu_timers */
	hu_conn **conns;      /* every connection not yet freed */
	unsigned nconns, capconns;
	hu_listener **listeners;
	unsigned nlisteners, caplisteners;
	hu_conn *ready, *ready_tail;   /* resumed: a read is owed */
	hu_conn *closed, *closed_tail; /* finished: on_close owed */
	hu_listener *dead;             /* closed listeners to free */
	hu_watch **watches;
	unsigned nwatches, capwatches;
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
/* Track / untrack a connection in loop->conns. */
int hu__loop_add_conn(hu_loop *loop, hu_conn *c);
void hu__loop_del_conn(hu_loop *loop, hu_conn *c);
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

/* ---- conn.c ---- */
/* A new connection on an open, non-blocking fd; on_open is NOT called. */
hu_conn *hu__conn_new(hu_loop *loop, int fd, int tcp, struct hu__cfg *cfg,
		      int connecting);
/* Start life: epoll registration, liveness, timers. 0 or a status. */
int hu__conn_start(hu_conn *c);
/* on_open, then a read if the peer already sent something. */
void hu__conn_opened(hu_conn *c);
void hu__conn_event(hu_conn *c, uint32_t events);
void hu__conn_read_ready(hu_conn *c);
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
