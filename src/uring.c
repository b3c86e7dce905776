/*
 * uring.c -- the loop's second backend: io_uring, by raw system calls (no
 * liburing: the library stays libc-only, and Debian 12's liburing 2.3 has
 * no helper for the buffer ring anyway).
 *
 * What a connection has armed, and why (loop.h, HU__UR_*):
 *  - while it reads (open, not paused, the peer's FIN not yet in): one
 *    multishot IORING_OP_RECV that picks buffers from the loop's one
 *    provided-buffer ring. Data, the FIN (res 0) and an error (res -errno)
 *    all arrive as completions, with no recv() call and no readiness
 *    event: the kernel reads for us while it handles the segment;
 *  - otherwise (connecting, paused, after the peer's FIN): one multishot
 *    IORING_OP_POLL_ADD for POLLOUT. POLLERR and POLLHUP are always
 *    reported, so the completion carries what an epoll event would have,
 *    and conn.c handles it exactly as it handles one: the connect's end,
 *    an RST or a timeout while paused, room to write after the FIN;
 *  - while bytes wait in its write buffer and it reads: a one-shot POLLOUT.
 * Writing is a send() at once, as on epoll: hu_conn_write() must say at
 * once whether the bytes went, and a copy into a queued SEND would cost
 * more than the call it saves.
 *
 * Three rules the lab's io_uring family shows on this kernel:
 *  - a multishot receive that ends with -ENOBUFS (no buffer free) or
 *    -ECANCELED is not the connection's end: it is armed again;
 *  - an armed request holds a reference to the socket's file, so close()
 *    alone does not close the socket (no FIN, no RST) until the request is
 *    cancelled. A connection's end therefore queues the cancels and then
 *    an IORING_OP_CLOSE, in that order, and the loop submits them before
 *    it runs on_close (loop.c): the report is never ahead of the peer;
 *  - a queued SQE names an fd number, resolved when it is submitted. The
 *    close is queued behind it, so the number cannot be reused by an
 *    accept() in between and the request cannot land on another socket.
 *
 * user_data: a connection's key (loop.c) with the fd in the low 24 bits,
 * what was armed in bits 28..30 and the poll's sequence in 24..27, so a
 * late completion of a cancelled poll is told from the current one.
 */
#include "loop.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <linux/time_types.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RING_ENTRIES 1024u
/* The provided buffers, shared by every connection: 512 KiB in all. Each
 * completion takes a whole buffer and gives it back once handled, so what
 * is resident is what a burst of completions used, at most 512 KiB; when
 * more than NBUFS completions wait unhandled, a receive ends with -ENOBUFS
 * and is armed again. */
#define NBUFS 128u
#define BUF_SIZE 4096u
#define BGID 0

struct hu__ur {
	int fd;
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned sq_entries;
	unsigned sq_tail_local; /* SQEs filled, not yet published */
	unsigned pending;       /* published, not yet submitted */
	struct io_uring_sqe *sqes;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
	void *rings; /* both rings, in one mapping (FEAT_SINGLE_MMAP) */
	size_t rings_sz, sqes_sz;
	struct io_uring_buf_ring *br;
	size_t br_sz;
	char *bufs;
	unsigned br_tail;
	unsigned long inflight; /* requests whose last CQE has not come */
};

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned wait, unsigned flags,
		     void *arg, size_t argsz)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, arg,
			    argsz);
}

static int sys_register(int fd, unsigned op, void *arg, unsigned n)
{
	return (int)syscall(__NR_io_uring_register, fd, op, arg, n);
}

static void *map(int fd, size_t size, off_t off)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, fd, off);

	return p == MAP_FAILED ? NULL : p;
}

void hu__ur_free(struct hu__ur *ur)
{
	if (ur == NULL)
		return;
	if (ur->br != NULL)
		munmap(ur->br, ur->br_sz);
	if (ur->sqes != NULL)
		munmap(ur->sqes, ur->sqes_sz);
	if (ur->rings != NULL)
		munmap(ur->rings, ur->rings_sz);
	if (ur->fd >= 0)
		close(ur->fd);
	if (ur->bufs != NULL)
		munmap(ur->bufs, (size_t)NBUFS * BUF_SIZE);
	hu__free(ur);
}

/* The provided-buffer ring, registered by hand (IORING_REGISTER_PBUF_RING,
 * 5.19): NBUFS buffers of BUF_SIZE. */
