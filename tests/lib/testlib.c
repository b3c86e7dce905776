/* testlib.c -- see testlib.h. */
#include "testlib.h"

#include "hangup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * IPv4 listeners go on an address of 127.0.0.0/8 picked from the pid, not
 * on 127.0.0.1: on a shared box another program's TIME_WAIT sockets can
 * hold every ephemeral port of 127.0.0.1, and bind(port 0) then fails with
 * EADDRINUSE. (Clients still connect from 127.0.0.1; with a destination
 * of their own their 4-tuples are unique.)
 */
static in_addr_t listen_addr4(void)
{
	unsigned pid = (unsigned)getpid();

	return htonl(0x7f000000u | (1 + pid % 250) << 16 |
		     (1 + pid / 250 % 250) << 8 | 2);
}

int tcp_listener(int family, int *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	REQUIRE(fd >= 0, "socket(%d)", family);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = listen_addr4();
		len = sizeof(*s4);
	}
	REQUIRE(bind(fd, (struct sockaddr *)&ss, len) == 0, "bind");
	REQUIRE(listen(fd, 16) == 0, "listen");
	REQUIRE(getsockname(fd, (struct sockaddr *)&ss, &len) == 0,
		"getsockname");
	if (port)
		*port = ntohs(family == AF_INET6
				  ? ((struct sockaddr_in6 *)&ss)->sin6_port
				  : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

void tcp_pair(int family, int *client, int *server)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int lfd = tcp_listener(family, NULL);

	REQUIRE(getsockname(lfd, (struct sockaddr *)&ss, &len) == 0,
		"getsockname");
	*client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(*client >= 0, "socket");
	REQUIRE(connect(*client, (struct sockaddr *)&ss, len) == 0, "connect");
	*server = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	REQUIRE(*server >= 0, "accept");
	close(lfd);
}

int reset_pair(int family)
{
	int us, peer;

	tcp_pair(family, &us, &peer);
	close_rst(peer);
	REQUIRE(wait_for(us, POLLERR, 2000) != 0, "no RST arrived");
	return us;
}

void unix_pair(int *a, int *b)
{
	int sv[2];

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
		"socketpair");
	*a = sv[0];
	*b = sv[1];
}

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

unsigned wait_for(int fd, unsigned events, int timeout_ms)
{
	double end = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = {.fd = fd,
				   .events = (short)(events & 0xffff)};
		int left = (int)(end - now_ms());

		if (left < 0)
			left = 0;
		int n = poll(&p, 1, left > 20 ? 20 : left);
		if (n > 0 && (p.revents & (short)events))
			return (unsigned)p.revents;
		if (left == 0)
			return 0;
	}
}

void sleep_ms(int ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	/* Resume after a signal; anything else (EINVAL) would spin. */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	REQUIRE(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0,
		"O_NONBLOCK");
}

void close_rst(int fd)
{
	struct linger lg = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

void close_fin(int fd)
{
	close(fd);
}

int fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

int closed_fd(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	REQUIRE(fd >= 0, "socket");
	close(fd);
	return fd;
}

size_t fill_send_buffer(int fd)
{
	static char chunk[65536];
	size_t total = 0;
	int fl = fcntl(fd, F_GETFL);

	REQUIRE(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0,
		"O_NONBLOCK");
	for (;;) {
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (n <= 0)
			break;
		total += (size_t)n;
	}
	/* Loopback delivers in softirq context; a few ms later the peer's
	 * window may have grown (autotuning), so top up once more. */
	sleep_ms(20);
	for (;;) {
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (n <= 0)
			break;
		total += (size_t)n;
	}
	REQUIRE(fcntl(fd, F_SETFL, fl) == 0, "restore flags");
	return total;
}

size_t recv_all(int fd, int *end)
{
	static char buf[65536];
	size_t total = 0;
	ssize_t n;

	while ((n = hu_recv(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	*end = (int)n;
	return total;
}

void expect_data_then(int fd, const char *data, int end, const char *what)
{
	char buf[256];
	ssize_t n;

	if (data != NULL) {
		n = hu_recv(fd, buf, sizeof(buf));
		CHECK(n == (ssize_t)strlen(data) && memcmp(buf, data, n) == 0,
		      "%s: hu_recv gave %zd, want '%s'", what, n, data);
	}
	n = hu_recv(fd, buf, sizeof(buf));
	CHECK(n == end, "%s: then %s, want %s", what, hu_status_name((int)n),
	      hu_status_name(end));
}

int spawn(void (*fn)(void *arg), void *arg)
{
	fflush(stdout);
	pid_t pid = fork();

	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fn(arg);
		fflush(stdout);
		_exit(tap_case_failed() ? 1 : 0);
	}
	return pid;
}

int reap(int pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

void enter_private_netns(void)
{
	if (geteuid() != 0)
		SKIP("needs root for a private network namespace");
	if (unshare(CLONE_NEWNET) != 0)
		SKIP("unshare(CLONE_NEWNET) not permitted here");

	/* Bring up lo in the new namespace (ip link set lo up). */
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	REQUIRE(s >= 0, "socket for SIOCSIFFLAGS");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	REQUIRE(ioctl(s, SIOCGIFFLAGS, &ifr) == 0, "SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	REQUIRE(ioctl(s, SIOCSIFFLAGS, &ifr) == 0, "SIOCSIFFLAGS");
	close(s);
}

void drop_all_tcp(void)
{
	if (system("command -v nft >/dev/null 2>&1") != 0)
		SKIP("nft (nftables) not installed");
	int rc =
	    system("nft -f - <<'EOF'\n"
		   "table inet hu_test {\n"
		   "  chain input {\n"
		   "    type filter hook input priority 0; policy accept;\n"
		   "    meta l4proto tcp drop\n"
		   "  }\n"
		   "}\n"
		   "EOF\n");
	REQUIRE(rc == 0, "nft: add drop rule (rc %d)", rc);
}

void stop_dropping(void)
{
	int rc = system("nft delete table inet hu_test");

	CHECK(rc == 0, "nft delete table (rc %d)", rc);
}
