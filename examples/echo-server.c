/*
 * echo-server.c -- an echo server on hangup's loop: every byte a client
 * sends comes back. Silent per connection, so it can be benchmarked as it
 * stands (see bench/).
 *
 *	build/echo-server :7000          (or [::1]:7000, unix:/tmp/echo)
 *	nc 127.0.0.1 7000
 *
 * The one thing an echo server must get right is backpressure: a client
 * that sends but never reads would otherwise make us buffer without end.
 * hu_conn_write() returns 1 once our buffer reaches the high-water mark;
 * we stop reading from that client until on_drain says it took its data.
 */
#include <errno.h>
#include <hangup.h>
#include <stdio.h>
#include <string.h>

static void on_data(hu_conn *c, const void *data, size_t len)
{
	if (hu_conn_write(c, data, len) == 1)
		hu_conn_pause(c);
}

static void on_drain(hu_conn *c)
{
	hu_conn_resume(c);
}

int main(int argc, char **argv)
{
	struct hu_listen_config cfg = {
	    .conn.cb = {.on_data = on_data, .on_drain = on_drain},
	};
	hu_listener *l;
	char addr[128];

	if (argc != 2) {
		fprintf(stderr, "usage: echo-server ADDR  (e.g. :7000)\n");
		return 2;
	}
	hu_loop *loop = hu_loop_new();
	if (loop == NULL)
		return 1;
	int rc = hu_listen(loop, argv[1], &cfg, &l);
	if (rc < 0) {
		/* errno is meaningful here: the call failed. */
		fprintf(stderr, "echo-server: %s: %s\n", argv[1],
			rc == HU_ERROR ? strerror(errno) : hu_strerror(rc));
		hu_loop_free(loop);
		return 1;
	}
	hu_listener_addr(l, addr, sizeof(addr));
	printf("echo-server: listening on %s\n", addr);
	fflush(stdout);
	rc = hu_loop_run(loop);
	hu_loop_free(loop);
	return rc < 0;
}
