#!/usr/bin/env bash
# t-readme.sh -- the README's example client is compiled exactly as written
# and run against real peers: one that closes cleanly (FIN) and one that
# resets (SO_LINGER {1,0}). A README that lies fails here.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${HU_BUILD:-$top/build}
if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 (the peer) not installed"
	exit 0
fi
n=0 fail=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
tmp=$(mktemp -d)
peer_pid=
cleanup() { [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

echo "1..5"
sed -n '/<!-- example:begin -->/,/<!-- example:end -->/p' "$top/README.md" |
	sed '1,2d;$d' | sed '$d' >"$tmp/client.c"
grep -q 'hu_recv' "$tmp/client.c"
ok $? "the example is found in README.md"
${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror ${HU_SANFLAGS:-} \
	-I"$top/include" -o "$tmp/client" "$tmp/client.c" "$build/libhangup.a" 2>"$tmp/cc.err"
ok $? "it compiles with -Wall -Wextra -Werror$( [ -s "$tmp/cc.err" ] && echo ": $(head -3 "$tmp/cc.err")")"

# A one-connection peer on 127.0.0.1:0: reads the client's hello, answers,
# then closes cleanly (fin) or with an RST (rst). Prints its port first.
peer() {
	python3 - "$1" >"$tmp/port" <<'PY' &
import socket, struct, sys
mode = sys.argv[1]
s = socket.socket()
s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
s.settimeout(10)
c, _ = s.accept()
c.recv(64)
c.sendall(b"bye\n")
if mode == "rst":
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
PY
	peer_pid=$!
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
	cat "$tmp/port"
}

port=$(peer fin)
out=$(timeout 10 "$tmp/client" "127.0.0.1:$port" 2>&1); rc=$?
wait "$peer_pid" 2>/dev/null; peer_pid=
[ $rc -eq 0 ] && [ "$out" = "$(printf 'bye\nended: the peer finished sending (FIN)')" ]
ok $? "against a peer that closes: prints its data, then 'FIN', exit 0 (rc=$rc: $(printf "%s" "$out" | tr "\n" "|"))"

: >"$tmp/port"
port=$(peer rst)
out=$(timeout 10 "$tmp/client" "127.0.0.1:$port" 2>&1); rc=$?
wait "$peer_pid" 2>/dev/null; peer_pid=
[ $rc -eq 1 ] && printf '%s' "$out" | grep -q 'ended: the peer reset the connection (RST)'
ok $? "against a peer that resets: says RST, exit 1 (rc=$rc: $(printf "%s" "$out" | tr "\n" "|"))"

out=$(timeout 10 "$tmp/client" "127.0.0.1:notaport" 2>&1); rc=$?
[ $rc -eq 2 ]
ok $? "a malformed address: exit 2 (rc=$rc)"
exit $fail
