/*
 * hangup.h -- know when the other side hung up.
 *
 * The one public header of libhangup: detect and handle the end of a
 * stream-socket connection (TCP over IPv4/IPv6, Unix-domain stream) and say
 * why it ended. Linux only; depends on libc only.
 *
 * Conventions (see docs/ and hangup(3)):
 *  - Every function returns >= 0 on success (a byte count where one applies)
 *    or a negative HU_* status code. errno is never the interface; after a
 *    negative return that came from a failed system call errno still holds
 *    that call's own error, and only then is it meaningful.
 *  - No function raises SIGPIPE, whatever the process's disposition of it.
 *  - A call that fails with HU_BADF or HU_INVAL has had no effect.
 *  - New status codes are added last and never removed.
 */
#ifndef HANGUP_H
#define HANGUP_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HU_EXPORT __attribute__((visibility("default")))
#else
#define HU_EXPORT
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                   */
/* ------------------------------------------------------------------------ */

#define HU_VERSION_MAJOR 0
#define HU_VERSION_MINOR 1
#define HU_VERSION_PATCH 0
#define HU__STR(x) #x
#define HU__XSTR(x) HU__STR(x)
/** "MAJOR.MINOR.PATCH", made from the three numbers above. */
#define HU_VERSION_STRING          \
	HU__XSTR(HU_VERSION_MAJOR) \
	"." HU__XSTR(HU_VERSION_MINOR) "." HU__XSTR(HU_VERSION_PATCH)
/** The version as one number: major * 10000 + minor * 100 + patch. */
#define HU_VERSION_NUMBER \
	(HU_VERSION_MAJOR * 10000 + HU_VERSION_MINOR * 100 + HU_VERSION_PATCH)

/** The version of the library actually linked, as "MAJOR.MINOR.PATCH". */
HU_EXPORT const char *hu_version(void);
/** The version of the library actually linked, as HU_VERSION_NUMBER. */
HU_EXPORT unsigned hu_version_number(void);

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

/**
 * Negative results. Values are stable: new codes are added last (more
 * negative), none is ever removed or renumbered.
 */
enum hu_status {
	HU_OK = 0,
	HU_AGAIN = -1,   /**< nothing now; wait for readiness (EAGAIN) */
	HU_EOF = -2,     /**< the peer finished sending (FIN): orderly close
			      or half-close */
	HU_RESET = -3,   /**< the peer reset the connection (RST) */
	HU_PIPE = -4,    /**< can no longer send: the peer is gone (RST after
			      our late write) or we shut down writing (EPIPE) */
	HU_TIMEOUT = -5, /**< the peer is presumed dead: keepalive or the user
			      timeout expired (ETIMEDOUT) */
	HU_UNREACH = -6, /**< host or network unreachable */
	HU_REFUSED = -7, /**< connection refused */
	HU_BADF = -8,    /**< not an open socket of a supported kind */
	HU_INVAL = -9,   /**< a bad argument */
	HU_ERROR = -10   /**< any other system error (errno tells which) */
};

/**
 * A short sentence naming a status code (or "success" for >= 0). Never NULL;
 * an unknown negative code gives "unknown hangup status".
 */
HU_EXPORT const char *hu_strerror(int code);

/**
 * The short upper-case name of a status code: "HU_EOF", "HU_RESET", ... ;
 * "HU_OK" for >= 0. Never NULL.
 */
HU_EXPORT const char *hu_status_name(int code);

/**
 * The symbolic name of an errno value, e.g. "ECONNRESET" for ECONNRESET, or
 * NULL when `err` is 0 or unknown. Reads nothing but its argument.
 */
HU_EXPORT const char *hu_errno_name(int err);

/* ------------------------------------------------------------------------ */
/* Close reasons (used by the event loop and every CLI output)               */
/* ------------------------------------------------------------------------ */

/** Why a connection ended. The words are hu_reason_name()'s. */
enum hu_reason {
	HU_CLOSE_EOF = 0, /**< "eof": the peer closed (FIN), we finished */
	HU_CLOSE_RESET,   /**< "reset": the peer reset (RST) or refused
			       our late data */
	HU_CLOSE_TIMEOUT, /**< "timeout": dead peer (keepalive / user
			       timeout expired) */
	HU_CLOSE_IDLE,    /**< "idle": our own idle timeout expired */
	HU_CLOSE_LOCAL,   /**< "local": we closed gracefully */
	HU_CLOSE_ABORT,   /**< "abort": we aborted (RST) */
	HU_CLOSE_UNREACH, /**< "unreachable": ICMP unreachable */
	HU_CLOSE_REFUSED, /**< "refused": a connect was refused */
	HU_CLOSE_CONNECT_TIMEOUT, /**< "connect-timeout": a connect did not
				       complete in time */
	HU_CLOSE_ERROR            /**< "error": anything else (errno kept) */
};

