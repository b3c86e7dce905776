/*
 * main.c -- the hangup tool: dispatch to one subcommand.
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
