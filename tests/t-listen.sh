#!/usr/bin/env bash
# t-listen.sh -- `hangup listen` against real peers (nc, socat, and
# tests/lib/peer.pl where neither can play the part), asserting on its JSON
# lines with jq: the reason, errno, phase and byte counts of a clean close,
# a half-close, an echo, a reset, a peer killed with unread data, an idle
# timeout, 1 MiB in and out, --max-conns, SIGTERM/SIGINT, a closed stdout,
# a Unix socket, IPv6, JSON escaping, bad input -- and, as root, a peer
# that vanished (private namespace, nft drop, --liveness).
. "$(dirname "$0")/lib/cli.sh"


# ---- help and bad input ----
"$H" listen --help >"$tmp/help" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q -- '--max-conns N' "$tmp/help" && grep -q 'reason=REASON' "$tmp/help"
ok $? "--help: usage with the options and the line format, exit 0 (rc=$rc)"

one_line_error 2 "$H" listen 127.0.0.1:70000 &&
	grep -q "port 70000 out of range (0-65535) in '127.0.0.1:70000'" "$tmp/ole.err"
ok $? "port out of range: one line, exit 2 ($msg)"
one_line_error 2 "$H" listen 'localhost:http'
ok $? "malformed address: one line, exit 2 ($msg)"
one_line_error 2 "$H" listen "unix:$tmp/$(printf 'x%.0s' $(seq 120))" &&
	grep -q 'Unix socket path too long' "$tmp/ole.err"
ok $? "Unix path too long: one line, exit 2 ($(cut -c1-60 "$tmp/ole.err")...)"
one_line_error 2 "$H" listen --frobnicate :0
ok $? "unknown option: one line, exit 2 ($msg)"
one_line_error 2 "$H" listen --echo --discard :0
ok $? "--echo with --discard: one line, exit 2 ($msg)"
one_line_error 2 "$H" listen --idle soon :0
ok $? "a bad --idle value: one line, exit 2 ($msg)"

# ---- the listening event, port 0 ----
start_listen a
jq -e 'select(.event == "listening") | (.addr | test("^127\\.0\\.0\\.1:[0-9]+$")) and
	.t >= 0 and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))' \
	"$tmp/a.json" >/dev/null && [ "$port" -gt 0 ]
ok $? "port 0: the first event is listening, with the bound address ($port)"
backend_check "$lpid" "hangup listen"

one_line_error 1 "$H" listen "127.0.0.1:$port" && grep -q EADDRINUSE "$tmp/ole.err"
ok $? "a port in use: one line naming EADDRINUSE, exit 1 ($msg)"

# ---- a clean close, the peer half-closing first (nc -N) ----
printf 'hello' | timeout 5 nc -N 127.0.0.1 "$port" >/dev/null
wait_for "$tmp/a.json" '"event":"close"'
jq -r .event "$tmp/a.json" | tr '\n' ' ' | grep -q '^listening open eof close $'
ok $? "nc -N: events listening, open, eof, close ($(jq -r .event "$tmp/a.json" | tr '\n' ' '))"
close_is "$tmp/a.json" reason=eof errno=null phase=peer-done bytes_in=5 bytes_out=0 undelivered=0 conn=1
ok $? "clean close: eof, no errno, after the peer's FIN, 5 bytes in ($(summary "$tmp/a.json"))"
[ "$(field "$tmp/a.json" eof bytes_in)" = 5 ] && [ "$(field "$tmp/a.json" open peer)" = "$(field "$tmp/a.json" close peer)" ] &&
	[ "$(field "$tmp/a.json" close peer | sed 's/:[0-9]*$//')" = 127.0.0.1 ]
ok $? "the eof line counts the bytes before the FIN; open and close name the same peer"

# --json: stdout holds JSON lines and nothing else, each with every field.
jq -e -s 'all(.[]; has("event") and has("t") and has("time")) and
	all(.[] | select(.event != "listening"); has("conn") and has("peer") and has("reason") and
	has("phase") and has("errno") and has("bytes_in") and has("bytes_out") and
	has("undelivered") and has("ms"))' "$tmp/a.json" >/dev/null &&
	[ "$(wc -l <"$tmp/a.json")" -eq "$(jq -s length "$tmp/a.json")" ] && ! grep -q hello "$tmp/a.json"
