/*
 * perf.c -- the tracepoints, system-wide, through perf_event_open(): one fd
 * per event per CPU, every event of a CPU redirected into one mmap ring
 * (PERF_EVENT_IOC_SET_OUTPUT), read in batches.
 *
 * The wake-up watermark matters more than anything else here: waking on
 * every sample cut the churn the host can sustain from 28.5k to 5k
 * connections/s (watch-notes.md); a 64 KiB watermark plus the caller's
 * poll timeout (tens of ms) costs ~0.35 us per sample. Loss is visible:
 * the kernel writes PERF_RECORD_LOST into the ring, which we count.
 */
#include "internal.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* 8 MiB per CPU: ~80k samples of ~100 bytes, a burst of ~8k connections
 * between two reads. */
#define RING_PAGES 2048
#define WAKEUP_BYTES (64 * 1024)

static int perf_event_open(struct perf_event_attr *a, int cpu, int group)
{
	return (int)syscall(SYS_perf_event_open, a, -1, cpu, group,
			    PERF_FLAG_FD_CLOEXEC);
}

static int open_cpu(struct perf_ring *r, int cpu,
		    const struct tp_format fmt[TP_COUNT], size_t page)
{
	struct perf_event_attr a;

	r->fd = -1;
	r->nfds = 0;
	for (int e = 0; e < TP_COUNT; e++) {
		if (fmt[e].id < 0)
			continue;
		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.type = PERF_TYPE_TRACEPOINT;
		a.config = (uint64_t)fmt[e].id;
		a.sample_period = 1;
		a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
				PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
		a.use_clockid = 1;
		a.clockid = CLOCK_MONOTONIC;
		a.watermark = 1;
		a.wakeup_watermark = WAKEUP_BYTES;
		/* The CPU's first event also brings exec/fork records: the
		 * command of a process that is gone by the time its record
		 * is made (curl exits right after its close). */
		a.comm = a.task = r->fd < 0;
		/* ... with a time: records of two rings are read out of
		 * order (bash forks, execs ip, which execs python3). */
		a.sample_id_all = 1;
		int fd = perf_event_open(&a, cpu, -1);
		if (fd < 0)
			return -1;
		r->fds[r->nfds++] = fd;
		/* Fewer samples, less work on both sides: only TCP, and not
		 * the transitions the flows can do without (->ESTABLISHED and
		 * FIN_WAIT1->FIN_WAIT2 follow from the states after them).
		 * A kernel that refuses a filter just sends everything. */
		if (e == TP_SET_STATE)
			ioctl(
			    fd, PERF_EVENT_IOC_SET_FILTER,
			    "protocol == 6 && newstate != 1 && newstate != 5");
		else if (e == TP_ERROR_REPORT)
			ioctl(fd, PERF_EVENT_IOC_SET_FILTER, "protocol == 6");
		if (r->fd < 0) {
			r->fd = fd;
			r->size = RING_PAGES * page;
			r->page = page;
			r->base =
			    mmap(NULL, r->size + page, PROT_READ | PROT_WRITE,
				 MAP_SHARED, fd, 0);
			if (r->base == MAP_FAILED) {
				r->base = NULL;
				return -1;
			}
		} else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, r->fd) < 0) {
			return -1;
		}
	}
	return 0;
}

int perf_open(struct perf_set *p, const struct tp_format *fmt, char *err,
	      size_t len)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	perf_task_fn on_task = p->on_task;

	memset(p, 0, sizeof(*p));
	p->on_task = on_task;
	if (n < 1)
		n = 1;
	p->ring = calloc((size_t)n, sizeof(*p->ring));
	if (!p->ring) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	p->ncpus = (int)n;
	for (int c = 0; c < p->ncpus; c++) {
		if (open_cpu(&p->ring[c], c, fmt, page) == 0)
			continue;
		int e = errno;
		/* An offline CPU cannot be opened: skip it, not the watch. */
		if (e == ENODEV || e == ENXIO) {
			p->ring[c].fd = -1;
			continue;
		}
		snprintf(err, len, "perf_event_open (tracepoints, CPU %d): %s",
			 c, strerror(e));
		perf_close(p);
		return -1;
	}
	for (int c = 0; c < p->ncpus; c++)
		for (int i = 0; i < p->ring[c].nfds; i++)
			ioctl(p->ring[c].fds[i], PERF_EVENT_IOC_ENABLE, 0);
	return 0;
}

