/*
 * diag.c -- sock_diag destroy multicast (what `ss -E` reads): a
 * NETLINK_SOCK_DIAG socket bound to the TCP destroy groups gets one
 * inet_diag_msg + INET_DIAG_INFO (struct tcp_info) per TCP socket the
 * kernel destroys, 0.2-5 ms after tcp_destroy_sock, from a workqueue.
 * It needs no privilege, but it sees one network namespace only: the one
 * the socket was made in. For another namespace we setns() into it, make
 * the socket, and come back.
 *
 * The receive buffer must be large (SO_RCVBUFFORCE, 16 MiB): 64 KiB gave
 * ENOBUFS at a few thousand ends per second. ENOBUFS is counted, never
 * hidden.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RCVBUF (16 * 1024 * 1024)

static int diag_socket(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
			NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -1;
	int sz = RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	sa.nl_groups = (1u << (SKNLGRP_INET_TCP_DESTROY - 1)) |
		       (1u << (SKNLGRP_INET6_TCP_DESTROY - 1));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A socket in namespace /run/netns/NAME: -2 when there is no such one. */
static int diag_socket_in(const char *name, int home)
{
	char path[300];

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	int nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return errno == ENOENT ? -2 : -1;
	int fd = -1;
	if (setns(nsfd, CLONE_NEWNET) == 0) {
		fd = diag_socket();
		int e = errno;
		if (setns(home, CLONE_NEWNET) < 0) {
			/* We could not come back: nothing else would be
			 * right after this, so stop. */
			perror("hangup watch: setns back to our namespace");
			_exit(1);
		}
		errno = e;
	}
	close(nsfd);
	return fd;
}

static int add(struct diag_set *d, const char *name, int home, char *err,
	       size_t len)
{
	if (d->n >= DIAG_MAX_NS) {
		snprintf(err, len, "more than %d namespaces", DIAG_MAX_NS);
		return -1;
	}
	int fd = name ? diag_socket_in(name, home) : diag_socket();
	if (fd == -2) {
		snprintf(err, len, "no network namespace '%s' (/run/netns)",
			 name);
		return -2;
	}
	if (fd < 0) {
		snprintf(err, len, "sock_diag in %s: %s", name ? name : "host",
			 strerror(errno));
		return -1;
	}
	d->fd[d->n] = fd;
	snprintf(d->name[d->n], sizeof(d->name[0]), "%s", name ? name : "host");
	d->n++;
	return 0;
}

int diag_open(struct diag_set *d, const struct watch_opts *o, char *err,
	      size_t len)
{
	int r = 0;

	memset(d, 0, sizeof(*d));
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0) {
		snprintf(err, len, "/proc/self/ns/net: %s", strerror(errno));
		return -1;
	}
	if (o->nnetns == 0 || o->all_netns)
		r = add(d, NULL, home, err, len);
	for (int i = 0; r == 0 && i < o->nnetns; i++)
		r = add(d, o->netns[i], home, err, len);
	DIR *dir = o->all_netns ? opendir("/run/netns") : NULL;
	struct dirent *e;
	while (r == 0 && dir && (e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			r = add(d, e->d_name, home, err, len);
	if (dir)
		closedir(dir);
	close(home);
	if (r < 0)
		diag_close(d);
	return r;
}

static void parse(const struct nlmsghdr *h, const char *ns, diag_msg_fn fn,
		  void *arg)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	struct diag_msg d;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return;
	memset(&d, 0, sizeof(d));
	d.cookie = (uint64_t)m->id.idiag_cookie[0] |
		   (uint64_t)m->id.idiag_cookie[1] << 32;
	d.family = m->idiag_family;
	d.state = m->idiag_state;
	watch_sockaddr(&d.local, d.family, m->id.idiag_src, m->id.idiag_sport);
	watch_sockaddr(&d.peer, d.family, m->id.idiag_dst, m->id.idiag_dport);
	d.rqueue = m->idiag_rqueue;
	d.wqueue = m->idiag_wqueue;
	d.netns = ns;
	int rem = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
	const struct rtattr *a =
	    (const struct rtattr *)((const char *)m + NLMSG_ALIGN(sizeof(*m)));
	for (; RTA_OK(a, rem); a = RTA_NEXT(a, rem)) {
		if (a->rta_type != INET_DIAG_INFO)
			continue;
		/* Debian's headers may be older than the kernel, and the
		 * kernel's struct may be shorter than ours: copy the least. */
		struct tcp_info ti;
		size_t n = RTA_PAYLOAD(a);
		memset(&ti, 0, sizeof(ti));
		memcpy(&ti, RTA_DATA(a), n < sizeof(ti) ? n : sizeof(ti));
		d.have_info =
		    n >= offsetof(struct tcp_info, tcpi_bytes_received) + 8;
		d.bytes_acked = ti.tcpi_bytes_acked;
		d.bytes_received = ti.tcpi_bytes_received;
		d.total_retrans = ti.tcpi_total_retrans;
		d.rtt_us = ti.tcpi_rtt;
		d.bytes_sent = ti.tcpi_bytes_sent;
		d.bytes_retrans = ti.tcpi_bytes_retrans;
	}
	fn(arg, &d);
}

/* Every message waiting, BATCH datagrams per recvmmsg(): one system call
 * per message was most of watch's system time at 20k ends/s. */
#define BATCH 64
#define MSGSIZE 2048 /* inet_diag_msg + tcp_info: ~350 bytes */

void diag_read(struct diag_set *d, int i, diag_msg_fn fn, void *arg)
{
	static char buf[BATCH][MSGSIZE];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];

	for (;;) {
		for (int k = 0; k < BATCH; k++) {
			iov[k] = (struct iovec){buf[k], MSGSIZE};
			mm[k] = (struct mmsghdr){
			    .msg_hdr = {.msg_iov = &iov[k], .msg_iovlen = 1}};
		}
		int got = recvmmsg(d->fd[i], mm, BATCH, MSG_DONTWAIT, NULL);
		if (got < 0) {
			if (errno == ENOBUFS) {
				d->overruns++;
				continue;
			}
			return; /* EAGAIN, or an error: try next time */
		}
		for (int k = 0; k < got; k++) {
			int len = (int)mm[k].msg_len;
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf[k];
			     NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
				if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
					parse(h, d->name[i], fn, arg);
		}
		if (got < BATCH)
			return;
	}
}

void diag_close(struct diag_set *d)
{
	for (int i = 0; i < d->n; i++)
		close(d->fd[i]);
	d->n = 0;
}
