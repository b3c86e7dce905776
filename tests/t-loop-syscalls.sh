#!/usr/bin/env bash
# t-loop-syscalls.sh -- the loop's data path is at the syscall floor: an
# echo of one message on an established connection costs one read and one
# write (and the epoll_wait that reported it); nothing else grows with the
# number of messages -- no epoll_ctl, getsockopt or ioctl per message.
# Counted by strace -c over build/echo-server while a client does N
# ping-pongs of 64 bytes, then closes. Needs strace (skips without it).
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
#include <unistd.h>
/* pp PORT N: N sequential 64-byte echoes, then close. */
int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	char buf[64] = {0};
	int n = atoi(argv[2]);

	a.sin_port = htons((unsigned short)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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

N=2000
strace -f -c -o "$tmp/count" "$build/echo-server" 127.0.0.1:0 >"$tmp/out" 2>&1 &
spid=$!
for _ in $(seq 100); do grep -q 'listening on' "$tmp/out" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/out")
"$tmp/pp" "$port" "$N"
ok $? "$N echoes through build/echo-server under strace"
sleep 0.2
# Stop the traced server (strace's child), so strace prints its table.
server=$(pgrep -P "$spid" | head -1)
[ -n "$server" ] && kill "$server"
wait "$spid" 2>/dev/null
spid=
calls() { awk -v s="$1" '$NF == s { print ($4 ~ /^[0-9]+$/) ? $4 : $3 }' "$tmp/count" | head -1; }
recv=$(calls recvfrom); send=$(calls sendto); ctl=$(calls epoll_ctl)
recv=${recv:-0}; send=${send:-0}; ctl=${ctl:-0}
sed 's/^/# /' "$tmp/count"
[ "$recv" -ge "$N" ] && [ "$recv" -le $((N + 2)) ]
ok $? "one recv per message: $recv recvfrom for $N messages (+1 for the FIN)"
[ "$send" -eq "$N" ]
ok $? "one send per message: $send sendto for $N messages"
# Everything but recvfrom, sendto and epoll_wait: a fixed cost, not per
# message (setup, accept, the close).
other=$(awk '$NF ~ /^[a-z_0-9]+$/ && $NF != "recvfrom" && $NF != "sendto" &&
	$NF != "epoll_wait" && $NF != "total" && $NF != "syscall" {
	c = ($4 ~ /^[0-9]+$/) ? $4 : $3; s += c; if (c > m) { m = c; w = $NF } }
	END { print s + 0, m + 0, w }' "$tmp/count")
set -- $other
[ "$2" -lt 50 ] && [ "$ctl" -le 3 ]
ok $? "nothing else grows with N: $1 other calls, most $2 ($3); epoll_ctl $ctl"
done_testing
