/*
 * fuzz-loop.c -- libFuzzer target: the loop's API as a state machine.
 *
 * The input is a script: its first byte chooses how the callbacks behave
 * (echo or not, on_eof set or not, closing from on_data, pausing on the
 * high-water mark...), and every following pair of bytes is one operation
 * on one of four connection slots -- open a peer, write, writev, shutdown,
 * close gracefully or abortively, pause, resume, start a timer whose
 * callback writes or closes, let the peer send, read, half-close, close
 * or reset -- or one turn of the loop. The peers are raw Unix stream
 * sockets (abstract namespace: fast, nothing on disk, no TIME_WAIT).
 *
 * Invariants, checked for every input: each connection gets at most one
 * on_close and, once the loop is freed, exactly one; a connection's
 * pointer is never handed to a callback after its on_close; write calls on
 * a closed connection return HU_PIPE; no fd is left open. Under ASan and
 * UBSan, a use-after-free, a double free or a leak ends the run.
 */
#include "hangup.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOTS 4

struct slot {
	hu_conn *conn; /* NULL once its on_close ran */
	int peer;      /* the raw other end, or -1 */
	int opened, closed;
};

static struct slot slots[SLOTS];
static unsigned policy;
static hu_loop *loop;
static int waiting_open = -1; /* slot whose peer just connected */
static int live_conns, total_opens, total_closes;
static char scratch[65536];

static void fail(const char *why)
{
	fprintf(stderr, "fuzz-loop: invariant broken: %s\n", why);
	abort();
}

static struct slot *slot_of(hu_conn *c)
{
	struct slot *s = hu_conn_user(c);

	if (s == NULL || s->conn != c)
		fail("a callback for a connection we do not know");
	return s;
}

static void on_open(hu_conn *c)
{
	/* Accept order is connect order: give it to the slot waiting. */
	struct slot *s = NULL;

	for (int i = 0; i < SLOTS; i++)
		if (slots[i].peer >= 0 && slots[i].conn == NULL &&
		    !slots[i].opened) {
			s = &slots[i];
			break;
		}
	total_opens++;
	live_conns++;
	if (s == NULL) {
		/* More accepted than we opened peers for (cannot happen, but
		 * an application must cope): close it. */
		hu_conn_close(c, HU_ABORT);
		return;
	}
	s->conn = c;
	s->opened = 1;
	hu_conn_set_user(c, s);
}

static void on_data(hu_conn *c, const void *d, size_t n)
{
	if (hu_conn_user(c) == NULL)
		return; /* one we closed in on_open */
	slot_of(c);
	if (policy & 1) {
		int rc = hu_conn_write(c, d, n);
		if (rc == 1 && (policy & 2))
			hu_conn_pause(c);
	}
	if ((policy & 4) && n > 100)
		hu_conn_close(c, (policy & 8) ? HU_ABORT : HU_GRACEFUL);
}

static void on_eof(hu_conn *c)
{
	slot_of(c);
	if (policy & 32)
		hu_conn_write(c, "bye", 3);
	if (policy & 64)
		hu_conn_shutdown(c);
}

static void on_drain(hu_conn *c)
{
	slot_of(c);
	hu_conn_resume(c);
}

static void on_close(hu_conn *c, const struct hu_close_info *i)
{
	struct slot *s = hu_conn_user(c);

	if (i->reason < HU_CLOSE_EOF || i->reason > HU_CLOSE_ERROR)
		fail("a reason outside the enum");
	if (hu_conn_write(c, "x", 1) != HU_PIPE)
		fail("a write in on_close did not fail with HU_PIPE");
	hu_conn_close(c, HU_ABORT); /* a no-op now */
	total_closes++;
	live_conns--;
	if (s == NULL)
		return;
	if (s->conn != c || s->closed)
		fail("on_close twice, or for a stranger");
	s->closed = 1;
	s->conn = NULL; /* never touched again */
}

static void stop(hu_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	hu_loop_stop(loop);
}

/* One turn of the loop: everything ready now, nothing waited for. */
static void turn(void)
{
	if (hu_timer_start(loop, 0, 0, stop, NULL) != NULL)
		hu_loop_run(loop);
}

static void timer_op(hu_timer *t, void *arg)
{
	struct slot *s = &slots[(uintptr_t)arg % SLOTS];

	(void)t;
	if (s->conn == NULL)
		return;
	if ((uintptr_t)arg & 4)
		hu_conn_close(s->conn, HU_GRACEFUL);
	else
		hu_conn_write(s->conn, scratch, 1000);
}

