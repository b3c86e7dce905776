/*
 * fixture.c -- what the lab scenarios stand on: connected pairs and
 * listeners on loopback (port 0, kernel-chosen), private network
 * namespaces for the dead-peer cases, the fd bookkeeping that closes
 * whatever a scenario left open, and which sockets the capture and the
 * snapshots look at.
 */
#include "lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int lab_track(struct lab *L, int fd)
{
	if (fd >= 0 && L->nfds < (int)(sizeof(L->fds) / sizeof(L->fds[0])))
		L->fds[L->nfds++] = fd;
	if (fd >= 0)
		lab_wview_track(L, fd);
	return fd;
}

void lab_untrack(struct lab *L, int fd)
{
	for (int i = 0; i < L->nfds; i++)
		if (L->fds[i] == fd)
			L->fds[i] = -1;
}

void lab_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void lab_observe_fd(struct lab *L, int fd, const char *name)
{
	L->obs = fd;
	snprintf(L->obs_name, sizeof(L->obs_name), "%s", name);
}

static unsigned short local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0 ||
	    a.sin_family != AF_INET)
		return 0;
	return ntohs(a.sin_port);
}

void lab_watch_client(struct lab *L, int fd)
{
	unsigned short p = local_port(fd);

	for (int i = 0; i < L->ncports; i++)
		if (L->cports[i] == p)
			return;
	if (p && L->ncports < 4)
		L->cports[L->ncports++] = p;
}

void lab_watch_server_port(struct lab *L, unsigned short port)
{
	if (L->nsports < 4)
		L->sports[L->nsports++] = port;
	lab_capture_ports(L);
}

int lab_tcp_socket(struct lab *L, int nonblock)
{
	int fd = socket(
	    AF_INET,
	    SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		lab_fail(L, "socket(): %s", lab_errno_name(errno));
	return lab_track(L, fd);
}

/*
 * Bind fd to 127.0.0.1 on a port the kernel chooses (port 0). On a machine
 * that churns through connections, TIME-WAIT sockets can occupy every
 * ephemeral port, and bind(port 0) then fails with EADDRINUSE although
 * connect() still works (it may reuse a TIME-WAIT port, bind may not:
 * inet_csk_find_open_port()). Then try random ports below the ephemeral
 * range. SO_REUSEADDR is what lets a bind share a port with TIME-WAIT
 * sockets (inet_bind_conflict()); measured here while another job kept
 * 70k sockets in TIME-WAIT: 0 of 200 random ports bound without it, 200 of
 * 200 with it. It does not make a port listen: a bound, non-listening
 * socket still answers a SYN with RST (connect-refused).
 */
int lab_bind_loopback(int fd)
{
	struct sockaddr_in a;
	unsigned lo = 32768;
	int one = 1;
	FILE *f;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return 0;
	if (errno != EADDRINUSE && errno != EADDRNOTAVAIL)
		return -1;
	f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		if (fscanf(f, "%u", &lo) != 1)
			lo = 32768;
		fclose(f);
	}
	if (lo <= 10000)
		return -1;
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	for (int i = 0; i < 100; i++) {
		a.sin_port =
		    htons((unsigned short)(10000 + rand() % (lo - 10000)));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return 0;
	}
	errno = EADDRINUSE;
	return -1;
}

int lab_listener(struct lab *L, int backlog, unsigned short *port)
{
	int fd = lab_tcp_socket(L, 1);

	if (fd < 0)
		return -1;
	if (lab_bind_loopback(fd) < 0 || listen(fd, backlog) < 0) {
		lab_fail(L, "bind/listen on 127.0.0.1 (a free port): %s",
			 lab_errno_name(errno));
		return -1;
	}
	lab_wview_not_conn(L, fd);
	*port = local_port(fd);
	lab_watch_server_port(L, *port);
	snprintf(L->r->server, sizeof(L->r->server), "server 127.0.0.1:%u",
		 *port);
	return fd;
}

/*
 * A connected pair over 127.0.0.1, both non-blocking (so no step can hang):
 * client = "us" (left in the ladder), server = the accepted "peer". The
 * listener is closed again; snapshots look at the client.
 */
int lab_tcp_pair(struct lab *L, int *client, int *server)
{
	unsigned short port;
	struct sockaddr_in a;
	int lfd = lab_listener(L, 8, &port), c;

	*client = *server = -1;
	if (lfd < 0)
		return -1;
	c = lab_tcp_socket(L, 0);
	if (c < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
		lab_fail(L, "connect to 127.0.0.1:%u: %s", port,
			 lab_errno_name(errno));
		return -1;
	}
	lab_watch_client(L, c);
	lab_set_nonblock(c);
	for (int i = 0; i < 100 && *server < 0; i++) {
		*server =
		    accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (*server < 0)
			lab_sleep_ms(5);
	}
	close(lfd);
	lab_untrack(L, lfd);
	if (*server < 0) {
		lab_fail(L, "accept did not complete");
		return -1;
	}
	lab_track(L, *server);
	*client = c;
	snprintf(L->r->client, sizeof(L->r->client), "client (us) :%u",
		 local_port(c));
	snprintf(L->r->server, sizeof(L->r->server), "server (peer) :%u", port);
	lab_observe_fd(L, c, "us");
	return 0;
}

/*
 * Enter a private network namespace with lo up (the process is a forked
 * scenario child: the namespace vanishes with it, even on a crash). The
 * packet capture, if any, is reopened inside, on the namespace's own lo.
 */
int lab_enter_netns(struct lab *L)
{
	struct ifreq ifr;
	int s;

	/* Try rather than ask geteuid(): CAP_SYS_ADMIN without root is
	 * enough, and root inside a container may not be. */
	if (unshare(CLONE_NEWNET) != 0) {
		lab_skip(L,
			 errno == EPERM && geteuid() != 0
			     ? "needs root (private network namespace)"
			     : "unshare(CLONE_NEWNET) is not permitted here");
		return -1;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		lab_fail(L, "SIOCGIFFLAGS lo in the namespace");
		if (s >= 0)
			close(s);
		return -1;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		lab_fail(L, "bringing lo up in the namespace failed");
		close(s);
		return -1;
	}
	close(s);
	lab_wview_open(L);
	if (L->cap >= 0) {
		char why[80];

		close(L->cap);
		L->cap = lab_capture_open(why, sizeof(why));
		if (L->cap < 0) {
			L->r->capture = LAB_CAPTURE_NONE;
			snprintf(L->r->nocap, sizeof(L->r->nocap), "%s", why);
		}
	}
	return 0;
}

/* A connected pair (lab_tcp_pair), seen once as the first step of a
 * scenario: the client is ESTABLISHED and writable, nothing else. */
int lab_connected_pair(struct lab *L, int *us, int *peer)
{
	if (lab_tcp_pair(L, us, peer) < 0)
		return -1;
	lab_step_observe(L, "connected");
	lab_expect(L, LAB_ANY, LAB_ANY, EPOLLOUT, TCP_ESTABLISHED);
	return 0;
}
