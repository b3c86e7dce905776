/*
 * client-liveness.c -- a client that notices a dead server in bounded
 * time. A crashed host or a cut cable sends no FIN and no RST: without
 * help, Linux notices only after ~15 minutes of retransmissions (data in
 * flight) or 2 hours of keepalive (idle). liveness_ms arms keepalive and
 * TCP_USER_TIMEOUT together, so either way on_close says "timeout" within
 * about MS (plus one retransmission timeout when data was in flight).
 *
 *	build/client-liveness 127.0.0.1:7000 3000
 *
 * It sends a line every second (the application's own ping: hangup knows
 * no protocol; on_heartbeat is the place for it) and prints what comes
 * back, and then how and why the connection ended. Exit status 0 when the
 * server closed cleanly, 1 otherwise.
 */
#include <hangup.h>
#include <stdio.h>
#include <stdlib.h>

static int status = 1;

static void on_open(hu_conn *c)
{
	char peer[128];

	hu_conn_peer(c, peer, sizeof(peer));
	printf("connected to %s\n", peer);
}

static void on_heartbeat(hu_conn *c)
{
	hu_conn_write(c, "ping\n", 5);
}

static void on_data(hu_conn *c, const void *data, size_t len)
{
	(void)c;
	fwrite(data, 1, len, stdout);
	fflush(stdout);
}

static void on_close(hu_conn *c, const struct hu_close_info *i)
{
	printf("closed: %s (%s) in phase %s after %llu ms, %llu bytes "
	       "undelivered\n",
	       hu_reason_name(i->reason),
	       i->error ? hu_errno_name(i->error) : "no errno",
	       hu_phase_name(i->phase), i->duration_ms, i->undelivered);
	status = i->reason == HU_CLOSE_EOF ? 0 : 1;
	hu_loop_stop(hu_conn_loop(c));
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: client-liveness ADDR TIMEOUT_MS\n");
		return 2;
	}
	unsigned ms = (unsigned)strtoul(argv[2], NULL, 10);
	struct hu_conn_config cfg = {
	    .cb = {.on_open = on_open,
		   .on_data = on_data,
		   .on_close = on_close,
		   .on_heartbeat = on_heartbeat},
	    .liveness_ms = ms,        /* a vanished server: "timeout" */
	    .connect_timeout_ms = ms, /* an unanswered SYN: the same bound */
	    .heartbeat_ms = 1000,
	};
	hu_loop *loop = hu_loop_new();
	int rc = loop ? hu_connect(loop, argv[1], &cfg, NULL) : HU_ERROR;
	if (rc < 0) {
		fprintf(stderr, "client-liveness: %s: %s\n", argv[1],
			hu_strerror(rc));
		hu_loop_free(loop);
		return 2;
	}
	hu_loop_run(loop);
	hu_loop_free(loop);
	return status;
}
