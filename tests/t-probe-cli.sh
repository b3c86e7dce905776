#!/usr/bin/env bash
# t-probe-cli.sh -- `hangup probe ADDR`, the library's smoke command, against
# real peers: it connects, reads nothing, and must say how the peer went
# away -- a FIN with our unread bytes counted, a reset, refused (TCP and
# Unix), a connect that gets no answer (--connect-timeout), and, as root in
# a private namespace, a peer that vanished (nft drop, --liveness) -- each
# with the documented exit status; bad input is one line and exit 2.
. "$(dirname "$0")/lib/cli.sh"


# ---- help and bad input ----
"$H" probe --help >"$tmp/help" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q -- '--interval MS' "$tmp/help" && grep -q -- '--connect-timeout MS' "$tmp/help" &&
	grep -q '3 refused, 4 reset' "$tmp/help"
ok $? "--help: usage with the options and the exit statuses, exit 0 (rc=$rc)"
one_line_error 2 "$H" probe --verbose 127.0.0.1:1 &&
	grep -q "unknown option '--verbose'" "$tmp/ole.err"
ok $? "unknown option: one line, exit 2 ($msg)"
one_line_error 2 "$H" probe --liveness
ok $? "an option without its value: one line, exit 2 ($msg)"
one_line_error 2 "$H" probe --interval 0 127.0.0.1:1
ok $? "--interval 0 (a busy loop): one line, exit 2 ($msg)"
one_line_error 2 "$H" probe --liveness 1e3 127.0.0.1:1
ok $? "a bad --liveness value: one line, exit 2 ($msg)"
one_line_error 2 "$H" probe
ok $? "no ADDR: one line, exit 2 ($msg)"
one_line_error 2 "$H" probe 127.0.0.1:99999 && grep -q 'out of range' "$tmp/ole.err"
ok $? "port out of range: one line naming it, exit 2 ($msg)"
one_line_error 2 "$H" probe 127.0.0.1:0 && grep -q 'port 0' "$tmp/ole.err"
ok $? "port 0, where nothing can listen: one line, exit 2 ($msg)"

# ---- refused: a closed TCP port (ours, bound and closed), a missing
# Unix socket file ----
cport=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1:0", Listen => 0)->sockport')
one_line_error 3 "$H" probe "127.0.0.1:$cport" && grep -q ECONNREFUSED "$tmp/ole.err"
ok $? "a closed port: exit 3, ECONNREFUSED, one line ($msg)"
one_line_error 3 "$H" probe "unix:$tmp/nobody.sock" && grep -q ENOENT "$tmp/ole.err"
ok $? "no Unix socket file: exit 3, refused, as connect says it ($msg)"

# ---- the peer's FIN, with 5 bytes before it that we never read: peer=eof,
# unread=5, CLOSE_WAIT, exit 0 ----
printf 'hello' >"$tmp/fin.in"
nc_in=$tmp/fin.in start_nc fin -N
timeout 10 "$H" probe --interval 100 "127.0.0.1:$port" >"$tmp/fin.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "^connected to 127.0.0.1:$port" "$tmp/fin.txt" &&
	grep -Eq 'peer=eof +state=CLOSE_WAIT +unread=5 ' "$tmp/fin.txt" &&
	grep -q '^peer eof:' "$tmp/fin.txt"
ok $? "peer FIN after 5 bytes: exit 0, peer=eof in CLOSE_WAIT with unread=5 (rc=$rc; $(grep -m1 'peer=eof' "$tmp/fin.txt" | tr -s ' '))"
kill "$ncpid" 2>/dev/null

# ---- data that arrives wakes no poll() here (only POLLRDHUP is asked for):
# --interval is what sees it; then the FIN ends the probe ----
# (fd 6 closed for nc and the probe, so that closing ours ends nc's stdin)
mkfifo "$tmp/slow" && exec 6<>"$tmp/slow"
nc_in=$tmp/slow start_nc slow -N 6>&-
bg "$H" probe --interval 100 "127.0.0.1:$port" >"$tmp/slow.txt" 2>&1 6>&-
ppid_=$bg_pid
wait_for "$tmp/slow.txt" 'peer=open'
printf 'abc' >&6
wait_for "$tmp/slow.txt" 'peer=open  *state=ESTABLISHED  *unread=3 ' 3
said=$?
exec 6>&-
wait_exit "$ppid_"
[ $said -eq 0 ] && [ $rc -eq 0 ] && grep -Eq 'peer=eof +state=CLOSE_WAIT +unread=3 ' "$tmp/slow.txt"
ok $? "--interval 100: 3 bytes seen unread while open, then the FIN: eof, exit 0 (rc=$rc; $(grep -c peer= "$tmp/slow.txt") lines)"
kill "$ncpid" 2>/dev/null