/** The lower-case word for a reason ("eof", "reset", ...); "?" if unknown. */
HU_EXPORT const char *hu_reason_name(int reason);

/**
 * The close reason that a status code stands for when it ends a connection:
 * HU_EOF -> HU_CLOSE_EOF, HU_RESET and HU_PIPE -> HU_CLOSE_RESET, HU_TIMEOUT
 * -> HU_CLOSE_TIMEOUT, HU_UNREACH -> HU_CLOSE_UNREACH, HU_REFUSED ->
 * HU_CLOSE_REFUSED, anything else -> HU_CLOSE_ERROR.
 */
HU_EXPORT int hu_reason_from_status(int code);

/* ------------------------------------------------------------------------ */
/* I/O: stateless, SIGPIPE-safe, classified                                  */
/* ------------------------------------------------------------------------ */

/**
 * Receive up to `len` bytes from the stream socket `fd`.
 *
 * Returns the number of bytes read (> 0), or:
 *  HU_AGAIN   no data now (non-blocking socket);
 *  HU_EOF     the peer will send nothing more (FIN). Sticky: every later call
 *             returns HU_EOF again, until a reset is known (see below);
 *  HU_RESET   the peer reset the connection. Data that arrived before the
 *             reset is returned first, by earlier calls;
 *  HU_TIMEOUT the connection was declared dead (keepalive/user timeout);
 *  HU_BADF    fd is not an open stream socket (also for UDP, pipes, files);
 *  HU_INVAL   buf is NULL or len is 0 (0 would be ambiguous with EOF).
 *
 * A reset or timeout that hu_probe() took from the kernel is remembered and
 * reported here instead of an EOF. Retries EINTR. Blocks only if the socket
 * is blocking. Costs one getsockopt() beside the recv() to check the socket
 * type; the event loop's internal path does not pay it.
 */
HU_EXPORT ssize_t hu_recv(int fd, void *buf, size_t len);

/**
 * Send up to `len` bytes on the stream socket `fd`, never raising SIGPIPE
 * (MSG_NOSIGNAL, on TCP and Unix sockets alike), retrying EINTR.
 *
 * Returns the number of bytes accepted by the kernel (may be short on a
 * non-blocking socket), or HU_AGAIN (send buffer full), HU_RESET (the peer
 * reset), HU_PIPE (the peer is gone -- the kernel reports EPIPE when the
 * peer's RST answered an earlier write after its FIN -- or we shut down
 * writing), HU_TIMEOUT, HU_BADF, HU_INVAL (buf NULL with len > 0).
 *
 * Note: the first write after the peer's close usually *succeeds* on TCP
 * (the kernel cannot know yet); it draws the RST that makes the next one
 * fail. Use hu_probe() or EPOLLRDHUP to learn of the FIN before writing.
 */
HU_EXPORT ssize_t hu_send(int fd, const void *buf, size_t len);

/**
 * Scatter/gather hu_send(): sends the `iovcnt` buffers of `iov` in order with
 * one sendmsg(). Same results as hu_send(); HU_INVAL if iov is NULL with
 * iovcnt > 0, or iovcnt is negative or above IOV_MAX.
 */
HU_EXPORT ssize_t hu_sendv(int fd, const struct iovec *iov, int iovcnt);

/* ------------------------------------------------------------------------ */
/* Socket policy: probe, liveness, report, close                             */
/* ------------------------------------------------------------------------ */

/** What hu_probe() found out about the peer. */
enum hu_peer {
	HU_PEER_OPEN = 0, /**< no sign that the peer has gone */
	HU_PEER_EOF = 1,  /**< the peer's FIN arrived; `unread` bytes may still
			       be queued before it */
	/** reset, timed out or errored; `status` says which */
	HU_PEER_GONE = 2
};

