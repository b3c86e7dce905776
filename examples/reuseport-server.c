/*
 * reuseport-server.c -- an echo server with one loop per core, all on one
 * port: each thread runs its own hu_loop and its own listener with
 * SO_REUSEPORT, and the kernel spreads incoming connections over them (by
 * a hash of the 4-tuple). No locks: a connection lives and ends on the
 * loop that accepted it, as DESIGN.md's loop rules ask (one thread per
 * loop). On SIGINT/SIGTERM every loop closes its connections and stops;
 * the count of connections each loop served is printed at the end.
 *
 *	./build/reuseport-server [ADDR] [LOOPS]    (default 127.0.0.1:0, one
 *	                                            loop per online CPU)
 */
#include <hangup.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_LOOPS 64

struct worker {
	pthread_t thread;
	hu_loop *loop;
	hu_listener *listener;
	hu_watch *stop;
	unsigned long served;
};

static struct worker workers[MAX_LOOPS];
static int stop_pipe[2]; /* written once, on a signal: every loop stops */

static void echo(hu_conn *c, const void *data, size_t len)
{
	if (hu_conn_write(c, data, len) == 1)
		hu_conn_pause(c); /* until on_drain: backpressure */
}

static void drained(hu_conn *c)
{
	hu_conn_resume(c);
}

static void ended(hu_conn *c, const struct hu_close_info *info)
{
	struct worker *w = hu_conn_user(c);

	(void)info;
	w->served++;
}

/* Level-triggered and never read: every loop sees the byte. */
static void on_stop(hu_watch *watch, unsigned events, void *arg)
{
	struct worker *w = arg;

	(void)events;
	hu_watch_stop(watch);
	hu_listener_close(w->listener);
	w->listener = NULL;
	hu_loop_stop(w->loop);
}

static void *run(void *arg)
{
	struct worker *w = arg;

	hu_loop_run(w->loop);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *addr = argc > 1 ? argv[1] : "127.0.0.1:0";
	long n = argc > 2 ? atol(argv[2]) : sysconf(_SC_NPROCESSORS_ONLN);
	char where[128];
	sigset_t sigs;

	if (n < 1 || n > MAX_LOOPS || pipe(stop_pipe) < 0)
		return 2;
	/* Block the signals in every thread; main waits for them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	for (long i = 0; i < n; i++) {
		struct worker *w = &workers[i];
		struct hu_listen_config cfg = {
		    .conn = {.cb = {.on_data = echo,
				    .on_drain = drained,
				    .on_close = ended},
			     .user = w},
		    .reuseport = 1,
		};

		w->loop = hu_loop_new();
		/* The first binds the address (port 0: the kernel picks),
		 * the others the port it got. */
		if (w->loop == NULL ||
		    hu_listen(w->loop, i == 0 ? addr : where, &cfg,
			      &w->listener) < 0 ||
		    hu_listener_addr(w->listener, where, sizeof(where)) < 0 ||
		    hu_watch_start(w->loop, stop_pipe[0], HU_READABLE, on_stop,
				   w, &w->stop) < 0) {
			fprintf(stderr,
				"reuseport-server: cannot listen on %s\n",
				i == 0 ? addr : where);
			return 1;
		}
	}
	printf("reuseport-server: listening on %s with %ld loops\n", where, n);
	fflush(stdout);
	for (long i = 0; i < n; i++)
		pthread_create(&workers[i].thread, NULL, run, &workers[i]);

	int sig;
	sigwait(&sigs, &sig);
	if (write(stop_pipe[1], "x", 1) != 1)
		return 1;
	for (long i = 0; i < n; i++) {
		pthread_join(workers[i].thread, NULL);
		hu_loop_free(workers[i].loop); /* aborts what is still open */
		printf("loop %ld: %lu connections\n", i, workers[i].served);
	}
	return 0;
}
