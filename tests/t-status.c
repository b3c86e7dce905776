/*
 * t-status.c -- the result vocabulary: every status code, close reason,
 * errno name and TCP state has its word, and errno values are classified as
 * DESIGN.md's table says (the one place errno becomes a result).
 */
#include "hangup.h"
#include "internal.h"
#include "lib/testlib.h"

#include <errno.h>
#include <string.h>

static const struct {
	int code;
	const char *name;
	const char *text;
} statuses[] = {
    {HU_OK, "HU_OK", "success"},
    {HU_AGAIN, "HU_AGAIN", "nothing now; wait for readiness"},
    {HU_EOF, "HU_EOF", "the peer finished sending (FIN)"},
    {HU_RESET, "HU_RESET", "the peer reset the connection (RST)"},
    {HU_PIPE, "HU_PIPE",
     "can no longer send: the peer is gone or we shut down writing"},
    {HU_TIMEOUT, "HU_TIMEOUT",
     "the peer is presumed dead: keepalive or user timeout expired"},
    {HU_UNREACH, "HU_UNREACH", "host or network unreachable"},
    {HU_REFUSED, "HU_REFUSED", "connection refused"},
    {HU_BADF, "HU_BADF", "not an open socket of a supported kind"},
    {HU_INVAL, "HU_INVAL", "invalid argument"},
    {HU_ERROR, "HU_ERROR", "system error"},
};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))

static void t_status_names_and_sentences(void)
{
	/* The values are the ABI: stable, consecutive, -1 down to -10. */
	for (size_t i = 0; i < NSTATUS; i++) {
		CHECK(statuses[i].code == -(int)i, "%s is %d", statuses[i].name,
		      statuses[i].code);
		CHECK(strcmp(hu_status_name(statuses[i].code),
			     statuses[i].name) == 0,
		      "hu_status_name(%d) = %s", statuses[i].code,
		      hu_status_name(statuses[i].code));
		CHECK(strcmp(hu_strerror(statuses[i].code), statuses[i].text) ==
			  0,
		      "hu_strerror(%d) = %s", statuses[i].code,
		      hu_strerror(statuses[i].code));
	}
	/* Sentences are all different: a log line says which one it was. */
	for (size_t i = 0; i < NSTATUS; i++)
		for (size_t j = i + 1; j < NSTATUS; j++)
			CHECK(strcmp(hu_strerror(statuses[i].code),
				     hu_strerror(statuses[j].code)) != 0,
			      "%zu and %zu share a sentence", i, j);
	/* Byte counts are successes; unknown codes never give NULL. */
	CHECK(strcmp(hu_strerror(4096), "success") == 0, "positive");
	CHECK(strcmp(hu_status_name(7), "HU_OK") == 0, "positive name");
	CHECK(strcmp(hu_strerror(-11), "unknown hangup status") == 0, "-11");
	CHECK(strcmp(hu_strerror(HU__INTR), "unknown hangup status") == 0,
	      "internal codes are not public ones");
	CHECK(strcmp(hu_status_name(-11), "HU_UNKNOWN") == 0, "-11 name");
	CHECK(strcmp(hu_status_name(-2147483647 - 1), "HU_UNKNOWN") == 0,
	      "INT_MIN name");
}

static void t_reason_names(void)
{
	static const char *const words[] = {
	    [HU_CLOSE_EOF] = "eof",
	    [HU_CLOSE_RESET] = "reset",
	    [HU_CLOSE_TIMEOUT] = "timeout",
	    [HU_CLOSE_IDLE] = "idle",
	    [HU_CLOSE_LOCAL] = "local",
	    [HU_CLOSE_ABORT] = "abort",
	    [HU_CLOSE_UNREACH] = "unreachable",
	    [HU_CLOSE_REFUSED] = "refused",
	    [HU_CLOSE_CONNECT_TIMEOUT] = "connect-timeout",
	    [HU_CLOSE_ERROR] = "error",
	};

	CHECK(HU_CLOSE_ERROR == 9, "ten reasons, error last");
	for (int r = HU_CLOSE_EOF; r <= HU_CLOSE_ERROR; r++)
		CHECK(strcmp(hu_reason_name(r), words[r]) == 0,
		      "hu_reason_name(%d) = %s", r, hu_reason_name(r));
	CHECK(strcmp(hu_reason_name(-1), "?") == 0, "-1");
	CHECK(strcmp(hu_reason_name(HU_CLOSE_ERROR + 1), "?") == 0, "past");
}

