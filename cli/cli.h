/*
 * cli.h -- the hangup tool: one file per subcommand, built only on the
 * public API (hangup.h). Each command returns the process exit status.
 */
#ifndef HU_CLI_H
#define HU_CLI_H

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

#endif
