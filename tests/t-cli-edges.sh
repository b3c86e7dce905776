#!/usr/bin/env bash
# t-cli-edges.sh -- what a new user trips on (issue 12), held: exit statuses
# that never say 0 without success (a signal before the connect completed,
# stdin a directory or closed), a closed stdout named as such, a close
# event on stdout for every --json run that tried to connect, IPv6 scope
# ids, routes that say "no way there" (blackhole: EINVAL, prohibit:
# EACCES) as unreachable, exit 6, a stale Unix socket file replaced (and a
# live one or a plain file left alone), probe --json, and stdin to the one
# connection of listen --max-conns 1 (nc -l). The route and scope-id cases
# run as root in a private namespace; SKIP without.
. "$(dirname "$0")/lib/cli.sh"


# peer.pl's "full": its accept queue holds its own connection, so our SYN
# is dropped and the connect stays in SYN_SENT.
start_full() {
	bg perl "$top/tests/lib/peer.pl" listen full >"$tmp/full.peer"
	fullpid=$bg_pid
	wait_for "$tmp/full.peer" '^[0-9]' || return 1
	port=$(head -1 "$tmp/full.peer")
}

# ---- a signal before the connect completed: exit 1, not 0 ----
start_full
bg perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV' "$H" connect --json "127.0.0.1:$port" </dev/null >"$tmp/int.json" 2>"$tmp/int.err"
cpid=$bg_pid
sleep 0.3
kill -INT "$cpid"
wait_exit "$cpid" 5
[ $rc -eq 1 ] && close_is "$tmp/int.json" reason=local phase=connecting
ok $? "SIGINT while the SYN is unanswered: exit 1, reason local in phase connecting (rc=$rc; $(summary "$tmp/int.json"))"
bg "$H" connect "127.0.0.1:$port" </dev/null 2>"$tmp/term.err"
cpid=$bg_pid
sleep 0.3
kill -TERM "$cpid"
wait_exit "$cpid" 5
[ $rc -eq 1 ] && grep -q 'close reason=local errno=- phase=connecting' "$tmp/term.err"
ok $? "SIGTERM there too, text mode: exit 1, so 'connect X && echo reachable' says nothing (rc=$rc; $(cut -c20- "$tmp/term.err"))"
kill "$fullpid"

# ---- stdin that cannot be read: exit 1 before connecting ----
start_nc dirin
"$H" connect "127.0.0.1:$port" </tmp >"$tmp/dir.out" 2>"$tmp/dir.err"
rc=$?
[ $rc -eq 1 ] && grep -q 'stdin is a directory' "$tmp/dir.err" && [ "$(wc -l <"$tmp/dir.err")" -eq 1 ]
ok $? "stdin a directory: one line, exit 1 (rc=$rc; $(cat "$tmp/dir.err"))"
"$H" connect "127.0.0.1:$port" <&- >"$tmp/closed.out" 2>"$tmp/closed.err"
rc=$?
[ $rc -eq 1 ] && grep -q 'stdin is closed' "$tmp/closed.err" && [ "$(wc -l <"$tmp/closed.err")" -eq 1 ]
ok $? "stdin closed (<&-): one line, exit 1 (rc=$rc; $(cat "$tmp/closed.err"))"
kill "$ncpid" 2>/dev/null

# ---- stdout closed at the start (>&-): named as such, not as the epoll fd
# that would have taken its number ----
nc_in=/dev/null start_nc outc -N
# (its own stderr file: start_nc's nc writes to $tmp/outc.err)
timeout 10 "$H" connect --json "127.0.0.1:$port" </dev/null >&- 2>"$tmp/outc.cerr"
rc=$?
[ $rc -eq 1 ] && grep -q 'stdout: Bad file descriptor (EBADF)' "$tmp/outc.cerr" && ! grep -q 'Invalid argument' "$tmp/outc.cerr"
ok $? "connect with stdout closed: EBADF named, exit 1 (rc=$rc; $(head -1 "$tmp/outc.cerr"))"
timeout 10 "$H" listen --json 127.0.0.1:0 >&- 2>"$tmp/loutc.err"
rc=$?
[ $rc -eq 1 ] && grep -q 'stdout: Bad file descriptor (EBADF)' "$tmp/loutc.err"
ok $? "listen --json with stdout closed: EBADF named, exit 1, no hang (rc=$rc; $(head -1 "$tmp/loutc.err"))"
timeout 10 "$H" probe "127.0.0.1:1" >&- 2>"$tmp/poutc.err"
rc=$?
[ $rc -eq 1 ] && grep -q 'stdout is closed' "$tmp/poutc.err"
ok $? "probe with stdout closed: said, exit 1 (rc=$rc; $(head -1 "$tmp/poutc.err"))"

