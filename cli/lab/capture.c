/*
 * capture.c -- the scenario's own TCP segments, read off the loopback
 * interface with an AF_PACKET socket: no tcpdump, no libpcap.
 *
 * On lo every segment passes the packet taps twice: once leaving
 * (dev_queue_xmit_nit(), PACKET_OUTGOING) and once arriving (PACKET_HOST).
 * PACKET_IGNORE_OUTGOING (Linux 4.20) keeps only the arrival, so each
 * segment is seen once. A classic BPF filter passes only IPv4 TCP; the
 * scenario's ports are matched here, in user space, because they are known
 * only once its sockets exist. SOCK_DGRAM hands us the packet from the
 * network header on (packet_rcv() strips lo's fake Ethernet header).
 * Timestamps come from the kernel (SO_TIMESTAMPNS, CLOCK_REALTIME), the clock
 * the steps are stamped with, so both sort on one time line.
 */
#include "lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/*
 * The kernel-side filter. Until the scenario's first server port is known it
 * passes nothing, so a busy lo (another program's traffic) cannot fill the
 * socket's buffer before the scenario starts; then it passes IPv4 TCP to or
 * from one of the scenario's server ports. Every segment of a scenario has a
 * server port on one side; the client side is matched in user space.
 */
static int set_filter(int fd, const unsigned short *ports, int n)
{
	struct sock_filter code[32];
	struct sock_fprog prog;
	unsigned char m;
	int k = 0;

	if (n > 4)
		n = 4;
	m = (unsigned char)n;
	if (n == 0) {
		code[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	} else {
		/* IPv4 (version nibble 4)? TCP (protocol 6)? */
		code[k++] =
		    (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0);
		code[k++] = (struct sock_filter)BPF_STMT(
		    BPF_ALU | BPF_AND | BPF_K, 0xf0);
		code[k++] = (struct sock_filter)BPF_JUMP(
		    BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, 5 + 2 * m);
		code[k++] =
		    (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9);
		code[k++] = (struct sock_filter)BPF_JUMP(
		    BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 3 + 2 * m);
		/* X = IP header length; A = source port, then destination. */
		code[k++] =
		    (struct sock_filter)BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0);
		code[k++] =
		    (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_IND, 0);
		for (int i = 0; i < n; i++)
			code[k++] = (struct sock_filter)BPF_JUMP(
			    BPF_JMP | BPF_JEQ | BPF_K, ports[i],
			    (unsigned char)(2 * n - i + 1), 0);
		code[k++] =
		    (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2);
		for (int i = 0; i < n; i++)
			code[k++] = (struct sock_filter)BPF_JUMP(
			    BPF_JMP | BPF_JEQ | BPF_K, ports[i],
			    (unsigned char)(n - i), 0);
		code[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
		code[k++] =
		    (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffff);
	}
	prog.len = (unsigned short)k;
	prog.filter = code;
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			  sizeof(prog));
}

void lab_capture_ports(struct lab *L)
{
	if (L->cap < 0)
		return;
	if (set_filter(L->cap, L->sports, L->nsports) < 0) {
		close(L->cap);
		L->cap = -1;
		L->r->capture = LAB_CAPTURE_NONE;
		snprintf(L->r->nocap, sizeof(L->r->nocap),
			 "cannot filter the capture (%s)",
			 lab_errno_name(errno));
	}
}

int lab_capture_open(char *why, size_t size)
{
	struct sockaddr_ll sll;
	int fd, one = 1, buf = 1 << 20;

	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    htons(ETH_P_ALL));
	if (fd < 0) {
		snprintf(why, size,
			 "packet capture needs root or CAP_NET_RAW (%s)",
			 lab_errno_name(errno));
		return -1;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex("lo");
	/* The filter goes on before bind, so nothing unfiltered queues up. */
	if (sll.sll_ifindex == 0 || set_filter(fd, NULL, 0) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		snprintf(why, size, "cannot capture on lo (%s)",
			 lab_errno_name(errno));
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
		       sizeof(one)) < 0) {
		snprintf(why, size, "kernel lacks PACKET_IGNORE_OUTGOING");
		close(fd);
		return -1;
	}
	return fd;
}

int lab_may_capture(char *why, size_t size)
{
	int fd = lab_capture_open(why, size);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int has(const unsigned short *ports, int n, unsigned short p)
{
	for (int i = 0; i < n; i++)
		if (ports[i] == p)
			return 1;
	return 0;
}

/* Keep segment b (n bytes, arrived at t) in pk[*np] when it is the
 * scenario's and there is room. */
static void add_packet(struct lab *L, const unsigned char *b, size_t n,
		       double t, struct lab_pkt *pk, int *np, int max)
{
	struct lab_pkt *p;
	size_t ihl, doff, tot;
	unsigned short sp, dp;
	int dir;

	if (n < 20 || (b[0] >> 4) != 4 || b[9] != 6)
		return;
	ihl = (size_t)(b[0] & 0x0f) * 4;
	tot = (size_t)b[2] << 8 | b[3];
	if (tot > n)
		tot = n;
	if (ihl < 20 || tot < ihl + 20)
		return;
	b += ihl;
	tot -= ihl;
	sp = (unsigned short)(b[0] << 8 | b[1]);
	dp = (unsigned short)(b[2] << 8 | b[3]);
	if (has(L->cports, L->ncports, sp) && has(L->sports, L->nsports, dp))
		dir = 0;
	else if (has(L->sports, L->nsports, sp) &&
		 has(L->cports, L->ncports, dp))
		dir = 1;
	else
		return;
	if (*np >= max)
		return;
	p = &pk[(*np)++];
	memset(p, 0, sizeof(*p));
	p->t = t - L->t0;
	p->dir = dir;
	p->sport = sp;
	p->dport = dp;
	p->flags = b[13];
	p->seq = (unsigned)b[4] << 24 | (unsigned)b[5] << 16 |
		 (unsigned)b[6] << 8 | b[7];
	doff = (size_t)(b[12] >> 4) * 4;
	p->len = tot > doff ? (unsigned)(tot - doff) : 0;
	for (size_t i = 0; i < p->len && i < sizeof(p->data) - 1; i++) {
		unsigned char c = b[doff + i];
		p->data[i] = (char)(c >= 32 && c < 127 ? c : '.');
	}
}

/* Read everything the capture socket holds now; keep the scenario's in
 * pk[] (*np of max used). */
static void drain(struct lab *L, struct lab_pkt *pk, int *np, int max)
{
	if (L->cap < 0)
		return;
	for (int guard = 0; guard < 10000; guard++) {
		unsigned char buf[2048];
		char ctl[256];
		struct sockaddr_ll from;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr msg;
		struct cmsghdr *c;
		double t = lab_now();
		ssize_t n;

		memset(&msg, 0, sizeof(msg));
		msg.msg_name = &from;
		msg.msg_namelen = sizeof(from);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl;
		msg.msg_controllen = sizeof(ctl);
		n = recvmsg(L->cap, &msg, MSG_DONTWAIT);
		if (n < 0)
			break;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				t = (double)ts.tv_sec + ts.tv_nsec / 1e9;
			}
		add_packet(L, buf, (size_t)n, t, pk, np, max);
	}
}

void lab_capture_drain(struct lab *L)
{
	drain(L, L->r->pkts, &L->r->npkts, LAB_MAX_PKTS);
}

void lab_capture_drain_into(struct lab *L, struct lab_pkt *pk, int *np, int max)
{
	drain(L, pk, np, max);
}
