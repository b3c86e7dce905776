/*
 * internal.h -- private declarations shared by the library's files.
 *
 * Names: hu_ public, hu__ internal non-static, plain names for static.
 * Nothing here is installed; nothing outside src/ (but tests) includes it.
 *
 * Where things are. The library is five layers; a file calls only files of
 * its own layer or of the layers above it in this list (DESIGN.md):
 *   1. status   status.c   the HU_* codes, their names (reasons, phases,
 *                          errnos, TCP states) and the one place errno is
 *                          read and turned into a code;
 *               stash.c    a socket's pending error that hu_probe() had to
 *                          consume (SO_ERROR hands it out once). It is
 *                          error state, like errno, not socket policy: io
 *                          must see it, or hu_recv() after a probe would
 *                          report a reset as a clean EOF. So it sits here,
 *                          below io, and io's use of it breaks no layer.
 *   2. io       io.c       SIGPIPE-safe recv/send with classified results,
 *                          the socket-kind check, queue sizes, the clock;
 *               addr.c     parsing and formatting addresses.
 *   3. sock     probe.c    hu_probe(); liveness.c hu_liveness();
 *               close.c    hu_report(), hu_close_graceful(), hu_abort().
 *   4. loop     loop.h     its private structures and file map: loop.c,
 *                          epoll.c, timer.c, buf.c, conn.c, conn-write.c,
 *                          conn-end.c, conn-api.c, listen.c, watch.c.
 *   5. cli      ../cli     the tool, on the public API only.
 * A close reason: its words in status.c (hu_reason_name), where the loop
 * picks it in conn-end.c (reason_of, hu__conn_give_up) and conn.c (the
 * timer: idle, linger, connect timeout).
 */
#ifndef HU_INTERNAL_H
#define HU_INTERNAL_H

#include "hangup.h"

#include <stdint.h>

/*
 * Internal status codes: never returned by a public function. They let the
 * callers of hu__status_errno() tell "retry" and "connect in progress" apart
 * from real outcomes without looking at errno themselves.
 */
#define HU__INTR (-1000)       /* EINTR: retry the call */
#define HU__INPROGRESS (-1001) /* EINPROGRESS / EALREADY: connect under way */

/*
 * status.c -- the only file that reads or writes errno.
 *
 * hu__status_errno() classifies the errno left by the system call that just
 * failed and, if err_out is not NULL, stores the raw value there. Call it
 * immediately after a call returned -1 and at no other time.
 */
int hu__status_errno(int *err_out);
/* Classify an error value that did not come from errno (SO_ERROR). */
int hu__status_of(int err);
/* hu__status_errno() for a connect() on a TCP socket that failed at once:
 * the errors that mean "no route" there are HU_UNREACH (status.c). */
int hu__status_connect_errno(int *err_out);
/* Put back the errno of the failure being reported after cleanup calls
 * (close(), ...) that may have changed it. err 0 leaves errno alone. */
void hu__errno_set(int err);

/* The kind of socket an fd is, as the checks below find it. */
enum hu__kind {
	HU__KIND_TCP = 1, /* AF_INET / AF_INET6, IPPROTO_TCP */
	HU__KIND_UNIX = 2 /* AF_UNIX, SOCK_STREAM */
};

/* One getsockopt: 0 if fd is an open SOCK_STREAM socket, else HU_BADF. */
int hu__check_stream(int fd);
/* Full check: returns HU__KIND_TCP or HU__KIND_UNIX, or HU_BADF. */
int hu__socket_kind(int fd);

/* io.c -- the unchecked data path, for callers that created the socket
 * themselves (the event loop): no type check, otherwise as hu_recv/hu_send.
 * On a negative result *err (if not NULL) gets the errno value behind it. */
ssize_t hu__recv_raw(int fd, void *buf, size_t len, int *err);
ssize_t hu__send_raw(int fd, const void *buf, size_t len, int *err);
ssize_t hu__sendv_raw(int fd, const struct iovec *iov, int iovcnt, int *err);

/*
 * stash.c -- socket errors that hu_probe() had to consume to learn them.
 * Keyed by fd and SO_COOKIE, so an fd number reused by a new socket never
 * inherits an old socket's error.
 */
void hu__stash_put(int fd, int err);
/* The stashed error for fd (0 if none); `take` removes it. */
int hu__stash_get(int fd, int take);
/* Forget fd (it is being closed). */
void hu__stash_forget(int fd);

/* Bytes in a socket queue: SIOCINQ (unread) or SIOCOUTQ (not yet
 * acknowledged); 0 if the ioctl fails. */
size_t hu__queue_bytes(int fd, unsigned long req);

/* close.c -- fill a report for a socket of a known kind. */
int hu__report_fill(int fd, int kind, struct hu_report *out);

/*
 * TCP states as tcpi_state reports them (include/net/tcp_states.h). The
 * library reads struct tcp_info from <linux/tcp.h>, whose fields are newer
 * than glibc's copy in <netinet/tcp.h> (tcpi_bytes_acked, ...), and the uapi
 * headers do not name the states.
 */
enum {
	HU__TCP_ESTABLISHED = 1,
	HU__TCP_SYN_SENT,
	HU__TCP_SYN_RECV,
	HU__TCP_FIN_WAIT1,
	HU__TCP_FIN_WAIT2,
	HU__TCP_TIME_WAIT,
	HU__TCP_CLOSE,
	HU__TCP_CLOSE_WAIT,
	HU__TCP_LAST_ACK,
	HU__TCP_LISTEN,
	HU__TCP_CLOSING
};

/* io.c -- monotonic clock in milliseconds. */
uint64_t hu__now_ms(void);

#endif /* HU_INTERNAL_H */