# ---- --json: a connect that fails before the library made a connection
# (out of fds: socket() says EMFILE) still ends with a close event ----
seen=0 bad=0
for lim in 4 5 6 7 8 9 10; do
	(ulimit -n $lim && exec "$H" connect --json 127.0.0.1:1) </dev/null >"$tmp/mf.json" 2>"$tmp/mf.err"
	rc=$?
	grep -q 'cannot connect to' "$tmp/mf.err" || continue
	seen=$((seen + 1))
	if ! { [ $rc -eq 1 ] && close_is "$tmp/mf.json" reason=error errno=EMFILE phase=connecting conn=null peer=127.0.0.1:1 &&
		[ "$(jq -s length "$tmp/mf.json")" -eq 1 ]; }; then
		bad=1
		echo "# ulimit -n $lim: rc=$rc $(cat "$tmp/mf.json")" >&2
	fi
done
[ $seen -ge 1 ] && [ $bad -eq 0 ]
ok $? "socket() fails (EMFILE): exit 1 and one close event, conn null, reason error ($seen limits hit it)"

# ---- IPv6 scope ids ----
one_line_error 2 "$H" listen '[fe80::1%hu-no-such-if]:0' && grep -q "no network interface 'hu-no-such-if'" "$tmp/ole.err"
ok $? "an unknown interface after %: named, exit 2 ($msg)"
one_line_error 2 "$H" connect '[fe80::1]:80' && grep -q 'link-local address needs its interface' "$tmp/ole.err"
ok $? "a link-local destination without %IFACE: said, exit 2 ($msg)"

if can_netns && new_ns; then
	ip netns exec "$ns" ip addr add fe80::1/64 dev lo
	bg ip netns exec "$ns" "$H" listen --json --max-conns 1 --echo '[fe80::1%lo]:0' </dev/null >"$tmp/ll.json" 2>"$tmp/ll.err"
	lpid=$bg_pid
	wait_for "$tmp/ll.json" listening
	addr=$(jq -r 'select(.event == "listening") | .addr' "$tmp/ll.json")
	[[ "$addr" =~ ^\[fe80::1%lo\]:[1-9][0-9]*$ ]]
	ok $? "listen '[fe80::1%lo]:0' binds, and says [fe80::1%lo]:PORT ($addr $(cat "$tmp/ll.err"))"
	printf 'ping' | timeout 10 ip netns exec "$ns" "$H" connect --json "$addr" >"$tmp/llc.json"
	rc=$?
	wait_exit "$lpid" 5
	[ $rc -eq 0 ] && close_is "$tmp/llc.json" reason=eof bytes_in=4 bytes_out=4
	ok $? "connect to it: echoed, eof, exit 0 (rc=$rc; $(summary "$tmp/llc.json"))"

	# ---- routes that say "no way there": unreachable, exit 6 ----
	ip netns exec "$ns" ip route add blackhole 10.98.0.0/16
	ip netns exec "$ns" ip route add prohibit 10.97.0.0/16
	ip netns exec "$ns" ip -6 route add blackhole fd00:98::/32
	for c in 10.98.0.1:80/EINVAL '[fd00:98::1]:80/EINVAL' 10.97.0.1:80/EACCES; do
		a=${c%/*} e=${c##*/}
		timeout 10 ip netns exec "$ns" "$H" connect --json "$a" </dev/null >"$tmp/ur.json" 2>"$tmp/ur.err"
		rc=$?
		[ $rc -eq 6 ] && close_is "$tmp/ur.json" reason=unreachable errno=$e phase=connecting
		ok $? "connect $a (a $( [ $e = EACCES ] && echo prohibit || echo blackhole) route): exit 6, unreachable, $e (rc=$rc; $(summary "$tmp/ur.json"))"
	done
	timeout 10 ip netns exec "$ns" "$H" connect 10.97.0.1:80 </dev/null >/dev/null 2>"$tmp/urt.err"
	grep -q 'close reason=unreachable errno=EACCES phase=connecting' "$tmp/urt.err"
	ok $? "text mode says which errno it was ($(cut -c20- "$tmp/urt.err"))"
	timeout 10 ip netns exec "$ns" "$H" probe --json 10.98.0.1:80 >"$tmp/pur.json" 2>/dev/null
	rc=$?
	[ $rc -eq 6 ] && close_is "$tmp/pur.json" reason=unreachable errno=EINVAL
	ok $? "probe agrees: exit 6, unreachable, EINVAL (rc=$rc; $(summary "$tmp/pur.json"))"
	end_ns
else
	for i in 1 2 3 4 5 6 7; do skip "needs root, ip and nft (a private network namespace)"; done
fi

