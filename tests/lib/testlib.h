/*
 * testlib.h -- socket fixtures for the tests: connected pairs on loopback
 * (IPv4, IPv6) and Unix sockets, readiness waits, private network
 * namespaces with packet drops for dead-peer cases.
 */
#ifndef HU_TESTLIB_H
#define HU_TESTLIB_H

#include "tap.h"

#include <stddef.h>

/* Run the body once per loopback family: IPv4, then IPv6. */
#define FOR_FAMILIES(f)        \
	for (size_t f##_i = 0; \
	     f##_i < 2 && ((f = f##_i ? AF_INET6 : AF_INET), 1); f##_i++)
#define FNAME(f) ((f) == AF_INET ? "IPv4" : "IPv6")

/* A connected TCP pair over loopback of `family` (AF_INET or AF_INET6),
 * both blocking; the listener is closed. Fails the case on error. */
void tcp_pair(int family, int *client, int *server);
/* Our end of a TCP connection whose peer has just reset it (SO_LINGER
 * {1,0} + close), once the RST has arrived. */
int reset_pair(int family);
/* A connected AF_UNIX stream pair (socketpair). */
void unix_pair(int *a, int *b);
/* A TCP listener on loopback port 0 (IPv4: an address in 127.0.0.0/8 of
 * this process's own, IPv6: ::1); *port gets the port. */
int tcp_listener(int family, int *port);

/* poll() fd until one of `events` (POLLIN, POLLRDHUP, POLLHUP, POLLERR...)
 * is set or timeout_ms passes; returns revents (0 on timeout). */
unsigned wait_for(int fd, unsigned events, int timeout_ms);
/* Sleep ms milliseconds (lets loopback segments land); <= 0: not at all. */
void sleep_ms(int ms);
/* Monotonic milliseconds. */
double now_ms(void);
/* Make fd non-blocking. */
void set_nonblock(int fd);
/* SO_LINGER {1,0} and close: the peer gets an RST. */
void close_rst(int fd);
/* A plain close() (the peer gets a FIN if we left nothing unread). */
void close_fin(int fd);

/* Is fd an open file descriptor? (fcntl F_GETFD, no side effect.) */
int fd_is_open(int fd);
/* An fd number that is not open (a socket's, just closed). */
int closed_fd(void);
/* Send on the non-blocking-for-now fd until the kernel takes no more
 * (EAGAIN): fills our send buffer and the peer's receive buffer. Returns the
 * byte count; fd's blocking mode is restored. */
size_t fill_send_buffer(int fd);
/* Read fd with hu_recv() until it returns < 0; returns the byte count and
 * puts the final status in *end (HU_EOF, HU_RESET, ...). */
size_t recv_all(int fd, int *end);
/* hu_recv() on fd gives `data` (if not NULL) in one piece, then `end`
 * (HU_EOF, HU_RESET...); `what` names the case in failure messages. */
void expect_data_then(int fd, const char *data, int end, const char *what);

/*
 * Run fn(arg) in a forked child -- a peer that must run while the case
 * blocks in a library call. The child ends with _exit(): 0, or 1 if one of
 * its CHECKs failed. It gets SIGKILL if the case dies first, so it never
 * outlives the case. Returns its pid, for reap().
 */
int spawn(void (*fn)(void *arg), void *arg);
/* Wait for a child from spawn(): its exit status, or 128 + signal. */
int reap(int pid);

/*
 * Move the calling process (the forked test case) into a new, private
 * network namespace with loopback up: it vanishes when the case exits, so
 * nothing is left behind even on failure. SKIPs the case if not root.
 */
void enter_private_netns(void);
/* In a private netns: drop every TCP segment at the input hook (nft), so
 * both ends look dead to each other. SKIPs the case if nft is missing. */
void drop_all_tcp(void);
/* Undo drop_all_tcp(). */
void stop_dropping(void);

#endif