static int fd_count(void)
{
	int n = 0;

	for (int fd = 0; fd < 256; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int serial;
	char addr[64];
	hu_listener *l;

	if (size < 1)
		return 0;
	int fds_before = fd_count();
	policy = data[0];
	memset(slots, 0, sizeof(slots));
	for (int i = 0; i < SLOTS; i++)
		slots[i].peer = -1;
	live_conns = total_opens = total_closes = 0;

	loop = hu_loop_new();
	if (loop == NULL)
		return 0;
	snprintf(addr, sizeof(addr), "unix:@hu-fuzz-loop-%d-%d", getpid(),
		 serial++);
	struct hu_listen_config cfg = {
	    .conn = {.cb = {.on_open = on_open,
			    .on_data = on_data,
			    .on_eof = (policy & 16) ? on_eof : NULL,
			    .on_drain = on_drain,
			    .on_close = on_close},
		     .high_water = 4096,
		     .linger_ms = 1 + (policy >> 7) * 20},
	};
	if (hu_listen(loop, addr, &cfg, &l) < 0)
		fail("hu_listen");
	struct hu_addr a;
	hu_addr_parse(addr, &a);

	for (size_t i = 1; i + 1 < size; i += 2) {
		int op = data[i] % 16;
		struct slot *s = &slots[data[i + 1] % SLOTS];
		size_t n = (size_t)(data[i + 1] >> 2) * 256 + 1;
		struct iovec iov[2] = {{scratch, n / 2}, {scratch, n - n / 2}};

		switch (op) {
		case 0: /* a new peer connects into this slot */
			if (s->peer >= 0 || s->opened)
				break;
			s->peer =
			    socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (s->peer >= 0 &&
			    connect(s->peer, (struct sockaddr *)&a.sa, a.len) <
				0) {
				close(s->peer);
				s->peer = -1;
			}
			turn();
			break;
		case 1:
			if (s->conn)
				hu_conn_write(s->conn, scratch, n);
			break;
		case 2:
			if (s->conn)
				hu_conn_writev(s->conn, iov, 2);
			break;
		case 3:
			if (s->conn)
				hu_conn_shutdown(s->conn);
			break;
		case 4:
			if (s->conn)
				hu_conn_close(s->conn, HU_GRACEFUL);
			break;
		case 5:
			if (s->conn)
				hu_conn_close(s->conn, HU_ABORT);
			break;
		case 6:
			if (s->conn)
				hu_conn_pause(s->conn);
			break;
		case 7:
			if (s->conn)
				hu_conn_resume(s->conn);
			break;
		case 8:
			hu_timer_start(loop, data[i + 1] % 3, 0, timer_op,
				       (void *)(uintptr_t)data[i + 1]);
			break;
		case 9: /* the peer sends */
			if (s->peer >= 0)
				(void)send(s->peer, scratch, n, MSG_NOSIGNAL);
			break;
		case 10: /* the peer reads */
			if (s->peer >= 0)
				(void)recv(s->peer, scratch, n, 0);
			break;
		case 11:
			if (s->peer >= 0)
				shutdown(s->peer, SHUT_WR);
			break;
		case 12: /* the peer closes (an RST if it left data unread) */
			if (s->peer >= 0) {
				close(s->peer);
				s->peer = -1;
			}
			break;
		case 13:
			if (s->conn) {
				char buf[128];
				hu_conn_peer(s->conn, buf, sizeof(buf));
				(void)hu_conn_buffered(s->conn);
				(void)hu_conn_fd(s->conn);
			}
			break;
		default:
			turn();
			break;
		}
	}
	/* The end: the peers go, the loop runs what is left, then is freed:
	 * every connection that opened has had exactly one on_close. */
	for (int i = 0; i < SLOTS; i++)
		if (slots[i].peer >= 0) {
			close(slots[i].peer);
			slots[i].peer = -1;
		}
	turn();
	hu_listener_close(l);
	hu_loop_free(loop);
	loop = NULL;
	if (total_closes != total_opens || live_conns != 0)
		fail("a connection ended without its on_close (or twice)");
	for (int i = 0; i < SLOTS; i++)
		if (slots[i].opened && !slots[i].closed)
			fail("an opened slot never closed");
	if (fd_count() != fds_before)
		fail("an fd leaked");
	return 0;
}
