/*
 * load.h -- the load generator's own pieces: load.c (driver, servers,
 * /proc), load-tests.c (the connections and the tests), load-report.c
 * (medians, tables, docs/bench.md). Not shared with the servers; that is
 * common.h.
 */
#ifndef BENCH_LOAD_H
#define BENCH_LOAD_H

#include "common.h"

#include <stdio.h>
#include <sys/types.h>

#define MAX_SERVERS 8
#define MAX_ROUNDS 32
#define MSG_LEN 64
#define MS 1000000ull /* nanoseconds */

/* Options (load.c). */
extern int opt_rounds;
extern int opt_echo_conns;
extern int opt_churn_conc;
extern unsigned opt_warm_ms;
extern unsigned opt_run_ms;
extern unsigned opt_slice_ms;
extern int opt_lat_samples;
extern int opt_mass_reps;
extern double opt_max_others;
extern long opt_tw_max;
extern unsigned opt_tw_wait_s;
extern unsigned port_lo, port_hi;

struct server {
	const char *name;
	const char *path;
	pid_t pid;
	struct bench_shm *shm;
	uint16_t port;
	char version[64];
};

extern struct server servers[MAX_SERVERS];
extern int nservers;
extern int N; /* connections in the mass-disconnect tests */

/* What each round measures, per server. */
enum metric {
	/* A measured window's five figures, in this order (window()). */
	M_CHURN_RATE,
	M_CHURN_CPU,
	M_CHURN_SRV,
	M_CHURN_GEN,
	M_CHURN_OTHER,
	M_ECHO_RATE,
	M_ECHO_CPU,
	M_ECHO_SRV,
	M_ECHO_GEN,
	M_ECHO_OTHER,
	M_FIN_MS,
	M_FIN_LOOP,
	M_FIN_CPU,
	M_RST_MS,
	M_RST_LOOP,
	M_RST_CPU,
	M_MEM,
	M_KMEM, /* kernel slab bytes per idle loopback connection (both ends) */
	M_LAT50,
	M_LAT99,
	M_COUNT
};

extern double res[M_COUNT][MAX_SERVERS][MAX_ROUNDS]; /* NAN = not run */

/* What the run itself did, for the report. */
struct run_stats {
	long tw_waited_s;   /* waited for TIME_WAIT to fall */
	long tw_purged;     /* our TIME_WAIT sockets removed with ss -K */
	long gen_saturated; /* windows with the generator at >= 95% */
	long windows;       /* measured churn and echo windows */
	long retried;       /* windows measured again: others too busy */
	unsigned long long port_skips;
	double seconds;
};
extern struct run_stats stats;

/* load.c */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t now_ns(void);
void sleep_ns(uint64_t ns);
uint64_t server_cpu_ns(const struct server *s);
uint64_t gen_cpu_ns(void);
uint64_t busy_ns(void);
long rss_anon_kb(const struct server *s);
/* Bytes of kernel slab memory in use (/proc/slabinfo: active objects times
 * object size, every cache), or -1 where it is not readable (not root). */
double slab_bytes(void);
long tw_count(void);
void purge_time_wait(const struct server *s);
ssize_t read_text(const char *path, char *buf, size_t size);

static inline uint64_t opens(const struct server *s)
{
	return atomic_load_explicit(&s->shm->opens, memory_order_relaxed);
}

static inline uint64_t closes(const struct server *s)
{
	return atomic_load_explicit(&s->shm->closes, memory_order_acquire);
}

/* When close number k ran (valid once closes() > k). */
static inline uint64_t close_time(const struct server *s, uint64_t k)
{
	return s->shm->close_ns[k % BENCH_RING];
}

/* load-tests.c: each fills res[...][si][r]. */
/* Mass disconnect by FIN or (rst) by RST; repetition rep of the round
 * (the round keeps the mean; memory is measured in repetition 0). */
void test_mass(int si, int r, int rst, int rep);
void test_latency(int si, int r);
/* These two run every server, in slices that alternate (order[]). */
void test_echo(int r, const int *order);
void test_churn(int r, const int *order);

/* load-report.c */
double percentile(double *v, int n, double p);
void report(FILE *f, const char *date, int markdown);
void write_csv(const char *path);

#endif /* BENCH_LOAD_H */
