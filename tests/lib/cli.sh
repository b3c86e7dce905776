# cli.sh -- sourced by t-listen.sh and t-connect.sh: TAP helpers, the
# processes a test starts (killed by PID on exit, never by name), a private
# network namespace removed even when a test fails, and waiting on the
# tools' JSON lines.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${HU_BUILD:-$top/build}
H=$build/hangup
peer="perl $top/tests/lib/peer.pl"
for t in nc socat jq perl; do
	if ! command -v $t >/dev/null 2>&1; then
		echo "1..0 # SKIP $t not installed"
		exit 0
	fi
done
# -N, -U and the "Listening on" line of -lv are netcat-openbsd's.
if ! nc -h 2>&1 | grep -q OpenBSD; then
	echo "1..0 # SKIP nc is not netcat-openbsd"
	exit 0
fi
# Under ASan+UBSan every run is slower: stretch the time bounds.
slow=1
[ "${HU_SAN:-}" = 1 ] && slow=3

. "$top/tests/lib/tap.sh" # ok, skip, done_testing

tmp=$(mktemp -d)
pids=()
ns=
# fd 8: a FIFO open for reading and writing, so it never reaches EOF: the
# stdin of a peer that must stay connected (`nc ... <&8`), with no shell
# pipeline whose children would outlive a kill of its PID.
mkfifo "$tmp/hold" && exec 8<>"$tmp/hold"
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# bg CMD...: run in the background, remember its PID in $bg_pid. The
# explicit <&0 keeps the caller's stdin: without one, a background command
# of a non-interactive shell reads /dev/null.
bg() {
	"$@" <&0 &
	bg_pid=$!
	pids+=("$bg_pid")
}

# wait_for FILE PATTERN [SECONDS]: until FILE holds a line matching PATTERN.
wait_for() {
	local i limit=$(( ${3:-5} * 20 * slow ))
	for ((i = 0; i < limit; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# wait_exit PID [SECONDS]: until PID has exited; its status in $rc (or 124
# if it had to be killed: a hang).
wait_exit() {
	local i limit=$(( ${2:-5} * 20 * slow ))
	for ((i = 0; i < limit; i++)); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1"
			rc=$?
			return 0
		fi
		sleep 0.05
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	rc=124
	return 1
}

# start_nc NAME [NC-ARGS...]: nc -lv 127.0.0.1 0 (stdin from $nc_in, else
# the never-ending FIFO; NC_NS=ns runs it inside that namespace), its
# output in $tmp/NAME.out; sets $ncpid, $port.
start_nc() {
	local name=$1
	shift
	bg ${NC_NS:+ip netns exec "$NC_NS"} nc -lv "$@" 127.0.0.1 0 <"${nc_in:-$tmp/hold}" \
		>"$tmp/$name.out" 2>"$tmp/$name.err"
	ncpid=$bg_pid
	wait_for "$tmp/$name.err" 'Listening on' || return 1
	port=$(awk '/Listening on/ { print $NF }' "$tmp/$name.err")
}

# none_left: true when no hangup this test started is still running.
none_left() {
	local p
	for p in "${pids[@]}"; do
		kill -0 "$p" 2>/dev/null && [ "$(cat /proc/$p/comm 2>/dev/null)" = hangup ] && return 1
	done
	return 0
}

# start_listen NAME [ARGS...]: `hangup listen --json ARGS 127.0.0.1:0`,
# stdout in $tmp/NAME.json, stderr in $tmp/NAME.err; sets $lpid and $port
# from the listening event. LISTEN_NS=ns runs it inside that namespace.
# stdin is /dev/null: with --max-conns 1 listen sends its stdin to the
# peer (nc -l), and a test run from a terminal must not feed it keystrokes.
start_listen() {
	local name=$1
	shift
	if [ -n "${LISTEN_NS:-}" ]; then
		bg ip netns exec "$LISTEN_NS" "$H" listen --json "$@" 127.0.0.1:0 \
			</dev/null >"$tmp/$name.json" 2>"$tmp/$name.err"
	else
		bg "$H" listen --json "$@" 127.0.0.1:0 </dev/null >"$tmp/$name.json" 2>"$tmp/$name.err"
	fi
	lpid=$bg_pid
	wait_for "$tmp/$name.json" '"event":"listening"' || return 1
	port=$(jq -r 'select(.event == "listening") | .addr' "$tmp/$name.json")
	port=${port##*:}
}

# field FILE EVENT KEY [CONN]: KEY of the last EVENT line (of conn CONN).
field() {
	jq -r --arg e "$2" --arg k "$3" --arg c "${4:-}" \
		'select(.event == $e and ($c == "" or (.conn | tostring) == $c)) | .[$k] // "null"' \
		<"$1" 2>/dev/null | tail -1
}

# close_is FILE WANT...: the last close line has KEY=VALUE for each WANT;
# prints what differed.
close_is() {
	local f=$1 kv k v got bad=0
	shift
	for kv in "$@"; do
		k=${kv%%=*} v=${kv#*=}
		got=$(field "$f" close "$k")
		if [ "$got" != "$v" ]; then
			echo "# $k: want $v, got $got" >&2
			bad=1
		fi
	done
	return $bad
}

# summary FILE: the last close line in words, for test names.
summary() {
	jq -r 'select(.event == "close") | "\(.reason)/\(.errno)/\(.phase) in=\(.bytes_in) out=\(.bytes_out) undelivered=\(.undelivered) ms=\(.ms)"' \
		<"$1" 2>/dev/null | tail -1
}

# one_line_error CMD...: runs CMD; passes if it exits $want, prints
# exactly one line on stderr that starts "hangup " and nothing on stdout.
one_line_error() {
	local want=$1
	shift
	"$@" >"$tmp/ole.out" 2>"$tmp/ole.err" </dev/null
	rc=$?
	msg=$(cat "$tmp/ole.err")
	[ "$rc" -eq "$want" ] && [ "$(wc -l <"$tmp/ole.err")" -eq 1 ] &&
		grep -q '^hangup ' "$tmp/ole.err" && [ ! -s "$tmp/ole.out" ]
}

# new_ns: a private network namespace with lo up, in $ns (deleted on exit).
new_ns() {
	ns=hu_t_$(basename "$0" .sh | tr -c 'a-z0-9\n' _)_$$
	ip netns add "$ns" && ip netns exec "$ns" ip link set lo up
}
# drop_tcp: inside $ns, nft drops every TCP packet that comes in -- the
# peer vanishes as a crashed host or a cut cable would (`nft flush ruleset`
# inside $ns undoes it).
drop_tcp() {
	ip netns exec "$ns" nft -f - <<'NFT'
table inet hu_t {
	chain in {
		type filter hook input priority 0;
		meta l4proto tcp drop
	}
}
NFT
}
# end_ns: delete $ns now (cleanup would, at exit).
end_ns() {
	ip netns del "$ns"
	ns=
}
can_netns() { [ "$(id -u)" -eq 0 ] && command -v nft >/dev/null 2>&1 && command -v ip >/dev/null 2>&1; }
