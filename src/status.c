/*
 * status.c -- the result vocabulary, and the one place errno is read.
 *
 * errno is meaningful only right after a call that returned -1: a successful
 * recv() or send() never writes it, so a stale EAGAIN or EINPROGRESS from an
 * earlier call survives a recv() that returned 0 (kernel-truth.md, sc. 9).
 * Every file of the library therefore turns a failure into an HU_* code by
 * calling hu__status_errno() at once, and nothing else touches errno.
 */
#include "internal.h"

#include <errno.h>
#include <stddef.h>

int hu__status_of(int err)
{
	switch (err) {
	case 0:
		return HU_OK;
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
		return HU_AGAIN;
	case EINTR:
		return HU__INTR;
	case EINPROGRESS:
	case EALREADY:
		return HU__INPROGRESS;
	case ECONNRESET:
	case ECONNABORTED:
		return HU_RESET;
	/* EPIPE: we shut down writing, or the peer's RST answered our write
	 * after its FIN -- tcp_reset() sets EPIPE, not ECONNRESET, in
	 * CLOSE_WAIT (kernel-truth.md, sc. 1a/1b). Either way the peer is
	 * gone for sending. */
	case EPIPE:
	case ESHUTDOWN:
		return HU_PIPE;
	case ETIMEDOUT:
		return HU_TIMEOUT;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		return HU_UNREACH;
	case ECONNREFUSED:
		return HU_REFUSED;
	case EBADF:
	case ENOTSOCK:
	case EPROTOTYPE:
	case EOPNOTSUPP:
	case ESOCKTNOSUPPORT:
		return HU_BADF;
	case EINVAL:
	case EFAULT:
	case EAFNOSUPPORT:
	case ENAMETOOLONG:
	case EDESTADDRREQ:
		return HU_INVAL;
	default:
		return HU_ERROR;
	}
}

int hu__status_errno(int *err_out)
{
	int err = errno;

	if (err_out)
		*err_out = err;
	return hu__status_of(err);
}

/*
 * A TCP connect() to an address that parsed can fail at once with errors
 * that elsewhere mean something else, and here mean that the kernel found
 * no way to the peer: EINVAL from a blackhole route (ip_route_connect()
 * gives RTN_BLACKHOLE's -EINVAL) or a link-local IPv6 address with no
 * interface (tcp_v6_connect()), EACCES from a prohibit route. They are
 * reported as unreachable, with the errno kept so that the user sees
 * which one it was.
 */
int hu__status_connect_errno(int *err_out)
{
	int err = errno;

	if (err_out)
		*err_out = err;
	if (err == EINVAL || err == EACCES)
		return HU_UNREACH;
	return hu__status_of(err);
}

void hu__errno_set(int err)
{
	if (err)
		errno = err;
}

const char *hu_strerror(int code)
{
	if (code >= 0)
		return "success";
	switch (code) {
	case HU_AGAIN:
		return "nothing now; wait for readiness";
	case HU_EOF:
		return "the peer finished sending (FIN)";
	case HU_RESET:
		return "the peer reset the connection (RST)";
	case HU_PIPE:
		return "can no longer send: the peer is gone or we shut down "
		       "writing";
	case HU_TIMEOUT:
		return "the peer is presumed dead: keepalive or user timeout "
		       "expired";
	case HU_UNREACH:
		return "host or network unreachable";
	case HU_REFUSED:
		return "connection refused";
	case HU_BADF:
		return "not an open socket of a supported kind";
	case HU_INVAL:
		return "invalid argument";
	case HU_ERROR:
		return "system error";
	default:
		return "unknown hangup status";
	}
}

/* names[-code] below relies on the codes running 0, -1, ..., HU_ERROR
 * without a gap; a code added last (STYLE.md) must extend the table. */
_Static_assert(HU_AGAIN == -1 && HU_EOF == -2 && HU_RESET == -3 &&
		   HU_PIPE == -4 && HU_TIMEOUT == -5 && HU_UNREACH == -6 &&
		   HU_REFUSED == -7 && HU_BADF == -8 && HU_INVAL == -9 &&
		   HU_ERROR == -10,
	       "hu_status_name() indexes its table by -code");

const char *hu_status_name(int code)
{
	static const char *const names[] = {
	    "HU_OK",   "HU_AGAIN",   "HU_EOF",     "HU_RESET",
	    "HU_PIPE", "HU_TIMEOUT", "HU_UNREACH", "HU_REFUSED",
	    "HU_BADF", "HU_INVAL",   "HU_ERROR",
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == 1 - HU_ERROR,
		       "one name per code, HU_OK to HU_ERROR");

	if (code >= 0)
		return names[0];
	if (code >= HU_ERROR)
		return names[-code];
	return "HU_UNKNOWN";
}

