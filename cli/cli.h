/*
 * cli.h -- the hangup tool: one file per subcommand, built only on the
 * public API (hangup.h). Each command returns the process exit status.
 */
#ifndef HU_CLI_H
#define HU_CLI_H

#include "hangup.h"

#include <stddef.h>

/* Exit statuses shared by the commands (DESIGN.md, CLI). */
enum {
	EXIT_PEER_CLOSED = 0,
	EXIT_OTHER = 1,
	EXIT_USAGE = 2,
	EXIT_REFUSED = 3,
	EXIT_RESET = 4,
	EXIT_TIMEOUT = 5,
	EXIT_UNREACH = 6
};

/* The exit status that a close reason (enum hu_reason) stands for. */
int cli_exit_for_reason(int reason);

int cmd_lab(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_watch(int argc, char **argv); /* watch/cmd.c */

/* The options of `hangup listen` and `hangup connect`, parsed with no
 * effect but their messages (errors on stderr, --help on stdout). The
 * parsers return -1 when the command is to run, else its exit status (0
 * after --help, EXIT_USAGE). Separate so that tests/fuzz can drive them. */
struct cli_listen_opts {
	int echo, discard, json;
	unsigned liveness_ms, idle_ms, max;
	const char *addr;
};
int cli_listen_parse(int argc, char **argv, struct cli_listen_opts *o);
struct cli_connect_opts {
	int json;
	unsigned liveness_ms, connect_timeout_ms;
	const char *addr;
};
int cli_connect_parse(int argc, char **argv, struct cli_connect_opts *o);

/* ---- args.c: option values and addresses, with messages that say which
 * part is wrong. Each prints one line "hangup CMD: ..." on stderr and
 * returns -1 when the value is bad. */

/* getopt_long() returned '?' or ':' (call it with opterr = 0 and an
 * optstring that starts with ':'): say which option, in one line. */
void cli_bad_option(const char *cmd, int c, char **argv);
/* Milliseconds: digits only, 0..86400000 (a day). */
int cli_parse_ms(const char *cmd, const char *opt, const char *s,
		 unsigned *out);
/* A count: digits only, 1..max. */
int cli_parse_count(const char *cmd, const char *opt, const char *s,
		    unsigned max, unsigned *out);
/* hu_addr_parse(), and on failure a message naming the problem: a port out
 * of range, a Unix path too long, a host that is not a literal, ... */
int cli_parse_addr(const char *cmd, const char *text, struct hu_addr *out);
/* After getopt: exactly one operand left, a valid ADDR, parsed into *a
 * (else a message naming the problem, with `examples`, and -1). */
int cli_parse_operand(const char *cmd, const char *examples, int argc,
		      char **argv, const char **addr, struct hu_addr *a);
/* An address to connect to: port 0 is refused too (text names it). */
int cli_check_dest(const char *cmd, const char *text, const struct hu_addr *a);

/* ---- events.c: the event lines of listen and connect ---- */

/* Start the clock (t = 0) and choose the format: text lines on stderr, or
 * JSON lines on stdout (through the sink, sink.c). */
void cli_events_init(int json);
/* Milliseconds since cli_events_init(), monotonic. */
unsigned long long cli_elapsed_ms(void);

/* One connection event: "open", "eof" or "close". */
struct cli_event {
	const char *event;
	unsigned long long conn; /* hu_conn_id() */
	const char *peer;        /* NULL: unknown */
	const char *phase;       /* hu_phase_name() */
	/* close only (NULL otherwise): reason, errno, counts, duration */
	const struct hu_close_info *info;
	/* open and eof: the counts so far and ms since the connection began */
	unsigned long long bytes_in, bytes_out, ms;
};
void cli_event(const struct cli_event *e);
/* The "listening" event, with the bound address. */
void cli_event_listening(const char *addr);
/* A diagnostic line (fmt ends with its newline) to stderr, written as the
 * event lines are: one write, on a line of its own. */
void cli_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Append `s` to `buf` as a JSON string (quoted, escaped; bytes that are
 * not UTF-8 become \u00XX). Returns the length it needed, like snprintf. */
size_t cli_json_string(char *buf, size_t size, const char *s);

/* ---- sink.c: stdout that never blocks the loop, and signals ---- */

/*
 * Route stdout through the loop: cli_out() queues what cannot be written
 * now and writes it when stdout has room, so a slow reader of our stdout
 * stalls only the connections feeding it (cli_out() returns 1: pause
 * them; on_room: resume), never the loop, and a closed one (EPIPE) is
 * reported once through on_gone instead of killing us.
 */
struct cli_sink_hooks {
	void (*on_room)(void *arg); /* below the mark again */
	void (*on_idle)(void *arg); /* everything written */
	void (*on_gone)(void *arg, int err);
	void *arg;
};
void cli_sink_init(hu_loop *loop, const struct cli_sink_hooks *h);
/* 0 written or queued, 1 queued and above the mark, -1 stdout is gone. */
int cli_out(const void *data, size_t len);
/* Bytes queued, not yet written. */
size_t cli_out_pending(void);
/* 1 (once) when stdout and stderr are one terminal and what was written
 * there last did not end its line: an event line then starts with a
 * newline, so that it does not run on after the peer's "abc". */
int cli_out_midline(void);
/* Give up on what is queued (stdout is stuck and we were asked to go). */
void cli_out_abandon(void);
/* Release the sink (after the loop). */
void cli_sink_done(void);

/* Block SIGINT, SIGTERM and SIGHUP and return a signalfd for them (or -1);
 * ignore SIGPIPE. */
int cli_signals(void);
/* Read one signal from the signalfd: its number, or 0. */
int cli_signal_read(int sfd);

#endif
