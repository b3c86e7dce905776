/*
 * uring.c -- an io_uring for the lab's io_uring family, by raw system calls
 * (io_uring_setup, io_uring_enter, io_uring_register and mmap, with the
 * kernel's own <linux/io_uring.h>): no liburing, so the lab shows exactly
 * what goes into a submission and what comes back in a completion.
 *
 * The ring is the plainest there is: no flags at setup, so the kernel
 * tries each request at once and, when the socket has nothing, arms a poll
 * and completes it later from task work (io_uring/poll.c). A provided-
 * buffer ring (IORING_REGISTER_PBUF_RING) feeds multishot receives, and
 * lab_ring_wait() waits with a timeout through IORING_ENTER_EXT_ARG.
 *
 * Ordering: the kernel reads the SQ tail and writes the CQ tail, so the
 * SQ tail is published with a release store and the CQ tail read with an
 * acquire load (the same pairing as liburing's io_uring_smp_*).
 */
#include "lab.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <linux/time_types.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RING_ENTRIES 8

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned min, unsigned flags,
		     void *arg, size_t argsz)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, min, flags, arg,
			    argsz);
}

static int sys_register(int fd, unsigned op, void *arg, unsigned n)
{
	return (int)syscall(__NR_io_uring_register, fd, op, arg, n);
}

static void *map_ring(int fd, size_t len, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, fd, off);

	return p == MAP_FAILED ? NULL : p;
}

/* Why io_uring_setup() failed, in words a reader can act on. */
static void setup_failed(int err, char *why, size_t size)
{
	int disabled = -1;
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");

	if (f) {
		if (fscanf(f, "%d", &disabled) != 1)
			disabled = -1;
		fclose(f);
	}
	if (err == ENOSYS)
		snprintf(why, size,
			 "io_uring_setup: ENOSYS (kernel without "
			 "io_uring, or a seccomp filter)");
	else if (err == EPERM && disabled > 0)
		snprintf(why, size,
			 "io_uring_setup: EPERM "
			 "(kernel.io_uring_disabled = %d)",
			 disabled);
	else
		snprintf(why, size, "io_uring_setup: %s (io_uring unavailable)",
			 lab_errno_name(err));
}