ok $? "--json: every stdout line is one JSON object with DESIGN.md's fields; the data is not printed"

# ---- a reset: the peer closes with SO_LINGER {1,0} ----
$peer connect "$port" rst
wait_for "$tmp/a.json" '"event":"close","conn":2,'
close_is "$tmp/a.json" conn=2 reason=reset errno=ECONNRESET phase=open bytes_in=3
ok $? "peer reset (SO_LINGER {1,0}): reset, ECONNRESET, phase open, 3 bytes in ($(summary "$tmp/a.json"))"

# ---- idle: a peer that says nothing ----
# The idle close is graceful: our FIN after 300 ms of silence, then the
# linger (1 s in the tool) for the peer's FIN. nc never answers a FIN (it
# waits on its stdin), so the linger runs out: errno ETIMEDOUT.
kill "$lpid"
wait_exit "$lpid"
start_listen idle --idle 300
bg nc 127.0.0.1 "$port" <&8 >/dev/null
nc_pid=$bg_pid
wait_for "$tmp/idle.json" '"event":"close"' 4
close_is "$tmp/idle.json" reason=idle errno=ETIMEDOUT phase=open bytes_in=0 undelivered=0 &&
	ms=$(field "$tmp/idle.json" close ms) && [ "$ms" -ge 1300 ] && [ "$ms" -lt $((2500 * slow)) ]
ok $? "--idle 300: a silent peer gets our FIN at 300 ms; nc never answers it, so the 1 s linger ends it: idle, ETIMEDOUT ($(summary "$tmp/idle.json"))"
kill "$nc_pid" 2>/dev/null
# socat answers our FIN with its own (-t 0.1): a clean idle close.
bg sh -c "sleep 5 | exec socat -t0.1 - TCP:127.0.0.1:$port >/dev/null"
wait_for "$tmp/idle.json" '"event":"close","conn":2,' 4
close_is "$tmp/idle.json" conn=2 reason=idle errno=null phase=open bytes_in=0 &&
	ms=$(field "$tmp/idle.json" close ms 2) && [ "$ms" -ge 300 ] && [ "$ms" -lt $((1000 * slow)) ]
ok $? "--idle 300: a peer that answers our FIN ends it cleanly: idle, no errno, phase open ($(summary "$tmp/idle.json"))"
kill "$lpid"
wait_exit "$lpid"

# ---- echo: the peer's FIN comes first, our echo still reaches it ----
start_listen echo --echo
out=$(printf 'hello' | timeout 5 nc -N 127.0.0.1 "$port")
wait_for "$tmp/echo.json" '"event":"close"'
[ "$out" = hello ] && close_is "$tmp/echo.json" reason=eof phase=peer-done bytes_in=5 bytes_out=5 undelivered=0
ok $? "--echo: nc -N gets its 5 bytes back after its own FIN; eof, 5 in, 5 out ($(summary "$tmp/echo.json"))"

head -c $((1 << 20)) /dev/urandom >"$tmp/big"
timeout 20 socat -t5 - "TCP:127.0.0.1:$port" <"$tmp/big" >"$tmp/back"
wait_for "$tmp/echo.json" '"event":"close","conn":2,'
cmp -s "$tmp/big" "$tmp/back" && close_is "$tmp/echo.json" conn=2 reason=eof bytes_in=1048576 bytes_out=1048576 undelivered=0
ok $? "--echo: 1 MiB through socat comes back intact; bytes_in = bytes_out = 1048576 ($(summary "$tmp/echo.json"))"