# ---- a reset (SO_LINGER {1,0}): exit 4, ECONNRESET ----
bg perl "$top/tests/lib/peer.pl" listen rst >"$tmp/rst.peer"
wait_for "$tmp/rst.peer" '^[0-9]'
port=$(head -1 "$tmp/rst.peer")
timeout 10 "$H" probe "127.0.0.1:$port" >"$tmp/rst.txt" 2>&1
rc=$?
[ $rc -eq 4 ] && grep -Eq 'peer=gone .*error=ECONNRESET' "$tmp/rst.txt" && grep -q '^peer reset:' "$tmp/rst.txt"
ok $? "peer reset: exit 4, peer=gone error=ECONNRESET (rc=$rc; $(tail -1 "$tmp/rst.txt"))"

# ---- accepted, then reset at once: the handshake completed, so it is a
# reset (exit 4) every time, never a failed connect (exit 1) ----
bg perl "$top/tests/lib/peer.pl" listen abort-all >"$tmp/abort.peer"
apid=$bg_pid
wait_for "$tmp/abort.peer" '^[0-9]'
port=$(head -1 "$tmp/abort.peer")
bad=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	timeout 10 "$H" probe "127.0.0.1:$port" >"$tmp/abort.txt" 2>&1
	rc=$?
	{ [ $rc -eq 4 ] && grep -q '^connected' "$tmp/abort.txt" &&
		grep -q '^peer reset:' "$tmp/abort.txt"; } || {
		bad=$((bad + 1))
		echo "# run $i: rc=$rc $(tail -1 "$tmp/abort.txt")" >&2
	}
done
kill "$apid" 2>/dev/null
[ $bad -eq 0 ]
ok $? "a peer that accepts and resets at once: connected, peer reset, exit 4, in 10 of 10 runs ($bad not)"

# ---- --connect-timeout: a full accept queue drops our SYN (kernel-truth
# 12), so the connect would wait out the kernel's SYN retries ----
bg perl "$top/tests/lib/peer.pl" listen full >"$tmp/full.peer"
fpid=$bg_pid
wait_for "$tmp/full.peer" '^[0-9]'
port=$(head -1 "$tmp/full.peer")
t0=$(date +%s%N)
one_line_error 5 timeout 10 "$H" probe --connect-timeout 500 "127.0.0.1:$port" &&
	grep -q 'no answer within 500 ms' "$tmp/ole.err"
said=$?
took=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $said -eq 0 ] && [ "$took" -ge 490 ] && [ "$took" -lt $((2500 * slow)) ]
ok $? "--connect-timeout 500, SYN dropped: exit 5 after ${took} ms, one line (rc=$rc; $msg)"
kill "$fpid"
one_line_error 2 "$H" probe --connect-timeout soon 127.0.0.1:1
ok $? "a bad --connect-timeout value: one line, exit 2 ($msg)"

# ---- the peer stays: the probe keeps waiting (no verdict from silence),
# and a SIGTERM ends it ----
start_nc live
bg "$H" probe --interval 50 "127.0.0.1:$port" >"$tmp/live.txt" 2>&1
ppid_=$bg_pid
sleep 1
kill -0 "$ppid_" 2>/dev/null && grep -Eq 'peer=open +state=ESTABLISHED' "$tmp/live.txt" &&
	[ "$(grep -c 'peer=' "$tmp/live.txt")" -eq 1 ]
ok $? "a live, silent peer: still probing after 1 s, one line (open, ESTABLISHED), no verdict"
kill "$ppid_"
wait_exit "$ppid_"
[ $rc -ne 124 ]
ok $? "SIGTERM ends it (rc=$rc)"
kill "$ncpid" 2>/dev/null

# ---- as root: the peer vanishes (every TCP packet dropped by nft inside
# a private namespace); --liveness 3000 must say timeout, exit 5 ----
if ! can_netns; then
	for i in 1 2; do skip "needs root, ip and nft for a private namespace"; done
else
	new_ns
	NC_NS=$ns start_nc dead
	bg ip netns exec "$ns" "$H" probe --liveness 3000 "127.0.0.1:$port" >"$tmp/dead.txt" 2>&1
	cpid=$bg_pid
	wait_for "$tmp/dead.txt" '^connected'
	drop_tcp
	t0=$(date +%s%N)
	wait_exit "$cpid" 10
	took=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $rc -eq 5 ] && grep -Eq 'peer=gone .*error=ETIMEDOUT' "$tmp/dead.txt" && grep -q '^peer timeout:' "$tmp/dead.txt"
	ok $? "the peer vanished: exit 5, peer=gone error=ETIMEDOUT (rc=$rc; $(tail -1 "$tmp/dead.txt"))"
	[ "$took" -ge 2000 ] && [ "$took" -le $((5000 * slow)) ]
	ok $? "found out ${took} ms after the drop (--liveness 3000)"
	kill "$ncpid" 2>/dev/null
	end_ns
fi

none_left
ok $? "every hangup this test started has exited"
done_testing
