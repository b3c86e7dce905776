/*
 * lab-fixture.c -- what the lab scenarios stand on: connected pairs on
 * loopback (port 0, kernel-chosen), private network namespaces with nft
 * drops for the dead-peer cases, fd bookkeeping, and running one scenario.
 */
#include "lab.h"

#include "hangup.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double lab_now(void)
{
	struct timespec ts;

	/* CLOCK_REALTIME: the clock of the packet timestamps (SO_TIMESTAMPNS),
	 * so steps and packets sort on one time line. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void lab_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void lab_fail(struct lab *L, const char *fmt, ...)
{
	struct lab_result *r = L->r;
	va_list ap;

	if (r->nmis >= LAB_MAX_MIS) {
		r->nmis++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(r->mis[r->nmis++], sizeof(r->mis[0]), fmt, ap);
	va_end(ap);
}

void lab_skip(struct lab *L, const char *why)
{
	L->r->verdict = LAB_SKIP;
	snprintf(L->r->skip, sizeof(L->r->skip), "%s", why);
}

int lab_track(struct lab *L, int fd)
{
	if (fd >= 0 && L->nfds < (int)(sizeof(L->fds) / sizeof(L->fds[0])))
		L->fds[L->nfds++] = fd;
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
		lab_fail(L, "socket(): %s", lab_errno(errno));
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
			 lab_errno(errno));
		return -1;
	}
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
			 lab_errno(errno));
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
	if (L->cap >= 0) {
		char why[80];

		close(L->cap);
		L->cap = lab_capture_open(why, sizeof(why));
		if (L->cap < 0) {
			L->r->captured = 0;
			snprintf(L->r->nocap, sizeof(L->r->nocap), "%s", why);
		}
	}
	return 0;
}

/* Drop (on = 1) or stop dropping every TCP segment at the input hook of the
 * namespace: both ends then look dead to each other. */
int lab_nft_drop(struct lab *L, int on)
{
	struct lab_step *s;
	int rc;

	if (on && system("command -v nft >/dev/null 2>&1") != 0) {
		lab_skip(L, "nft (nftables) is not installed");
		return -1;
	}
	s = lab_step_begin(L, "nft",
			   on ? "drop all TCP at the input hook"
			      : "delete table (stop dropping)");
	if (on)
		rc = system("nft -f - >/dev/null 2>&1 <<'EOF'\n"
			    "table inet hu_lab {\n"
			    "  chain input {\n"
			    "    type filter hook input priority 0;\n"
			    "    meta l4proto tcp drop\n"
			    "  }\n"
			    "}\n"
			    "EOF\n");
	else
		rc = system("nft delete table inet hu_lab >/dev/null 2>&1");
	lab_step_end(L, s, rc, rc == 0 ? "0" : "failed");
	if (rc != 0)
		lab_fail(L, "nft %s failed (status %d)", on ? "add" : "delete",
			 rc);
	return rc == 0 ? 0 : -1;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* Run scenario `index` in this process (a forked child) and fill *r. */
void lab_run_one(int index, int want_capture, struct lab_result *r)
{
	const struct lab_scenario *sc = &lab_scenarios[index];
	struct lab L;
	int before, after;

	memset(&L, 0, sizeof(L));
	memset(r, 0, sizeof(*r));
	r->index = index;
	L.r = r;
	L.cap = -1;
	L.obs = -1;
	L.settle_ms = 15;
	signal(SIGPIPE, SIG_IGN);
	if (want_capture) {
		L.cap = lab_capture_open(r->nocap, sizeof(r->nocap));
		r->captured = L.cap >= 0;
	} else {
		snprintf(r->nocap, sizeof(r->nocap), "capture off");
	}
	before = count_fds();
	L.t0 = lab_now();
	sc->run(&L);
	lab_capture_drain(&L);
	r->secs = lab_now() - L.t0;
	for (int i = 0; i < L.nfds; i++)
		if (L.fds[i] >= 0)
			close(L.fds[i]);
	after = count_fds();
	/* A netns scenario reopened the capture socket: same count. */
	if (after > before)
		lab_fail(&L, "fd leak: %d fds open before, %d after", before,
			 after);
	if (L.cap >= 0)
		close(L.cap);
	if (r->verdict != LAB_SKIP)
		r->verdict = r->nmis ? LAB_FAIL : LAB_PASS;
	if (r->nmis > LAB_MAX_MIS)
		r->nmis = LAB_MAX_MIS;
}

const char *lab_errno(int err)
{
	static char buf[16];
	const char *n = hu_errno_name(err);

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

void lab_events_str(int ev, char *buf, size_t size)
{
	static const struct {
		int bit;
		const char *name;
	} names[] = {{EPOLLIN, "IN"},
		     {EPOLLOUT, "OUT"},
		     {EPOLLRDHUP, "RDHUP"},
		     {EPOLLHUP, "HUP"},
		     {EPOLLERR, "ERR"}};
	size_t n = 0;

	buf[0] = '\0';
	if (ev < 0) {
		snprintf(buf, size, "n/a");
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ev & names[i].bit)
			n += snprintf(buf + n, size > n ? size - n : 0, "%s%s",
				      n ? "+" : "", names[i].name);
	if (n == 0)
		snprintf(buf, size, "-");
}

void lab_flags_str(unsigned char f, char *buf, size_t size)
{
	static const struct {
		unsigned char bit;
		const char *name;
	} names[] = {{LAB_TCP_SYN, "SYN"},
		     {LAB_TCP_FIN, "FIN"},
		     {LAB_TCP_RST, "RST"},
		     {LAB_TCP_PSH, "PSH"},
		     {LAB_TCP_ACK, "ACK"}};
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & names[i].bit)
			n += snprintf(buf + n, size > n ? size - n : 0, "%s%s",
				      n ? "," : "", names[i].name);
}