static void t_reason_from_status(void)
{
	static const struct {
		int code, reason;
	} map[] = {
	    {HU_EOF, HU_CLOSE_EOF},         {HU_RESET, HU_CLOSE_RESET},
	    {HU_PIPE, HU_CLOSE_RESET},      {HU_TIMEOUT, HU_CLOSE_TIMEOUT},
	    {HU_UNREACH, HU_CLOSE_UNREACH}, {HU_REFUSED, HU_CLOSE_REFUSED},
	    {HU_AGAIN, HU_CLOSE_ERROR},     {HU_BADF, HU_CLOSE_ERROR},
	    {HU_INVAL, HU_CLOSE_ERROR},     {HU_ERROR, HU_CLOSE_ERROR},
	    {-11, HU_CLOSE_ERROR},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		CHECK(hu_reason_from_status(map[i].code) == map[i].reason,
		      "hu_reason_from_status(%s) = %d",
		      hu_status_name(map[i].code),
		      hu_reason_from_status(map[i].code));
}

static void t_errno_names(void)
{
	static const struct {
		int err;
		const char *name;
	} names[] = {
	    {EPERM, "EPERM"},
	    {ENOENT, "ENOENT"},
	    {EINTR, "EINTR"},
	    {EIO, "EIO"},
	    {EBADF, "EBADF"},
	    {EAGAIN, "EAGAIN"},
	    {ENOMEM, "ENOMEM"},
	    {EACCES, "EACCES"},
	    {EFAULT, "EFAULT"},
	    {EBUSY, "EBUSY"},
	    {EEXIST, "EEXIST"},
	    {ENOTDIR, "ENOTDIR"},
	    {EISDIR, "EISDIR"},
	    {EINVAL, "EINVAL"},
	    {ENFILE, "ENFILE"},
	    {EMFILE, "EMFILE"},
	    {ENOSPC, "ENOSPC"},
	    {EPIPE, "EPIPE"},
	    {ENAMETOOLONG, "ENAMETOOLONG"},
	    {ENOTSOCK, "ENOTSOCK"},
	    {EDESTADDRREQ, "EDESTADDRREQ"},
	    {EMSGSIZE, "EMSGSIZE"},
	    {EPROTOTYPE, "EPROTOTYPE"},
	    {ENOPROTOOPT, "ENOPROTOOPT"},
	    {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
	    {ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT"},
	    {EOPNOTSUPP, "EOPNOTSUPP"},
	    {EAFNOSUPPORT, "EAFNOSUPPORT"},
	    {EADDRINUSE, "EADDRINUSE"},
	    {EADDRNOTAVAIL, "EADDRNOTAVAIL"},
	    {ENETDOWN, "ENETDOWN"},
	    {ENETUNREACH, "ENETUNREACH"},
	    {ENETRESET, "ENETRESET"},
	    {ECONNABORTED, "ECONNABORTED"},
	    {ECONNRESET, "ECONNRESET"},
	    {ENOBUFS, "ENOBUFS"},
	    {EISCONN, "EISCONN"},
	    {ENOTCONN, "ENOTCONN"},
	    {ESHUTDOWN, "ESHUTDOWN"},
	    {ETIMEDOUT, "ETIMEDOUT"},
	    {ECONNREFUSED, "ECONNREFUSED"},
	    {EHOSTDOWN, "EHOSTDOWN"},
	    {EHOSTUNREACH, "EHOSTUNREACH"},
	    {EALREADY, "EALREADY"},
	    {EINPROGRESS, "EINPROGRESS"},
	    {EPROTO, "EPROTO"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *n = hu_errno_name(names[i].err);

		CHECK(n != NULL && strcmp(n, names[i].name) == 0,
		      "hu_errno_name(%d) = %s, want %s", names[i].err,
		      n ? n : "NULL", names[i].name);
	}
	/* Every errno that hu__status_of() classifies has a name: the CLI
	 * prints hu_errno_name() of whatever the library kept. */
	for (int e = 1; e < 134; e++)
		if (hu__status_of(e) != HU_ERROR &&
		    hu__status_of(e) != HU__INTR)
			CHECK(hu_errno_name(e) != NULL,
			      "classified errno %d has no name", e);
	CHECK(hu_errno_name(0) == NULL, "0 has no name");
	CHECK(hu_errno_name(-1) == NULL, "-1 has no name");
	CHECK(hu_errno_name(100000) == NULL, "unknown has no name");
}

static void t_errno_classification(void)
{
	static const struct {
		int err, code;
	} map[] = {
	    {0, HU_OK},
	    {EAGAIN, HU_AGAIN},
	    {EWOULDBLOCK, HU_AGAIN},
	    {EINTR, HU__INTR},
	    {EINPROGRESS, HU__INPROGRESS},
	    {EALREADY, HU__INPROGRESS},
	    {ECONNRESET, HU_RESET},
	    {ECONNABORTED, HU_RESET},
	    /* The RST that answers our write after the peer's FIN lands
	     * in CLOSE_WAIT, where tcp_reset() sets EPIPE: the peer is
	     * gone (kernel-truth.md, conclusion 2). */
	    {EPIPE, HU_PIPE},
	    {ESHUTDOWN, HU_PIPE},
	    {ETIMEDOUT, HU_TIMEOUT},
	    {EHOSTUNREACH, HU_UNREACH},
	    {ENETUNREACH, HU_UNREACH},
	    {EHOSTDOWN, HU_UNREACH},
	    {ENETDOWN, HU_UNREACH},
	    {ECONNREFUSED, HU_REFUSED},
	    {EBADF, HU_BADF},
	    {ENOTSOCK, HU_BADF},
	    {EINVAL, HU_INVAL},
	    {EFAULT, HU_INVAL},
	    {ENOMEM, HU_ERROR},
	    {EMFILE, HU_ERROR},
	    {ENOTCONN, HU_ERROR},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		CHECK(hu__status_of(map[i].err) == map[i].code,
		      "hu__status_of(%s) = %d, want %d",
		      hu_errno_name(map[i].err) ? hu_errno_name(map[i].err)
						: "0",
		      hu__status_of(map[i].err), map[i].code);
	/* hu__status_errno() reads errno, reports it, and leaves it. */
	int err = 0;
	errno = ECONNRESET;
	CHECK(hu__status_errno(&err) == HU_RESET && err == ECONNRESET &&
		  errno == ECONNRESET,
	      "hu__status_errno");
	hu__errno_set(0);
	CHECK(errno == ECONNRESET, "hu__errno_set(0) leaves errno alone");
	hu__errno_set(ETIMEDOUT);
	CHECK(errno == ETIMEDOUT, "hu__errno_set puts errno back");
}

static void t_tcp_state_names(void)
{
	static const char *const names[] = {
	    "?",          "ESTABLISHED", "SYN_SENT",  "SYN_RECV",
	    "FIN_WAIT1",  "FIN_WAIT2",   "TIME_WAIT", "CLOSE",
	    "CLOSE_WAIT", "LAST_ACK",    "LISTEN",    "CLOSING",
	};

	for (int s = 0; s < 12; s++)
		CHECK(strcmp(hu_tcp_state_name(s), names[s]) == 0,
		      "hu_tcp_state_name(%d) = %s", s, hu_tcp_state_name(s));
	CHECK(strcmp(hu_tcp_state_name(-1), "UNIX") == 0, "-1 is UNIX");
	CHECK(strcmp(hu_tcp_state_name(12), "?") == 0, "12");
	CHECK(strcmp(hu_tcp_state_name(-2), "?") == 0, "-2");
}

static void t_version(void)
{
	CHECK(strcmp(hu_version(), HU_VERSION_STRING) == 0, "version");
	CHECK(hu_version_number() == HU_VERSION_NUMBER, "number");
	CHECK(HU_VERSION_NUMBER == HU_VERSION_MAJOR * 10000 +
				       HU_VERSION_MINOR * 100 +
				       HU_VERSION_PATCH,
	      "number formula");
}

int main(void)
{
	RUN(t_status_names_and_sentences, 5);
	RUN(t_reason_names, 5);
	RUN(t_reason_from_status, 5);
	RUN(t_errno_names, 5);
	RUN(t_errno_classification, 5);
	RUN(t_tcp_state_names, 5);
	RUN(t_version, 5);
	return tap_done();
}