/** The result of hu_probe(): a snapshot, taken without consuming data. */
struct hu_probe {
	int peer;        /**< HU_PEER_OPEN, HU_PEER_EOF or HU_PEER_GONE */
	int status;      /**< 0 (open), HU_EOF, or for GONE the HU_* code:
			      HU_RESET, HU_PIPE, HU_TIMEOUT, HU_UNREACH,
			      HU_REFUSED or HU_ERROR */
	int error;       /**< the errno value behind `status` (ECONNRESET, ...),
			      or 0 */
	size_t unread;   /**< bytes we can still read (SIOCINQ) */
	size_t unsent;   /**< bytes sent or queued but not yet acknowledged
			      (SIOCOUTQ; on Unix sockets the kernel counts buffer
			      memory, not payload) */
	int tcp_state;   /**< TCP_INFO tcpi_state (TCP_ESTABLISHED, ...), or -1
			      for a Unix-domain socket */
	unsigned events; /**< what poll() saw: POLLIN, POLLOUT, POLLRDHUP,
			      POLLHUP, POLLERR bits */
};

/**
 * Look at the connection on `fd` without consuming data and without
 * blocking, and say whether the peer is still there.
 *
 * A pending socket error (an RST or a timeout) can only be read from the
 * kernel by consuming it (SO_ERROR, recv and MSG_PEEK all clear it, after
 * which recv() returns 0 as if the peer had closed cleanly). hu_probe()
 * therefore keeps what it consumed, keyed by fd and socket cookie, and
 * hu_recv()/hu_send() on the same socket report it in place of the false EOF.
 * If something else consumed the error first (a raw getsockopt(SO_ERROR)),
 * the kernel keeps no trace of it and a reset then reads as HU_PEER_EOF.
 *
 * Returns 0 and fills *out, or HU_BADF (not an open stream socket), HU_INVAL
 * (out NULL, or a listening socket: it has no peer).
 */
HU_EXPORT int hu_probe(int fd, struct hu_probe *out);

/** The word for a probe's `peer`: "open", "eof" or "gone" ("?" otherwise). */
HU_EXPORT const char *hu_peer_name(int peer);

/**
 * Arm dead-peer detection on the TCP socket `fd`: a peer that vanished (host
 * crash, cable cut, partition) is reported as HU_TIMEOUT (recv/send fail with
 * ETIMEDOUT, epoll reports EPOLLERR|EPOLLHUP) within about `timeout_ms`,
 * whether the connection is idle or has unacknowledged data. A live idle
 * peer is never declared dead: it answers the keepalive probes.
 *
 * A live peer that stops *reading* while we have data for it is another
 * matter: its zero window is answered, but since Linux 5.11 the kernel gives
 * up once the window stayed closed for TCP_USER_TIMEOUT (tcp_probe_timer()),
 * so a reader stalled for longer than `timeout_ms` is reported as HU_TIMEOUT
 * too. Choose `timeout_ms` above the longest stall a slow reader may have.
 *
 * It sets SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and
 * TCP_USER_TIMEOUT together. Keepalive counts whole seconds and needs one
 * unanswered probe before it can give up, so:
 *   T     = timeout_ms / 1000, rounded down, at least 2 (seconds)
 *   half  = T - T / 2 (T / 2 rounded up)
 *   intvl = half / 3 (at least 1, at most 32767)
 *   idle  = T - intvl * (half / intvl) (at most 32767)
 *   cnt   = (T - idle) / intvl (at least 1, at most 127)
 *   TCP_USER_TIMEOUT = (idle + intvl * cnt) * 1000 ms
 * which is T seconds exactly up to T = 65533 (about 18 h) and never more
 * than T. With the user timeout set the kernel ignores TCP_KEEPCNT: an idle
 * connection is dropped at the first keepalive tick (idle, idle + intvl,
 * ...) at which nothing was received for TCP_USER_TIMEOUT -- the tick at
 * T, counted from the last segment received -- and a busy one when data
 * stayed unacknowledged for TCP_USER_TIMEOUT counted from the first
 * retransmission, i.e. up to one retransmission timeout (0.2-0.45 s on
 * loopback) later. Add a few tens of ms of kernel timer slack.
 * Values below 2000 are rounded up to 2 s (idle 1 s + one probe interval).
 * An idle connection gets cnt probes before T: one only while T < 3 s, so
 * there one lost probe (or its lost answer) ends a live connection with
 * HU_TIMEOUT. Where packets can be lost -- any real network, or a loopback
 * so loaded that the kernel's backlog drops packets (make soak counts them)
 * -- use T >= 3 s (two probes) or more.
 *
 * timeout_ms == 0 turns detection off (SO_KEEPALIVE 0, TCP_USER_TIMEOUT 0).
 * On a Unix-domain stream socket this is a no-op that returns 0 (the kernel
 * reports a vanished local peer at once). Returns HU_BADF for anything that
 * is not a stream socket, HU_INVAL for timeout_ms above INT_MAX.
 */