int lab_ring_open(struct lab *L, struct lab_ring *r)
{
	struct io_uring_params p;
	char why[120];

	memset(r, 0, sizeof(*r));
	memset(&p, 0, sizeof(p));
	r->fd = sys_setup(RING_ENTRIES, &p);
	if (r->fd < 0) {
		setup_failed(errno, why, sizeof(why));
		lab_skip(L, why);
		return -1;
	}
	lab_track(L, r->fd);
	/* Waiting with a timeout needs EXT_ARG (5.11); one mapping for
	 * both rings needs SINGLE_MMAP (5.4). */
	if (!(p.features & IORING_FEAT_EXT_ARG) ||
	    !(p.features & IORING_FEAT_SINGLE_MMAP)) {
		lab_skip(L, "io_uring without EXT_ARG (kernel before 5.11)");
		return -1;
	}
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (r->cq_len > r->sq_len)
		r->sq_len = r->cq_len;
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->ring = map_ring(r->fd, r->sq_len, IORING_OFF_SQ_RING);
	r->sqes = map_ring(r->fd, r->sqes_len, IORING_OFF_SQES);
	if (r->ring == NULL || r->sqes == NULL) {
		lab_fail(L, "mmap of the io_uring rings: %s",
			 lab_errno_name(errno));
		return -1;
	}
	r->sq_tail = (unsigned *)(r->ring + p.sq_off.tail);
	r->sq_mask = (unsigned *)(r->ring + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(r->ring + p.sq_off.array);
	r->cq_head = (unsigned *)(r->ring + p.cq_off.head);
	r->cq_tail = (unsigned *)(r->ring + p.cq_off.tail);
	r->cq_mask = (unsigned *)(r->ring + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(r->ring + p.cq_off.cqes);
	return 0;
}

void lab_ring_close(struct lab *L, struct lab_ring *r)
{
	if (r->fd > 0) {
		close(r->fd);
		lab_untrack(L, r->fd);
	}
	if (r->ring)
		munmap(r->ring, r->sq_len);
	if (r->sqes)
		munmap(r->sqes, r->sqes_len);
	if (r->br)
		munmap(r->br, r->br_len);
	if (r->bufs)
		munmap(r->bufs, (size_t)r->nbufs * r->buf_len);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* The next submission entry, zeroed and queued (submitted by the next
 * lab_ring_submit). The ring is small and the lab submits at once, so it
 * is never full. */
static struct io_uring_sqe *next_sqe(struct lab_ring *r, unsigned char op,
				     int fd, unsigned long long user_data)
{
	unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask;
	struct io_uring_sqe *sqe = &r->sqes[idx];

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = fd;
	sqe->user_data = user_data;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	r->to_submit++;
	return sqe;
}

void lab_ring_prep_recv(struct lab_ring *r, int fd, size_t len,
			unsigned long long user_data)
{
	struct io_uring_sqe *sqe = next_sqe(r, IORING_OP_RECV, fd, user_data);

	if (len > sizeof(r->rbuf))
		len = sizeof(r->rbuf);
	sqe->addr = (uintptr_t)r->rbuf;
	sqe->len = (unsigned)len;
}

void lab_ring_prep_recv_multishot(struct lab_ring *r, int fd,
				  unsigned long long user_data)
{
	struct io_uring_sqe *sqe = next_sqe(r, IORING_OP_RECV, fd, user_data);

	/* No buffer of its own: each completion takes one from the group
	 * (IOSQE_BUFFER_SELECT), as the kernel requires for multishot. */
	sqe->ioprio = IORING_RECV_MULTISHOT;
	sqe->flags = IOSQE_BUFFER_SELECT;
	sqe->buf_group = r->bgid;
}

void lab_ring_prep_send(struct lab_ring *r, int fd, const char *data,
			unsigned long long user_data)
{
	struct io_uring_sqe *sqe = next_sqe(r, IORING_OP_SEND, fd, user_data);
	size_t n = strlen(data);

	/* The data must live until the request completes: a copy in the
	 * ring, not the caller's string. */
	if (n > sizeof(r->sbuf))
		n = sizeof(r->sbuf);
	memcpy(r->sbuf, data, n);
	sqe->addr = (uintptr_t)r->sbuf;
	sqe->len = (unsigned)n;
}

void lab_ring_prep_cancel(struct lab_ring *r, unsigned long long target,
			  unsigned long long user_data)
{
	struct io_uring_sqe *sqe =
	    next_sqe(r, IORING_OP_ASYNC_CANCEL, -1, user_data);

	sqe->addr = target;
}

int lab_ring_submit(struct lab_ring *r)
{
	int n;

	if (r->to_submit == 0)
		return 0;
	n = sys_enter(r->fd, r->to_submit, 0, 0, NULL, 0);
	if (n < 0)
		return -errno;
	r->to_submit -= (unsigned)n;
	return n;
}

/* Take the oldest completion, if there is one. */
static int reap(struct lab_ring *r, struct io_uring_cqe *out)
{
	unsigned head = *r->cq_head;

	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return 0;
	*out = r->cqes[head & *r->cq_mask];
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return 1;
}

int lab_ring_wait(struct lab_ring *r, struct io_uring_cqe *out, int timeout_ms)
{
	double end = lab_now() + timeout_ms / 1000.0;

	for (;;) {
		struct __kernel_timespec ts;
		struct io_uring_getevents_arg arg;
		double left = end - lab_now();

		if (reap(r, out))
			return 1;
		if (left < 0)
			left = 0;
		ts.tv_sec = (long long)left;
		ts.tv_nsec = (long long)((left - (double)ts.tv_sec) * 1e9);
		memset(&arg, 0, sizeof(arg));
		arg.ts = (uintptr_t)&ts;
		/* Entering the kernel also runs the ring's pending task work,
		 * which is where a request armed on the socket posts its
		 * completion. */
		if (sys_enter(r->fd, 0, 1,
			      IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
			      &arg, sizeof(arg)) < 0 &&
		    errno != ETIME && errno != EINTR && errno != EAGAIN &&
		    errno != EBUSY)
			return -errno;
		if (reap(r, out))
			return 1;
		if (left == 0)
			return 0;
	}
}

int lab_ring_bufs(struct lab_ring *r, unsigned short bgid, unsigned n,
		  unsigned len)
{
	struct io_uring_buf_reg reg;
	size_t ring_len = n * sizeof(struct io_uring_buf);

	/* The buffer ring must be page-aligned memory: its own mapping. */
	r->br = mmap(NULL, ring_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r->bufs = mmap(NULL, (size_t)n * len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->br == MAP_FAILED || r->bufs == MAP_FAILED) {
		r->br = NULL;
		r->bufs = NULL;
		return -ENOMEM;
	}
	r->br_len = ring_len;
	r->nbufs = n;
	r->buf_len = len;
	r->bgid = bgid;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uintptr_t)r->br;
	reg.ring_entries = n;
	reg.bgid = bgid;
	if (sys_register(r->fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
		return -errno;
	for (unsigned i = 0; i < n; i++)
		lab_ring_buf_recycle(r, i);
	return 0;
}

void lab_ring_buf_recycle(struct lab_ring *r, unsigned bid)
{
	unsigned short tail = r->br->tail;
	struct io_uring_buf *b = &r->br->bufs[tail & (r->nbufs - 1)];

	b->addr = (uintptr_t)(r->bufs + (size_t)bid * r->buf_len);
	b->len = r->buf_len;
	b->bid = (unsigned short)bid;
	__atomic_store_n(&r->br->tail, (unsigned short)(tail + 1),
			 __ATOMIC_RELEASE);
}

const char *lab_ring_buf(const struct lab_ring *r, unsigned bid)
{
	return bid < r->nbufs ? r->bufs + (size_t)bid * r->buf_len : "";
}
