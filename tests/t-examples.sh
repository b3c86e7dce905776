#!/usr/bin/env bash
# t-examples.sh -- the examples as a user tries them, against real peers:
# echo-server with nc and socat (a short line, 4 MiB checked byte for byte,
# a peer that sends 64 MiB and never reads: the server's memory must stay
# bounded by its high-water mark); client-liveness against a server that
# closes (eof, exit 0), a refused port (exit 1), and -- as root, in a
# private namespace with nft dropping its packets -- a server that
# vanished (timeout within the bound hu_liveness documents).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${HU_BUILD:-$top/build}
for t in nc socat; do
	if ! command -v $t >/dev/null 2>&1; then
		echo "1..0 # SKIP $t not installed"
		exit 0
	fi
done
. "$(dirname "$0")/lib/tap.sh"
tmp=$(mktemp -d)
pids=()
ns=
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# start_echo FILE [NETNS]: run echo-server on 127.0.0.1:0, print its port.
start_echo() {
	if [ -n "${2:-}" ]; then
		ip netns exec "$2" "$build/echo-server" 127.0.0.1:${3:-0} >"$1" 2>&1 &
	else
		"$build/echo-server" 127.0.0.1:0 >"$1" 2>&1 &
	fi
	pids+=($!)
	echo_pid=$!
	for _ in $(seq 100); do grep -q 'listening on' "$1" 2>/dev/null && break; sleep 0.05; done
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1")
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

start_echo "$tmp/echo.out"
out=$(printf 'hello\n' | timeout 5 nc -N 127.0.0.1 "$port")
[ "$out" = hello ]
ok $? "echo-server echoes a line to nc (got '$out')"
backend_check "$echo_pid" echo-server

head -c $((4 << 20)) /dev/urandom >"$tmp/big"
timeout 20 socat -t5 - "TCP:127.0.0.1:$port" <"$tmp/big" >"$tmp/back"
cmp -s "$tmp/big" "$tmp/back"
ok $? "4 MiB through socat come back intact"

# A peer that sends and never reads: the echo must stop reading (pause at
# the high-water mark), so the server's memory stays bounded.
base=$(rss_kb "$echo_pid")
head -c $((64 << 20)) /dev/zero | timeout 5 socat -u - "TCP:127.0.0.1:$port" >/dev/null 2>&1 &
sender=$!
pids+=($sender)
sleep 3
grown=$(( $(rss_kb "$echo_pid") - base ))
kill "$sender" 2>/dev/null
[ "$grown" -lt 4096 ]
ok $? "a peer that never reads: the server grew ${grown} KiB, not 64 MiB"
kill -0 "$echo_pid"
ok $? "and the server is still alive"

# client-liveness: the server closes (SIGTERM: the kernel sends FIN).
( sleep 1.5; kill "$echo_pid" ) &
out=$(timeout 10 "$build/client-liveness" "127.0.0.1:$port" 3000); rc=$?
printf '%s\n' "$out" | grep -q '^closed: eof' && [ $rc -eq 0 ]
ok $? "client-liveness: the server's close is eof, exit 0 (rc=$rc: $(printf '%s' "$out" | tail -1))"

# A refused port: the one echo-server just freed.
out=$(timeout 10 "$build/client-liveness" "127.0.0.1:$port" 3000); rc=$?
printf '%s\n' "$out" | grep -q '^closed: refused (ECONNREFUSED)' && [ $rc -eq 1 ]
ok $? "client-liveness: a closed port is refused, exit 1 (rc=$rc)"

out=$(timeout 5 "$build/client-liveness" "nonsense" 3000 2>&1); rc=$?
[ $rc -eq 2 ]
ok $? "client-liveness: a malformed address is a usage error (rc=$rc)"

# A server that vanishes: in a private namespace, drop every packet to it.
if [ "$(id -u)" -ne 0 ] || ! command -v nft >/dev/null 2>&1; then
	skip "needs root and nft for a private namespace"
	skip "needs root and nft for a private namespace"
else
	ns=hu_t_examples_$$
	ip netns add "$ns" && ip netns exec "$ns" ip link set lo up
	start_echo "$tmp/echo2.out" "$ns" 7000
	( sleep 2.5; ip netns exec "$ns" nft -f - <<'NFT'
table inet hu_t {
	chain in {
		type filter hook input priority 0;
		tcp dport 7000 drop
	}
}
NFT
	date +%s%N >"$tmp/dropped" ) &
	out=$(ip netns exec "$ns" timeout 20 "$build/client-liveness" 127.0.0.1:7000 3000); rc=$?
	end=$(date +%s%N)
	took=$(( (end - $(cat "$tmp/dropped")) / 1000000 ))
	printf '%s\n' "$out" | grep -q '^closed: timeout (ETIMEDOUT)' && [ $rc -eq 1 ]
	ok $? "client-liveness: a vanished server is a timeout ($(printf '%s' "$out" | tail -1))"
	# Busy (a ping each second): the user timeout counts from the first
	# retransmission of the next ping: at most 1 s + RTO + 3 s.
	[ "$took" -ge 2500 ] && [ "$took" -le 5500 ]
	ok $? "detected ${took} ms after the drop (liveness 3000, ping every 1000)"
	ip netns del "$ns"
	ns=
fi
done_testing
