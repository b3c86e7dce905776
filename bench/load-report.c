/*
 * load-report.c -- medians, the tables, the targets, docs/bench.md, CSV.
 */
#include "load.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static const struct {
	const char *key; /* CSV column */
	int decimals;
} metrics[M_COUNT] = {
    [M_CHURN_RATE] = {"churn_conn_per_s", 0},
    [M_CHURN_CPU] = {"churn_cpu_us_per_conn", 2},
    [M_CHURN_SRV] = {"churn_server_cpu_pct", 0},
    [M_CHURN_GEN] = {"churn_gen_cpu_pct", 0},
    [M_CHURN_OTHER] = {"churn_other_cpu_pct", 0},
    [M_ECHO_RATE] = {"echo_msg_per_s", 0},
    [M_ECHO_CPU] = {"echo_cpu_us_per_msg", 2},
    [M_ECHO_SRV] = {"echo_server_cpu_pct", 0},
    [M_ECHO_GEN] = {"echo_gen_cpu_pct", 0},
    [M_ECHO_OTHER] = {"echo_other_cpu_pct", 0},
    [M_FIN_MS] = {"mass_fin_ms", 1},
    [M_FIN_LOOP] = {"mass_fin_our_close_loop_ms", 1},
    [M_FIN_CPU] = {"mass_fin_cpu_us_per_close", 2},
    [M_RST_MS] = {"mass_rst_ms", 1},
    [M_RST_LOOP] = {"mass_rst_our_close_loop_ms", 1},
    [M_RST_CPU] = {"mass_rst_cpu_us_per_close", 2},
    [M_MEM] = {"bytes_per_idle_conn", 0},
    [M_KMEM] = {"kernel_slab_bytes_per_idle_conn_pair", 0},
    [M_LAT50] = {"fin_close_idle_p50_us", 1},
    [M_LAT99] = {"fin_close_idle_p99_us", 1},
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(enum metric m, int si)
{
	double v[MAX_ROUNDS];
	int n = 0;

	for (int r = 0; r < opt_rounds; r++)
		if (!isnan(res[m][si][r]))
			v[n++] = res[m][si][r];
	if (!n)
		return NAN;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The p-th percentile (nearest rank) of v[0..n), sorting v. */
double percentile(double *v, int n, double p)
{
	int k;

	if (n <= 0)
		return NAN;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	k = (int)ceil(p / 100.0 * n) - 1;
	return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* ------------------------------------------------------------------ */
/* Report                                                               */
/* ------------------------------------------------------------------ */

static void cpu_model(char *out, size_t size)
{
	char buf[8192];

	snprintf(out, size, "unknown CPU");
	if (read_text("/proc/cpuinfo", buf, sizeof(buf)) <= 0)
		return;
	char *p = strstr(buf, "model name");
	if (p && (p = strchr(p, ':'))) {
		p += 2;
		size_t n = strcspn(p, "\n");
		snprintf(out, size, "%.*s", (int)n, p);
	}
}

/*
 * The median over the rounds of server si's value over server base's in
 * the same round: a paired ratio, so that a round where the whole machine
 * was slow cancels out.
 */
static double ratio(enum metric m, int si, int base)
{
	double v[MAX_ROUNDS];
	int n = 0;

	for (int r = 0; r < opt_rounds; r++)
		if (!isnan(res[m][si][r]) && !isnan(res[m][base][r]) &&
		    res[m][base][r] != 0)
			v[n++] = res[m][si][r] / res[m][base][r];
	if (!n)
		return NAN;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* "12.3 (0.98x)": the median and, if `ratios`, its paired ratio to the
 * baseline. */
static void cell(FILE *f, enum metric m, int si, int ratios)
{
	double v = median(m, si), q = ratio(m, si, 0);
	char num[32];

	if (isnan(v)) {
		fprintf(f, " - |");
		return;
	}
	snprintf(num, sizeof(num), "%.*f", metrics[m].decimals, v);
	if (si == 0 || isnan(q) || !ratios)
		fprintf(f, " %s |", num);
	else
		fprintf(f, " %s (%.2fx) |", num, q);
}

/* One table: a title, column heads, a row per server. Left out when
 * nothing in it was measured (load --tests). */
static void table(FILE *f, const char *title, const char *const *heads,
		  const enum metric *ms, int n, int ratios)
{
	int any = 0;

	for (int i = 0; i < n; i++)
		for (int si = 0; si < nservers; si++)
			any |= !isnan(median(ms[i], si));
	if (!any)
		return;
	fprintf(f, "%s\n\n| server |", title);
	for (int i = 0; i < n; i++)
		fprintf(f, " %s |", heads[i]);
	fprintf(f, "\n|---|");
	for (int i = 0; i < n; i++)
		fprintf(f, "---:|");
	fputc('\n', f);
	for (int si = 0; si < nservers; si++) {
		fprintf(f, "| %s |", servers[si].name);
		for (int i = 0; i < n; i++)
			cell(f, ms[i], si, ratios);
		fputc('\n', f);
	}
	fputc('\n', f);
}

static void tables(FILE *f)
{
	static const enum metric t1[] = {M_CHURN_CPU, M_CHURN_RATE, M_ECHO_CPU,
					 M_ECHO_RATE};
	static const char *const h1[] = {"churn CPU us/conn", "churn conn/s",
					 "echo CPU us/msg", "echo msg/s"};
	static const enum metric t2[] = {M_FIN_MS, M_FIN_LOOP, M_FIN_CPU,
					 M_RST_MS, M_RST_LOOP, M_RST_CPU,
					 M_MEM};
	static const char *const h2[] = {
	    "mass FIN ms",           "(our close loop)", "FIN CPU us/close",
	    "mass RST ms",           "(our close loop)", "RST CPU us/close",
	    "user-space B/idle conn"};
	static const enum metric t3[] = {M_LAT50, M_LAT99};
	static const char *const h3[] = {"p50 us", "p99 us"};
	static const enum metric t4[] = {M_CHURN_SRV,   M_CHURN_GEN,
					 M_CHURN_OTHER, M_ECHO_SRV,
					 M_ECHO_GEN,    M_ECHO_OTHER};
	static const char *const h4[] = {"churn: server",   "churn: generator",
					 "churn: others",   "echo: server",
					 "echo: generator", "echo: others"};
	char title[128];

	table(f,
	      "**Throughput** (CPU is the server's, per operation; the rate "
	      "is what the generator drove)",
	      h1, t1, 4, 1);
	snprintf(title, sizeof(title),
		 "**Disconnects and memory** (N = %d idle connections)", N);
	table(f, title, h2, t2, 7, 1);
	table(f, "**A peer's FIN to the close callback**, one at a time", h3,
	      t3, 2, 1);
	table(f,
	      "**Who was busy** during churn and echo (CPU % of one core; "
	      "~100% = that side was the limit; others = the rest of the "
	      "machine, hypervisor steal included)",
	      h4, t4, 6, 0);
}

/*
 * "met", "tie" (missed by less than the ~10% this machine's noise
 * allows) or "MISSED", for a ratio where above `target` is good.
 */
static const char *verdict(double ratio, double target)
{
	if (isnan(ratio))
		return "not measured";
	if (ratio >= target)
		return "met";
	return ratio >= target * 0.9 ? "tie (within noise)" : "MISSED";
}

/* The library (not the baseline, not `except`) with the best median. */
static int best_library(enum metric m, int except, int higher)
{
	int best = -1;

	for (int i = 1; i < nservers; i++) {
		double v = median(m, i);
		/* hangup's other backend is not another library. */
		if (i == except || isnan(v) ||
		    !strncmp(servers[i].name, "hangup", 6))
			continue;
		if (best < 0 ||
		    (higher ? v > median(m, best) : v < median(m, best)))
			best = i;
	}
	return best;
}

static int server_named(const char *name)
{
	for (int i = 0; i < nservers; i++)
		if (!strcmp(servers[i].name, name))
			return i;
	return -1;
}

/* 1,000,000 idle connections on this design, from the per-connection
 * figures measured in this run. */
static void million(FILE *f, int h)
{
	double user = median(M_MEM, h), pair = median(M_KMEM, h);

	fprintf(f,
		"- 1,000,000 idle connections would cost %.0f MB of user "
		"space (%.0f B each, measured above, times 10^6; the loop's "
		"queues reserve 32 B of address space more per connection, "
		"touched only when used)",
		user, user);
	if (!isnan(pair))
		fprintf(
		    f,
		    " and about %.1f GB of kernel memory: %.0f B of slab "
		    "per idle loopback connection measured here "
		    "(/proc/slabinfo, both ends), half of it per socket, "
		    "times 10^6 -- the TCP socket, its file, dentry and "
		    "inode, and the epoll item. The kernel's share is ~%.0f "
		    "times the library's. Beyond memory: 10^6 fds need "
		    "RLIMIT_NOFILE >= 10^6 (here the hard limit is 20000) "
		    "and, from one client address, more than one "
		    "ephemeral port range.\n",
		    pair / 2 * 1e6 / 1e9, pair, pair / 2 / user);
	else
		fprintf(f, "; the kernel's share was not measured (not "
			   "root: /proc/slabinfo).\n");
}

/*
 * Issue 15's targets: the close path and memory at the floor -- never
 * slower than hand-written epoll where connections end.
 */
static void targets_floor(FILE *f, int h)
{
	int ev = server_named("libev");

	fprintf(f, "\n## Targets (issue 15): the close path and memory at "
		   "the floor\n\n");
	for (int rst = 0; rst < 2; rst++) {
		double q = ratio(rst ? M_RST_MS : M_FIN_MS, 0, h);
		double cpu = ratio(rst ? M_RST_CPU : M_FIN_CPU, 0, h);

		if (!isnan(q))
			fprintf(f,
				"- Mass disconnect by %s no slower than raw "
				"epoll: time ratio %.2f (%s), CPU per close "
				"efficiency %.2fx (%s).\n",
				rst ? "RST" : "FIN", q, verdict(q, 1.0), cpu,
				verdict(cpu, 1.0));
	}
	double mem = median(M_MEM, h);
	if (!isnan(mem)) {
		fprintf(f, "- Memory per idle connection <= 100 B: %.0f B (%s)",
			mem, mem <= 100 ? "met" : "MISSED");
		if (ev >= 0 && !isnan(median(M_MEM, ev)))
			fprintf(f, "; libev %.0f B (%s)", median(M_MEM, ev),
				mem < median(M_MEM, ev) ? "hangup ahead"
							: "hangup behind");
		fprintf(f, ".\n");
	}
	double lat = ratio(M_LAT99, 0, h);
	if (!isnan(lat))
		fprintf(f,
			"- A peer's FIN to on_close, p99, no worse than raw "
			"epoll: %.1f us vs %.1f us, ratio %.2f (%s).\n",
			median(M_LAT99, h), median(M_LAT99, 0), lat,
			verdict(lat, 1.0));
	double echo = ratio(M_ECHO_CPU, 0, h);
	if (!isnan(echo))
		fprintf(f,
			"- Echo CPU per message no worse than raw epoll: "
			"efficiency %.2fx (%s).\n",
			echo, verdict(echo, 1.0));
	if (!isnan(mem))
		million(f, h);
}

/* "met", or "MISSED by N%" for a cost ratio that must stay <= target. */
static void at_most(FILE *f, double q, double target)
{
	if (isnan(q))
		fprintf(f, "not measured");
	else if (q <= target)
		fprintf(f, "met");
	else
		fprintf(f, "MISSED by %.0f%%", (q / target - 1) * 100);
}

/*
 * Issue 16's targets: the io_uring backend (server u) against raw epoll,
 * and its memory against hangup on epoll (server h). Cost ratios here:
 * u's CPU per operation over raw epoll's (below 1 = io_uring spends less).
 */
static void targets_uring(FILE *f, int h, int u)
{
	double echo = ratio(M_ECHO_CPU, u, 0);
	double churn = ratio(M_CHURN_CPU, u, 0);

	fprintf(f, "\n## Targets (issue 16): the io_uring backend\n\n");
	fprintf(f, "Ratios are hangup io_uring's over raw epoll's, paired per "
		   "round (below 1 = io_uring spends less).\n\n");
	fprintf(f, "- Echo CPU per message <= 0.80x raw epoll: %.2fx (", echo);
	at_most(f, echo, 0.80);
	fprintf(f, "); hangup on epoll: %.2fx.\n", ratio(M_ECHO_CPU, h, 0));
	fprintf(f, "- Churn CPU per connection <= 1.00x raw epoll: %.2fx (",
		churn);
	at_most(f, churn, 1.0);
	fprintf(f, "); hangup on epoll: %.2fx.\n", ratio(M_CHURN_CPU, h, 0));
	for (int rst = 0; rst < 2; rst++) {
		double q = ratio(rst ? M_RST_MS : M_FIN_MS, 0, u);

		if (!isnan(q))
			fprintf(f,
				"- Mass disconnect by %s no slower than raw "
				"epoll: raw's time / io_uring's = %.2f (%s); "
				"CPU per close %.2fx raw epoll's.\n",
				rst ? "RST" : "FIN", q, verdict(q, 1.0),
				ratio(rst ? M_RST_CPU : M_FIN_CPU, u, 0));
	}
	double mu = median(M_MEM, u), mh = median(M_MEM, h);
	if (!isnan(mu) && !isnan(mh))
		fprintf(f,
			"- Memory per idle connection no worse than the epoll "
			"backend's: %.0f B vs %.0f B of user space (%s); "
			"kernel slab per connection pair %.0f B vs %.0f B "
			"(%s: on io_uring each reading connection has an "
			"armed receive request in the kernel where epoll has "
			"an epitem). The provided buffers (512 KiB) are the "
			"loop's, shared, not per connection.\n",
			mu, mh, mu <= mh ? "met" : "MISSED", median(M_KMEM, u),
			median(M_KMEM, h),
			median(M_KMEM, u) <= median(M_KMEM, h) ? "no more"
							       : "more");
	fprintf(f, "- Where the CPU goes, and why a target is missed: "
		   "bench/README.md, \"The io_uring backend\".\n");
}

/* The targets of issue 3, judged for the server named "hangup". */
static void targets(FILE *f)
{
	static const struct {
		enum metric cpu, rate;
		const char *what;
	} thr[] = {{M_CHURN_CPU, M_CHURN_RATE, "Churn"},
		   {M_ECHO_CPU, M_ECHO_RATE, "Echo rate"}};
	int h = -1;

	for (int i = 0; i < nservers; i++)
		if (!strcmp(servers[i].name, "hangup"))
			h = i;
	if (h <= 0)
		return;
	fprintf(f, "\n## Targets (issue 3), for hangup\n\n");
	fprintf(f, "Throughput targets are judged by efficiency, the other "
		   "server's CPU per operation over hangup's (above 1 = "
		   "hangup spends less), because the generator sets the "
		   "rates; the rates' ratios are given too. \"tie\" = "
		   "missed by less than 10%%, the noise on this machine.\n\n");
	for (size_t t = 0; t < 2; t++) {
		int bc = best_library(thr[t].cpu, h, 0);
		int br = best_library(thr[t].rate, h, 1);

		if (isnan(median(thr[t].cpu, h)) || bc < 0 || br < 0)
			continue;
		double e_raw = ratio(thr[t].cpu, 0, h);
		double e_lib = ratio(thr[t].cpu, bc, h);
		fprintf(f,
			"- %s: efficiency %.2fx raw epoll (target >= 0.95: "
			"%s) and %.2fx the best library, %s (target >= 1.0: "
			"%s). Rate: %.2fx raw epoll's, %.2fx the best library "
			"rate (%s).\n",
			thr[t].what, e_raw, verdict(e_raw, 0.95), e_lib,
			servers[bc].name, verdict(e_lib, 1.0),
			ratio(thr[t].rate, h, 0), ratio(thr[t].rate, h, br),
			servers[br].name);
	}
	for (int rst = 0; rst < 2; rst++) {
		enum metric m = rst ? M_RST_MS : M_FIN_MS;
		double q = ratio(m, 0, h);

		if (isnan(q))
			continue;
		fprintf(f,
			"- Mass disconnect by %s: raw epoll's time / hangup's "
			"= %.2f (target >= 1.0, no slower: %s); CPU per close "
			"%.2fx raw epoll's.\n",
			rst ? "RST" : "FIN", q, verdict(q, 1.0),
			ratio(rst ? M_RST_CPU : M_FIN_CPU, h, 0));
	}
	if (!isnan(median(M_MEM, h)))
		fprintf(f,
			"- Memory per idle connection: %.0f B of user space "
			"(target <= 256 B plus the read buffer policy: %s). "
			"hangup's policy is one 64 KiB read buffer per loop, "
			"none per connection; an idle connection holds no "
			"write buffer either.\n",
			median(M_MEM, h),
			median(M_MEM, h) <= 256 ? "met" : "MISSED");
	targets_floor(f, h);
	int u = server_named("hangup io_uring");
	if (u > 0)
		targets_uring(f, h, u);
}

static const char *const how[] = {
    "Each cell is the median over the rounds, and in brackets the median "
    "of its per-round ratio to raw epoll (paired, so that a round where "
    "the whole machine was slow cancels out). For CPU, time, bytes and "
    "latency lower is better (0.90x = 10% less than raw epoll); for rates "
    "higher.",
    "Rank by **CPU per operation**: the server's utime + stime (from "
    "/proc/PID) over the measured slices divided by the connections or "
    "messages in them. On two cores the generator pays for half of every "
    "loopback packet, so it usually sets the rate (\"Who was busy\": a "
    "side at ~100% is the limit); rates within ~10% are a tie.",
    "Kernel work dominates churn (TCP setup and teardown: nearly all of "
    "the CPU per connection); echo shows a loop's own cost per event "
    "best.",
    "Mass FIN/RST time runs from the generator's first close() to the "
    "server's N-th close callback, so it includes the generator's own "
    "close loop; the CPU per close beside it is the server's alone.",
    "Memory is the server's RssAnon growth with N idle connections, "
    "divided by N: the library's per-connection structures (as malloc "
    "rounds them) plus its share of fd-indexed tables. Kernel socket "
    "memory, the same for every server, is not in it.",
    "FIN->close: the generator's CLOCK_MONOTONIC just before close(), the "
    "server's in its close callback (on_close or the library's "
    "equivalent), one connection at a time, the server asleep in "
    "epoll_wait in between: mostly the kernel's wakeup, plus the loop's "
    "path from the event to the callback. libevent's callback runs "
    "before its close(): bufferevent_free() leaves the close to a "
    "finalizer that runs later, so its figure lacks the close() syscall "
    "that every other server's includes.",
};

void report(FILE *f, const char *date, int markdown)
{
	char cpu[128];
	struct utsname u;

	cpu_model(cpu, sizeof(cpu));
	uname(&u);
	if (markdown) {
		fprintf(f, "# Benchmarks\n\n");
		fprintf(f, "Written by `make bench` (bench/load.c); see "
			   "bench/README.md for what each figure measures and "
			   "how.\n\n");
	}
	fprintf(f, "- Date: %s\n", date);
	fprintf(f, "- Machine: %d CPUs (%s), %s %s, %s\n",
		(int)sysconf(_SC_NPROCESSORS_ONLN), cpu, u.sysname, u.release,
		u.machine);
#ifdef __clang__
	fprintf(f, "- Compiler: clang %s, -O2\n", __clang_version__);
#else
	fprintf(f, "- Compiler: gcc %s, -O2\n", __VERSION__);
#endif
	fprintf(f, "- Servers:");
	for (int i = 0; i < nservers; i++)
		fprintf(f, "%s %s (%s)", i ? "," : "", servers[i].name,
			servers[i].version);
	fprintf(f, "\n");
	fprintf(f,
		"- Method: %d rounds with fresh server processes; medians. "
		"Server pinned to CPU 0, generator to CPU 1; loopback "
		"127.0.0.1. Mass disconnect and latency: each server in turn, "
		"the order rotated each round; mass disconnect %d times per "
		"round (the mean kept), N = %d (open-file hard limit %ld). "
		"Echo (%d connections per server) and churn (%d concurrent): "
		"%u ms per server and round, in %u ms slices that alternate "
		"between the servers, after a %u ms warm-up slice each. "
		"FIN->close latency: %d samples per round.\n",
		opt_rounds, opt_mass_reps, N, (long)sysconf(_SC_OPEN_MAX),
		opt_echo_conns, opt_churn_conc, opt_run_ms, opt_slice_ms,
		opt_warm_ms, opt_lat_samples);
	fprintf(f,
		"- The run: %.0f s. Generator at >= 95%% CPU in %ld of %ld "
		"churn/echo measurements; %ld slices not counted (and run "
		"again) because other processes took > %.0f%% of a core; %ld "
		"of our TIME_WAIT sockets removed between tests, %ld s waited "
		"for TIME_WAIT; %llu source ports skipped (in use).\n\n",
		stats.seconds, stats.gen_saturated, stats.windows,
		stats.retried, opt_max_others, stats.tw_purged,
		stats.tw_waited_s, stats.port_skips);
	tables(f);
	if (markdown) {
		fprintf(f, "## How to read this\n\n");
		for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++)
			fprintf(f, "- %s\n", how[i]);
	}
	targets(f);
}

void write_csv(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		return;
	}
	fprintf(f, "server,round");
	for (int m = 0; m < M_COUNT; m++)
		fprintf(f, ",%s", metrics[m].key);
	fputc('\n', f);
	for (int i = 0; i < nservers; i++)
		for (int r = 0; r < opt_rounds; r++) {
			fprintf(f, "%s,%d", servers[i].name, r + 1);
			for (int m = 0; m < M_COUNT; m++)
				fprintf(f, ",%.3f", res[m][i][r]);
			fputc('\n', f);
		}
	fclose(f);
}
