/*
 * conn-api.c -- the small public calls on a connection that are neither
 * its life nor its end: pause and resume (application backpressure), the
 * user pointer, its loop, fd, id and peer address.
 *
 * Calls loop.c (the ready queue) and conn-end.c (hu__conn_more for the
 * peer's cached address); nothing calls it but the application.
 */
#include "loop.h"

#include <string.h>
#include <sys/socket.h>

void hu_conn_pause(hu_conn *c)
{
	if (c == NULL || (c->flags & (HU__C_FINISHED | HU__C_CLOSING)))
		return;
	c->flags |= HU__C_PAUSED;
	/* io_uring: stop the receive that reads ahead (uring.c). */
	hu__ur_sync(c);
}

void hu_conn_resume(hu_conn *c)
{
	if (c == NULL || !(c->flags & HU__C_PAUSED))
		return;
	c->flags &= ~HU__C_PAUSED;
	/* Edge-triggered: what arrived while paused raised its edge
	 * already, so read at the next safe point, not from here (this may
	 * be inside a callback of this very connection). */
	hu__loop_ready(c);
}

void *hu_conn_user(hu_conn *c)
{
	return c ? c->user : NULL;
}

void hu_conn_set_user(hu_conn *c, void *user)
{
	if (c != NULL)
		c->user = user;
}

hu_loop *hu_conn_loop(hu_conn *c)
{
	return c ? hu__loop_of(c) : NULL;
}

int hu_conn_fd(hu_conn *c)
{
	if (c == NULL || HU__GONE(c))
		return -1;
	/* The application may dup() it or pass it on: from now on the file
	 * description may outlive our close(), so its end pays the DEL. */
	c->flags |= HU__C_SHARED;
	return c->fd;
}

unsigned long long hu_conn_id(hu_conn *c)
{
	return c ? c->id : 0;
}

int hu_conn_peer(hu_conn *c, char *buf, size_t size)
{
	if (c == NULL)
		return HU_INVAL;
	hu_loop *loop = hu__loop_of(c);
	struct hu_addr *peer = c->more ? c->more->peer : NULL;

	if (peer == NULL) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (loop->accepting == c) {
			/* In on_open after accept4(): its address, no call. */
			len = loop->accepted->len < sizeof(ss)
				  ? loop->accepted->len
				  : (socklen_t)sizeof(ss);
			memcpy(&ss, &loop->accepted->sa, len);
		} else if (HU__GONE(c)) {
			return HU_INVAL;
		} else if (getpeername(c->fd, (struct sockaddr *)&ss, &len) <
			   0) {
			return hu__status_errno(NULL);
		}
		/* Cached: a connection that asks once (in on_open, say) can
		 * still name its peer in on_close, after the fd is gone. */
		struct hu__conn_more *m = hu__conn_more(c);
		if (m == NULL || (m->peer = hu__calloc(sizeof(*peer))) == NULL)
			return hu_addr_format((struct sockaddr *)&ss, len, buf,
					      size);
		peer = m->peer;
		memcpy(&peer->sa, &ss, len);
		peer->len = len;
	}
	return hu_addr_format((struct sockaddr *)&peer->sa, peer->len, buf,
			      size);
}
