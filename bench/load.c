/*
 * load.c -- the one load generator and driver behind `make bench`.
 *
 *   load [options] NAME=PATH...     the first server is the baseline
 *
 * It starts every server (pinned to CPU 0, itself on CPU 1), and in one run
 * interleaves them, several rounds, each test on every server before the
 * next test, the order rotated each round. It measures:
 *
 *   mass FIN/RST  N idle connections closed at once by close() (FIN) or by
 *                 SO_LINGER {1, 0} + close() (RST): the time from our first
 *                 close() to the server's Nth recorded close, and the
 *                 server's CPU per close; the FIN setup, on a fresh server,
 *                 also gives user-space memory per idle connection (RssAnon
 *                 delta / N);
 *   latency       a peer's FIN to the server's close callback, one
 *                 connection at a time on an idle server;
 *   echo          1000 connections, one 64-byte message in flight each:
 *                 messages/s and server CPU per message;
 *   churn         connect, 64-byte echo, close, 64 at a time: connections/s
 *                 and server CPU per connection.
 *
 * Servers are ranked by server CPU per operation (utime + stime over the
 * same window), not by rate: on two cores the generator usually sets the
 * rate, so the generator's own CPU is reported beside it. The protocol with
 * the servers is in common.h; CPU and memory come from /proc/PID.
 *
 * Medians go to stdout and, with -o, to a Markdown file with the machine,
 * the date and how to read it; every round's raw values go to --csv.
 *
 * This file: options, the servers' processes, what /proc says, the rounds.
 * The tests are in load-tests.c, the report in load-report.c.
 */
#include "load.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Options                                                              */
/* ------------------------------------------------------------------ */

int opt_rounds = 5;
static int opt_mass_n; /* 0 = from the open-file limit */
int opt_echo_conns = 1000;
int opt_churn_conc = 64;
unsigned opt_warm_ms = 300;
unsigned opt_run_ms = 2000; /* per server and round, in slices of: */
unsigned opt_slice_ms = 250;
int opt_lat_samples = 1000;
/* Each mass test twice per round: one sample of it swings by 30% here. */
int opt_mass_reps = 2;
/* Before churn, wait while more TIME_WAIT sockets than this (0 = half of
 * net.ipv4.tcp_max_tw_buckets) exist, at most opt_tw_wait_s. */
long opt_tw_max;
unsigned opt_tw_wait_s = 75;
unsigned port_lo = 10000, port_hi = 65535;
static const char *opt_out;
static const char *opt_csv;
/* A churn or echo slice in which other processes (and hypervisor steal)
 * took more than this share of a core is not counted (load-tests.c). */
double opt_max_others = 25;
static int opt_purge = 1; /* remove our TIME_WAIT sockets with ss -K */
static const char *opt_tests = "mass,latency,echo,churn";

struct server servers[MAX_SERVERS];
int nservers;
int N;
double res[M_COUNT][MAX_SERVERS][MAX_ROUNDS];
struct run_stats stats;

static void stop_all(void);

_Noreturn void die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	fprintf(stderr, "load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (e)
		fprintf(stderr, " (%s)", strerror(e));
	fputc('\n', stderr);
	stop_all();
	exit(1);
}

uint64_t now_ns(void)
{
	return bench_now_ns();
}

void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u),
			      (long)(ns % 1000000000u)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static int ncpus(void)
{
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static void server_start(struct server *s)
{
	int fd = memfd_create("hangup-bench", MFD_CLOEXEC);
	pid_t pid;

	if (fd < 0 || ftruncate(fd, sizeof(struct bench_shm)) < 0)
		die("memfd for %s", s->name);
	s->shm = mmap(NULL, sizeof(struct bench_shm), PROT_READ | PROT_WRITE,
		      MAP_SHARED, fd, 0);
	if (s->shm == MAP_FAILED)
		die("mmap");
	s->shm->magic = BENCH_MAGIC;
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		/* A server never outlives the generator that measures it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (ncpus() >= 2)
			pin_to(0);
		/* dup2() clears FD_CLOEXEC on 3, but does nothing at all
		 * if the memfd already is 3. */
		if (fd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(fd, 3) < 0)
			_exit(126);
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execl(s->path, s->path, "--shm", "3", (char *)NULL);
		fprintf(stderr, "load: exec %s: %s\n", s->path,
			strerror(errno));
		_exit(127);
	}
	close(fd);
	s->pid = pid;
	for (uint64_t t0 = now_ns();;) {
		int st;

		s->port = (uint16_t)atomic_load_explicit(&s->shm->port,
							 memory_order_acquire);
		if (s->port)
			break;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			s->pid = 0;
			errno = 0;
			die("%s (%s) exited before listening", s->name,
			    s->path);
		}
		if (now_ns() - t0 > 5000 * MS) {
			errno = 0;
			die("%s did not start listening in 5 s", s->name);
		}
		sleep_ns(MS);
	}
	snprintf(s->version, sizeof(s->version), "%s", s->shm->version);
}