# A peer killed while our echo sits unread in its socket: the kernel
# answers with RST, not FIN (kernel-truth.md, 6).
bg perl "$top/tests/lib/peer.pl" connect "$port" sleep >"$tmp/sleeper"
sleeper=$bg_pid
wait_for "$tmp/sleeper" sent
sleep 0.3
{ kill -9 "$sleeper"; wait "$sleeper"; } 2>/dev/null
wait_for "$tmp/echo.json" '"event":"close","conn":3,'
close_is "$tmp/echo.json" conn=3 reason=reset errno=ECONNRESET phase=open bytes_in=5 bytes_out=5
ok $? "peer killed with our echo unread: reset, ECONNRESET ($(summary "$tmp/echo.json"))"

# ---- backpressure: a peer that sends 64 MiB and never reads our echo ----
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
base=$(rss_kb "$lpid")
bg sh -c "head -c $((64 << 20)) /dev/zero | exec socat -u - TCP:127.0.0.1:$port"
flood=$bg_pid
sleep 2
grown=$(( $(rss_kb "$lpid") - base ))
kill "$flood" 2>/dev/null
[ "$grown" -lt 4096 ]
ok $? "--echo to a peer that never reads: paused at the high-water mark, grew ${grown} KiB, not 64 MiB"
wait_for "$tmp/echo.json" '"event":"close","conn":4,'
sleep 0.2

# ---- SIGTERM with a connection open: it is closed, locally ----
bg nc 127.0.0.1 "$port" <&8 >/dev/null
nc_pid=$bg_pid
wait_for "$tmp/echo.json" '"event":"open","conn":5,'
kill -TERM "$lpid"
wait_exit "$lpid" 5
[ $rc -eq 0 ] && close_is "$tmp/echo.json" conn=5 reason=local phase=closing
ok $? "SIGTERM: exit 0 (rc=$rc), the open connection closed with reason local ($(summary "$tmp/echo.json"))"
kill "$nc_pid" 2>/dev/null

# ---- bytes that cross our FIN: counted in bytes_in, said as discarded ----
start_listen late
perl "$top/tests/lib/peer.pl" connect "$port" late &
late_pid=$!
wait_for "$tmp/late.json" '"event":"open"'
sleep 0.3 # "abc" is in
kill -TERM "$lpid"
wait_exit "$lpid" 5
wait "$late_pid"
[ $rc -eq 0 ] && close_is "$tmp/late.json" reason=local errno=null phase=closing bytes_in=8 discarded=5
ok $? "SIGTERM's graceful close reads the 5 bytes that cross our FIN: bytes_in=8, discarded=5 ($(summary "$tmp/late.json"))"

# SIGINT likewise. A script's background job starts with SIGINT ignored,
# and the tool keeps an ignored signal ignored: perl puts it back first.
bg perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV' "$H" listen --json 127.0.0.1:0 >"$tmp/int.json" 2>"$tmp/int.err"
lpid=$bg_pid
wait_for "$tmp/int.json" listening
port=$(jq -r .addr "$tmp/int.json" | sed 's/.*://')
bg nc 127.0.0.1 "$port" <&8 >/dev/null
nc_pid=$bg_pid
wait_for "$tmp/int.json" '"event":"open"'
kill -INT "$lpid"
wait_exit "$lpid" 5
[ $rc -eq 0 ] && close_is "$tmp/int.json" reason=local
ok $? "SIGINT: exit 0 (rc=$rc), the connection closed with reason local ($(summary "$tmp/int.json"))"
kill "$nc_pid" 2>/dev/null

# ---- discard, and text mode: data on stdout, events on stderr ----
start_listen discard --discard
timeout 20 socat -u "FILE:$tmp/big" "TCP:127.0.0.1:$port"
wait_for "$tmp/discard.json" '"event":"close"'
close_is "$tmp/discard.json" reason=eof bytes_in=1048576 bytes_out=0
ok $? "--discard: 1 MiB from socat counted in, nothing out ($(summary "$tmp/discard.json"))"
kill "$lpid"
wait_exit "$lpid"

