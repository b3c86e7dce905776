/*
 * args.c -- option values and addresses for the subcommands, checked with
 * messages that name the problem.
 *
 * hu_addr_parse() says only HU_INVAL, whatever was wrong; a person who
 * typed the address wants to know which part. So when it refuses, the
 * forms it accepts are walked again here, only to find the words.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static int digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Digits only (no sign, no spaces, no hex), at most `max`. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!digits(s))
		return -1;
	for (; *s; s++) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

int cli_parse_ms(const char *cmd, const char *opt, const char *s, unsigned *out)
{
	unsigned long v;

	if (parse_uint(s, 86400000UL, &v) < 0) {
		fprintf(stderr,
			"hangup %s: bad %s value '%s' (milliseconds, "
			"0-86400000)\n",
			cmd, opt, s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int cli_parse_count(const char *cmd, const char *opt, const char *s,
		    unsigned max, unsigned *out)
{
	unsigned long v;

	if (parse_uint(s, max, &v) < 0 || v == 0) {
		fprintf(stderr,
			"hangup %s: bad %s value '%s' (a number, 1-%u)\n", cmd,
			opt, s, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

void cli_bad_option(const char *cmd, int c, char **argv)
{
	/* getopt_long() with opterr = 0 and a leading ':' in optstring:
	 * '?' is an unknown option (optopt 0 for a long one: the word is
	 * argv[optind - 1]), ':' one that needs a value. */
	const char *arg = argv[optind - 1];

	if (c == ':')
		fprintf(stderr,
			"hangup %s: option '%s' needs a value (try 'hangup %s "
			"--help')\n",
			cmd, arg, cmd);
	else if (optopt != 0)
		fprintf(stderr,
			"hangup %s: unknown option '-%c' (try 'hangup %s "
			"--help')\n",
			cmd, optopt, cmd);
	else
		fprintf(stderr,
			"hangup %s: unknown option '%s' (try 'hangup %s "
			"--help')\n",
			cmd, arg, cmd);
}

void cli_options_begin(void)
{
	optind = 0; /* GNU: a full reset, nextchar included */
	opterr = 0; /* our one-line messages, not getopt's */
}

int cli_next_option(const char *cmd, const char *usage, int argc, char **argv,
		    const struct option *opts, int *status)
{
	int c = getopt_long(argc, argv, ":h", opts, NULL);

	if (c == 'h') {
		fputs(usage, stdout);
		*status = 0;
		return -1;
	}
	if (c == '?' || c == ':') {
		cli_bad_option(cmd, c, argv);
		*status = EXIT_USAGE;
		return -1;
	}
	return c;
}

/* What is wrong with PORT, or NULL if nothing. */
static const char *port_problem(const char *port, char *why, size_t size)
{
	unsigned long v;

	if (*port == '\0')
		return "no port after ':'";
	if (!digits(port)) {
		snprintf(why, size, "port '%s' is not a number", port);
		return why;
	}
	if (parse_uint(port, 65535, &v) < 0) {
		snprintf(why, size, "port %s out of range (0-65535)", port);
		return why;
	}
	return NULL;
}

static const char *unix_problem(const char *path, char *why, size_t size)
{
	size_t n = strlen(path);
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);

	if (n == 0)
		return "empty Unix socket path";
	/* A path needs its NUL inside sun_path; an abstract name (@NAME)
	 * uses the leading NUL instead. */
	if (path[0] == '@' ? n > max : n >= max) {
		snprintf(why, size,
			 "Unix socket path too long (%zu bytes, at most %zu)",
			 n, path[0] == '@' ? max : max - 1);
		return why;
	}
	return NULL;
}

