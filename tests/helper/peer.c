/*
 * peer.c -- a one-connection TCP peer for the shell tests, on libc alone.
 *
 *	peer fin|rst [IPV4]
 *
 * Listens on IPV4 (default 127.0.0.1) port 0, prints the port the kernel
 * chose on stdout,
 * accepts one connection, reads what the client sends first (up to 64
 * bytes), answers "bye\n" and closes: `fin` with a plain close() (the kernel
 * sends FIN), `rst` with SO_LINGER {1, 0} first (tcp_close() sends RST and
 * no FIN). It gives up after 10 s so that a failing test never leaves it
 * behind. Exit status 0, or 1 on any failure (with a message on stderr).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what)
{
	perror(what);
	return 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char buf[64];
	int rst;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc < 2 || argc > 3 ||
	    (strcmp(argv[1], "fin") && strcmp(argv[1], "rst")) ||
	    (argc == 3 && inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1)) {
		fprintf(stderr, "usage: peer fin|rst [IPV4]\n");
		return 2;
	}
	rst = strcmp(argv[1], "rst") == 0;
	alarm(10);

	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0)
		return fail("socket");
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) < 0)
		return fail("listen");
	printf("%u\n", ntohs(sin.sin_port));
	fflush(stdout);

	int c = accept(l, NULL, NULL);
	if (c < 0)
		return fail("accept");
	close(l);
	/* Read the client's first write so our close finds an empty receive
	 * queue: in `fin` mode a close with unread data would send RST. */
	if (recv(c, buf, sizeof(buf), 0) < 0)
		return fail("recv");
	if (send(c, "bye\n", 4, MSG_NOSIGNAL) != 4)
		return fail("send");
	if (rst) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		if (setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
			return fail("SO_LINGER");
	}
	close(c);
	return 0;
}
