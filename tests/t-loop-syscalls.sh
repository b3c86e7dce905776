#!/usr/bin/env bash
# t-loop-syscalls.sh -- the loop is at the syscall floor: an echo of one
# message on an established connection costs one read and one write (and
# the epoll_wait that reported it); nothing else grows with the number of
# messages -- no epoll_ctl, getsockopt or ioctl per message. And a
# connection ended by the peer's FIN costs one read and one close, as in a
# hand-written epoll server: no EPOLL_CTL_DEL.
# Counted by strace -c over build/echo-server while a client does N
# ping-pongs of 64 bytes, then closes. Needs strace (skips without it).
#
# With HANGUP_BACKEND=io_uring (make test runs the loop's tests on both
# backends) the floor is lower, and this checks that one instead: no
# recv() at all (the multishot receive reads), one send per message, at
# most one io_uring_enter per message; a FIN costs one getsockopt
# (SO_ERROR: was the FIN followed by an RST?) and no close() call (an
# IORING_OP_CLOSE, queued behind the cancel).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${HU_BUILD:-$top/build}
if ! command -v strace >/dev/null 2>&1; then
	echo "1..0 # SKIP strace not installed"
	exit 0
fi
if [ -n "${HU_SAN:-}" ]; then
	# ASan's own bookkeeping adds syscalls that are not the loop's.
	echo "1..0 # SKIP syscall counts are taken on the plain build"
	exit 0
fi
. "$(dirname "$0")/lib/tap.sh"
tmp=$(mktemp -d)
spid=
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

cat >"$tmp/pp.c" <<'C'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
/* pp PORT N: N sequential 64-byte echoes, then close.
 * pp PORT -M: M connections, held open, then each closed (a FIN). */
static int fins(struct sockaddr_in *a, int m)
{
	int *fd = calloc((size_t)m, sizeof(int));
	struct timespec pause = {0, 300 * 1000 * 1000};

	for (int i = 0; i < m; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fd[i] < 0 ||
		    connect(fd[i], (struct sockaddr *)a, sizeof(*a)) < 0)
			return 1;
	}
	nanosleep(&pause, NULL); /* all accepted, all idle */
	for (int i = 0; i < m; i++)
		close(fd[i]);
	nanosleep(&pause, NULL); /* all ended */
	free(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	char buf[64] = {0};
	int n = atoi(argv[2]);

	a.sin_port = htons((unsigned short)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (n < 0)
		return fins(&a, -n);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		if (send(fd, buf, sizeof(buf), 0) != sizeof(buf))
			return 2;
		for (size_t got = 0; got < sizeof(buf);) {
			ssize_t r = recv(fd, buf + got, sizeof(buf) - got, 0);
			if (r <= 0)
				return 3;
			got += (size_t)r;
		}
	}
	close(fd);
	return 0;
}
C
${CC:-cc} -O2 -o "$tmp/pp" "$tmp/pp.c"
ok $? "the ping-pong client compiles"

# traced ARGS...: run the echo server under strace -c while the client
# `pp PORT ARGS...` runs, then stop it so strace writes $tmp/count.
traced() {
	strace -f -c -o "$tmp/count" "$build/echo-server" 127.0.0.1:0 >"$tmp/out" 2>&1 &
	spid=$!
	for _ in $(seq 100); do grep -q 'listening on' "$tmp/out" 2>/dev/null && break; sleep 0.05; done
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/out")
	"$tmp/pp" "$port" "$@"
	local rc=$?
	sleep 0.2
	# Stop the traced server (strace's child), so strace prints its table.
	server=$(pgrep -P "$spid" | head -1)
	[ -n "$server" ] && kill "$server"
	wait "$spid" 2>/dev/null
	spid=
	return $rc
}
calls() { awk -v s="$1" '$NF == s { print ($4 ~ /^[0-9]+$/) ? $4 : $3 }' "$tmp/count" | head -1; }