static const char *inet_problem(const char *text, char *why, size_t size)
{
	char host[64];
	const char *p;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		unsigned char a6[16];

		if (close == NULL)
			return "'[' without ']' (write [V6]:PORT)";
		if (close[1] != ':')
			return "no :PORT after ']'";
		size_t n = (size_t)(close - text - 1);
		if (n == 0 || n >= sizeof(host))
			return "no IPv6 address between '[' and ']'";
		memcpy(host, text + 1, n);
		host[n] = '\0';
		if ((p = port_problem(close + 2, why, size)) != NULL)
			return p;
		char *scope = strchr(host, '%');
		if (scope != NULL)
			*scope++ = '\0';
		if (inet_pton(AF_INET6, host, a6) != 1) {
			snprintf(why, size, "'%s' is not an IPv6 address",
				 host);
			return why;
		}
		if (scope != NULL && *scope == '\0')
			return "no interface after '%' (e.g. [fe80::1%eth0])";
		if (scope != NULL) {
			snprintf(why, size,
				 "no network interface '%s' (after %%: an "
				 "interface name or number, e.g. %%eth0)",
				 scope);
			return why;
		}
		return NULL;
	}
	const char *colon = strrchr(text, ':');
	if (colon == NULL) {
		if (digits(text)) {
			snprintf(why, size,
				 "no host (write ':%s' for port %s on "
				 "loopback)",
				 text, text);
			return why;
		}
		return "no :PORT (write HOST:PORT, [V6]:PORT, :PORT or "
		       "unix:PATH)";
	}
	size_t n = (size_t)(colon - text);
	if (memchr(text, ':', n) != NULL)
		return "an IPv6 address needs brackets ([V6]:PORT)";
	if ((p = port_problem(colon + 1, why, size)) != NULL)
		return p;
	if (n >= sizeof(host)) {
		snprintf(why, size, "host too long (%zu bytes)", n);
		return why;
	}
	memcpy(host, text, n);
	host[n] = '\0';
	struct in_addr a4;
	if (n > 0 && strcmp(host, "localhost") != 0 &&
	    inet_pton(AF_INET, host, &a4) != 1) {
		snprintf(why, size,
			 "'%s' is not an IPv4 address (no DNS lookups: a "
			 "literal or localhost)",
			 host);
		return why;
	}
	return NULL;
}

int cli_parse_addr(const char *cmd, const char *text, struct hu_addr *out)
{
	char why[160];
	const char *p;

	if (hu_addr_parse(text, out) == 0)
		return 0;
	if (strncmp(text, "unix:", 5) == 0)
		p = unix_problem(text + 5, why, sizeof(why));
	else
		p = inet_problem(text, why, sizeof(why));
	fprintf(stderr, "hangup %s: %s in '%s'\n", cmd,
		p ? p : "malformed address", text);
	return -1;
}

int cli_check_dest(const char *cmd, const char *text, const struct hu_addr *a)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->sa;
	unsigned port = 1;

	if (a->sa.ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
	else if (a->sa.ss_family == AF_INET6)
		port = ntohs(s6->sin6_port);
	if (a->sa.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) && s6->sin6_scope_id == 0) {
		/* The kernel would say EINVAL: fe80::/10 exists on every
		 * interface, so it cannot choose one. */
		fprintf(stderr,
			"hangup %s: a link-local address needs its interface "
			"([fe80::1%%eth0]:PORT) in '%s'\n",
			cmd, text);
		return -1;
	}
	if (port != 0)
		return 0;
	/* connect() to port 0 is refused by the kernel; saying so as
	 * "refused" would blame a peer that cannot exist. */
	fprintf(stderr,
		"hangup %s: port 0 cannot be connected to (0 asks the kernel "
		"for any port: listen only) in '%s'\n",
		cmd, text);
	return -1;
}

int cli_parse_operand(const char *cmd, const char *examples, int argc,
		      char **argv, const char **addr, struct hu_addr *a)
{
	if (optind == argc) {
		fprintf(stderr, "hangup %s: no ADDR (e.g. %s; try --help)\n",
			cmd, examples);
		return -1;
	}
	if (optind < argc - 1) {
		fprintf(stderr, "hangup %s: one ADDR only ('%s' is extra)\n",
			cmd, argv[optind + 1]);
		return -1;
	}
	*addr = argv[optind];
	return cli_parse_addr(cmd, *addr, a);
}