static void server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	if (s->shm && s->shm != MAP_FAILED)
		munmap(s->shm, sizeof(struct bench_shm));
	s->shm = NULL;
}

static void stop_all(void)
{
	for (int i = 0; i < nservers; i++)
		server_stop(&servers[i]);
}

/* ------------------------------------------------------------------ */
/* What /proc says                                                      */
/* ------------------------------------------------------------------ */

ssize_t read_text(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = 0;
	return (ssize_t)n;
}

/*
 * The server's CPU time (utime + stime) in ns. /proc/PID/stat has it in
 * clock ticks (10 ms); /proc/PID/task/T/schedstat has the same
 * sum_exec_runtime in ns, summed here over the threads. Fall back to stat.
 */
uint64_t server_cpu_ns(const struct server *s)
{
	char path[64], buf[512];
	uint64_t sum = 0;
	int found = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)s->pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		char p[512];
		unsigned long long ns;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s/schedstat", path, e->d_name);
		if (read_text(p, buf, sizeof(buf)) > 0 &&
		    sscanf(buf, "%llu", &ns) == 1) {
			sum += ns;
			found = 1;
		}
	}
	if (d)
		closedir(d);
	if (found)
		return sum;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)s->pid);
	if (read_text(path, buf, sizeof(buf)) <= 0)
		die("read %s", path);
	/* Field 2 (comm) may hold spaces: parse after its ')'. */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu",
			 &ut, &st) != 2)
		die("parse %s", path);
	return (ut + st) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* The generator's own CPU time (all of it: user, system, and the loopback
 * softirq work its sends run). */
uint64_t gen_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Anonymous resident memory (heap, stacks, anonymous mmap) in KiB: what a
 * connection costs in user space. Shared memory and file pages (our own
 * protocol block, the libraries' code) are not in it. */
long rss_anon_kb(const struct server *s)
{
	char path[64], buf[4096];
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)s->pid);
	if (read_text(path, buf, sizeof(buf)) <= 0)
		die("read %s", path);
	char *p = strstr(buf, "RssAnon:");
	if (!p || sscanf(p + 8, "%ld", &kb) != 1)
		die("no RssAnon in %s", path);
	return kb;
}

double slab_bytes(void)
{
	FILE *f = fopen("/proc/slabinfo", "r");
	char line[512];
	double total = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char name[128];
		unsigned long active, num, objsize;

		if (sscanf(line, "%127s %lu %lu %lu", name, &active, &num,
			   &objsize) == 4)
			total += (double)active * (double)objsize;
	}
	fclose(f);
	return total;
}

/*
 * Time all CPUs were busy or stolen by the hypervisor, in ns, from
 * /proc/stat (10 ms ticks). Minus the server and the generator, it is what
 * other processes took from the window: the machine is shared.
 */