bg "$H" listen --max-conns 1 127.0.0.1:0 </dev/null >"$tmp/text.out" 2>"$tmp/text.err"
lpid=$bg_pid
wait_for "$tmp/text.err" listening
port=$(sed -n 's/^hangup: \[ *[0-9.]*\] listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/text.err")
timeout 20 socat -u "FILE:$tmp/big" "TCP:127.0.0.1:$port"
wait_exit "$lpid" 5
cmp -s "$tmp/big" "$tmp/text.out"
ok $? "text mode: the 1 MiB received is on stdout, byte for byte, and nothing else"
re='^hangup: \[ *[0-9]+\.[0-9]{3}\] #1 127\.0\.0\.1:[0-9]+ close reason=eof errno=- phase=peer-done in=1048576 out=0 undelivered=0 ms=[0-9]+$'
grep -Eq "$re" "$tmp/text.err" && [ "$(wc -l <"$tmp/text.err")" -eq 4 ]
ok $? "text mode: four event lines on stderr, the close line as documented ($(grep close "$tmp/text.err" | cut -c1-100))"
[ $rc -eq 0 ]
ok $? "--max-conns 1: exits 0 once its one connection has closed (rc=$rc)"

# ---- a stdout nobody reads: the connections with data for it wait (one
# with nothing to print is still served), and a signal still ends the
# tool: the paused sender is closed within the linger, stdout given up ----
bg "$H" listen 127.0.0.1:0 2>"$tmp/stuck.err" > >(sleep 30)
lpid=$bg_pid
wait_for "$tmp/stuck.err" listening
port=$(sed -n 's/^hangup: \[ *[0-9.]*\] listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/stuck.err")
base=$(rss_kb "$lpid")
bg sh -c "head -c $((64 << 20)) /dev/zero | exec socat -u - TCP:127.0.0.1:$port"
flood=$bg_pid
sleep 2
grown=$(( $(rss_kb "$lpid") - base ))
timeout 5 nc -N 127.0.0.1 "$port" </dev/null >/dev/null
ncrc=$?
t0=$(date +%s%N)
kill -TERM "$lpid"
wait_exit "$lpid" 5
took=$(( ($(date +%s%N) - t0) / 1000000 ))
kill "$flood" 2>/dev/null
[ "$grown" -lt 4096 ] && [ $ncrc -eq 0 ] && grep -q '#2 .* close reason=eof' "$tmp/stuck.err"
ok $? "stdout stuck: the sender is paused (grew ${grown} KiB), another connection still served"
[ $rc -eq 0 ] && [ "$took" -lt $((4000 * slow)) ]
ok $? "stdout stuck: SIGTERM still ends it, in ${took} ms (rc=$rc)"

# ---- backpressure is not silence: a connection paused because our stdout
# is slow is not idle (it was closed with an RST and its data lost) ----
bg "$H" listen --idle 500 --max-conns 1 127.0.0.1:0 2>"$tmp/bp.err" \
	> >(sleep 2; wc -c >"$tmp/bp.count")
lpid=$bg_pid
wait_for "$tmp/bp.err" listening
port=$(sed -n 's/^hangup: \[ *[0-9.]*\] listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/bp.err")
head -c 10000000 /dev/zero | timeout 30 "$H" connect "127.0.0.1:$port" 2>"$tmp/bp.cerr"
crc=$?
wait_exit "$lpid" 10
wait_for "$tmp/bp.count" '[0-9]' 5
[ $crc -eq 0 ] && [ "$(cat "$tmp/bp.count")" -eq 10000000 ] &&
	grep -q 'close reason=eof .* in=10000000 ' "$tmp/bp.err"
ok $? "--idle 500 with stdout read after 2 s: not idle, all 10000000 bytes through, connect exits 0 (rc=$crc; $(grep -o 'close reason=[^ ]* .* in=[0-9]*' "$tmp/bp.err"))"

# ---- --max-conns 2: two connections, then no more ----
start_listen max --max-conns 2
printf a | timeout 5 nc -N 127.0.0.1 "$port" >/dev/null
bg nc 127.0.0.1 "$port" <&8 >/dev/null
nc_pid=$bg_pid
wait_for "$tmp/max.json" '"event":"open","conn":2,'
timeout 5 nc -z 127.0.0.1 "$port"
refused=$?
kill "$nc_pid"
wait_exit "$lpid" 5
[ $refused -ne 0 ] && [ $rc -eq 0 ] && [ "$(jq -s '[.[] | select(.event == "close")] | length' "$tmp/max.json")" -eq 2 ]
ok $? "--max-conns 2: a third connect is refused; exit 0 after the second closes (rc=$rc)"

# ---- stdout closed under us: EPIPE ends the tool, it does not hang ----
bg "$H" listen --json 127.0.0.1:0 2>"$tmp/pipe.err" > >(head -1 >"$tmp/pipe.first")
pipe_pid=$bg_pid
wait_for "$tmp/pipe.first" listening
port=$(jq -r .addr "$tmp/pipe.first" | sed 's/.*://')
printf x | timeout 5 nc -N 127.0.0.1 "$port" >/dev/null
wait_exit "$pipe_pid" 5
[ $rc -ne 124 ] && grep -q 'stdout: Broken pipe (EPIPE)' "$tmp/pipe.err"
ok $? "stdout closed (| head -1): the next event meets EPIPE, one line, the tool exits ($(cat "$tmp/pipe.err"))"

# ---- a Unix socket ----
bg "$H" listen --json --echo "unix:$tmp/s" >"$tmp/unix.json" 2>"$tmp/unix.err"
lpid=$bg_pid
wait_for "$tmp/unix.json" listening
out=$(printf 'hi' | timeout 5 nc -N -U "$tmp/s")
wait_for "$tmp/unix.json" '"event":"close"'
[ "$out" = hi ] && [ "$(field "$tmp/unix.json" listening addr)" = "unix:$tmp/s" ] &&
	close_is "$tmp/unix.json" reason=eof bytes_in=2 bytes_out=2
ok $? "unix:PATH: nc -U gets its echo; eof ($(summary "$tmp/unix.json"))"
kill "$lpid"
wait_exit "$lpid"
[ ! -e "$tmp/s" ]
ok $? "unix:PATH: the socket file is removed when the tool ends"

# ---- a terminal: stdout and stderr on one pty (script(1)), peers that
# send "abc" and "xyz" with no newline: the event line after the first,
# and the SIGTERM diagnostic after the second, start lines of their own
# instead of running on as "abchangup: ..." (SIGTERM: a background job's
# SIGINT is ignored, and hangup leaves an inherited SIG_IGN alone).
# "exec": script(1) runs the command with $SHELL -c, or /bin/sh when
# SHELL is unset (as under CI); dash forks for it, so without exec the
# tool would be a grandchild and pgrep -P would find the shell ----
bg script -qefc "exec $H listen unix:$tmp/tty.s" "$tmp/tty.out" </dev/null >/dev/null
spid=$bg_pid
wait_for "$tmp/tty.out" listening
printf 'abc' | timeout 5 nc -N -U "$tmp/tty.s"
wait_for "$tmp/tty.out" '#1 unix: close'
{ printf 'xyz'; sleep 3; } | timeout 10 nc -U "$tmp/tty.s" >/dev/null &
ncpid=$!
wait_for "$tmp/tty.out" xyz
hpid=$(pgrep -P "$spid" -x hangup)
[ -n "$hpid" ]
ok $? "under script(1), the tool is script's own child (pid ${hpid:-none})"
[ -n "$hpid" ] && kill -TERM "$hpid"
wait_exit "$spid"
kill "$ncpid" 2>/dev/null
wait "$ncpid" 2>/dev/null
tr -d '\r' <"$tmp/tty.out" >"$tmp/tty.txt"
awk 'prev == "abc" && /^hangup: \[ *[0-9.]+\] #1 unix: eof/ { found = 1 } { prev = $0 } END { exit !found }' "$tmp/tty.txt"
ok $? "on a terminal, data without a newline is ended before the event line ($(grep -m1 -o '.\{0,3\}hangup: \[[^]]*\] #1 unix: eof' "$tmp/tty.txt"))"
awk 'prev == "xyz" && /^hangup listen: SIGTERM: closing 1 connection/ { found = 1 } { prev = $0 } END { exit !found }' "$tmp/tty.txt"
ok $? "on a terminal, the SIGTERM diagnostic too starts a line ($(grep -m1 -o '.\{0,3\}hangup listen: SIGTERM' "$tmp/tty.txt"))"

# ---- JSON strings: a Unix path with quotes, a backslash, a tab, a byte
# that is not UTF-8 -- still one valid JSON line each ----
odd="$tmp/q\"b\\s	t"
bg "$H" listen --json "unix:$odd" >"$tmp/odd.json" 2>"$tmp/odd.err"
lpid=$bg_pid
wait_for "$tmp/odd.json" listening
[ "$(jq -r .addr "$tmp/odd.json")" = "unix:$odd" ]
ok $? "a path with \", \\ and a tab is escaped and reads back through jq ($(head -c 120 "$tmp/odd.json"))"
kill "$lpid"
wait_exit "$lpid"
bad="$tmp/$(printf 'x\377y')"
bg "$H" listen --json "unix:$bad" >"$tmp/bad.json" 2>"$tmp/bad.err"
lpid=$bg_pid
wait_for "$tmp/bad.json" listening
jq -e '.addr | endswith("x\u00ffy")' "$tmp/bad.json" >/dev/null && grep -q 'x\\u00ffy' "$tmp/bad.json"
ok $? "a byte that is not UTF-8 becomes \\u00XX: valid JSON ($(grep -o '"addr":"[^"]*"' "$tmp/bad.json" | sed 's/.*\///'))"
kill "$lpid"
wait_exit "$lpid"

# ---- IPv6 ----
bg "$H" listen --json --max-conns 1 --echo '[::1]:0' >"$tmp/v6.json" 2>"$tmp/v6.err"
lpid=$bg_pid
if wait_for "$tmp/v6.json" listening 2; then
	p6=$(jq -r .addr "$tmp/v6.json" | sed 's/.*://')
	out=$(printf 'six' | timeout 5 nc -6 -N ::1 "$p6")
	wait_exit "$lpid"
	[ "$out" = six ] && [ "$(field "$tmp/v6.json" close peer | sed 's/:[0-9]*$//')" = '[::1]' ] &&
		close_is "$tmp/v6.json" reason=eof bytes_in=3 bytes_out=3
	ok $? "[::1]:0: an IPv6 peer, named [::1]:PORT ($(summary "$tmp/v6.json"))"
else
	kill "$lpid" 2>/dev/null
	skip "no IPv6 loopback here ($(cat "$tmp/v6.err"))"
fi

# ---- a peer that vanished: private namespace, nft drops everything ----
if ! can_netns; then
	skip "needs root, ip and nft for a private namespace"
	skip "needs root, ip and nft for a private namespace"
else
	new_ns
	LISTEN_NS=$ns start_listen dead --liveness 2000
	bg ip netns exec "$ns" nc 127.0.0.1 "$port" <&8 >/dev/null
	nc_pid=$bg_pid
	wait_for "$tmp/dead.json" '"event":"open"'
	drop_tcp
	t0=$(date +%s%N)
	wait_for "$tmp/dead.json" '"event":"close"' 10
	took=$(( ($(date +%s%N) - t0) / 1000000 ))
	close_is "$tmp/dead.json" reason=timeout errno=ETIMEDOUT phase=open
	ok $? "--liveness 2000: a vanished peer is a timeout, ETIMEDOUT ($(summary "$tmp/dead.json"))"
	# idle connection: the first keepalive tick past the user timeout;
	# hu_liveness(2000) is idle 1 s + one 1 s probe.
	[ "$took" -ge 1500 ] && [ "$took" -le $((4000 * slow)) ]
	ok $? "detected ${took} ms after the drop (liveness 2000)"
	kill "$nc_pid" "$lpid" 2>/dev/null
	wait_exit "$lpid"
	end_ns
fi

# Nothing of ours is left running.
none_left
ok $? "every hangup this test started has exited"
done_testing
