/*
 * common.h -- what the load generator and every bench server share.
 *
 * The protocol is a page-aligned block of shared memory (a memfd the
 * generator creates and passes to the server as `--shm FD`), not a control
 * connection. A control socket would add events, syscalls and wakeups to the
 * server's loop in the very windows we measure, and a control fd inside each
 * library's loop would need different code per library (hangup's loop has no
 * raw-fd watcher at all). With shared memory the server's only extra work
 * per connection is what every server does identically: one vDSO
 * clock_gettime() and two stores when a connection has been closed, one
 * store when one is accepted.
 *
 * The server writes; the generator only reads. The generator learns the
 * bound port from `port` (nonzero = ready), how many connections the server
 * has accepted (`opens`) and closed (`closes`), and the CLOCK_MONOTONIC time
 * at which close number k ran: close_ns[k % BENCH_RING]. A close is
 * "recorded" at the point where the library says the connection is over and
 * its memory is released: after close()/free in raw epoll and libev, in
 * libuv's uv_close callback, after bufferevent_free() in libevent, and in
 * hangup's on_close.
 *
 * The server's CPU time and memory are not reported here: the generator
 * reads them from /proc/PID, so no server can misreport them.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define BENCH_MAGIC 0x68756263u /* "hubc" */
/* Close timestamps kept: more than any one test's connections (the mass
 * disconnect needs N <= the open-file limit, 20000 here). */
#define BENCH_RING 65536u

struct bench_shm {
	uint32_t magic;
	_Atomic uint32_t port; /* the bound port; nonzero once listening */
	char name[32];         /* "raw epoll", "libuv", ... */
	char version[64];      /* the library's own version string */
	/* Written by the server, polled by the generator from the other CPU:
	 * a cache line of their own, away from the timestamps. */
	_Alignas(64) _Atomic uint64_t opens; /* connections accepted */
	_Atomic uint64_t closes;             /* connections closed */
	_Alignas(64) uint64_t close_ns[BENCH_RING];
};

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A connection was accepted. One writer (the server's only thread). */
static inline void bench_opened(struct bench_shm *s)
{
	uint64_t k = atomic_load_explicit(&s->opens, memory_order_relaxed);

	atomic_store_explicit(&s->opens, k + 1, memory_order_relaxed);
}

/* A connection's on_close (or the library's equivalent) ran. The timestamp
 * is published before the count (release), so a generator that sees count
 * k + 1 reads close_ns[k] complete. */
static inline void bench_closed(struct bench_shm *s)
{
	uint64_t k = atomic_load_explicit(&s->closes, memory_order_relaxed);

	s->close_ns[k % BENCH_RING] = bench_now_ns();
	atomic_store_explicit(&s->closes, k + 1, memory_order_release);
}

/*
 * Server side (common.c). bench_attach() maps the block named by
 * `--shm FD` (or a private one when run by hand), ignores SIGPIPE (every
 * library's documentation asks the application to), and raises the
 * open-file soft limit to the hard one. It accepts `--port P` (default 0:
 * the kernel chooses). bench_ready() publishes the port and prints
 * "NAME listening on 127.0.0.1:PORT (VERSION)" on stdout.
 */
struct bench_shm *bench_attach(int argc, char **argv, unsigned *port);
void bench_ready(struct bench_shm *s, unsigned port, const char *name,
		 const char *version);
/* For the servers that bind by hand (raw epoll, libev): a non-blocking
 * listener on 127.0.0.1:port with backlog SOMAXCONN; *bound gets the port. */
int bench_listen_tcp(unsigned port, unsigned *bound);
/* Die with a message and errno's text. */
_Noreturn void bench_die(const char *what);

#endif /* BENCH_COMMON_H */
