/*
 * soak.c -- `make soak`: an echo server on hangup's loop, under a load
 * generator that ends its connections every way there is, round after
 * round; it checks that nothing is ever lost.
 *
 * Processes (all in a private network namespace of their own when root,
 * so that nft may drop packets there and nothing outside is touched):
 *   - the server: hu_loop, echo with backpressure, idle_ms and
 *     liveness_ms set. The first 16 bytes of each connection tell it the
 *     connection's tag and what the generator will do with it; on_close
 *     sends (tag, reason, errno, bytes) to the generator;
 *   - the generator (this process): clients on a hu_loop of its own, each
 *     sending a pseudo-random stream (seeded by its tag) and checking
 *     every echoed byte against it;
 *   - a "remote" child that holds raw connections which end by the
 *     remote process being killed (FIN, or RST with unread data) or by
 *     vanishing (nft drops every packet of their address, 127.0.0.2: a
 *     dead peer).
 * Ends: FIN, half-close, RST, peer killed (clean / with unread data), dead
 * peer, idle timeout, the server's graceful close, the server's abort.
 *
 * It asserts: every byte echoed before a graceful end arrived intact;
 * every connection got exactly one on_close with the reason its end
 * calls for; the server's open-fd count and RSS return to their baseline
 * after every round; no SIGPIPE (the server runs with SIGPIPE at SIG_DFL).
 *
 *	build/soak [--rounds N] [--conns N]      (default: 15 rounds of 8000)
 */
#include "hangup.h"
#include "lib/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum kind {
	K_FIN,         /* send, read the echo, close: server sees eof */
	K_HALF,        /* send, shutdown(WR), read to the end: eof */
	K_RST,         /* send, read half the echo, abort: reset */
	K_IDLE,        /* header only, then silence: idle */
	K_SLOCAL,      /* the server closes gracefully after N bytes */
	K_SABORT,      /* the server aborts after N bytes */
	K_KILL_CLEAN,  /* remote process killed, nothing unread: eof */
	K_KILL_UNREAD, /* remote process killed holding our echo: reset */
	K_DEAD,        /* the remote vanishes (nft drop): timeout */
	NKINDS
};

static const char *const kind_names[NKINDS] = {
    "fin",          "half-close", "rst",           "idle",      "server-local",
    "server-abort", "killed",     "killed-unread", "dead-peer",
};

static const int expect[NKINDS] = {
    [K_FIN] = HU_CLOSE_EOF,        [K_HALF] = HU_CLOSE_EOF,
    [K_RST] = HU_CLOSE_RESET,      [K_IDLE] = HU_CLOSE_IDLE,
    [K_SLOCAL] = HU_CLOSE_LOCAL,   [K_SABORT] = HU_CLOSE_ABORT,
    [K_KILL_CLEAN] = HU_CLOSE_EOF, [K_KILL_UNREAD] = HU_CLOSE_RESET,
    [K_DEAD] = HU_CLOSE_TIMEOUT,
};

#define MAGIC 0x48555350u /* "HUSP" */
/* Liveness 3 s: keepalive probes at 1 s and 2 s, the end at 3 s. Not
 * less: below 3 s hu_liveness() can send one probe only, and a loopback
 * this loaded drops packets (the per-CPU backlog, netdev_max_backlog,
 * overflows: soak counts the drops), so one lost probe would end a live
 * idle connection with "timeout" (measured: 3 to 6 of 8,000 per run at
 * 1.5 s). The idle timeout must come after a dead peer's detection. */
#define IDLE_MS 5000
#define LIVENESS_MS 3000

struct header {
	uint32_t magic, tag, kind, param;
};

/* What the server reports for each connection it closed. */
struct record {
	uint32_t tag, kind;
	int32_t reason, error;
	uint64_t bytes_in, bytes_out;
	uint64_t written;     /* what the server queued (hu_conn_write) */
	uint64_t undelivered; /* what on_close says never got through */
};

/* The server's answer to 'S'. */
struct stats {
	int64_t fds, rss_kb, conns;
};

