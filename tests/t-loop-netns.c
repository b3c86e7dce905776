/*
 * t-loop-netns.c -- the close reasons that need a network that fails:
 * "timeout" (a peer that vanished, idle and busy, next to a live one that
 * must stay open), "connect-timeout" (SYNs dropped), "unreachable" (no
 * route; and an ICMP host-unreachable answer). Each case runs in a private
 * network namespace (unshare in the forked case: it vanishes with the
 * case, even on failure) with nft rules inside it; without root they say
 * SKIP. One more case needs no root: a live idle peer with liveness on is
 * never declared dead.
 */
#include "hangup.h"
#include "lib/looplib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int closed_n, want_n;
static void note_close(hu_conn *c, const struct hu_close_info *info)
{
	rec_on_close(c, info);
	closed_n++;
}

/* Run nft commands (in the case's own namespace). */
static void nft(const char *cmd)
{
	if (system("command -v nft >/dev/null 2>&1") != 0)
		SKIP("nft (nftables) not installed");
	int rc = system(cmd);
	REQUIRE(rc == 0, "nft: %s (rc %d)", cmd, rc);
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	REQUIRE(getsockname(fd, (struct sockaddr *)&ss, &len) == 0,
		"getsockname");
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/*
 * Three connections on one loop with liveness 3000 ms. Then every segment
 * of two of them is dropped (by their client port): one stays idle, the
 * other gets 100 bytes that can never be acknowledged. Both must end with
 * "timeout" in about 3 s (the busy one up to one RTO later), the third,
 * live and idle, must stay open. 3 s, not 2: below 3 s hu_liveness() has
 * room for one keepalive probe, and the live one would die of a single
 * probe lost to the per-CPU backlog while other tests load the loopback
 * (make check runs two at a time; tens of thousands of drops measured).
 */
#define LIVENESS_MS 3000

static void t_dead_peer_idle_busy_and_live(void)
{
	char where[128];
	int fds[3];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	enter_private_netns();
	cfg.conn.cb.on_close = note_close;
	cfg.conn.liveness_ms = LIVENESS_MS;
	hu_loop *loop = hu_loop_new();
	recs_reset();
	closed_n = 0;
	listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
	for (int i = 0; i < 3; i++)
		fds[i] = raw_connect(where);
	REQUIRE(run_until_accepted(loop, 3) == 3, "three accepted (%d)", nrecs);
	/* recs[i] is fds[i]: accept order is connect order. */
	nft("nft add table inet hu_t && nft add chain inet hu_t in "
	    "'{ type filter hook input priority 0; }'");
	for (int i = 0; i < 2; i++) {
		char cmd[256];
		int p = local_port(fds[i]);

		snprintf(cmd, sizeof(cmd),
			 "nft add rule inet hu_t in tcp sport %d drop && "
			 "nft add rule inet hu_t in tcp dport %d drop",
			 p, p);
		nft(cmd);
	}
	double t0 = now_ms();
	char data[100] = {0};
	CHECK(hu_conn_write(recs[1].conn, data, sizeof(data)) == 0,
	      "the busy one's write is taken by the kernel");
	want_n = 2;
	while (closed_n < 2 && now_ms() - t0 < 8000)
		run_for(loop, 20);
	struct rec *idle = &recs[0], *busy = &recs[1], *live = &recs[2];
	double ti = idle->t_close - t0, tb = busy->t_close - t0;
	tap_diag("detected: idle %.0f ms, busy %.0f ms (liveness %d)", ti, tb,
		 LIVENESS_MS);
	CHECK(idle->closes == 1 && idle->info.reason == HU_CLOSE_TIMEOUT &&
		  idle->info.error == ETIMEDOUT,
	      "idle: %s %s", hu_reason_name(idle->info.reason),
	      hu_errno_name(idle->info.error));
	CHECK(busy->closes == 1 && busy->info.reason == HU_CLOSE_TIMEOUT &&
		  busy->info.error == ETIMEDOUT,
	      "busy: %s %s", hu_reason_name(busy->info.reason),
	      hu_errno_name(busy->info.error));
	CHECK(ti > LIVENESS_MS - 300 && ti < LIVENESS_MS + 700,
	      "idle detected in %.0f ms", ti);
	/* Counted from the first retransmission: + one RTO (0.2-0.45 s). */
	CHECK(tb > LIVENESS_MS - 300 && tb < LIVENESS_MS + 450 + 700,
	      "busy detected in %.0f ms", tb);
	CHECK(busy->info.undelivered == sizeof(data),
	      "busy: %llu bytes undelivered", busy->info.undelivered);
	CHECK(idle->info.undelivered == 0, "idle: nothing undelivered");
	/* The live one: idle as long again, never declared dead. */
	run_for(loop, LIVENESS_MS + 500);
	CHECK(live->closes == 0, "the live peer is still open after %.0f ms",
	      now_ms() - t0);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	hu_loop_free(loop);
	recs_reset();
}

/* No root needed: a live idle connection with liveness on, watched for
 * well over two liveness periods, stays open; its peer's keepalive ACKs
 * are what keep it. */
static void t_live_idle_peer_not_dead(void)
{
	char where[128];
	struct hu_listen_config cfg = {.conn.cb = rec_callbacks()};

	cfg.conn.cb.on_close = note_close;
	cfg.conn.liveness_ms = LIVENESS_MS;
	hu_loop *loop = hu_loop_new();
	recs_reset();
	closed_n = 0;
	listen_on(loop, "127.0.0.1:0", &cfg, where, sizeof(where));
	int fd = raw_connect(where);
	run_for(loop, 2 * LIVENESS_MS + 500);
	REQUIRE(nrecs == 1, "accepted");
	CHECK(recs[0].closes == 0, "still open after %d ms",
	      2 * LIVENESS_MS + 500);
	struct hu_report rep;
	REQUIRE(hu_report(hu_conn_fd(recs[0].conn), &rep) == 0, "report");
	CHECK(rep.probes == 0, "every keepalive probe was answered");
	close(fd);
	hu_loop_free(loop);
	recs_reset();
}

/* SYNs dropped: the connect times out after connect_timeout_ms. */
static void t_connect_timeout(void)
{
	int port;
	char where[64];

	enter_private_netns();
	int lfd = tcp_listener(AF_INET, &port);
	drop_all_tcp();
	snprintf(where, sizeof(where), "127.0.0.1:%d", port);
	hu_loop *loop = hu_loop_new();
	recs_reset();
	closed_n = 0;
	struct hu_conn_config cfg = {.cb = rec_callbacks(),
				     .connect_timeout_ms = 300};
	cfg.cb.on_close = note_close;
	double t0 = now_ms();
	REQUIRE(hu_connect(loop, where, &cfg, NULL) == 0, "hu_connect");
	while (closed_n < 1 && now_ms() - t0 < 3000)
		run_for(loop, 10);
	double took = now_ms() - t0;
	struct rec *r = &recs[0];
	CHECK(r->closes == 1 && r->opens == 0, "closed, never opened");
	CHECK(r->info.reason == HU_CLOSE_CONNECT_TIMEOUT, "reason %s",
	      hu_reason_name(r->info.reason));
	CHECK(r->info.error == ETIMEDOUT &&
		  r->info.phase == HU_PHASE_CONNECTING,
	      "errno %s phase %s", hu_errno_name(r->info.error),
	      hu_phase_name(r->info.phase));
	CHECK(took >= 280 && took < 1000, "after %.0f ms (timeout 300)", took);
	close(lfd);
	hu_loop_free(loop);
	recs_reset();
}

/* No route at all in a fresh namespace: ENETUNREACH at once, reported by
 * on_close from the loop. */
static void t_unreachable_no_route(void)
{
	enter_private_netns();
	hu_loop *loop = hu_loop_new();
	recs_reset();
	closed_n = 0;
	struct hu_conn_config cfg = {.cb = rec_callbacks()};
	cfg.cb.on_close = note_close;
	/* Inside our own namespace, which has only lo: nothing leaves. */
	REQUIRE(hu_connect(loop, "10.99.0.1:80", &cfg, NULL) == 0,
		"hu_connect");
	CHECK(closed_n == 0, "not from inside hu_connect");
	run_for(loop, 50);
	struct rec *r = &recs[0];
	CHECK(r->closes == 1 && r->info.reason == HU_CLOSE_UNREACH &&
		  r->info.error == ENETUNREACH,
	      "reason %s errno %s", hu_reason_name(r->info.reason),
	      hu_errno_name(r->info.error));
	hu_loop_free(loop);
	recs_reset();
}

/* An ICMP host-unreachable answer to our SYN (an nft reject rule on the
 * listener's port): the connect fails later, with EHOSTUNREACH. */
static void t_unreachable_icmp(void)
{
	int port;
	char where[64];

	enter_private_netns();
	int lfd = tcp_listener(AF_INET, &port);
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "nft add table inet hu_t && nft add chain inet hu_t in "
		 "'{ type filter hook input priority 0; }' && nft add rule "
		 "inet hu_t in tcp dport %d reject with icmp type "
		 "host-unreachable",
		 port);
	nft(cmd);
	snprintf(where, sizeof(where), "127.0.0.1:%d", port);
	hu_loop *loop = hu_loop_new();
	recs_reset();
	closed_n = 0;
	struct hu_conn_config cfg = {.cb = rec_callbacks()};
	cfg.cb.on_close = note_close;
	REQUIRE(hu_connect(loop, where, &cfg, NULL) == 0, "hu_connect");
	double t0 = now_ms();
	while (closed_n < 1 && now_ms() - t0 < 3000)
		run_for(loop, 10);
	struct rec *r = &recs[0];
	CHECK(r->closes == 1 && r->info.reason == HU_CLOSE_UNREACH &&
		  r->info.error == EHOSTUNREACH,
	      "reason %s errno %s", hu_reason_name(r->info.reason),
	      hu_errno_name(r->info.error));
	close(lfd);
	hu_loop_free(loop);
	recs_reset();
}

