/*
 * cli.h -- the hangup tool: one file per subcommand, built only on the
 * public API (hangup.h), over shared parts declared here (main.c says
 * which file holds what). Each command returns the process exit status.
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

/* The exit status that a close reason (enum hu_reason) stands for, for
 * connect and probe (lifecycle.c). */
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
/*
 * A command's options, walked with getopt_long() (opts ends with {NULL}
 * and holds {"help", no_argument, NULL, 'h'}): cli_options_begin(), then
 * cli_next_option() until -1. It returns each option's letter, and ends
 * the walk (-1) with *status set after --help (usage printed on stdout:
 * 0) or an option that is unknown or lacks its value (cli_bad_option():
 * EXIT_USAGE); at the end of the options it leaves *status alone.
 */
struct option;
void cli_options_begin(void);
int cli_next_option(const char *cmd, const char *usage, int argc, char **argv,
		    const struct option *opts, int *status);
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

/* ---- stdin.c: stdin to one connection (connect, listen --max-conns 1) */

/* stdin closed at start (`<&-`) or a directory: a message, -1. */
int cli_stdin_check(const char *cmd);
/* Read stdin into c until it ends, paced by c's write buffer; every byte
 * queued is added to *queued. on_end(0) at EOF, on_end(errno) after a
 * read error (reported); not called if c closes first. */
void cli_stdin_start(hu_loop *loop, hu_conn *c, const char *cmd,
		     unsigned long long *queued, void (*on_end)(int err));
/* From on_drain: read on if stdin was paused at the high-water mark. */
void cli_stdin_drain(void);
/* Stop reading stdin (the connection has closed). */
void cli_stdin_stop(void);

/* ---- events.c: the event lines of listen and connect ---- */

/* Start the clock (t = 0) and choose the format: text lines on stderr, or
 * JSON lines on stdout (through the sink, sink.c). */
void cli_events_init(int json);
/* Milliseconds since cli_events_init(), monotonic. */
unsigned long long cli_elapsed_ms(void);

/* What a connection event says happened: its word in the output is
 * cli_event_name()'s ("open", "eof", "close", "probe"). */
enum cli_event_kind {
	CLI_EVENT_OPEN,  /* connected or accepted */
	CLI_EVENT_EOF,   /* the peer's FIN (a half-close) */
	CLI_EVENT_CLOSE, /* the end: reason, errno, counts */
	CLI_EVENT_PROBE  /* probe only: what hu_probe() saw changed */
};
const char *cli_event_name(int kind);

/* One connection event. */
struct cli_event {
	int kind;                /* enum cli_event_kind */
	unsigned long long conn; /* hu_conn_id(); 0: none was made */
	const char *peer;        /* NULL: unknown */
	int phase;               /* enum hu_phase */
	/* close only (NULL otherwise): reason, errno, counts, duration */
	const struct hu_close_info *info;
	/* open and eof: the counts so far and ms since the connection began */
	unsigned long long bytes_in, bytes_out, ms;
	/* probe's "probe" event only: what hu_probe() saw */
	const struct hu_probe *probe;
};
void cli_event(const struct cli_event *e);
/* The "close" event of connection `conn` (0: none was made), in the phase
 * that info names. */
void cli_event_close(unsigned long long conn, const char *peer,
		     const struct hu_close_info *info);
/* The peer as the events name it (hu_addr_format(): ":7000" is
 * 127.0.0.1:7000), or `text` as given if it cannot be formatted. */
void cli_event_peer(const struct hu_addr *a, const char *text, char *buf,
		    size_t size);
/* hu_errno_name(err), or "?" for one hangup has no name for: for the
 * "(ECONNRESET)" of a diagnostic line. */
const char *cli_errno_name(int err);
/* The "listening" event, with the bound address. */
void cli_event_listening(const char *addr);
/* A diagnostic line (fmt ends with its newline) to stderr, written as the
 * event lines are: one write, on a line of its own. */
void cli_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Append `s` to `buf` as a JSON string (quoted, escaped; bytes that are
 * not UTF-8 become \u00XX). Returns the length it needed, like snprintf. */