/* Copy n bytes at ring offset `off` (which may wrap) into dst. */
static void ring_copy(const struct perf_ring *r, uint64_t off, void *dst,
		      size_t n)
{
	const uint8_t *data = (const uint8_t *)r->base + r->page;
	size_t at = (size_t)(off & (r->size - 1));
	size_t first = n < r->size - at ? n : r->size - at;

	memcpy(dst, data + at, first);
	memcpy((uint8_t *)dst + first, data, n - first);
}

/* PERF_SAMPLE_TID|TIME|CPU|RAW, in that order after the header. */
static void one_record(struct perf_set *p, int cpu, const uint8_t *b, size_t n,
		       perf_sample_fn fn, void *arg)
{
	struct perf_event_header h;

	memcpy(&h, b, sizeof(h));
	if (h.type == PERF_RECORD_LOST && n >= sizeof(h) + 16) {
		uint64_t lost;
		memcpy(&lost, b + sizeof(h) + 8, 8);
		p->lost += lost;
		return;
	}
	/* With sample_id_all, a trailer {pid, tid; time; cpu, res} ends
	 * both: the time is 16 bytes from the end. */
	if (h.type == PERF_RECORD_COMM && n >= sizeof(h) + 8 + 24 &&
	    p->on_task) {
		uint32_t id[2];
		uint64_t t;
		char comm[16];
		memcpy(id, b + sizeof(h), 8);
		memcpy(&t, b + n - 16, 8);
		snprintf(comm, sizeof(comm), "%.*s", (int)(n - sizeof(h) - 32),
			 (const char *)b + sizeof(h) + 8);
		if (id[0] == id[1]) /* the process, not one of its threads */
			p->on_task(arg, id[0], 0, comm, t);
		return;
	}
	if (h.type == PERF_RECORD_FORK && n >= sizeof(h) + 24 && p->on_task) {
		uint32_t id[4]; /* pid, ppid, tid, ptid; then time */
		uint64_t t;
		memcpy(id, b + sizeof(h), 16);
		memcpy(&t, b + sizeof(h) + 16, 8);
		if (id[0] == id[2] && id[0] != id[1])
			p->on_task(arg, id[0], id[1], NULL, t);
		return;
	}
	if (h.type != PERF_RECORD_SAMPLE || n < sizeof(h) + 28)
		return;
	uint32_t pid, rawlen;
	uint64_t t;
	memcpy(&pid, b + sizeof(h), 4);
	memcpy(&t, b + sizeof(h) + 8, 8);
	memcpy(&rawlen, b + sizeof(h) + 24, 4);
	if (sizeof(h) + 28 + rawlen > n)
		return;
	fn(arg, cpu, pid, t, b + sizeof(h) + 28, rawlen);
}

static void read_ring(struct perf_set *p, int cpu, perf_sample_fn fn, void *arg)
{
	struct perf_ring *r = &p->ring[cpu];
	struct perf_event_mmap_page *m = r->base;
	uint8_t buf[65536];

	const uint8_t *data = (const uint8_t *)r->base + r->page;
	uint64_t head = __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = m->data_tail;
	while (tail < head) {
		struct perf_event_header h;
		size_t at = (size_t)(tail & (r->size - 1));
		ring_copy(r, tail, &h, sizeof(h));
		if (h.size < sizeof(h))
			break;
		/* Read in place (the kernel does not write over it before
		 * data_tail moves), unless it wraps: then copied whole (h.size
		 * is 16 bits: it always fits in buf). */
		if (at + h.size <= r->size) {
			one_record(p, cpu, data + at, h.size, fn, arg);
		} else {
			ring_copy(r, tail, buf, h.size);
			one_record(p, cpu, buf, h.size, fn, arg);
		}
		tail += h.size;
	}
	__atomic_store_n(&m->data_tail, tail, __ATOMIC_RELEASE);
}

void perf_read(struct perf_set *p, perf_sample_fn fn, void *arg)
{
	for (int c = 0; c < p->ncpus; c++)
		if (p->ring[c].base)
			read_ring(p, c, fn, arg);
}

void perf_close(struct perf_set *p)
{
	if (!p->ring)
		return;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	for (int c = 0; c < p->ncpus; c++) {
		struct perf_ring *r = &p->ring[c];
		if (r->base)
			munmap(r->base, r->size + page);
		for (int i = 0; i < r->nfds; i++)
			close(r->fds[i]);
	}
	free(p->ring);
	p->ring = NULL;
}
