/*
 * fuzz-cli.c -- libFuzzer target for the CLI's option parsers: `hangup
 * listen` and `hangup connect` (cli_listen_parse(), cli_connect_parse())
 * and the value parsers under them (milliseconds, counts, addresses with
 * their one-line messages).
 *
 * The input is an argument vector: NUL-separated words, the first byte
 * choosing the command. Properties: no crash, no read past a word, no
 * leak; a parse that says "run" has an ADDR that hu_addr_parse() accepts
 * and values in their documented ranges; every other result is 0 (--help)
 * or the usage status 2.
 */
#include "cli.h"
#include "hangup.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The parsers' messages are the point of some inputs, not of the
	 * run: their FILE streams go nowhere. fd 2 stays open, and so does
	 * libFuzzer's own stream (taken before this), so the fuzzer's and
	 * ASan's reports still show. */
	FILE *null = fopen("/dev/null", "w");
	if (null == NULL)
		abort();
	stdout = null;
	stderr = null;
	return 0;
}

#define MAX_ARGS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	struct hu_addr a;

	if (size < 1)
		return 0;
	int which = data[0] & 1;
	/* Each word its own allocation, so ASan sees a read past it. */
	argv[argc++] = strdup(which ? "connect" : "listen");
	size_t i = 1;
	while (i < size && argc < MAX_ARGS) {
		size_t n = 0;

		while (i + n < size && data[i + n] != 0)
			n++;
		char *w = malloc(n + 1);
		memcpy(w, data + i, n);
		w[n] = '\0';
		argv[argc++] = w;
		i += n + 1;
	}
	argv[argc] = NULL;
	char *copy[MAX_ARGS + 2];
	memcpy(copy, argv, sizeof(argv));

	int rc;
	if (which) {
		struct cli_connect_opts o;

		rc = cli_connect_parse(argc, argv, &o);
		if (rc == -1 &&
		    (o.addr == NULL || hu_addr_parse(o.addr, &a) != 0 ||
		     o.liveness_ms > 86400000u ||
		     o.connect_timeout_ms > 86400000u))
			abort();
	} else {
		struct cli_listen_opts o;

		rc = cli_listen_parse(argc, argv, &o);
		if (rc == -1 &&
		    (o.addr == NULL || hu_addr_parse(o.addr, &a) != 0 ||
		     (o.echo && o.discard) || o.liveness_ms > 86400000u ||
		     o.idle_ms > 86400000u || o.max > 1000000000u))
			abort();
	}
	if (rc != -1 && rc != 0 && rc != EXIT_USAGE)
		abort();
	/* getopt may permute argv: free what we allocated, from the copy. */
	for (int k = 0; k < argc; k++)
		free(copy[k]);
	return 0;
}
