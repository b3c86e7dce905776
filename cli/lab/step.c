/*
 * step.c -- the step machinery: open a step, take the snapshot of the
 * observed socket after it, close a step made by hand, a note, an
 * observation, and the nft steps that make the peer vanish.
 *
 * The snapshot must not change what it looks at. A fresh level-triggered
 * epoll instance, TCP_INFO and SIOCINQ/SIOCOUTQ are pure reads. SO_ERROR and
 * recv(MSG_PEEK) are not: both hand out -- and clear -- the pending socket
 * error (sock_error() in net/core/sock.c), so they appear only as explicit
 * steps. For the same reason hangup's classification (hu_probe) is taken
 * only when epoll shows no EPOLLERR: with an error pending hu_probe would
 * consume it, and the raw calls after it would see a clean EOF instead of
 * the reset (kernel-truth.md, conclusion 3).
 */
#include "lab.h"

#include "hangup.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Where the steps beyond LAB_MAX_STEPS go (the scenario has failed by
 * then), so that no scenario needs to check for room. */
static struct lab_step overflow;

struct lab_step *lab_step_begin(struct lab *L, const char *who,
				const char *call)
{
	struct lab_result *r = L->r;
	struct lab_step *s;

	if (r->nsteps >= LAB_MAX_STEPS) {
		lab_fail(L, "too many steps (limit %d)", LAB_MAX_STEPS);
		s = &overflow;
	} else {
		s = &r->steps[r->nsteps++];
	}
	memset(s, 0, sizeof(*s));
	s->t = s->t_end = lab_now() - L->t0;
	snprintf(s->actor, sizeof(s->actor), "%s", who);
	snprintf(s->call, sizeof(s->call), "%s", call);
	s->events = -1;
	s->state = -2;
	s->outq = s->inq = -1;
	s->ok = 1;
	return s;
}

struct lab_step *lab_last_step(struct lab *L)
{
	if (L->r->nsteps == 0)
		return &overflow;
	return &L->r->steps[L->r->nsteps - 1];
}

static int sock_domain(int fd)
{
	int d = 0;
	socklen_t len = sizeof(d);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &d, &len) < 0)
		return -1;
	return d;
}

static void classify(int fd, struct lab_step *s)
{
	struct hu_probe p;

	if (s->state == TCP_LISTEN)
		return;
	if (s->events >= 0 && (s->events & EPOLLERR)) {
		snprintf(s->hangup, sizeof(s->hangup), "gone (error pending)");
		return;
	}
	if (hu_probe(fd, &p) < 0)
		return;
	if (p.peer == HU_PEER_GONE)
		snprintf(s->hangup, sizeof(s->hangup), "%s: %s",
			 hu_peer_name(p.peer), hu_status_name(p.status));
	else
		snprintf(s->hangup, sizeof(s->hangup), "%s",
			 hu_peer_name(p.peer));
}

/* The snapshot: what a program could see now without changing anything. */
void lab_snapshot(struct lab *L, struct lab_step *s)
{
	int fd = L->obs, ep, v;

	/* Every step takes its snapshot right after its call returns. */
	s->t_end = lab_now() - L->t0;
	if (L->settle_ms > 0)
		lab_sleep_ms(L->settle_ms);
	if (fd >= 0) {
		struct epoll_event ev = {.events =
					     EPOLLIN | EPOLLOUT | EPOLLRDHUP};
		struct epoll_event out;

		s->snap = 1;
		snprintf(s->obs, sizeof(s->obs), "%s", L->obs_name);
		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep >= 0) {
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0) {
				int n = epoll_wait(ep, &out, 1, 0);
				s->events = n > 0 ? (int)out.events : 0;
			}
			close(ep);
		}
		if (sock_domain(fd) == AF_UNIX) {
			s->state = -1;
		} else {
			struct tcp_info ti;
			socklen_t len = sizeof(ti);

			memset(&ti, 0, sizeof(ti));
			if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ==
			    0)
				s->state = ti.tcpi_state;
		}
		if (ioctl(fd, SIOCOUTQ, &v) == 0)
			s->outq = v;
		if (ioctl(fd, SIOCINQ, &v) == 0)
			s->inq = v;
		classify(fd, s);
	}
	lab_capture_drain(L);
}

void lab_step_end(struct lab *L, struct lab_step *s, long val, const char *ret)
{
	s->val = val;
	snprintf(s->ret, sizeof(s->ret), "%s", ret);
	lab_snapshot(L, s);
}

void lab_step_custom(struct lab *L, const char *who, const char *call, long val,
		     const char *ret)
{
	lab_step_end(L, lab_step_begin(L, who, call), val, ret);
}

void lab_note(struct lab *L, const char *fmt, ...)
{
	struct lab_step *s = lab_last_step(L);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->note, sizeof(s->note), fmt, ap);
	va_end(ap);
}

void lab_step_observe(struct lab *L, const char *note)
{
	char call[32];
	struct lab_step *s;

	/* Name the socket looked at, unless it is the usual one. */
	if (L->obs >= 0 && strcmp(L->obs_name, "us") != 0)
		snprintf(call, sizeof(call), "(observe %s)", L->obs_name);
	else
		snprintf(call, sizeof(call), "(observe)");
	s = lab_step_begin(L, "-", call);
	s->kind = LAB_STEP_OBSERVE;

	snprintf(s->note, sizeof(s->note), "%s", note);
	lab_snapshot(L, s);
}

/* Drop (on = 1) or stop dropping every TCP segment at the input hook of the
 * namespace: both ends then look dead to each other. */
int lab_step_nft_drop(struct lab *L, int on)
{
	struct lab_step *s;
	int rc;

	if (on && system("command -v nft >/dev/null 2>&1") != 0) {
		lab_skip(L, "nft (nftables) is not installed");
		return -1;
	}
	s = lab_step_begin(L, "nft",
			   on ? "drop all TCP at the input hook"
			      : "delete table (stop dropping)");
	s->kind = on ? LAB_STEP_NFT_DROP : LAB_STEP_NFT_UNDROP;
	if (on)
		rc = system("nft -f - >/dev/null 2>&1 <<'EOF'\n"
			    "table inet hu_lab {\n"
			    "  chain input {\n"
			    "    type filter hook input priority 0;\n"
			    "    meta l4proto tcp drop\n"
			    "  }\n"
			    "}\n"
			    "EOF\n");
	else
		rc = system("nft delete table inet hu_lab >/dev/null 2>&1");
	lab_step_end(L, s, rc, rc == 0 ? "0" : "failed");
	if (rc != 0)
		lab_fail(L, "nft %s failed (status %d)", on ? "add" : "delete",
			 rc);
	return rc == 0 ? 0 : -1;
}
