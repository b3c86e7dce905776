/*
 * listen.c -- listeners: accept4 until EAGAIN. (Outgoing connects,
 * hu_connect(), are with the rest of a connection's start in conn.c.)
 *
 * Accepting: a listener is registered edge-triggered for EPOLLIN, so every
 * edge must be followed by accept4() until EAGAIN, or connections left in
 * the queue wait for a new arrival. When accept4() fails for lack of a
 * resource (EMFILE, ENFILE, ENOBUFS, ENOMEM) the queue is not drained and
 * no new edge may ever come: the listener reports it once, keeps serving
 * the connections it has, and retries on a timer until accept works again.
 * Errors that concern only the one connection being accepted
 * (ECONNABORTED, and the network errors accept(2) says to treat like
 * EAGAIN) are skipped.
 */
#include "loop.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ACCEPT_RETRY_MS 100

static int track(hu_loop *loop, hu_listener *l)
{
	if (hu__set_reserve(&loop->listeners) < 0)
		return HU_ERROR;
	l->slot = hu__set_add(&loop->listeners, l);
	return 0;
}

static void untrack(hu_loop *loop, hu_listener *l)
{
	hu_listener *moved = hu__set_del(&loop->listeners, l->slot);

	if (moved)
		moved->slot = l->slot;
}

static void accept_all(hu_listener *l);

static void retry_fire(hu_loop *loop, struct hu__tnode *n)
{
	hu_listener *l =
	    (hu_listener *)((char *)n - offsetof(hu_listener, retry));

	(void)loop;
	if (!l->closed)
		accept_all(l);
}

/* accept4() is failing for want of a resource: say so once, try later. */
static void accept_failing(hu_listener *l, int status, int err)
{
	if (!l->failing) {
		l->failing = 1;
		if (l->on_accept_error) {
			l->on_accept_error(l, status, err);
			if (l->closed)
				return;
		}
	}
	(void)hu__timer_arm(l->loop, &l->retry, l->loop->now + ACCEPT_RETRY_MS);
}

static int transient(int err)
{
	switch (err) {
	case ECONNABORTED:
	case EPROTO:
	case EPERM: /* a firewall rule refused it */
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
		return 1;
	default:
		return 0;
	}
}

static void accept_all(hu_listener *l)
{
	hu_loop *loop = l->loop;

	while (!l->closed) {
		struct hu_addr peer;
		peer.len = sizeof(peer.sa);
		int fd = accept4(l->io.fd, (struct sockaddr *)&peer.sa,
				 &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			int err;
			int st = hu__status_errno(&err);

			if (st == HU__INTR || transient(err))
				continue;
			if (st == HU_AGAIN)
				return;
			accept_failing(l, st, err);
			return;
		}
		hu_conn *c = hu__conn_new(loop, fd, l->tcp, l->cfg, 0);
		if (c == NULL) {
			close(fd);
			accept_failing(l, HU_ERROR, ENOMEM);
			return;
		}
		int err = 0, rc = hu__conn_start(c, &err);
		if (rc < 0) {
			/* epoll_ctl()'s own errno (ENOSPC when max_user_watches
			 * is reached), or ENOMEM from the timer heap. */
			hu__conn_discard(c);
			close(fd);
			accept_failing(l, rc, err);
			return;
		}
		l->failing = 0;
		loop->accepting = c;
		loop->accepted = &peer;
		hu__conn_opened(c);
		loop->accepting = NULL;
		loop->accepted = NULL;
	}
}

void hu__listener_event(hu_listener *l, uint32_t events)
{
	(void)events;
	if (!l->closed)
		accept_all(l);
}

/* The socket file a bind() to `a` makes, or NULL (TCP, or the abstract
 * namespace). */
static const char *socket_file(const struct hu_addr *a)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;

	return a->sa.ss_family == AF_UNIX && un->sun_path[0] != '\0'
		   ? un->sun_path
		   : NULL;
}

/* A non-blocking socket bound to `a` and listening: its fd, or a status
 * with *err set (and no socket file left behind). */
