/*
 * looplib.h -- fixtures for the event-loop tests: a per-connection record
 * of every callback, loops run until a condition holds, and peers that run
 * in a thread of their own (so they can read while the loop writes).
 */
#ifndef HU_LOOPLIB_H
#define HU_LOOPLIB_H

#include "hangup.h"
#include "testlib.h"

#include <pthread.h>
#include <stddef.h>

/* What happened to one connection, in order. */
struct rec {
	hu_conn *conn;
	int opens, eofs, drains, beats, closes, datas;
	int closed_before_open;    /* on_close came with no on_open */
	struct hu_close_info info; /* of the (first) on_close */
	char *data;                /* every byte on_data delivered */
	size_t len, cap;
	int echo;        /* on_data echoes what it gets */
	int fd_at_close; /* hu_conn_fd() inside on_close */
	char peer[128];  /* hu_conn_peer() in on_open */
	double t_open, t_close;
};

#define MAX_RECS 64
extern struct rec recs[MAX_RECS];
extern int nrecs;

/* Callbacks that record into recs[] (a new rec per connection, linked by
 * hu_conn_user). */
void rec_on_open(hu_conn *c);
void rec_on_data(hu_conn *c, const void *data, size_t len);
void rec_on_eof(hu_conn *c);
void rec_on_drain(hu_conn *c);
void rec_on_close(hu_conn *c, const struct hu_close_info *info);
void rec_on_heartbeat(hu_conn *c);
/* The rec of a connection (created on first use). */
struct rec *rec_of(hu_conn *c);
/* Callbacks with every rec_ function set (on_eof left NULL). */
struct hu_conn_callbacks rec_callbacks(void);
void recs_reset(void);

/* Run the loop until *cond is non-zero (checked every 2 ms) or ms pass.
 * Returns 1 if the condition held. */
int run_until(hu_loop *loop, const volatile int *cond, unsigned ms);
/* Run the loop for ms milliseconds. */
void run_for(hu_loop *loop, unsigned ms);
/* Run the loop until n connections have been accepted (nrecs >= n) or 3 s
 * pass: a loopback under load drops packets (the per-CPU backlog), and a
 * lost handshake ACK delays an accept by a SYN-ACK retransmission (1 s).
 * Returns nrecs. */
int run_until_accepted(hu_loop *loop, int n);

/* Listen on addr ("127.0.0.1:0", "[::1]:0", "unix:...") with cfg; returns
 * the listener and writes its address into buf. */
hu_listener *listen_on(hu_loop *loop, const char *addr,
		       const struct hu_listen_config *cfg, char *buf,
		       size_t size);
/* A blocking client socket connected to the text address. */
int raw_connect(const char *addr);
/* Read exactly n bytes (blocking) unless EOF/error first; returns bytes
 * read; *end gets 0, or the recv() failure's errno, or -1 for EOF. */
size_t read_n(int fd, void *buf, size_t n, int *end);
/* Read until EOF or error; returns the byte count; *err = errno or 0. */
size_t read_all(int fd, int *err);

/* A thread that reads a socket to its end (counting bytes and noting how
 * it ended), so the loop can write to it meanwhile. */
struct reader {
	pthread_t t;
	int fd;
	size_t got;
	int err;           /* 0 = clean EOF, else the recv errno */
	unsigned delay_ms; /* wait this long before reading */
	volatile int done; /* set when the read ended */
};
void reader_start(struct reader *r, int fd, unsigned delay_ms);
void reader_join(struct reader *r);

#endif
