/*
 * buf.c -- a connection's write buffer: the bytes the kernel would not take
 * yet, in order.
 *
 * One contiguous block per connection, allocated only when a send() came
 * back short and freed as soon as it drains, so an idle connection, or one
 * whose writes always fit the socket buffer, holds no buffer at all. Sent
 * bytes are dropped by moving `off`; the block is compacted only when an
 * append would otherwise have to grow it.
 */
#include "loop.h"

#include <string.h>

#define MIN_CAP 4096

int hu__wbuf_append(struct hu__wbuf **bp, const void *data, size_t len)
{
	struct hu__wbuf *b = *bp;

	if (len == 0)
		return 0;
	if (b != NULL && b->cap - b->len >= len) {
		memcpy(b->data + b->len, data, len);
		b->len += len;
		return 0;
	}
	size_t used = hu__wbuf_size(b);
	if (used + len < used)
		return HU_ERROR; /* overflow */
	if (b != NULL && b->off > 0 && b->cap - used >= len) {
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = used;
		memcpy(b->data + b->len, data, len);
		b->len += len;
		return 0;
	}
	size_t cap = b ? b->cap : MIN_CAP;
	while (cap < used + len) {
		if (cap > ((size_t)-1 - sizeof(*b)) / 2)
			return HU_ERROR;
		cap *= 2;
	}
	struct hu__wbuf *n = hu__malloc(sizeof(*n) + cap);
	if (n == NULL)
		return HU_ERROR;
	if (used > 0)
		memcpy(n->data, b->data + b->off, used);
	memcpy(n->data + used, data, len);
	n->off = 0;
	n->len = used + len;
	n->cap = cap;
	hu__free(b);
	*bp = n;
	return 0;
}