HU_EXPORT int hu_liveness(int fd, unsigned timeout_ms);

/** A snapshot of a connection's transport state (hu_report()). */
struct hu_report {
	int tcp_state;        /**< tcpi_state, or -1 (Unix socket) */
	unsigned rtt_us;      /**< smoothed round-trip time */
	unsigned rttvar_us;   /**< its variance */
	unsigned rto_us;      /**< current retransmission timeout */
	unsigned retransmits; /**< segments retransmitted in all
				   (tcpi_total_retrans) */
	unsigned backoff;     /**< consecutive timeouts now */
	unsigned probes;      /**< unanswered keepalive/window probes */
	unsigned unacked;     /**< segments sent, not yet acked */
	size_t unsent;        /**< bytes not yet acked (SIOCOUTQ) */
	size_t unread;        /**< bytes we have not read (SIOCINQ) */
	/** Bytes the peer acknowledged (tcpi_bytes_acked). The kernel counts
	 * sequence space: on a connection we opened (connect) our SYN is one
	 * more, and our FIN, once acknowledged, one more again. */
	unsigned long long bytes_acked;
	unsigned long long bytes_received; /**< bytes we received */
	unsigned last_data_recv_ms;        /**< ms since data last arrived */
	unsigned last_ack_recv_ms;         /**< ms since an ACK last arrived */
};

/**
 * Fill *out with TCP_INFO and the queue sizes of `fd`. For a Unix-domain
 * socket only tcp_state (-1), unsent and unread are set; the rest is 0.
 * Returns 0, HU_BADF (not a stream socket) or HU_INVAL (out NULL).
 */
HU_EXPORT int hu_report(int fd, struct hu_report *out);

/**
 * Close `fd` so that the peer gets everything we queued and no RST: shut
 * down writing (our FIN goes after our data), keep reading and discarding
 * until the peer's FIN or until `linger_ms` runs out, wait (within the same
 * time) for our data to be acknowledged, then close.
 *
 * Reading what the peer still sends is what prevents the RST: closing a
 * socket with unread data makes Linux send RST at once and discard our
 * unsent data (RFC 2525, tcp_close() in net/ipv4/tcp.c).
 *
 * Always closes an fd that is an open stream socket. Returns 0 when the
 * peer's FIN came in time, HU_TIMEOUT when linger_ms ran out first,
 * HU_RESET (or HU_TIMEOUT, HU_PIPE) when the connection was already dead or
 * died meanwhile. A socket with no connection at all (never connected,
 * connecting, listening) is closed too and gives HU_PIPE, errno ENOTCONN
 * (or the status of an error the kernel still held for it, e.g.
 * HU_REFUSED). If `out` is not NULL it is filled just before the close;
 * out->unsent is then the number of bytes the peer never acknowledged.
 * HU_BADF (not an open stream socket -- the fd is then left alone) is the
 * only result after which the fd is still open.
 */
HU_EXPORT int hu_close_graceful(int fd, unsigned linger_ms,
				struct hu_report *out);

/**
 * Abort the connection: SO_LINGER {1, 0} and close, so the peer gets an RST
 * at once and everything unsent is discarded. Unix-domain sockets have no
 * RST; the peer sees EOF (or ECONNRESET if it had unread data for us).
 * Returns 0, or HU_BADF (not an open stream socket -- then left alone).
 */
HU_EXPORT int hu_abort(int fd);

/**
 * The name of a TCP state ("ESTABLISHED", "CLOSE_WAIT", ...), "UNIX" for -1,
 * "?" for an unknown value.
 */
HU_EXPORT const char *hu_tcp_state_name(int tcp_state);

/* ------------------------------------------------------------------------ */
/* Addresses                                                                 */
/* ------------------------------------------------------------------------ */

/** A parsed socket address (hu_addr_parse()). */
struct hu_addr {
	struct sockaddr_storage sa; /**< AF_INET, AF_INET6 or AF_UNIX */
	socklen_t len;              /**< the length to pass to bind/connect */
};