static void die(const char *what)
{
	fprintf(stderr, "soak: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The stream a tag sends: xorshift, one byte at a time. */
struct prng {
	uint64_t s;
};
static void prng_init(struct prng *p, uint32_t tag)
{
	p->s = 0x9E3779B97F4A7C15ull ^ ((uint64_t)tag << 17 | tag);
	if (p->s == 0)
		p->s = 1;
}
static unsigned char prng_byte(struct prng *p)
{
	p->s ^= p->s << 13;
	p->s ^= p->s >> 7;
	p->s ^= p->s << 17;
	return (unsigned char)(p->s >> 32);
}

/* Packets the kernel dropped because a CPU's backlog was full
 * (/proc/net/softnet_stat, column 2, machine-wide): the loss a loopback
 * under this load really has. */
static long long backlog_drops(void)
{
	FILE *f = fopen("/proc/net/softnet_stat", "r");
	char line[512];
	long long sum = 0;
	unsigned a, d;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%x %x", &a, &d) == 2)
			sum += d;
	fclose(f);
	return sum;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ------------------------------------------------------------------ */
/* The server                                                           */
/* ------------------------------------------------------------------ */

struct sconn {
	struct header h;
	size_t hlen;
	uint64_t data_in;
	uint64_t written; /* queued for the peer: bytes_out + buffered */
	int done;         /* closed by us */
};

static int report_fd, control_fd;
static long server_conns;

static void s_open(hu_conn *c)
{
	struct sconn *s = calloc(1, sizeof(*s));

	if (s == NULL)
		hu_conn_close(c, HU_ABORT);
	hu_conn_set_user(c, s);
	server_conns++;
}

static void s_data(hu_conn *c, const void *data, size_t len)
{
	struct sconn *s = hu_conn_user(c);
	const char *p = data;

	if (s == NULL)
		return;
	if (s->hlen < sizeof(s->h)) {
		size_t take = sizeof(s->h) - s->hlen;

		if (take > len)
			take = len;
		memcpy((char *)&s->h + s->hlen, p, take);
		s->hlen += take;
		p += take;
		len -= take;
		if (s->hlen == sizeof(s->h) && s->h.magic != MAGIC) {
			hu_conn_close(c, HU_ABORT);
			return;
		}
	}
	if (len == 0 || s->done)
		return;
	s->data_in += len;
	int rc = hu_conn_write(c, p, len);
	if (rc >= 0)
		s->written += len;
	if (rc == 1)
		hu_conn_pause(c);
	if (s->h.kind == K_SLOCAL && s->data_in >= s->h.param) {
		s->done = 1;
		hu_conn_close(c, HU_GRACEFUL);
	} else if (s->h.kind == K_SABORT && s->data_in >= s->h.param) {
		s->done = 1;
		hu_conn_close(c, HU_ABORT);
	}
}

static void s_drain(hu_conn *c)
{
	hu_conn_resume(c);
}

static void s_close(hu_conn *c, const struct hu_close_info *i)
{
	struct sconn *s = hu_conn_user(c);
	struct record r = {0};

	r.tag = s ? s->h.tag : 0;
	r.kind = s ? s->h.kind : NKINDS;
	r.reason = i->reason;
	r.error = i->error;
	r.bytes_in = i->bytes_in;
	r.bytes_out = i->bytes_out;
	r.written = s ? s->written : 0;
	r.undelivered = i->undelivered;
	/* Blocking write of a small record: the generator reads them all. */
	if (write(report_fd, &r, sizeof(r)) != sizeof(r))
		_exit(3);
	free(s);
	server_conns--;
}

static void s_control(hu_watch *w, unsigned ev, void *arg)
{
	char cmd;
	hu_loop *loop = arg;

	(void)ev;
	ssize_t n = read(control_fd, &cmd, 1);
	if (n <= 0) {
		hu_watch_stop(w);
		hu_loop_stop(loop);
		return;
	}
	struct stats st = {tap_fd_count(), rss_kb(), server_conns};
	if (write(control_fd, &st, sizeof(st)) != sizeof(st))
		_exit(3);
}

static int run_server(int listen_port_fd)
{
	struct hu_listen_config cfg = {
	    .conn = {.cb = {.on_open = s_open,
			    .on_data = s_data,
			    .on_drain = s_drain,
			    .on_close = s_close},
		     .idle_ms = IDLE_MS,
		     .liveness_ms = LIVENESS_MS,
		     .linger_ms = 3000},
	    .backlog = 4096,
	};
	hu_listener *l;
	hu_watch *w;
	char addr[64];

	signal(SIGPIPE, SIG_DFL); /* hangup must never raise it */
	hu_loop *loop = hu_loop_new();
	if (loop == NULL || hu_listen(loop, "127.0.0.1:0", &cfg, &l) < 0)
		die("server listen");
	/* HANGUP_BACKEND=io_uring make soak: say which one this run is. */
	printf("soak: the server's loop is on %s\n",
	       hu_backend_name(hu_loop_backend(loop)));
	fflush(stdout);
	hu_listener_addr(l, addr, sizeof(addr));
	if (write(listen_port_fd, addr, sizeof(addr)) != sizeof(addr))
		die("write addr");
	close(listen_port_fd);
	if (hu_watch_start(loop, control_fd, HU_READABLE, s_control, loop, &w) <
	    0)
		die("watch");
	hu_loop_run(loop);
	hu_loop_free(loop);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The generator's clients (on a loop of their own)                     */
/* ------------------------------------------------------------------ */

struct client {
	struct header h;
	size_t size;     /* data bytes to send */
	size_t sent;     /* data bytes queued */
	size_t got;      /* echo bytes checked */
	struct prng out; /* what we send */
	struct prng in;  /* what must come back */
	int bad;         /* an echoed byte differed */
	int closed_reason;
	int sent_header;
};

static long g_bad_bytes, g_clients_live, g_short_echo;
static uint64_t *got_by_tag, *out_by_tag; /* client got / server sent */
static uint64_t *written_by_tag, *undelivered_by_tag; /* server's record */
static long g_bad_undelivered;
static unsigned long long g_bytes_checked;

static void c_pump(hu_conn *c)
{
	struct client *k = hu_conn_user(c);
	unsigned char buf[16384];

	if (!k->sent_header) {
		k->sent_header = 1;
		if (hu_conn_write(c, &k->h, sizeof(k->h)) < 0)
			return;
	}
	while (k->sent < k->size) {
		size_t n = k->size - k->sent;

		if (n > sizeof(buf))
			n = sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = prng_byte(&k->out);
		int rc = hu_conn_write(c, buf, n);
		if (rc < 0)
			return;
		k->sent += n;
		if (rc == 1)
			return; /* wait for on_drain */
	}
	if (k->h.kind == K_HALF)
		hu_conn_shutdown(c);
}

static void c_open(hu_conn *c)
{
	c_pump(c);
}

static void c_drain(hu_conn *c)
{
	c_pump(c);
}

static void c_data(hu_conn *c, const void *data, size_t len)
{
	struct client *k = hu_conn_user(c);
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		if (p[i] != prng_byte(&k->in))
			k->bad = 1;
	k->got += len;
	g_bytes_checked += len;
	if (k->h.kind == K_FIN && k->got == k->size)
		hu_conn_close(c, HU_GRACEFUL);
	if (k->h.kind == K_RST && k->got >= k->size / 2)
		hu_conn_close(c, HU_ABORT);
}

static void c_close(hu_conn *c, const struct hu_close_info *i)
{
	struct client *k = hu_conn_user(c);

	if (k->bad)
		g_bad_bytes++;
	/* A FIN or half-close must have brought back all we sent; for
	 * the server's graceful close, what it echoed is compared with what
	 * came back once its record is in (check_echo()). */
	if ((k->h.kind == K_FIN || k->h.kind == K_HALF) && k->got != k->size)
		g_short_echo++;
	got_by_tag[k->h.tag] = k->got + 1; /* + 1: 0 means not yet */
	(void)i;
	free(k);
	g_clients_live--;
}

/* ------------------------------------------------------------------ */
/* The remote: raw sockets in a child, killed or made to vanish         */
/* ------------------------------------------------------------------ */

/* The dead peers come from an address of their own (all of 127/8 is
 * loopback), so one nft rule on the address makes them all vanish and
 * nothing else: no port of theirs can later be reused by a live one. */
#define DEAD_ADDR "127.0.0.2"

static int raw_connect(const struct hu_addr *a, int dead)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in src = {.sin_family = AF_INET};

	inet_pton(AF_INET, DEAD_ADDR, &src.sin_addr);
	if (fd < 0 ||
	    (dead && bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) ||
	    connect(fd, (const struct sockaddr *)&a->sa, a->len) < 0)
		die("remote connect");
	return fd;
}

/*
 * The child: open the connections; wait until the server has echoed what
 * the "unread" ones sent (so that their kill really leaves unread data and
 * the kernel answers with RST, not FIN); tell the parent it is ready; then
 * wait to be killed.
 */
static pid_t run_remote(const struct hu_addr *a, uint32_t tag0, int n_each,
			int with_dead, int ready)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid != 0)
		return pid;
	static char junk[1000];
	int *unread = calloc((size_t)n_each, sizeof(int));
	int nunread = 0;
	uint32_t tag = tag0;
	for (int k = K_KILL_CLEAN; k <= K_DEAD; k++)
		for (int i = 0; i < n_each; i++) {
			int kind = k == K_DEAD && !with_dead ? K_KILL_CLEAN : k;
			struct header h = {MAGIC, tag++, (uint32_t)kind, 0};
			int fd = raw_connect(a, kind == K_DEAD);

			if (send(fd, &h, sizeof(h), 0) != sizeof(h))
				die("remote send");
			if (kind == K_KILL_UNREAD) {
				if (send(fd, junk, sizeof(junk), 0) !=
				    sizeof(junk))
					die("remote send");
				unread[nunread++] = fd;
			}
		}
	for (int i = 0; i < nunread; i++) {
		int q = 0;
		double t0 = now_ms();

		while (ioctl(unread[i], FIONREAD, &q) == 0 &&
		       q < (int)sizeof(junk) && now_ms() - t0 < 10000) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	if (write(ready, "r", 1) != 1)
		die("ready pipe");
	for (;;)
		pause();
}

static int nft(const char *cmd)
{
	return system(cmd);
}

/* ------------------------------------------------------------------ */
/* Rounds                                                               */
/* ------------------------------------------------------------------ */

struct round_result {
	long expected, got, wrong_reason, duplicate, missing;
	long by_kind[NKINDS], wrong_kind[NKINDS];
	long by_reason[HU_CLOSE_ERROR + 1];
};

static unsigned char *seen; /* per tag: 0 none, 1 closed once */
static uint32_t *tag_kind;
static struct round_result total;
static int report_rd;

static void collect(struct round_result *r, const struct record *rec)
{
	if (rec->kind >= NKINDS) {
		r->wrong_reason++;
		fprintf(stderr,
			"soak: a connection with no header closed: %s\n",
			hu_reason_name(rec->reason));
		return;
	}
	if (seen[rec->tag]++) {
		r->duplicate++;
		return;
	}
	r->got++;
	r->by_kind[rec->kind]++;
	out_by_tag[rec->tag] = rec->bytes_out + 1;
	written_by_tag[rec->tag] = rec->written;
	undelivered_by_tag[rec->tag] = rec->undelivered;
	/* Never more undelivered than written, nor more written than the
	 * kernel took plus what can have been left in the buffer. */
	if (rec->undelivered > rec->written || rec->bytes_out > rec->written)
		g_bad_undelivered++;
	if (rec->reason >= 0 && rec->reason <= HU_CLOSE_ERROR)
		r->by_reason[rec->reason]++;
	if (rec->reason != expect[rec->kind]) {
		r->wrong_reason++;
		r->wrong_kind[rec->kind]++;
		if (r->wrong_kind[rec->kind] <= 3)
			fprintf(stderr,
				"soak: tag %u (%s): reason %s errno %s, want "
				"%s\n",
				rec->tag, kind_names[rec->kind],
				hu_reason_name(rec->reason),
				rec->error ? hu_errno_name(rec->error) : "-",
				hu_reason_name(expect[rec->kind]));
	}
}

static void on_report(hu_watch *w, unsigned ev, void *arg)
{
	struct record rec;

	(void)w;
	(void)ev;
	ssize_t n = read(report_rd, &rec, sizeof(rec));
	if (n == sizeof(rec))
		collect(arg, &rec);
}

static double round_deadline;
static hu_loop *round_loop;
static void stop_when_done(hu_timer *t, void *arg)
{
	struct round_result *r = arg;

	(void)t;
	if ((r->got >= r->expected && g_clients_live == 0) ||
	    now_ms() > round_deadline)
		hu_loop_stop(round_loop);
}

static struct stats ask_stats(int ctl)
{
	struct stats st;
	char c = 'S';

	if (write(ctl, &c, 1) != 1 || read(ctl, &st, sizeof(st)) != sizeof(st))
		die("server stats");
	return st;
}

int main(int argc, char **argv)
{
	int rounds = 15, conns = 8000, root = geteuid() == 0, opt;
	static const struct option longopts[] = {
	    {"rounds", required_argument, NULL, 'r'},
	    {"conns", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0}};

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 'c')
			conns = atoi(optarg);
		else {
			fprintf(stderr,
				"usage: soak [--rounds N] [--conns N]\n");
			return 2;
		}
	}
	if (rounds < 2 || conns < NKINDS * 10) {
		fprintf(stderr, "soak: at least 2 rounds and %d conns\n",
			NKINDS * 10);
		return 2;
	}
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if ((long)rl.rlim_cur < conns * 2 + 100)
		conns = (int)(rl.rlim_cur - 100) / 2;

	if (root) {
		/* Our own network: nft rules and TIME_WAIT stay in it. */
		if (unshare(CLONE_NEWNET) != 0)
			die("unshare(CLONE_NEWNET)");
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		strcpy(ifr.ifr_name, "lo");
		if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
			die("lo");
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			die("lo up");
		close(s);
		if (nft("nft add table inet soak && nft add chain inet soak "
			"in '{ type filter hook input priority 0; }'") != 0) {
			fprintf(stderr, "soak: nft failed (is nftables "
					"installed?)\n");
			return 2;
		}
	} else {
		printf("soak: not root: no private namespace, so no dead-peer "
		       "connections\n");
	}

	int addr_pipe[2], rep[2], ctl[2];
	if (pipe(addr_pipe) < 0 || pipe(rep) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ctl) < 0)
		die("pipe");
	pid_t server = fork();
	if (server < 0)
		die("fork");
	if (server == 0) {
		close(addr_pipe[0]);
		close(rep[0]);
		close(ctl[0]);
		report_fd = rep[1];
		control_fd = ctl[1];
		_exit(run_server(addr_pipe[1]));
	}
	close(addr_pipe[1]);
	close(rep[1]);
	close(ctl[1]);
	report_rd = rep[0];
	char addr[64];
	struct hu_addr a;
	if (read(addr_pipe[0], addr, sizeof(addr)) != sizeof(addr) ||
	    hu_addr_parse(addr, &a) < 0)
		die("server address");
	close(addr_pipe[0]);
	printf("soak: server %d on %s; %d rounds of %d connections\n",
	       (int)server, addr, rounds, conns);

	int remote_each = conns / 10;
	int local = conns - 3 * remote_each;
	/* The server's records must not block it while we are busy. */
	fcntl(report_rd, F_SETPIPE_SZ, 1 << 20);
	size_t ntags = (size_t)rounds * (size_t)conns + 1;
	seen = calloc(ntags, 1);
	tag_kind = calloc(ntags, sizeof(*tag_kind));
	got_by_tag = calloc(ntags, sizeof(*got_by_tag));
	out_by_tag = calloc(ntags, sizeof(*out_by_tag));
	written_by_tag = calloc(ntags, sizeof(*written_by_tag));
	undelivered_by_tag = calloc(ntags, sizeof(*undelivered_by_tag));
	if (seen == NULL || tag_kind == NULL || got_by_tag == NULL ||
	    out_by_tag == NULL || written_by_tag == NULL ||
	    undelivered_by_tag == NULL)
		die("calloc");

	struct stats base = {0}, st;
	long fd_leaks = 0, failures = 0;
	long rss_max_growth = 0;
	uint32_t tag = 1;
	srand(12345);
	double t_start = now_ms();
	long long drops0 = backlog_drops();
	for (int round = 1; round <= rounds; round++) {
		struct round_result r = {0};
		double t0 = now_ms();
		int ports[2];

		/* The remote child's connections first: all established,
		 * the unread ones holding their echo, before any ends. */
		if (pipe(ports) < 0)
			die("pipe");
		uint32_t rtag = tag;
		pid_t remote =
		    run_remote(&a, rtag, remote_each, root, ports[1]);
		close(ports[1]);
		for (int k = K_KILL_CLEAN; k <= K_DEAD; k++)
			for (int i = 0; i < remote_each; i++)
				tag_kind[tag++] =
				    (uint32_t)(k == K_DEAD && !root
						   ? K_KILL_CLEAN
						   : k);
		r.expected = 3L * remote_each;
		char rdy;
		if (read(ports[0], &rdy, 1) != 1)
			die("remote ready");
		close(ports[0]);
		/* The dead vanish (every segment to or from their address is
		 * dropped); the killed are closed by the kernel: FIN, or RST
		 * for unread data. */
		if (root &&
		    nft("nft add rule inet soak in ip saddr " DEAD_ADDR
			" drop && nft add rule inet soak in ip daddr " DEAD_ADDR
			" drop") != 0)
			die("nft add rule");
		kill(remote, SIGKILL);
		waitpid(remote, NULL, 0);

		/* The generator's own clients: every other kind. */
		hu_loop *loop = hu_loop_new();
		hu_watch *w;
		if (loop == NULL || hu_watch_start(loop, report_rd, HU_READABLE,
						   on_report, &r, &w) < 0)
			die("generator loop");
		struct hu_conn_config cc = {
		    .cb = {.on_open = c_open,
			   .on_data = c_data,
			   .on_drain = c_drain,
			   .on_close = c_close},
		    .linger_ms = 3000,
		};
		static const int local_kinds[] = {K_FIN,  K_HALF,   K_RST,
						  K_IDLE, K_SLOCAL, K_SABORT};
		for (int i = 0; i < local; i++) {
			struct client *k = calloc(1, sizeof(*k));
			int kind = local_kinds[i % 6];

			if (k == NULL)
				die("calloc");
			k->h = (struct header){MAGIC, tag, (uint32_t)kind, 0};
			k->size = kind == K_IDLE
				      ? 0
				      : 1 + (size_t)rand() % (128 << 10);
			if (kind == K_SLOCAL || kind == K_SABORT)
				k->h.param = (uint32_t)(k->size / 2 + 1);
			prng_init(&k->out, tag);
			prng_init(&k->in, tag);
			tag_kind[tag] = (uint32_t)kind;
			cc.user = k;
			if (hu_connect(loop, addr, &cc, NULL) < 0)
				die("hu_connect");
			g_clients_live++;
			tag++;
			r.expected++;
		}
		round_deadline = t0 + 60000;
		round_loop = loop;
		hu_timer *tick =
		    hu_timer_start(loop, 10, 10, stop_when_done, &r);
		hu_loop_run(loop);
		hu_timer_stop(tick);
		hu_watch_stop(w);
		hu_loop_free(loop);
		/* Every dead one has been reaped: the next round's connect. */
		if (root && nft("nft flush chain inet soak in") != 0)
			die("nft flush chain");

		for (uint32_t t = rtag; t < tag; t++) {
			if (!seen[t])
				r.missing++;
			/* Every byte the server echoed before a graceful
			 * end came back (and was checked, in c_data). */
			int k = (int)tag_kind[t];
			if ((k == K_FIN || k == K_HALF || k == K_SLOCAL ||
			     k == K_IDLE) &&
			    got_by_tag[t] != out_by_tag[t])
				g_short_echo++;
			/* The report is exact (issue 11): when the client
			 * read to the end, what it read + what the server
			 * calls undelivered is what the server wrote. After
			 * an abort either way the sum is only bounded: bytes
			 * in flight at the RST may arrive unacknowledged,
			 * and a client that aborts leaves acknowledged
			 * bytes unread. */
			if (got_by_tag[t] == 0)
				continue; /* a raw remote: no client count */
			uint64_t got = got_by_tag[t] - 1;
			uint64_t sum = got + undelivered_by_tag[t];
			int graceful = k == K_FIN || k == K_HALF ||
				       k == K_SLOCAL || k == K_IDLE;
			if (graceful ? sum != written_by_tag[t]
				     : got > written_by_tag[t]) {
				if (g_bad_undelivered++ < 3)
					fprintf(
					    stderr,
					    "soak: tag %u (%s): client got "
					    "%llu + undelivered %llu, "
					    "server wrote %llu\n",
					    t, kind_names[k],
					    (unsigned long long)got_by_tag[t] -
						1,
					    (unsigned long long)
						undelivered_by_tag[t],
					    (unsigned long long)
						written_by_tag[t]);
			}
		}
		st = ask_stats(ctl[0]);
		if (round == 1)
			base = st;
		long fds_over = (long)(st.fds - base.fds);
		long rss_over = (long)(st.rss_kb - base.rss_kb);
		if (fds_over != 0)
			fd_leaks += fds_over;
		if (round > 1 && rss_over > rss_max_growth)
			rss_max_growth = rss_over;
		int ok = r.missing == 0 && r.duplicate == 0 &&
			 r.wrong_reason == 0 && st.conns == 0 && fds_over == 0;
		if (!ok)
			failures++;
		printf(
		    "soak: round %d: %ld connections, %ld closes (%ld wrong, "
		    "%ld twice, %ld missing), server: %lld fds, %lld KiB "
		    "RSS, %lld open, %.1f s\n",
		    round, r.expected, r.got, r.wrong_reason, r.duplicate,
		    r.missing, (long long)st.fds, (long long)st.rss_kb,
		    (long long)st.conns, (now_ms() - t0) / 1000);
		fflush(stdout);
		total.expected += r.expected;
		total.got += r.got;
		total.wrong_reason += r.wrong_reason;
		total.duplicate += r.duplicate;
		total.missing += r.missing;
		for (int k = 0; k <= HU_CLOSE_ERROR; k++)
			total.by_reason[k] += r.by_reason[k];
		for (int k = 0; k < NKINDS; k++)
			total.by_kind[k] += r.by_kind[k];
	}
	/* The server ends when its control socket closes. */
	close(ctl[0]);
	int status;
	waitpid(server, &status, 0);
	int server_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!server_ok)
		failures++;
	if (g_bad_bytes || g_short_echo || g_bad_undelivered)
		failures++;
	/* RSS: malloc may keep a little; growth past 1 MiB after the first
	 * round is a leak. */
	if (rss_max_growth > 1024)
		failures++;

	printf("soak: %ld connections in %d rounds, %.1f s; %.1f MiB echoed "
	       "and checked byte by byte\n",
	       total.expected, rounds, (now_ms() - t_start) / 1000,
	       (double)g_bytes_checked / (1 << 20));
	printf("soak: ends:");
	for (int k = 0; k < NKINDS; k++)
		printf(" %s %ld", kind_names[k], total.by_kind[k]);
	printf("\nsoak: closes by reason:");
	for (int k = 0; k <= HU_CLOSE_ERROR; k++)
		if (total.by_reason[k])
			printf(" %s %ld", hu_reason_name(k),
			       total.by_reason[k]);
	printf("\nsoak: wrong reason %ld, closed twice %ld, never closed %ld, "
	       "bad echo %ld, short echo %ld, undelivered wrong %ld\n",
	       total.wrong_reason, total.duplicate, total.missing, g_bad_bytes,
	       g_short_echo, g_bad_undelivered);
	printf("soak: loopback packets dropped by the kernel (backlog full): "
	       "%lld\n",
	       backlog_drops() - drops0);
	printf("soak: leaks: %ld fds, RSS %+ld KiB after round 1 (baseline "
	       "%lld fds, %lld KiB); server %s\n",
	       fd_leaks, rss_max_growth, (long long)base.fds,
	       (long long)base.rss_kb,
	       server_ok ? "exited cleanly" : "DIED (a signal?)");
	printf("soak: %s\n", failures ? "FAILED" : "passed");
	return failures ? 1 : 0;
}