size_t cli_json_string(char *buf, size_t size, const char *s);

/* ---- sink.c: stdout that never blocks the loop ---- */

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
/* (loop NULL: stdout is written directly, blocking -- for probe, which has
 * no loop and nothing else to serve while it waits.) */
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

/* Open /dev/null onto any of fds 0-2 that is closed, so that no socket
 * or epoll fd takes its number (first thing in main()); cli_closed_fds
 * then says which were closed (bit 1 << fd), for a true message. */
void cli_guard_std_fds(void);
extern unsigned cli_closed_fds;

/* ---- lifecycle.c: one run of listen, connect (on the loop) or probe ---- */

/* How long a graceful close may take: our FIN, then the peer's (the
 * connections' linger_ms), and how long stdout gets after a signal. */
#define CLI_LINGER_MS 1000

/* What a command runs besides its connections (listen: its listener). */
struct cli_tool_hooks {
	/* 1 while something of the command's own is left: the run does not
	 * end before it returns 0 (NULL: nothing). */
	int (*busy)(void);
	/* Take no new work (a signal, or stdout failed): listen stops
	 * listening. NULL: nothing to stop. */
	void (*stop)(void);
};

/* Block SIGINT, SIGTERM and SIGHUP and return a signalfd for them (or -1);
 * ignore SIGPIPE. cli_tool_start() does it for listen and connect; watch,
 * which runs no hu_loop, calls it itself. */
int cli_signals(void);
/* The signal read from that signalfd, or 0 if none was there. */
int cli_signal_read(int sfd);
/*
 * Start a run of `cmd` on the loop: the loop, SIGINT/SIGTERM/SIGHUP on a
 * signalfd (SIGPIPE ignored), stdout through the sink, the event clock
 * (json: events on stdout). Returns the loop, or NULL after a message.
 * Then: the command's setup, and cli_tool_run() -- or cli_tool_quit() if
 * the setup failed.
 */
hu_loop *cli_tool_start(const char *cmd, int json,
			const struct cli_tool_hooks *h);
/*
 * Run the loop until nothing is left; a first signal (or stdout failing)
 * stops the command and closes every connection gracefully, a second
 * aborts them; a graceful close not done after 2 * CLI_LINGER_MS is
 * aborted. Frees all (cli_tool_quit()). Returns 0, or EXIT_OTHER if the
 * run failed (stdout, the loop, cli_tool_fail()).
 */
int cli_tool_run(void);
/* Free the loop, the sink and the signalfd; 0 or EXIT_OTHER as above. */
int cli_tool_quit(void);
/* The run failed (e.g. stdin could not be read): exit status 1 at the
 * end, whatever else happens. */
void cli_tool_fail(void);
/* probe's start, without a loop: stdout written directly (blocking), the
 * event clock. No signals: the default actions end it. */
void cli_tool_start_direct(int json);

/* One connection as the tool knows it (hu_conn_user()). */
struct cli_conn {
	hu_conn *c;
	struct cli_conn *prev, *next;
	char peer[160];
	int have_peer;
	int waiting; /* paused until stdout has room */
	/* bytes received, bytes queued to send, when it was tracked */
	unsigned long long in, queued, start;
};
/* Track c from now on (its start time is now): closed by signals and
 * stdout failure, resumed when stdout has room, and the run does not end
 * before its on_close. NULL when out of memory: c is aborted (said). */
struct cli_conn *cli_conn_track(hu_conn *c);
/* From on_open: note the peer's address and print the "open" event. */
void cli_conn_opened(struct cli_conn *tc);
/* An open or eof event line with the counts so far and the age. */
void cli_conn_event(struct cli_conn *tc, int kind, int phase);
/* An on_data that counts what came and prints it on stdout (not with
 * --json), pausing c while stdout is above its mark. */
void cli_conn_data(hu_conn *c, const void *data, size_t len);
/* From on_close, last: the "close" event, c forgotten (its cli_conn
 * freed), and the run ended if that was all. */
void cli_conn_closed(hu_conn *c, const struct hu_close_info *info);

#endif
