/*
 * epoll.c -- the loop's one backend: epoll, edge-triggered.
 *
 * Each socket is registered once, for its whole life, with IN, OUT and
 * RDHUP, edge-triggered (EPOLLHUP and EPOLLERR are always reported). Edge
 * triggering means no epoll_ctl() on the data path: an OUT edge comes only
 * when the send buffer regains room after the kernel found it full
 * (sk_stream_write_space() in net/core/stream.c), so a healthy connection
 * that never fills its send buffer is never woken for OUT alone, and the
 * loop never has to switch OUT interest on and off as a level-triggered
 * loop must. The price of ET is that a reader must not stop before the
 * queue is drained (kernel-truth.md, sc. 11); conn.c keeps to that.
 */
#include "loop.h"

#include <errno.h>
#include <sys/epoll.h>

int hu__ep_create(void)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);

	return fd < 0 ? hu__status_errno(NULL) : fd;
}

int hu__ep_add(int epfd, int fd, uint64_t data, uint32_t events, int *err)
{
	struct epoll_event ev = {.events = events | EPOLLET};

	ev.data.u64 = data;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return hu__status_errno(err);
	return 0;
}

/* Level-triggered, for hu_watch: op is EPOLL_CTL_ADD or EPOLL_CTL_MOD. */
int hu__ep_lt(int epfd, int op, int fd, void *ptr, uint32_t events)
{
	struct epoll_event ev = {.events = events};

	ev.data.ptr = ptr;
	if (epoll_ctl(epfd, op, fd, &ev) < 0) {
		int err;
		int st = hu__status_errno(&err);

		/* EPERM: a regular file or a directory, which epoll refuses
		 * (they are always ready). */
		return err == EPERM ? HU_BADF : st;
	}
	return 0;
}

/*
 * Deregister before close(). close() alone removes the registration only
 * when it drops the last reference to the open file: if the program forked
 * (or dup()ed the fd), the registration would outlive our object and epoll
 * would hand back a pointer to freed memory (epoll(7), "Questions and
 * answers", Q6). One cheap syscall buys memory safety.
 */
void hu__ep_del(int epfd, int fd)
{
	struct epoll_event ev = {0}; /* non-NULL for kernels before 2.6.9 */

	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

int hu__ep_wait(int epfd, struct epoll_event *ev, int max, int timeout_ms)
{
	int n = epoll_wait(epfd, ev, max, timeout_ms);

	if (n >= 0)
		return n;
	int st = hu__status_errno(NULL);
	return st == HU__INTR ? 0 : st;
}