uring=
[ "${HANGUP_BACKEND:-}" = io_uring ] && uring=1
N=2000
traced "$N"
ok $? "$N echoes through build/echo-server under strace"
recv=$(calls recvfrom); send=$(calls sendto); ctl=$(calls epoll_ctl)
enter=$(calls io_uring_enter); setup=$(calls io_uring_setup)
recv=${recv:-0}; send=${send:-0}; ctl=${ctl:-0}; enter=${enter:-0}
sed 's/^/# /' "$tmp/count"
if [ -n "$uring" ]; then
	[ "${setup:-0}" -ge 1 ]
	ok $? "io_uring: the server runs on a ring (io_uring_setup ${setup:-0}: the ring, and the probe for 6.0)"
	[ "$recv" -eq 0 ] && [ "$enter" -le "$N" ]
	ok $? "io_uring: no recv ($recv recvfrom), at most one io_uring_enter per message ($enter for $N)"
else
	[ "$recv" -ge "$N" ] && [ "$recv" -le $((N + 2)) ]
	ok $? "one recv per message: $recv recvfrom for $N messages (+1 for the FIN)"
fi
[ "$send" -eq "$N" ]
ok $? "one send per message: $send sendto for $N messages"
# Everything but recvfrom, sendto and the wait: a fixed cost, not per
# message (setup, accept, the close).
other=$(awk '$NF ~ /^[a-z_0-9]+$/ && $NF != "recvfrom" && $NF != "sendto" &&
	$NF != "epoll_wait" && $NF != "io_uring_enter" && $NF != "total" &&
	$NF != "syscall" {
	c = ($4 ~ /^[0-9]+$/) ? $4 : $3; s += c; if (c > m) { m = c; w = $NF } }
	END { print s + 0, m + 0, w }' "$tmp/count")
set -- $other
[ "$2" -lt 50 ] && [ "$ctl" -le 2 ]
ok $? "nothing else grows with N: $1 other calls, most $2 ($3); epoll_ctl $ctl (the listener's ADD and the connection's)"

# The close path (issue 15): M idle connections, each ended by the peer's
# FIN, cost the server one recv() (it says 0) and one close() each, and
# the epoll_ctl ADD that registered it -- no EPOLL_CTL_DEL, no ioctl, no
# getsockopt: raw epoll's floor.
M=1000
traced -$M
ok $? "$M connections opened, then each closed by the client (a FIN)"
recv=$(calls recvfrom); cls=$(calls close); ctl=$(calls epoll_ctl); acc=$(calls accept4)
gso=$(calls getsockopt); enter=$(calls io_uring_enter)
recv=${recv:-0}; cls=${cls:-0}; ctl=${ctl:-0}; acc=${acc:-0}; gso=${gso:-0}
enter=${enter:-0}
sed 's/^/# /' "$tmp/count"
if [ -n "$uring" ]; then
	[ "$recv" -eq 0 ] && [ "$gso" -eq "$M" ]
	ok $? "io_uring: a FIN costs no recv ($recv) and one SO_ERROR ($gso getsockopt for $M)"
	[ "$cls" -le 5 ]
	ok $? "io_uring: no close() per connection ($cls): the ring closes them"
	[ "$ctl" -le 2 ] && [ "$enter" -le "$M" ]
	ok $? "io_uring: epoll_ctl only for the listener ($ctl), $enter io_uring_enter for $M"
	skip="getsockopt"
else
	[ "$recv" -eq "$M" ]
	ok $? "one recv per FIN: $recv recvfrom for $M connections"
	[ "$cls" -ge "$M" ] && [ "$cls" -le $((M + 5)) ]
	ok $? "one close per connection: $cls close for $M (+ the server's own few)"
	[ "$ctl" -eq $((M + 1)) ]
	ok $? "epoll_ctl only to register: $ctl for $M connections + the listener (no DEL on close)"
	skip="-"
fi
other=$(awk -v skip="$skip" '$NF ~ /^[a-z_0-9]+$/ && $NF != "recvfrom" &&
	$NF != "close" && $NF != "epoll_ctl" && $NF != "epoll_wait" &&
	$NF != "accept4" && $NF != "io_uring_enter" && $NF != skip &&
	$NF != "total" && $NF != "syscall" {
	c = ($4 ~ /^[0-9]+$/) ? $4 : $3; s += c; if (c > m) { m = c; w = $NF } }
	END { print s + 0, m + 0, w }' "$tmp/count")
set -- $other
[ "$2" -lt 50 ]
ok $? "nothing else per connection: $1 other calls, most $2 ($3)"
done_testing
