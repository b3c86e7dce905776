/*
 * stash.c -- pending socket errors that hu_probe() had to consume.
 *
 * Linux reports a reset or a timeout exactly once, to whichever of recv(),
 * send(), recv(MSG_PEEK) or getsockopt(SO_ERROR) comes first; after that
 * recv() returns 0, indistinguishable from an orderly close (kernel-truth.md,
 * conclusion 3). hu_probe() must read SO_ERROR to say *why* a peer is gone,
 * so it keeps the value here for the next hu_recv()/hu_send() on that socket.
 *
 * Entries are rare (one per probed dead connection until it is read or
 * closed), so a small array under a mutex is enough; `count` lets the data
 * path skip the lock when the stash is empty, which is almost always. An
 * entry is keyed by fd *and* SO_COOKIE, the socket's unique 64-bit id, so a
 * new socket that reuses the fd number never inherits an old error.
 */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

struct entry {
	int fd;
	int err;
	uint64_t cookie;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries;
static size_t used, cap;
static atomic_size_t count; /* == used; read without the lock */

static uint64_t cookie_of(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
		return 0;
	return cookie;
}

static void remove_at(size_t i)
{
	entries[i] = entries[--used];
	if (used == 0) {
		/* Free the table when it empties, so a program that is done
		 * with hangup holds no memory from it. */
		free(entries);
		entries = NULL;
		cap = 0;
	}
	atomic_store(&count, used);
}

static struct entry *find(int fd)
{
	for (size_t i = 0; i < used; i++)
		if (entries[i].fd == fd)
			return &entries[i];
	return NULL;
}

void hu__stash_put(int fd, int err)
{
	uint64_t cookie = cookie_of(fd);

	pthread_mutex_lock(&lock);
	struct entry *e = find(fd);
	if (e == NULL) {
		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct entry *n = realloc(entries, ncap * sizeof(*n));

			if (n == NULL) {
				/* Out of memory: the error is lost and a later
				 * recv() will say EOF. Nothing better to do. */
				pthread_mutex_unlock(&lock);
				return;
			}
			entries = n;
			cap = ncap;
		}
		e = &entries[used++];
		atomic_store(&count, used);
	}
	e->fd = fd;
	e->err = err;
	e->cookie = cookie;
	pthread_mutex_unlock(&lock);
}

int hu__stash_get(int fd, int take)
{
	int err = 0;

	if (atomic_load(&count) == 0)
		return 0;
	uint64_t cookie = cookie_of(fd);
	pthread_mutex_lock(&lock);
	struct entry *e = find(fd);
	if (e != NULL) {
		if (e->cookie == cookie) {
			err = e->err;
			if (take)
				remove_at((size_t)(e - entries));
		} else {
			/* The fd was closed and reused: the error belonged to
			 * a socket that no longer exists. */
			remove_at((size_t)(e - entries));
		}
	}
	pthread_mutex_unlock(&lock);
	return err;
}

void hu__stash_forget(int fd)
{
	if (atomic_load(&count) == 0)
		return;
	pthread_mutex_lock(&lock);
	struct entry *e = find(fd);
	if (e != NULL)
		remove_at((size_t)(e - entries));
	pthread_mutex_unlock(&lock);
}
