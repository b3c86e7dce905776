/*
 * main.c -- the hangup tool: dispatch to one subcommand.
 *
 * Where things are (cli/, callers above the files they call; each file's
 * top comment says more):
 *
 *   main.c       this file: `hangup COMMAND`, --help, --version
 *   listen.c     hangup listen: its options (cli_listen_parse()),
 *                accepting, --echo / --discard (on_data), --max-conns,
 *                stdin to the one connection of --max-conns 1, a stale
 *                Unix socket file replaced
 *   connect.c    hangup connect: its options (cli_connect_parse()), our
 *                FIN when stdin ends, the exit status
 *   probe.c      hangup probe: its options (parse_options()), the poll
 *                loop that calls hu_probe(), its text lines
 *   watch/       hangup watch, a folder of its own: watch/watch.h is the
 *                engine (tracepoints + sock_diag, one record per TCP end),
 *                watch/cmd.c the command and its options
 *   lab/         hangup lab, a folder of its own: lab/lab.c's top comment
 *                says which file holds what
 *   lifecycle.c  one run of listen and connect, shared: the loop, the
 *                signals (the first closes gracefully, a second aborts),
 *                stdout failing, the straggler abort, the end; the
 *                connections as the tool knows them and their events;
 *                probe's start; the exit status of a close reason
 *   stdin.c      stdin to one connection, paced by its write buffer
 *   events.c     the event lines: text on stderr, or --json on stdout
 *   sink.c       stdout written from the loop without blocking it; fds
 *                0-2 kept from sockets when we start with one closed
 *   args.c       option values and ADDR, with messages naming the part
 *                that is wrong
 *   cli.h        the declarations of all the shared parts above
 *
 * The code of a flag: its long name is in its command's getopt table
 * (e.g. {"max-conns", ..., 'm'} in listen.c); the case for that letter
 * stores it in the options, and the command's cmd_*() hands it on (to the
 * library's config: --liveness, --idle, --connect-timeout) or acts on it.
 */
#include "cli.h"
#include "hangup.h"

#include <stdio.h>
#include <string.h>

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"lab", cmd_lab,
     "replay every way a connection ends, live, with the packets"},
    {"listen", cmd_listen,
     "accept connections on ADDR; say how and why each one ends"},
    {"connect", cmd_connect,
     "stdin to ADDR, ADDR to stdout; the exit status says how it ended"},
    {"probe", cmd_probe,
     "connect to ADDR and report, without reading, when the peer goes"},
    {"watch", cmd_watch,
     "every TCP connection that ends on this host: who ended it, and why"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: hangup COMMAND [OPTIONS] [ARGS]\n"
		   "       hangup --help | --version\n\n"
		   "Know when and why the other end of a socket went away.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "\n'hangup COMMAND --help' describes a command. ADDR is "
		   "HOST:PORT, [V6]:PORT,\n:PORT (loopback) or unix:PATH.\n");
}

int main(int argc, char **argv)
{
	cli_guard_std_fds(); /* before anything opens an fd */
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("hangup %s\n", hu_version());
		return 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "hangup: unknown command '%s' (try 'hangup --help')\n",
		argv[1]);
	return EXIT_USAGE;
}