static int buffers(struct hu__ur *ur, int *err)
{
	ur->br_sz = NBUFS * sizeof(struct io_uring_buf);
	ur->br = mmap(NULL, ur->br_sz, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ur->br == MAP_FAILED) {
		ur->br = NULL;
		return hu__status_errno(err);
	}
	/* Anonymous pages: resident only once the kernel writes into them,
	 * and defined for valgrind, which cannot see the kernel's writes. */
	ur->bufs = mmap(NULL, (size_t)NBUFS * BUF_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ur->bufs == MAP_FAILED) {
		ur->bufs = NULL;
		return hu__status_errno(err);
	}
	struct io_uring_buf_reg reg = {
	    .ring_addr = (uint64_t)(uintptr_t)ur->br,
	    .ring_entries = NBUFS,
	    .bgid = BGID,
	};
	if (sys_register(ur->fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
		return hu__status_errno(err);
	for (unsigned i = 0; i < NBUFS; i++)
		hu__ur_buf_put(ur, i);
	return 0;
}

/* The multishot receive (6.0) has no feature bit; SINGLE_ISSUER came in
 * the same release, and a kernel that refuses it has neither. Without this
 * a 5.19 kernel would make the ring, then fail every receive with -EINVAL.
 * Asked once per process. */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int has_recv_multishot;

static void probe_recv_multishot(void)
{
	struct io_uring_params q;

	memset(&q, 0, sizeof(q));
	q.flags = IORING_SETUP_SINGLE_ISSUER;
	int fd = sys_setup(2, &q);
	if (fd >= 0) {
		has_recv_multishot = 1;
		close(fd);
	}
}

struct hu__ur *hu__ur_new(int *err)
{
	struct io_uring_params p;
	struct hu__ur *ur = hu__calloc(sizeof(*ur));

	*err = 0;
	if (ur == NULL) {
		*err = ENOMEM;
		return NULL;
	}
	/* COOP_TASKRUN (5.19): the kernel does not interrupt the loop to
	 * post a completion (an IPI per segment received, which cost twice
	 * raw epoll's CPU per echoed message here); they are posted when
	 * the loop next enters the kernel, which it does at least once per
	 * iteration. Not DEFER_TASKRUN: that binds the ring to the thread
	 * that made it, and a loop may be made in one thread and run in
	 * another (examples/reuseport-server.c). */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
	p.cq_entries = RING_ENTRIES * 4;
	ur->fd = sys_setup(RING_ENTRIES, &p);
	if (ur->fd < 0) {
		memset(&p, 0, sizeof(p)); /* before 5.19: without it */
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = RING_ENTRIES * 4;
		ur->fd = sys_setup(RING_ENTRIES, &p);
	}
	if (ur->fd < 0) {
		/* ENOSYS (old kernel, seccomp), EPERM (io_uring_disabled),
		 * ENOMEM (locked memory): the caller falls back to epoll. */
		(void)hu__status_errno(err);
		goto fail;
	}
	/* Needed: one mmap for both rings (5.4), the timeout argument of
	 * io_uring_enter (5.11), and the requests' file kept from
	 * submission on (5.5), which the close-behind-cancel order needs. */
	unsigned need = IORING_FEAT_SINGLE_MMAP | IORING_FEAT_EXT_ARG |
			IORING_FEAT_SUBMIT_STABLE | IORING_FEAT_NODROP;
	if ((p.features & need) != need) {
		*err = EOPNOTSUPP;
		goto fail;
	}
	(void)pthread_once(&probe_once, probe_recv_multishot);
	if (!has_recv_multishot) {
		*err = EOPNOTSUPP;
		goto fail;
	}
	size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cq_sz =
	    p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	ur->rings_sz = sq_sz > cq_sz ? sq_sz : cq_sz;
	ur->rings = map(ur->fd, ur->rings_sz, IORING_OFF_SQ_RING);
	ur->sqes_sz = p.sq_entries * sizeof(struct io_uring_sqe);
	ur->sqes = ur->rings ? map(ur->fd, ur->sqes_sz, IORING_OFF_SQES) : NULL;
	if (ur->sqes == NULL) {
		(void)hu__status_errno(err);
		goto fail;
	}
	char *sq = ur->rings, *cq = ur->rings;
	ur->sq_head = (unsigned *)(sq + p.sq_off.head);
	ur->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	ur->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	ur->sq_array = (unsigned *)(sq + p.sq_off.array);
	ur->sq_entries = p.sq_entries;
	ur->sq_tail_local = *ur->sq_tail;
	for (unsigned i = 0; i < p.sq_entries; i++)
		ur->sq_array[i] = i; /* SQE i is always slot i */
	ur->cq_head = (unsigned *)(cq + p.cq_off.head);
	ur->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	ur->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	ur->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	if (buffers(ur, err) < 0)
		goto fail;
	return ur;
fail:
	if (*err == 0)
		*err = ENOMEM;
	hu__ur_free(ur);
	return NULL;
}

unsigned long hu__ur_inflight(const struct hu__ur *ur)
{
	return ur->inflight;
}

/* ---- submission ---- */

/*
 * Submit what is queued and, with `wait`, wait for one completion or
 * timeout_ms (-1: no limit). Returns 0, or a status (EINTR and the
 * timeout are 0: the caller looks at the completion queue either way).
 */
int hu__ur_enter(struct hu__ur *ur, int wait, int timeout_ms)
{
	struct __kernel_timespec ts;
	struct io_uring_getevents_arg arg = {
	    .sigmask = 0,
	    .sigmask_sz = _NSIG / 8,
	};
	unsigned flags = 0, n = ur->pending;

	/* Publish the filled SQEs (store-release: the kernel reads the
	 * entries only after it sees the tail). */
	__atomic_store_n(ur->sq_tail, ur->sq_tail_local, __ATOMIC_RELEASE);
	if (wait) {
		flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
		if (timeout_ms >= 0) {
			ts.tv_sec = timeout_ms / 1000;
			ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
			arg.ts = (uint64_t)(uintptr_t)&ts;
		}
	} else if (n == 0) {
		return 0;
	} else {
		/* GETEVENTS with no minimum still runs the task work that
		 * completes the cancels and drops their file references:
		 * the closes queued behind them happen before we return. */
		flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
	}
	int rc = sys_enter(ur->fd, n, wait ? 1 : 0, flags, &arg, sizeof(arg));
	if (rc >= 0) {
		ur->pending -= (unsigned)rc < n ? (unsigned)rc : n;
		return 0;
	}
	int err;
	int st = hu__status_errno(&err);
	/* ETIME: the wait timed out. EINTR: a signal. EBUSY: the completion
	 * queue is full (overflowed); reaping it makes room. */
	if (st == HU__INTR || err == ETIME || err == EBUSY || err == EAGAIN)
		return 0;
	return st;
}

/* A free SQE, zeroed; if the queue is full, what it holds is submitted
 * first. */
static struct io_uring_sqe *sqe_get(struct hu__ur *ur)
{
	unsigned head = __atomic_load_n(ur->sq_head, __ATOMIC_ACQUIRE);

	while (ur->sq_tail_local - head >= ur->sq_entries) {
		(void)hu__ur_enter(ur, 0, 0);
		head = __atomic_load_n(ur->sq_head, __ATOMIC_ACQUIRE);
		if (ur->sq_tail_local - head >= ur->sq_entries)
			(void)hu__ur_enter(ur, 1, 0);
		head = __atomic_load_n(ur->sq_head, __ATOMIC_ACQUIRE);
	}
	struct io_uring_sqe *sqe = &ur->sqes[ur->sq_tail_local & *ur->sq_mask];
	memset(sqe, 0, sizeof(*sqe));
	ur->sq_tail_local++;
	ur->pending++;
	ur->inflight++;
	return sqe;
}

int hu__ur_has_pending(const struct hu__ur *ur)
{
	return ur->pending > 0;
}

/* ---- completion ---- */

int hu__ur_next(struct hu__ur *ur, struct io_uring_cqe *out)
{
	unsigned head = *ur->cq_head;

	if (head == __atomic_load_n(ur->cq_tail, __ATOMIC_ACQUIRE))
		return 0;
	*out = ur->cqes[head & *ur->cq_mask];
	/* Release the slot at once: the kernel may post into it while the
	 * callbacks of this one run. */
	__atomic_store_n(ur->cq_head, head + 1, __ATOMIC_RELEASE);
	if (!(out->flags & IORING_CQE_F_MORE))
		ur->inflight--;
	return 1;
}

char *hu__ur_buf(struct hu__ur *ur, unsigned bid)
{
	return ur->bufs + (size_t)bid * BUF_SIZE;
}

void hu__ur_buf_put(struct hu__ur *ur, unsigned bid)
{
	struct io_uring_buf *b = &ur->br->bufs[ur->br_tail & (NBUFS - 1)];

	b->addr = (uint64_t)(uintptr_t)hu__ur_buf(ur, bid);
	b->len = BUF_SIZE;
	b->bid = (uint16_t)bid;
	ur->br_tail++;
	__atomic_store_n(&ur->br->tail, (uint16_t)ur->br_tail,
			 __ATOMIC_RELEASE);
}

/* ---- what a connection has armed ---- */

uint64_t hu__ur_key(const hu_conn *c, unsigned op)
{
	unsigned seq = (c->ur >> HU__UR_SEQ_SHIFT) & 15u;

	return hu__conn_key(c) | ((uint64_t)op << HU__UR_OP_SHIFT) |
	       ((uint64_t)seq << HU__UR_SEQ_BIT);
}

static void cancel(struct hu__ur *ur, uint64_t key)
{
	struct io_uring_sqe *sqe = sqe_get(ur);

	sqe->opcode = IORING_OP_ASYNC_CANCEL;
	sqe->fd = -1;
	sqe->addr = key;
	sqe->user_data = HU__UR_IGNORE;
}

static void arm_poll(struct hu__ur *ur, int fd, uint64_t key, int multi)
{
	struct io_uring_sqe *sqe = sqe_get(ur);

	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = fd;
	sqe->poll32_events = POLLOUT; /* ERR and HUP: always */
	sqe->len = multi ? IORING_POLL_ADD_MULTI : 0;
	sqe->user_data = key;
}

void hu__ur_poll_fd(struct hu__ur *ur, int fd, uint64_t key)
{
	struct io_uring_sqe *sqe = sqe_get(ur);

	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = fd;
	sqe->poll32_events = POLLIN;
	sqe->len = IORING_POLL_ADD_MULTI;
	sqe->user_data = key;
}

static void arm_recv(struct hu__ur *ur, const hu_conn *c)
{
	struct io_uring_sqe *sqe = sqe_get(ur);

	sqe->opcode = IORING_OP_RECV;
	sqe->fd = c->fd;
	sqe->ioprio = IORING_RECV_MULTISHOT;
	sqe->flags = IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	sqe->user_data = hu__ur_key(c, HU__UR_OP_RECV);
}

/* Does it read by multishot receive now (else by poll, as on epoll)? */
int hu__ur_streaming(const hu_conn *c)
{
	return !(c->flags & (HU__C_FINISHED | HU__C_CONNECTING | HU__C_PAUSED |
			     HU__C_PEER_DONE));
}

void hu__ur_sync(hu_conn *c)
{
	struct hu__ur *ur = hu__loop_of(c)->ur;

	if (ur == NULL || (c->flags & HU__C_FINISHED))
		return;
	if (hu__ur_streaming(c)) {
		if (c->ur & HU__UR_POLL) {
			cancel(ur, hu__ur_key(c, HU__UR_OP_POLL));
			c->ur &= ~HU__UR_POLL;
		}
		if (!(c->ur & HU__UR_RECV)) {
			arm_recv(ur, c);
			c->ur |= HU__UR_RECV;
		}
		if (c->w.wbuf != NULL && !(c->ur & HU__UR_POUT)) {
			arm_poll(ur, c->fd, hu__ur_key(c, HU__UR_OP_POUT), 0);
			c->ur |= HU__UR_POUT;
		}
		return;
	}
	if (c->ur & HU__UR_RECV) {
		/* Its last completions (data, or the end) come first. */
		if (!(c->ur & HU__UR_CANCEL)) {
			cancel(ur, hu__ur_key(c, HU__UR_OP_RECV));
			c->ur |= HU__UR_CANCEL;
			/* Paused: at once, or the receive reads on (and we
			 * hold what it reads) until the loop next submits. */
			if (c->flags & HU__C_PAUSED)
				(void)hu__ur_enter(ur, 0, 0);
		}
		return;
	}
	if (!(c->ur & HU__UR_POLL)) {
		/* A new sequence: completions of an earlier poll that was
		 * cancelled no longer match. */
		unsigned seq = ((c->ur >> HU__UR_SEQ_SHIFT) + 1) & 15u;

		c->ur = (uint16_t)((c->ur & ~(15u << HU__UR_SEQ_SHIFT)) |
				   (seq << HU__UR_SEQ_SHIFT) | HU__UR_POLL);
		arm_poll(ur, c->fd, hu__ur_key(c, HU__UR_OP_POLL), 1);
	}
}

void hu__ur_want_out(hu_conn *c)
{
	if (hu__loop_of(c)->ur != NULL && hu__ur_streaming(c))
		hu__ur_sync(c);
}

void hu__ur_close(hu_conn *c)
{
	struct hu__ur *ur = hu__loop_of(c)->ur;

	if ((c->ur & HU__UR_RECV) && !(c->ur & HU__UR_CANCEL))
		cancel(ur, hu__ur_key(c, HU__UR_OP_RECV));
	if (c->ur & HU__UR_POLL)
		cancel(ur, hu__ur_key(c, HU__UR_OP_POLL));
	if (c->ur & HU__UR_POUT)
		cancel(ur, hu__ur_key(c, HU__UR_OP_POUT));
	c->ur &= (uint16_t)(15u << HU__UR_SEQ_SHIFT);

	struct io_uring_sqe *sqe = sqe_get(ur);
	sqe->opcode = IORING_OP_CLOSE;
	sqe->fd = c->fd;
	sqe->user_data = HU__UR_IGNORE;
}

void hu__ur_cancel_key(struct hu__ur *ur, uint64_t key)
{
	cancel(ur, key);
}