uint64_t busy_ns(void)
{
	char buf[512];
	unsigned long long v[8] = {0};

	if (read_text("/proc/stat", buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		return 0;
	/* user nice system [idle iowait] irq softirq steal */
	return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) *
	       (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* TIME_WAIT sockets in this network namespace (/proc/net/sockstat is one
 * read, `ss -tan state time-wait` a walk over all of them). */
long tw_count(void)
{
	char buf[1024];
	long tw = -1;

	if (read_text("/proc/net/sockstat", buf, sizeof(buf)) > 0) {
		char *p = strstr(buf, " tw ");
		if (p)
			sscanf(p + 4, "%ld", &tw);
	}
	return tw;
}

/*
 * Our TIME_WAIT sockets towards s, removed once a test that closed first
 * is over. They are the generator's half of connections the server has
 * already closed and freed, so the server cannot tell; but on loopback the
 * server's FIN creates them in the server's own softirq time, and past
 * net.ipv4.tcp_max_tw_buckets the kernel stops creating them -- a cheaper
 * close path. Removing them (SOCK_DESTROY, which aborts TIME_WAIT sockets;
 * needs CAP_NET_ADMIN) starts every test in the same state, without the
 * minute's wait that their expiry takes. Without the permission, the
 * TIME_WAIT wait before churn (BENCHMARKING.md) is all there is.
 */
void purge_time_wait(const struct server *s)
{
	char filter[32];
	long before = tw_count();
	pid_t pid;
	int st;

	if (!opt_purge || before <= 0)
		return;
	snprintf(filter, sizeof(filter), "dport = :%u", s->port);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) ||
		    !freopen("/dev/null", "w", stderr))
			_exit(126);
		execlp("ss", "ss", "-K", "-tn", "state", "time-wait", "src",
		       "127.0.0.1", "dst", "127.0.0.1", filter, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	/* Other processes' TIME_WAIT sockets count too: "nothing removed"
	 * means failure only when there were thousands (ours). */
	long after = tw_count();
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
	    (before > 1000 && after >= before)) {
		fprintf(stderr,
			"load: 'ss -K' (iproute2, needs CAP_NET_ADMIN) did not "
			"remove our TIME_WAIT sockets (status %d, %ld -> %ld); "
			"waiting for them instead\n",
			st, before, after);
		opt_purge = 0;
		return;
	}
	stats.tw_purged += before > after ? before - after : 0;
}

/* ------------------------------------------------------------------ */
/* Main                                                                 */
/* ------------------------------------------------------------------ */

/* Is `name` in the comma-separated --tests list? */
static int wants(const char *name)
{
	size_t n = strlen(name);

	for (const char *p = opt_tests; (p = strstr(p, name)); p += n)
		if ((p == opt_tests || p[-1] == ',') &&
		    (p[n] == 0 || p[n] == ','))
			return 1;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: load [-r ROUNDS] [-n N] [-q] [-o FILE.md] [--csv FILE] "
		"[--ports LO-HI]\n"
		"            [--tw-max COUNT] [--no-purge] [--max-others PCT]\n"
		"            [--tests mass,latency,echo,churn] NAME=PATH...\n"
		"  The first server is the baseline. -q: short windows, for a "
		"quick look.\n");
	exit(2);
}

/*
 * As root, run in a network namespace of our own (servers inherit it):
 * churn leaves hundreds of thousands of TIME_WAIT sockets, and on the
 * machine's own loopback they would take every ephemeral port for a
 * minute, so that anything else on it that binds port 0 fails with
 * EADDRINUSE (seen here: other test suites, while a bench ran). In our
 * namespace they are ours alone, and vanish with it. Unprivileged, we stay
 * where we are, and say so.
 */