/**
 * Parse `text` into *out. Accepted forms:
 *   HOST:PORT     HOST an IPv4 literal (127.0.0.1) or "localhost"
 *   [V6]:PORT     an IPv6 literal, e.g. [::1]:8080
 *   [V6%IF]:PORT  with a scope id: an interface name or number, e.g.
 *                 [fe80::1%eth0]:80 (a link-local address needs one)
 *   :PORT         loopback 127.0.0.1
 *   unix:PATH     a Unix-domain socket path (unix:@NAME is abstract)
 * PORT is 0..65535 (0 lets the kernel choose when binding). No DNS lookup is
 * ever made (an interface name is looked up on this host, if_nametoindex).
 * Returns 0, or HU_INVAL (malformed, port out of range, unknown interface,
 * path too long for sun_path, NULL arguments).
 */
HU_EXPORT int hu_addr_parse(const char *text, struct hu_addr *out);

/**
 * Format a socket address as hu_addr_parse() reads it ("127.0.0.1:80",
 * "[::1]:80", "[fe80::1%eth0]:80", "unix:/tmp/s"). Writes at most `size` bytes
 * including the NUL and returns the length it needed (like snprintf), or
 * HU_INVAL.
 */
HU_EXPORT int hu_addr_format(const struct sockaddr *sa, socklen_t len,
			     char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* Event loop                                                                */
/* ------------------------------------------------------------------------ */
/*
 * An epoll loop (edge-triggered, EPOLLRDHUP always requested) on which every
 * connection ends with exactly one on_close that says why. One thread per
 * loop. All objects are opaque and owned by the library. A connection may be
 * closed from inside any of its callbacks: the close is recorded at once
 * (later writes fail with HU_PIPE) and on_close runs, and memory is freed,
 * at a safe point after the current callback returns.
 */

typedef struct hu_loop hu_loop;
typedef struct hu_listener hu_listener;
typedef struct hu_conn hu_conn;
typedef struct hu_timer hu_timer;
typedef struct hu_watch hu_watch;

/** Where in its life a connection ended (hu_close_info.phase). */
enum hu_phase {
	HU_PHASE_CONNECTING = 0, /**< "connecting": connect not completed */
	HU_PHASE_OPEN,           /**< "open": both directions open */
	HU_PHASE_PEER_DONE,      /**< "peer-done": after the peer's FIN */
	HU_PHASE_LOCAL_DONE,     /**< "local-done": after our shutdown */
	HU_PHASE_CLOSING         /**< "closing": during a graceful close */
};

/** The word for a phase ("connecting", "open", "peer-done", ...). */
HU_EXPORT const char *hu_phase_name(int phase);

/**
 * What on_close reports: the connection's end and its accounting. Final:
 * nothing the report says changes after on_close (the loop never leaves
 * the kernel sending data it reported as undelivered).
 */
struct hu_close_info {
	int reason; /**< enum hu_reason */
	/** The errno value behind it (ECONNRESET...), or 0. An RST that
	 * follows the peer's FIN reads EPIPE (the kernel's word for an RST
	 * in CLOSE_WAIT) with reason "reset" and phase "peer-done": the
	 * peer reset after finishing; it says nothing about our writes. */
	int error;
	/** enum hu_phase when it ended; for an idle close, the phase the
	 * idle timer found ("open" for a plain idle connection). */
	int phase;
	/** Every payload byte read from the peer, `discarded` included. */
	unsigned long long bytes_in;
	unsigned long long bytes_out; /**< bytes the kernel accepted */
	/**
	 * Bytes we wrote (buffered or sent) that the peer never acknowledged:
	 * our buffer plus, on TCP, the kernel's unacknowledged bytes
	 * (SIOCOUTQ, our FIN not counted). Exact and final: before an eof,
	 * local or idle close the loop waits for the ACK, and when it gives
	 * up (linger_ms with no progress, see hu_conn_config.linger_ms) it
	 * aborts with an RST, so nothing more reaches the peer and the peer
	 * sees a cut stream, not a clean end. What the peer received +
	 * undelivered = bytes_out + what was still buffered, give or take
	 * the bytes in flight at the abort.
	 */
	unsigned long long undelivered;
	/** From creation to the moment the loop learned of the end (for a
	 * paused connection that is when the RST or timeout came, not when
	 * reading resumed). */
	unsigned long long duration_ms;
	/** Of bytes_in, those read and thrown away while closing (the
	 * linger of a graceful or idle close), never given to on_data. */
	unsigned long long discarded;
};

/**
 * Per-connection callbacks. All are optional except where said. `data` in
 * on_data is valid only during the call.
 */
struct hu_conn_callbacks {
	/** Connected (outgoing) or accepted (incoming). */
	void (*on_open)(hu_conn *c);
	/** Bytes arrived. */
	void (*on_data)(hu_conn *c, const void *data, size_t len);
	/**
	 * The peer finished sending (FIN). If set, the connection stays open
	 * for writing (half-close) until the application closes or shuts it
	 * down; if NULL, the loop flushes what is buffered and closes with
	 * reason "eof".
	 */
	void (*on_eof)(hu_conn *c);
	/** The write buffer fell below the high-water mark again. */
	void (*on_drain)(hu_conn *c);
	/** Exactly once per connection, last. */
	void (*on_close)(hu_conn *c, const struct hu_close_info *info);
	/** Every heartbeat_ms while open: the place to send an application
	 * ping (hangup knows no application protocol). */
	void (*on_heartbeat)(hu_conn *c);
};

/** How connections are made and kept; zeroes mean the defaults. */
struct hu_conn_config {
	struct hu_conn_callbacks cb;
	void *user; /**< initial hu_conn_user() value */
	/** Close with reason "idle" after this long with no byte moved
	 * either way and none waiting to be read (a paused connection with
	 * data queued is not idle: backpressure is not silence). The close
	 * is graceful, as hu_conn_close(HU_GRACEFUL): FIN, then read and
	 * discard until the peer's FIN or linger_ms -- so a slowloris peer
	 * holds the connection at most linger_ms past idle_ms. 0 = never. */
	unsigned idle_ms;
	unsigned liveness_ms;        /**< hu_liveness(): dead peer closes with
					  "timeout"; 0 = off */
	unsigned heartbeat_ms;       /**< on_heartbeat period; 0 = none */
	unsigned connect_timeout_ms; /**< outgoing only; 0 = kernel's own */
	/** Bounds every close the loop waits on; 0 = 5000. A graceful
	 * (or idle) close: flush, FIN and the peer's FIN within linger_ms
	 * in all. The flush before the automatic close after the peer's
	 * FIN: linger_ms with no byte taken by the peer (a slow reader is
	 * not cut off). Running out with data undelivered ends in an RST;
	 * on_close then says ETIMEDOUT and the exact undelivered count. */
	unsigned linger_ms;
	size_t high_water; /**< write buffer mark; 0 = 64 KiB */
};

/** A listener's configuration. */
struct hu_listen_config {
	struct hu_conn_config conn; /**< for every accepted connection */
	int backlog;                /**< 0 = SOMAXCONN */
	int reuseport;              /**< set SO_REUSEPORT (several loops, one
					 port) */
	/** Optional: accept() failed with something other than EAGAIN
	 * (EMFILE, ENFILE, ENOBUFS...). The listener keeps running. */
	void (*on_accept_error)(hu_listener *l, int status, int error);
};

/** The loop's backend: what waits for the kernel's news. */
enum hu_backend {
	HU_BACKEND_AUTO = 0,    /**< the default: epoll, today */
	HU_BACKEND_EPOLL = 1,   /**< epoll, edge-triggered */
	HU_BACKEND_IO_URING = 2 /**< io_uring: multishot receive into shared
				     provided buffers (Linux 6.0 and later) */
};

/** Do not let the HANGUP_BACKEND environment variable override `backend`. */
#define HU_LOOP_NOENV 1u

/** How to make a loop (hu_loop_new_with()). Zeroed: the default. */
struct hu_loop_config {
	int backend;    /**< enum hu_backend */
	unsigned flags; /**< HU_LOOP_NOENV */
};

/**
 * A new loop, or NULL (out of memory, epoll_create1 failed, or, errno
 * EINVAL, a bad config). The environment variable HANGUP_BACKEND
 * ("epoll" or "io_uring") overrides cfg->backend unless cfg->flags has
 * HU_LOOP_NOENV. Where io_uring is asked for and cannot be had (an old
 * kernel, kernel.io_uring_disabled, seccomp, locked-memory limits), the
 * loop runs on epoll: hu_loop_backend() says so, hu_loop_backend_error()
 * why. The behaviour is the same on both; only the cost differs.
 */
HU_EXPORT hu_loop *hu_loop_new_with(const struct hu_loop_config *cfg);
/** hu_loop_new_with(NULL): the default backend, or HANGUP_BACKEND's. */
HU_EXPORT hu_loop *hu_loop_new(void);
/** The backend the loop runs on: HU_BACKEND_EPOLL or HU_BACKEND_IO_URING
 * (HU_INVAL for NULL). */
HU_EXPORT int hu_loop_backend(const hu_loop *loop);
/** Why io_uring was asked for and not used: the errno of the failure
 * (ENOSYS, EPERM, ENOMEM, EOPNOTSUPP for a missing feature), or 0. */
HU_EXPORT int hu_loop_backend_error(const hu_loop *loop);
/** "auto", "epoll", "io_uring", or "unknown". */
HU_EXPORT const char *hu_backend_name(int backend);
/**
 * Run until hu_loop_stop() or until nothing is left to wait for (no
 * listener, connection or timer). Returns 0, or a negative HU_* code.
 */
HU_EXPORT int hu_loop_run(hu_loop *loop);
/** Make hu_loop_run() return after the current iteration. */
HU_EXPORT void hu_loop_stop(hu_loop *loop);
/**
 * Close every listener, abort every connection (each gets its on_close with
 * reason "abort"), stop every timer and watch, and free the loop. Not from
 * inside a callback of this loop (it does nothing then), including the
 * on_close calls that hu_loop_free() itself makes.
 */
HU_EXPORT void hu_loop_free(hu_loop *loop);
/** The loop's cached monotonic time in milliseconds. */
HU_EXPORT unsigned long long hu_loop_now(hu_loop *loop);

/**
 * Listen on `addr` (see hu_addr_parse()). Returns 0 and sets *out, or
 * HU_INVAL (bad address or config), or the bind/listen failure (HU_ERROR
 * with errno EADDRINUSE, ...).
 */
HU_EXPORT int hu_listen(hu_loop *loop, const char *addr,
			const struct hu_listen_config *cfg, hu_listener **out);
/** The bound address as text ("127.0.0.1:43567"): port 0 resolved. Same
 * return convention as hu_addr_format(). */
HU_EXPORT int hu_listener_addr(hu_listener *l, char *buf, size_t size);
/** Stop accepting and free the listener. Open connections go on. */
HU_EXPORT void hu_listener_close(hu_listener *l);

/**
 * Start a non-blocking connect to `addr`. Returns 0 and sets *out (may be
 * NULL); then exactly one of on_open or on_close (reason refused,
 * unreachable, connect-timeout, ...) follows, from the loop -- never from
 * inside this call. "unreachable" includes a TCP connect that the kernel
 * refused at once for want of a route: errno ENETUNREACH, EHOSTUNREACH,
 * EINVAL (a blackhole route, a link-local IPv6 address with no interface)
 * or EACCES (a prohibit route). A call that fails (HU_INVAL, HU_ERROR)
 * calls nothing.
 * A handshake that completed is always an open connection: a peer that
 * accepts and resets at once gives on_open, then on_close "reset" in
 * phase "open", however the two reach the loop.
 */
HU_EXPORT int hu_connect(hu_loop *loop, const char *addr,
			 const struct hu_conn_config *cfg, hu_conn **out);

/**
 * Queue `len` bytes for the peer: sent at once when nothing is buffered,
 * the rest kept in order until the kernel takes it. Returns 0 (queued,
 * below the high-water mark), 1 (queued, but the buffer is at or above the
 * mark: stop writing until on_drain), HU_PIPE (closing, shut down or the
 * peer is gone: nothing queued; on_close will say why), HU_INVAL, HU_ERROR
 * (out of memory: nothing queued -- or, if part of this write had already
 * gone out, the connection is aborted with reason "error", since the
 * stream would have a hole). The loop never drops data: backpressure is
 * the caller's (examples/echo-server.c pauses reading on 1).
 */
HU_EXPORT int hu_conn_write(hu_conn *c, const void *data, size_t len);
/** Scatter/gather hu_conn_write(). */
HU_EXPORT int hu_conn_writev(hu_conn *c, const struct iovec *iov, int iovcnt);
/** Half-close: send our FIN once the write buffer is flushed. Reading goes
 * on. Returns 0 or HU_PIPE (already closing). */
HU_EXPORT int hu_conn_shutdown(hu_conn *c);

#define HU_GRACEFUL 0 /**< flush, FIN, wait for the peer's FIN (linger) */
#define HU_ABORT 1    /**< RST now; discard anything unsent */
/**
 * Close the connection. HU_GRACEFUL ends with reason "local" (or what the
 * peer did meanwhile); HU_ABORT with "abort". Safe inside any callback.
 * A second HU_GRACEFUL is a no-op; HU_ABORT during a graceful (or idle)
 * close cuts its linger short: RST now, reason "abort", phase as it was.
 * Once the connection has ended (on_close queued) any close is a no-op.
 */
HU_EXPORT void hu_conn_close(hu_conn *c, int how);

/**
 * Stop / resume reading (application-level backpressure). An end that
 * comes while paused (an RST, a dead-peer timeout) is kept, and reported
 * by on_close after the data that came before it, once reading resumes.
 */
HU_EXPORT void hu_conn_pause(hu_conn *c);
HU_EXPORT void hu_conn_resume(hu_conn *c);

HU_EXPORT void *hu_conn_user(hu_conn *c);
HU_EXPORT void hu_conn_set_user(hu_conn *c, void *user);
HU_EXPORT hu_loop *hu_conn_loop(hu_conn *c);
/**
 * The socket, for inspection (hu_report, getsockopt), or -1 once the
 * connection has ended. Asking marks the socket as possibly shared (the
 * application may dup() it or pass it on): its close then also takes it
 * out of the loop's epoll set, one EPOLL_CTL_DEL more. The loop does the
 * same, on its own, for every connection that existed when the process
 * forked (pthread_atfork). Either way a shared socket is safe: an event
 * that outlives its connection is recognised and dropped.
 */
HU_EXPORT int hu_conn_fd(hu_conn *c);
/** A number unique among the loop's connections, counting from 1 (it
 * wraps after 2^32 connections, skipping 0). */
HU_EXPORT unsigned long long hu_conn_id(hu_conn *c);
/**
 * The peer's address as text (hu_addr_format() conventions). Asked once,
 * it is kept, so on_close can still name the peer. In the on_open of an
 * accepted connection it comes from accept4() and works even when the
 * peer has already reset (getpeername() would say ENOTCONN).
 */
HU_EXPORT int hu_conn_peer(hu_conn *c, char *buf, size_t size);
/** Bytes buffered in user space, not yet handed to the kernel. */
HU_EXPORT size_t hu_conn_buffered(hu_conn *c);

/**
 * Call cb(t, arg) after `after_ms`, then every `repeat_ms` (0 = once; a
 * one-shot timer is freed after its callback). NULL if out of memory.
 */
HU_EXPORT hu_timer *hu_timer_start(hu_loop *loop, unsigned after_ms,
				   unsigned repeat_ms,
				   void (*cb)(hu_timer *t, void *arg),
				   void *arg);
/** Stop and free a timer; safe inside its own callback. */
HU_EXPORT void hu_timer_stop(hu_timer *t);

#define HU_READABLE 1u /**< hu_watch: data, EOF or an error to read */
#define HU_WRITABLE 2u /**< hu_watch: room to write */

/**
 * Watch a file descriptor that is not one of the loop's connections (a
 * terminal, a pipe, a signalfd): cb(w, events, arg) runs from the loop
 * while `fd` is readable and/or writable, as asked in `events` -- level-
 * triggered, so a callback that reads only part of what waits is called
 * again. A hang-up or an error counts as HU_READABLE (the read then says
 * which). The fd stays the caller's: hu_watch_stop() does not close it.
 *
 * Returns 0 and sets *out, HU_INVAL (bad arguments; events 0, or with a
 * bit other than HU_READABLE and HU_WRITABLE), HU_BADF (fd is not open, or
 * cannot be watched -- a regular file or a directory is always ready: read it
 * directly), HU_ERROR.
 */
HU_EXPORT int hu_watch_start(hu_loop *loop, int fd, unsigned events,
			     void (*cb)(hu_watch *w, unsigned events,
					void *arg),
			     void *arg, hu_watch **out);
/** Change what to watch for (0 pauses). Returns 0 or a status. */
HU_EXPORT int hu_watch_set(hu_watch *w, unsigned events);
/** Stop watching and free the watch; safe inside its own callback. */
HU_EXPORT void hu_watch_stop(hu_watch *w);

/** The functions the event loop allocates with (hu_set_allocator()). */
struct hu_allocator {
	void *(*malloc)(size_t size);
	void *(*realloc)(void *ptr, size_t size);
	void (*free)(void *ptr);
};

/**
 * Make every allocation of the event loop (loops, listeners, connections,
 * write buffers, timers) go through `a`; NULL, or one with a NULL member,
 * restores libc's. Call it while no loop exists: memory is freed by the
 * allocator that gave it. A failed allocation is never a crash: the call
 * that needed it returns NULL or HU_ERROR, or the connection it was for
 * ends with reason "error" and errno ENOMEM.
 */
HU_EXPORT void hu_set_allocator(const struct hu_allocator *a);

#ifdef __cplusplus
}
#endif

#endif /* HANGUP_H */
