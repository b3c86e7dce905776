/*
 * watch-churn.c -- loopback connection churn at a fixed rate, for
 * bench/watch-bench.sh (the cost and the limits of `hangup watch`).
 *
 *   watch-churn RATE SECONDS [BYTES]
 *
 * One process plays both ends (blocking sockets on 127.0.0.1, which is
 * where the kernel does all the TCP work in the sender's context, so the
 * process's CPU time is the churn's whole cost): connect, accept, BYTES
 * from client to server, the server closes first, then the client. RATE 0
 * means as fast as it goes. Prints one line:
 *
 *   conns=N secs=S rate=R cpu_s=C port=P
 *
 * where cpu_s is this process's user+system time (getrusage) and port the
 * listener's, so that the caller can pick its records out of watch's.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pace(double t0, long i, double rate)
{
	if (rate <= 0)
		return;
	double due = t0 + (double)i / rate, t = now();
	if (due > t) {
		struct timespec d = {
		    (time_t)(due - t),
		    (long)((due - t - (double)(time_t)(due - t)) * 1e9)};
		nanosleep(&d, NULL);
	}
}

static int one(int l, const struct sockaddr_in *a, const char *buf,
	       size_t bytes)
{
	char rb[4096];
	int c = socket(AF_INET, SOCK_STREAM, 0);

	if (c < 0 || connect(c, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		if (c >= 0)
			close(c);
		return -1;
	}
	int s = accept(l, NULL, NULL);
	if (s < 0) {
		close(c);
		return -1;
	}
	if (bytes && send(c, buf, bytes, MSG_NOSIGNAL) < 0)
		perror("send");
	for (size_t got = 0; got < bytes;) {
		ssize_t k = recv(s, rb, sizeof(rb), 0);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(s); /* the server closes first: TIME_WAIT stays on its side */
	recv(c, rb, sizeof(rb), 0);
	close(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: watch-churn RATE SECONDS [BYTES]\n");
		return 2;
	}
	double rate = atof(argv[1]), secs = atof(argv[2]);
	size_t bytes = argc > 3 ? (size_t)atol(argv[3]) : 100;
	static char buf[4096];
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int one_ = 1;

	if (bytes > sizeof(buf))
		bytes = sizeof(buf);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one_, sizeof(one_));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 1024) < 0 || getsockname(l, (struct sockaddr *)&a, &al)) {
		perror("listen");
		return 1;
	}
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	double t0 = now(), t;
	long n = 0, fail = 0;
	while ((t = now()) < t0 + secs) {
		pace(t0, n + fail, rate);
		if (one(l, &a, buf, bytes) == 0)
			n++;
		else
			fail++;
	}
	t = now() - t0;
	getrusage(RUSAGE_SELF, &r1);
	double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
		     (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
		     (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6 +
		     (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
	printf("conns=%ld failed=%ld secs=%.3f rate=%.0f cpu_s=%.3f port=%u\n",
	       n, fail, t, (double)n / t, cpu, ntohs(a.sin_port));
	close(l);
	return 0;
}
