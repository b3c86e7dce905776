/* looplib.c -- see looplib.h. */
#include "looplib.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct rec recs[MAX_RECS];
int nrecs;

void recs_reset(void)
{
	for (int i = 0; i < nrecs; i++)
		free(recs[i].data);
	memset(recs, 0, sizeof(recs));
	nrecs = 0;
}

struct rec *rec_of(hu_conn *c)
{
	struct rec *r = hu_conn_user(c);

	if (r != NULL)
		return r;
	REQUIRE(nrecs < MAX_RECS, "too many connections");
	r = &recs[nrecs++];
	r->conn = c;
	r->fd_at_close = -2;
	hu_conn_set_user(c, r);
	return r;
}

void rec_on_open(hu_conn *c)
{
	struct rec *r = rec_of(c);

	r->opens++;
	r->t_open = now_ms();
	if (hu_conn_peer(c, r->peer, sizeof(r->peer)) < 0)
		strcpy(r->peer, "?");
}

void rec_on_data(hu_conn *c, const void *data, size_t len)
{
	struct rec *r = rec_of(c);

	r->datas++;
	if (r->len + len > r->cap) {
		r->cap = (r->len + len) * 2;
		r->data = realloc(r->data, r->cap);
		REQUIRE(r->data != NULL, "realloc");
	}
	memcpy(r->data + r->len, data, len);
	r->len += len;
	if (r->echo)
		CHECK(hu_conn_write(c, data, len) >= 0, "echo write");
}

void rec_on_eof(hu_conn *c)
{
	rec_of(c)->eofs++;
}

void rec_on_drain(hu_conn *c)
{
	rec_of(c)->drains++;
}

void rec_on_heartbeat(hu_conn *c)
{
	rec_of(c)->beats++;
}

void rec_on_close(hu_conn *c, const struct hu_close_info *info)
{
	struct rec *r = rec_of(c);

	if (r->closes++ == 0)
		r->info = *info;
	r->closed_before_open = r->opens == 0;
	r->fd_at_close = hu_conn_fd(c);
	r->t_close = now_ms();
}

struct hu_conn_callbacks rec_callbacks(void)
{
	struct hu_conn_callbacks cb = {
	    .on_open = rec_on_open,
	    .on_data = rec_on_data,
	    .on_drain = rec_on_drain,
	    .on_close = rec_on_close,
	    .on_heartbeat = rec_on_heartbeat,
	};
	return cb;
}

struct until {
	const volatile int *cond;
	int met;
	double end;
};

static hu_loop *current;

static void tick(hu_timer *t, void *arg)
{
	struct until *u = arg;

	(void)t;
	if ((u->cond && *u->cond) || now_ms() >= u->end) {
		u->met = u->cond ? *u->cond != 0 : 1;
		hu_loop_stop(current);
	}
}

int run_until(hu_loop *loop, const volatile int *cond, unsigned ms)
{
	struct until u = {.cond = cond, .end = now_ms() + ms};

	if (cond && *cond)
		return 1;
	current = loop;
	hu_timer *t = hu_timer_start(loop, 1, 1, tick, &u);
	REQUIRE(t != NULL, "hu_timer_start");
	hu_loop_run(loop);
	hu_timer_stop(t);
	return cond ? *cond != 0 : 1;
}

void run_for(hu_loop *loop, unsigned ms)
{
	run_until(loop, NULL, ms);
}

hu_listener *listen_on(hu_loop *loop, const char *addr,
		       const struct hu_listen_config *cfg, char *buf,
		       size_t size)
{
	hu_listener *l = NULL;
	int rc = hu_listen(loop, addr, cfg, &l);

	REQUIRE(rc == 0, "hu_listen(%s) = %s", addr, hu_status_name(rc));
	REQUIRE(hu_listener_addr(l, buf, size) > 0, "hu_listener_addr");
	return l;
}

int raw_connect(const char *addr)
{
	struct hu_addr a;

	REQUIRE(hu_addr_parse(addr, &a) == 0, "parse %s", addr);
	int fd = socket(a.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(fd >= 0, "socket");
	REQUIRE(connect(fd, (struct sockaddr *)&a.sa, a.len) == 0, "connect %s",
		addr);
	return fd;
}

size_t read_n(int fd, void *buf, size_t n, int *end)
{
	size_t got = 0;

	*end = 0;
	while (got < n) {
		ssize_t r = recv(fd, (char *)buf + got, n - got, 0);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		*end = r == 0 ? -1 : errno;
		break;
	}
	return got;
}

size_t read_all(int fd, int *err)
{
	char buf[65536];
	size_t got = 0;

	*err = 0;
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			*err = errno;
		return got;
	}
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	if (r->delay_ms)
		sleep_ms((int)r->delay_ms);
	r->got = read_all(r->fd, &r->err);
	r->done = 1;
	return NULL;
}

void reader_start(struct reader *r, int fd, unsigned delay_ms)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->delay_ms = delay_ms;
	REQUIRE(pthread_create(&r->t, NULL, reader_main, r) == 0,
		"pthread_create");
}

void reader_join(struct reader *r)
{
	pthread_join(r->t, NULL);
}

int run_until_accepted(hu_loop *loop, int n)
{
	double end = now_ms() + 3000;

	while (nrecs < n && now_ms() < end)
		run_for(loop, 10);
	return nrecs;
}
