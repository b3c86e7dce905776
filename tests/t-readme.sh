#!/usr/bin/env bash
# t-readme.sh -- the README's example client is compiled exactly as written
# and run against real peers: one that closes cleanly (FIN) and one that
# resets (SO_LINGER {1,0}). A README that lies fails here.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${HU_BUILD:-$top/build}
peer_bin=$build/tests/helper/peer
if [ ! -x "$peer_bin" ]; then
	echo "1..0 # SKIP $peer_bin (the peer) not built"
	exit 0
fi
. "$(dirname "$0")/lib/tap.sh"
tmp=$(mktemp -d)
peer_pid=
cleanup() { [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

sed -n '/<!-- example:begin -->/,/<!-- example:end -->/p' "$top/README.md" |
	sed '1,2d;$d' | sed '$d' >"$tmp/client.c"
grep -q 'hu_recv' "$tmp/client.c"
ok $? "the example is found in README.md"
${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror ${HU_SANFLAGS:-} \
	-I"$top/include" -o "$tmp/client" "$tmp/client.c" "$build/libhangup.a" 2>"$tmp/cc.err"
ok $? "it compiles with -Wall -Wextra -Werror$( [ -s "$tmp/cc.err" ] && echo ": $(head -3 "$tmp/cc.err")")"

# A one-connection peer on loopback port 0 (tests/helper/peer.c, libc only):
# reads the client's hello, answers, then closes cleanly (fin) or with an RST
# (rst). It prints its port first. Started in this shell, not in $(...), so
# that $peer_pid is ours to wait for and to kill on the way out. Not on
# 127.0.0.1, whose ephemeral ports other programs' TIME_WAIT sockets may
# hold on a shared box: an address of 127.0.0.0/8 of our own.
host=127.$(($$ % 250 + 1)).$(($$ / 250 % 250 + 1)).4
start_peer() {
	: >"$tmp/port"
	"$peer_bin" "$1" "$host" >"$tmp/port" &
	peer_pid=$!
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
	port=$(cat "$tmp/port")
}
# The peer's own exit status: it must have seen the client and closed.
end_peer() { wait "$peer_pid"; peer_rc=$?; peer_pid=; }

start_peer fin
out=$(timeout 10 "$tmp/client" "$host:$port" 2>&1); rc=$?
end_peer
[ $rc -eq 0 ] && [ $peer_rc -eq 0 ] &&
	[ "$out" = "$(printf 'bye\nended: the peer finished sending (FIN)')" ]
ok $? "against a peer that closes: prints its data, then 'FIN', exit 0 (rc=$rc peer=$peer_rc: $(printf "%s" "$out" | tr "\n" "|"))"

start_peer rst
out=$(timeout 10 "$tmp/client" "$host:$port" 2>&1); rc=$?
end_peer
[ $rc -eq 1 ] && [ $peer_rc -eq 0 ] &&
	printf '%s' "$out" | grep -q 'ended: the peer reset the connection (RST)'
ok $? "against a peer that resets: says RST, exit 1 (rc=$rc peer=$peer_rc: $(printf "%s" "$out" | tr "\n" "|"))"

out=$(timeout 10 "$tmp/client" "127.0.0.1:notaport" 2>&1); rc=$?
[ $rc -eq 2 ]
ok $? "a malformed address: exit 2 (rc=$rc)"
done_testing