static void private_network(void)
{
	struct ifreq ifr;
	int s;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "load: not in a private network namespace "
				"(needs root): our TIME_WAIT sockets share the "
				"machine's ports\n");
		return;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("bring lo up");
	close(s);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"csv", required_argument, NULL, 'c'},
	    {"ports", required_argument, NULL, 'p'},
	    {"tw-max", required_argument, NULL, 't'},
	    {"tests", required_argument, NULL, 'T'},
	    {"no-purge", no_argument, NULL, 'P'},
	    {"max-others", required_argument, NULL, 'O'},
	    {NULL, 0, NULL, 0}};
	struct rlimit rl;
	char date[64];
	time_t now = time(NULL);
	int o;

	while ((o = getopt_long(argc, argv, "r:n:qo:", longopts, NULL)) != -1) {
		switch (o) {
		case 'r':
			opt_rounds = atoi(optarg);
			break;
		case 'n':
			opt_mass_n = atoi(optarg);
			break;
		case 'q':
			opt_warm_ms = 100;
			opt_run_ms = 500;
			opt_lat_samples = 300;
			opt_mass_reps = 1;
			break;
		case 'o':
			opt_out = optarg;
			break;
		case 'c':
			opt_csv = optarg;
			break;
		case 'p':
			if (sscanf(optarg, "%u-%u", &port_lo, &port_hi) != 2 ||
			    port_lo < 1024 || port_hi > 65535 ||
			    port_hi - port_lo < 10000)
				usage();
			break;
		case 't':
			opt_tw_max = atol(optarg);
			break;
		case 'T':
			opt_tests = optarg;
			break;
		case 'P':
			opt_purge = 0;
			break;
		case 'O':
			opt_max_others = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (opt_rounds < 1 || opt_rounds > MAX_ROUNDS || optind >= argc ||
	    argc - optind > MAX_SERVERS)
		usage();
	for (int i = optind; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			usage();
		*eq = 0;
		servers[nservers].name = argv[i];
		servers[nservers].path = eq + 1;
		nservers++;
	}

	/* The servers inherit this limit. The hard limit is what it is
	 * (20000 here, no CAP_SYS_RESOURCE to raise it): read it. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	long room = (long)rl.rlim_cur - 100; /* the server's own fds */
	N = opt_mass_n > 0 ? opt_mass_n : 19900;
	if (N > room)
		N = (int)room;
	if (N < 1000)
		die("open-file limit %ld is too low", (long)rl.rlim_cur);
	if (opt_tw_max <= 0) {
		char buf[64];
		long cap = 0;
		if (read_text("/proc/sys/net/ipv4/tcp_max_tw_buckets", buf,
			      sizeof(buf)) > 0)
			cap = atol(buf);
		opt_tw_max = cap > 0 ? cap / 2 : 40000;
	}

	for (int m = 0; m < M_COUNT; m++)
		for (int i = 0; i < MAX_SERVERS; i++)
			for (int r = 0; r < MAX_ROUNDS; r++)
				res[m][i][r] = NAN;
	signal(SIGPIPE, SIG_IGN);
	private_network();
	if (ncpus() >= 2)
		pin_to(1);
	else
		fprintf(stderr, "load: one CPU: server and generator share it "
				"and every figure is skewed\n");
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	fprintf(stderr, "load: %d servers, %d rounds, N = %d\n", nservers,
		opt_rounds, N);

	uint64_t t_begin = now_ns();
	for (int r = 0; r < opt_rounds; r++) {
		int order[MAX_SERVERS];

		/* Fresh processes each round: the memory figure needs a
		 * server that has never held a connection. */
		for (int i = 0; i < nservers; i++)
			server_start(&servers[i]);
		for (int i = 0; i < nservers; i++)
			order[i] = (i + r) % nservers;
		fprintf(stderr, "round %d/%d\n", r + 1, opt_rounds);
		for (int k = 0; wants("mass") && k < opt_mass_reps; k++)
			for (int i = 0; i < nservers; i++) {
				test_mass(order[i], r, 0, k);
				purge_time_wait(&servers[order[i]]);
			}
		for (int k = 0; wants("mass") && k < opt_mass_reps; k++)
			for (int i = 0; i < nservers; i++)
				test_mass(order[i], r, 1, k);
		for (int i = 0; wants("latency") && i < nservers; i++) {
			test_latency(order[i], r);
			purge_time_wait(&servers[order[i]]);
		}
		if (wants("echo"))
			test_echo(r, order);
		if (wants("churn"))
			test_churn(r, order);
		stop_all();
	}
	stats.seconds = (double)(now_ns() - t_begin) / 1e9;
	fprintf(stderr, "load: done in %.0f s\n\n", stats.seconds);

	report(stdout, date, 0);
	if (opt_csv)
		write_csv(opt_csv);
	if (opt_out) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", opt_out);
		FILE *f = fopen(tmp, "w");
		if (!f)
			die("%s", tmp);
		report(f, date, 1);
		if (fclose(f) != 0 || rename(tmp, opt_out) != 0)
			die("write %s", opt_out);
		fprintf(stderr, "load: wrote %s\n", opt_out);
	}
	return 0;
}