static int listening_socket(const struct hu_addr *a,
			    const struct hu_listen_config *cfg, int *err)
{
	int family = a->sa.ss_family, one = 1, bound = 0, rc;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return hu__status_errno(err);
	if (family != AF_UNIX)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one));
	if (cfg->reuseport && family != AF_UNIX &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&a->sa, a->len) < 0)
		goto fail;
	bound = 1;
	if (listen(fd, cfg->backlog ? cfg->backlog : SOMAXCONN) < 0)
		goto fail;
	return fd;
fail:
	rc = hu__status_errno(err);
	/* bind() made the socket file: do not leave it behind. */
	if (bound && socket_file(a) != NULL)
		unlink(socket_file(a));
	close(fd);
	return rc;
}

/* The listener object for a listening fd, or NULL (no memory). */
static hu_listener *listener_new(hu_loop *loop, int fd, const char *path,
				 const struct hu_listen_config *cfg)
{
	hu_listener *l = hu__calloc(sizeof(*l));

	if (l == NULL)
		return NULL;
	l->io.kind = HU__IO_LISTENER;
	l->io.fd = fd;
	l->loop = loop;
	l->on_accept_error = cfg->on_accept_error;
	l->retry.fire = retry_fire;
	l->cfg = hu__cfg_new(loop, &cfg->conn);
	if (path != NULL) {
		size_t n = strlen(path) + 1;

		if ((l->unix_path = hu__malloc(n)) != NULL)
			memcpy(l->unix_path, path, n);
	}
	if (l->cfg == NULL || (path != NULL && l->unix_path == NULL)) {
		hu__listener_free(l);
		return NULL;
	}
	return l;
}

int hu_listen(hu_loop *loop, const char *addr,
	      const struct hu_listen_config *cfg, hu_listener **out)
{
	static const struct hu_listen_config defaults;
	struct hu_addr a;
	int err = 0, rc;

	if (cfg == NULL)
		cfg = &defaults;
	if (loop == NULL || addr == NULL || out == NULL || loop->freeing ||
	    cfg->backlog < 0)
		return HU_INVAL;
	if (hu_addr_parse(addr, &a) < 0)
		return HU_INVAL;
	if (!loop->in_run)
		loop->now = hu__now_ms();

	int fd = listening_socket(&a, cfg, &err);
	if (fd < 0) {
		hu__errno_set(err);
		return fd;
	}
	const char *path = socket_file(&a);
	hu_listener *l = listener_new(loop, fd, path, cfg);
	if (l == NULL) {
		rc = HU_ERROR;
		err = ENOMEM;
		goto fail;
	}
	l->tcp = a.sa.ss_family != AF_UNIX;
	if ((rc = track(loop, l)) < 0) {
		err = ENOMEM;
		goto fail_free;
	}
	if ((rc = hu__ep_add(loop->epfd, fd, (uintptr_t)l, EPOLLIN, &err)) <
	    0) {
		untrack(loop, l);
		goto fail_free;
	}
	*out = l;
	return 0;

fail_free:
	hu__listener_free(l);
fail:
	if (path != NULL)
		unlink(path);
	close(fd);
	hu__errno_set(err);
	return rc;
}

int hu_listener_addr(hu_listener *l, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (l == NULL || l->closed)
		return HU_INVAL;
	if (getsockname(l->io.fd, (struct sockaddr *)&ss, &len) < 0)
		return hu__status_errno(NULL);
	return hu_addr_format((struct sockaddr *)&ss, len, buf, size);
}

void hu_listener_close(hu_listener *l)
{
	if (l == NULL || l->closed)
		return;
	hu_loop *loop = l->loop;

	l->closed = 1;
	hu__timer_disarm(loop, &l->retry);
	hu__ep_del(loop->epfd, l->io.fd);
	close(l->io.fd);
	l->io.fd = -1;
	/* We made the socket file: remove it, so the path can be bound
	 * again (bind() fails with EADDRINUSE on a stale one). */
	if (l->unix_path)
		unlink(l->unix_path);
	untrack(loop, l);
	/* Freed at the next safe point: this may be inside accept_all(). */
	l->next_dead = loop->dead;
	loop->dead = l;
}

void hu__listener_free(hu_listener *l)
{
	hu__free(l->unix_path);
	hu__cfg_unref(l->cfg);
	hu__free(l);
}