const char *hu_errno_name(int err)
{
	switch (err) {
#define E(x)    \
	case x: \
		return #x
		E(EPERM);
		E(ENOENT);
		E(EINTR);
		E(EIO);
		E(EBADF);
		E(EAGAIN);
		E(ENOMEM);
		E(EACCES);
		E(EFAULT);
		E(EBUSY);
		E(EEXIST);
		E(ENOTDIR);
		E(EISDIR);
		E(EINVAL);
		E(ENFILE);
		E(EMFILE);
		E(ENOSPC);
		E(EPIPE);
		E(ENAMETOOLONG);
		E(ENOTSOCK);
		E(EDESTADDRREQ);
		E(EMSGSIZE);
		E(EPROTOTYPE);
		E(ENOPROTOOPT);
		E(EPROTONOSUPPORT);
		E(ESOCKTNOSUPPORT);
		E(EOPNOTSUPP);
		E(EAFNOSUPPORT);
		E(EADDRINUSE);
		E(EADDRNOTAVAIL);
		E(ENETDOWN);
		E(ENETUNREACH);
		E(ENETRESET);
		E(ECONNABORTED);
		E(ECONNRESET);
		E(ENOBUFS);
		E(EISCONN);
		E(ENOTCONN);
		E(ESHUTDOWN);
		E(ETIMEDOUT);
		E(ECONNREFUSED);
		E(EHOSTDOWN);
		E(EHOSTUNREACH);
		E(EALREADY);
		E(EINPROGRESS);
		E(EPROTO);
#undef E
	default:
		return NULL;
	}
}

const char *hu_reason_name(int reason)
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

	if (reason < 0 || reason > HU_CLOSE_ERROR)
		return "?";
	return words[reason];
}

int hu_reason_from_status(int code)
{
	switch (code) {
	case HU_EOF:
		return HU_CLOSE_EOF;
	case HU_RESET:
	case HU_PIPE:
		return HU_CLOSE_RESET;
	case HU_TIMEOUT:
		return HU_CLOSE_TIMEOUT;
	case HU_UNREACH:
		return HU_CLOSE_UNREACH;
	case HU_REFUSED:
		return HU_CLOSE_REFUSED;
	default:
		return HU_CLOSE_ERROR;
	}
}

const char *hu_phase_name(int phase)
{
	static const char *const words[] = {
	    [HU_PHASE_CONNECTING] = "connecting",
	    [HU_PHASE_OPEN] = "open",
	    [HU_PHASE_PEER_DONE] = "peer-done",
	    [HU_PHASE_LOCAL_DONE] = "local-done",
	    [HU_PHASE_CLOSING] = "closing",
	};

	if (phase < 0 || phase > HU_PHASE_CLOSING)
		return "?";
	return words[phase];
}

const char *hu_peer_name(int peer)
{
	switch (peer) {
	case HU_PEER_OPEN:
		return "open";
	case HU_PEER_EOF:
		return "eof";
	case HU_PEER_GONE:
		return "gone";
	default:
		return "?";
	}
}

const char *hu_version(void)
{
	return HU_VERSION_STRING;
}

unsigned hu_version_number(void)
{
	return HU_VERSION_NUMBER;
}

/* The TCP state words of ss(8) and include/net/tcp_states.h. */
const char *hu_tcp_state_name(int s)
{
	static const char *const names[] = {
	    [HU__TCP_ESTABLISHED] = "ESTABLISHED",
	    [HU__TCP_SYN_SENT] = "SYN_SENT",
	    [HU__TCP_SYN_RECV] = "SYN_RECV",
	    [HU__TCP_FIN_WAIT1] = "FIN_WAIT1",
	    [HU__TCP_FIN_WAIT2] = "FIN_WAIT2",
	    [HU__TCP_TIME_WAIT] = "TIME_WAIT",
	    [HU__TCP_CLOSE] = "CLOSE",
	    [HU__TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	    [HU__TCP_LAST_ACK] = "LAST_ACK",
	    [HU__TCP_LISTEN] = "LISTEN",
	    [HU__TCP_CLOSING] = "CLOSING",
	};

	if (s == -1)
		return "UNIX";
	if (s <= 0 || s > HU__TCP_CLOSING || names[s] == NULL)
		return "?";
	return names[s];
}