/* Routes that say "no way there" without ENETUNREACH: connect() fails at
 * once with EINVAL (a blackhole route, or a link-local IPv6 address with
 * no interface) or EACCES (a prohibit route). Unreachable, with the errno
 * kept -- not a bad argument from hu_connect(), nor reason "error". */
static void t_unreachable_route_types(void)
{
	static const struct {
		const char *addr;
		int err;
	} cases[] = {
	    {"10.98.0.1:80", EINVAL}, {"[fd00:98::1]:80", EINVAL},
	    {"10.97.0.1:80", EACCES}, {"[fd00:97::1]:80", EACCES},
	    {"[fe80::1]:80", EINVAL},
	};

	enter_private_netns();
	if (system("command -v ip >/dev/null 2>&1") != 0)
		SKIP("ip (iproute2) not installed");
	REQUIRE(system("ip route add blackhole 10.98.0.0/16 && "
		       "ip route add prohibit 10.97.0.0/16 && "
		       "ip -6 route add blackhole fd00:98::/32 && "
		       "ip -6 route add prohibit fd00:97::/32") == 0,
		"ip route add");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hu_loop *loop = hu_loop_new();
		recs_reset();
		closed_n = 0;
		struct hu_conn_config cfg = {.cb = rec_callbacks()};
		cfg.cb.on_close = note_close;
		int rc = hu_connect(loop, cases[i].addr, &cfg, NULL);
		CHECK(rc == 0, "%s: hu_connect: %s", cases[i].addr,
		      hu_status_name(rc));
		if (rc == 0)
			run_for(loop, 50);
		struct rec *r = &recs[0];
		CHECK(rc == 0 && r->closes == 1 &&
			  r->info.reason == HU_CLOSE_UNREACH &&
			  r->info.error == cases[i].err &&
			  r->info.phase == HU_PHASE_CONNECTING,
		      "%s: reason %s errno %s, want unreachable %s",
		      cases[i].addr, hu_reason_name(r->info.reason),
		      hu_errno_name(r->info.error),
		      hu_errno_name(cases[i].err));
		hu_loop_free(loop);
		recs_reset();
	}
}

int main(void)
{
	RUN(t_dead_peer_idle_busy_and_live, 30);
	RUN(t_live_idle_peer_not_dead, 30);
	RUN(t_connect_timeout, 10);
	RUN(t_unreachable_no_route, 10);
	RUN(t_unreachable_icmp, 10);
	RUN(t_unreachable_route_types, 10);
	return tap_done();
}