# ---- a Unix socket file in the way ----
sock=$tmp/s.sock
bg "$H" listen "unix:$sock" </dev/null 2>"$tmp/st1.err"
wait_for "$tmp/st1.err" listening
kill -9 "$bg_pid"
wait "$bg_pid" 2>/dev/null
[ -S "$sock" ]
ok $? "kill -9 leaves the socket file behind"
bg "$H" listen --json --max-conns 1 "unix:$sock" </dev/null >"$tmp/st2.json" 2>"$tmp/st2.err"
lpid=$bg_pid
wait_for "$tmp/st2.json" listening
grep -q "removed the stale socket file $sock" "$tmp/st2.err" && [ "$(field "$tmp/st2.json" listening addr)" = "unix:$sock" ]
ok $? "a stale socket file (nothing listening) is replaced, and said ($(cat "$tmp/st2.err"))"
one_line_error 1 "$H" listen "unix:$sock" && grep -q 'something is listening on that socket file' "$tmp/ole.err"
ok $? "a live one is left alone: one line, exit 1 ($msg)"
printf 'x' | timeout 5 nc -NU "$sock" >/dev/null
wait_exit "$lpid" 5
[ $rc -eq 0 ]
ok $? "the replaced listener served its connection (rc=$rc)"
: >"$tmp/plain"
one_line_error 1 "$H" listen "unix:$tmp/plain" && grep -q 'not a socket' "$tmp/ole.err" && [ -f "$tmp/plain" ]
ok $? "a plain file in the way: named, left alone, exit 1 ($msg)"

# ---- probe --json: listen's and connect's keys, plus what it saw ----
printf 'hello' >"$tmp/fin.in"
nc_in=$tmp/fin.in start_nc pfin -N
timeout 10 "$H" probe --json --interval 100 "127.0.0.1:$port" >"$tmp/probe.json" 2>"$tmp/probe.err"
rc=$?
[ $rc -eq 0 ] && close_is "$tmp/probe.json" reason=eof phase=peer-done peer="127.0.0.1:$port" &&
	jq -e -s 'all(.[]; has("event") and has("conn") and has("peer") and has("reason") and has("phase") and
		has("errno") and has("bytes_in") and has("bytes_out") and has("undelivered") and has("ms") and
		has("t") and has("time")) and .[0].event == "open" and .[-1].event == "close" and
		any(.[]; .event == "probe" and .seen == "eof" and .tcp_state == "CLOSE_WAIT" and .unread == 5)' \
		"$tmp/probe.json" >/dev/null
ok $? "probe --json: open, probe events (eof seen, 5 unread), close with reason eof, exit 0 (rc=$rc)"
kill "$ncpid" 2>/dev/null
timeout 10 "$H" probe --json "127.0.0.1:1" >"$tmp/pref.json" 2>/dev/null
rc=$?
[ $rc -eq 3 ] && close_is "$tmp/pref.json" reason=refused errno=ECONNREFUSED phase=connecting &&
	[ "$(jq -s length "$tmp/pref.json")" -eq 1 ]
ok $? "probe --json refused: one close event, exit 3 (rc=$rc; $(summary "$tmp/pref.json"))"

# accepted and reset at once (peer.pl abort-all): with --json too, open,
# a probe event that saw it gone, close reset in phase open -- whichever
# way the reset reaches probe (in connect's SO_ERROR, or later)
bg perl "$top/tests/lib/peer.pl" listen abort-all >"$tmp/abort.peer"
apid=$bg_pid
wait_for "$tmp/abort.peer" '^[0-9]'
port=$(head -1 "$tmp/abort.peer")
bad=0
for i in 1 2 3 4 5; do
	timeout 10 "$H" probe --json "127.0.0.1:$port" >"$tmp/pab.json" 2>/dev/null
	rc=$?
	{ [ $rc -eq 4 ] && close_is "$tmp/pab.json" reason=reset phase=open errno=ECONNRESET &&
		jq -e -s '.[0].event == "open" and any(.[]; .event == "probe" and .seen == "gone")' \
			"$tmp/pab.json" >/dev/null; } || {
		bad=$((bad + 1))
		echo "# run $i: rc=$rc $(tr '\n' ' ' <"$tmp/pab.json")" >&2
	}
done
kill "$apid" 2>/dev/null
[ $bad -eq 0 ]
ok $? "probe --json, a peer that accepts and resets at once: open, gone, close reset, exit 4 ($bad of 5 not)"

# ---- listen --max-conns 1: stdin goes to the connection, as with nc -l;
# its end sends no FIN (the peer still talks) ----
# (stdin a pipe, as from printf |, but with the PID ours to wait for)
bg "$H" listen --json --max-conns 1 127.0.0.1:0 < <(printf 'to-the-peer') >"$tmp/lin.json" 2>"$tmp/lin.err"
lpid=$bg_pid
wait_for "$tmp/lin.json" listening
port=$(field "$tmp/lin.json" listening addr)
port=${port##*:}
bg nc 127.0.0.1 "$port" <&8 >"$tmp/lin.out"
npid=$bg_pid
wait_for "$tmp/lin.out" 'to-the-peer'
ok $? "the peer gets what listen's stdin held ($(cat "$tmp/lin.out"))"
sleep 0.2
kill -0 "$npid" 2>/dev/null && ! grep -q '"event":"close"' "$tmp/lin.json"
ok $? "stdin's end sends no FIN: the connection stays open"
kill "$npid"
wait_exit "$lpid" 5
[ $rc -eq 0 ] && close_is "$tmp/lin.json" reason=eof bytes_out=11
ok $? "the peer's close ends it: eof, bytes_out 11, exit 0 (rc=$rc; $(summary "$tmp/lin.json"))"

none_left
ok $? "every hangup this test started has exited"
done_testing
