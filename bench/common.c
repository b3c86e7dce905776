/* common.c -- the server side of the bench protocol; see common.h. */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

void bench_die(const char *what)
{
	fprintf(stderr, "bench server: %s: %s\n", what, strerror(errno));
	exit(1);
}

static unsigned long number(const char *text, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || end == text || v > max) {
		fprintf(stderr, "bench server: bad number '%s'\n", text);
		exit(2);
	}
	return v;
}

struct bench_shm *bench_attach(int argc, char **argv, unsigned *port)
{
	struct bench_shm *s;
	struct rlimit rl;
	int fd = -1;

	*port = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--shm") && i + 1 < argc)
			fd = (int)number(argv[++i], 1u << 20);
		else if (!strcmp(argv[i], "--port") && i + 1 < argc)
			*port = (unsigned)number(argv[++i], 65535);
		else {
			fprintf(stderr, "usage: %s [--shm FD] [--port P]\n",
				argv[0]);
			exit(2);
		}
	}
	/* Run by hand, the server still records into memory of its own. */
	if (fd >= 0)
		s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
	else
		s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		bench_die("mmap --shm");
	if (fd >= 0) {
		if (s->magic != BENCH_MAGIC) {
			fprintf(stderr, "bench server: --shm %d: bad magic\n",
				fd);
			exit(2);
		}
		close(fd);
	}
	s->magic = BENCH_MAGIC;

	/* The mass-disconnect test holds nearly as many connections as the
	 * hard limit allows. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* libuv, libevent and libev leave SIGPIPE to the application; a write
	 * to a peer that reset would otherwise kill the server. The raw and
	 * hangup servers use MSG_NOSIGNAL and would not need this. */
	signal(SIGPIPE, SIG_IGN);
	return s;
}

void bench_ready(struct bench_shm *s, unsigned port, const char *name,
		 const char *version)
{
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->version, sizeof(s->version), "%s", version);
	printf("%s listening on 127.0.0.1:%u (%s)\n", name, port, version);
	fflush(stdout);
	atomic_store_explicit(&s->port, port, memory_order_release);
}

int bench_listen_tcp(unsigned port, unsigned *bound)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		bench_die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		bench_die("bind 127.0.0.1");
	/* SOMAXCONN (4096): the generator opens idle connections in batches
	 * and must not overflow the accept queue into SYN retransmits. */
	if (listen(fd, SOMAXCONN) < 0)
		bench_die("listen");
	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		bench_die("getsockname");
	*bound = ntohs(a.sin_port);
	return fd;
}
