#!/usr/bin/env bash
# t-connect.sh -- `hangup connect` against real peers (nc -l, socat, and
# tests/lib/peer.pl where neither can play the part), asserting on its JSON
# lines with jq and on its exit status: a clean close, half-close both ways,
# a reset, a peer killed with and without our data unread, refused (TCP and
# Unix), a connect timeout (a full accept queue drops our SYN), 1 MiB both
# ways through socat, SIGTERM/SIGINT, a closed stdout, bad input -- and, as
# root, in a private namespace: unreachable (no route, and an ICMP host
# unreachable) and a peer that vanished (nft drop, --liveness).
. "$(dirname "$0")/lib/cli.sh"

# start_peer NAME MODE: peer.pl listen MODE; sets $ppid_ and $port.
start_peer() {
	bg perl "$top/tests/lib/peer.pl" listen "$2" >"$tmp/$1.peer"
	ppid_=$bg_pid
	wait_for "$tmp/$1.peer" '^[0-9]' || return 1
	port=$(head -1 "$tmp/$1.peer")
}
# A second never-ending FIFO on fd 7, for a stdin we write into.
mkfifo "$tmp/in7" && exec 7<>"$tmp/in7"


# ---- help and bad input ----
"$H" connect --help >"$tmp/help" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q -- '--connect-timeout MS' "$tmp/help" && grep -q '3 refused, 4 reset' "$tmp/help"
ok $? "--help: usage with the options and the exit statuses, exit 0 (rc=$rc)"
one_line_error 2 "$H" connect 127.0.0.1:70000 &&
	grep -q "port 70000 out of range (0-65535) in '127.0.0.1:70000'" "$tmp/ole.err"
ok $? "port out of range: one line, exit 2 ($msg)"
one_line_error 2 "$H" connect 127.0.0.1:0 && grep -q 'port 0 cannot be connected to' "$tmp/ole.err"
ok $? "port 0 (nothing can listen there): one line, exit 2, not 'refused' ($msg)"
one_line_error 2 "$H" connect example.com:80
ok $? "malformed address (a name, no DNS): one line, exit 2 ($msg)"
one_line_error 2 "$H" connect '::1:80'
ok $? "malformed address (unbracketed IPv6): one line, exit 2 ($msg)"
one_line_error 2 "$H" connect "unix:/$(printf 'y%.0s' $(seq 110))" && grep -q 'too long' "$tmp/ole.err"
ok $? "Unix path too long: one line, exit 2 ($(cut -c1-60 "$tmp/ole.err")...)"
one_line_error 2 "$H" connect --verbose :1
ok $? "unknown option: one line, exit 2 ($msg)"
one_line_error 2 "$H" connect
ok $? "no ADDR: one line, exit 2 ($msg)"
one_line_error 2 "$H" connect --connect-timeout -5 :1
ok $? "a bad --connect-timeout value: one line, exit 2 ($msg)"

# ---- a clean close with nc -l: data both ways ----
printf 'from-peer' >"$tmp/peer.in"
nc_in=$tmp/peer.in start_nc clean -N
printf 'to-peer' | timeout 10 "$H" connect --json "127.0.0.1:$port" >"$tmp/clean.json"
rc=$?
wait_exit "$ncpid"
[ $rc -eq 0 ] && close_is "$tmp/clean.json" reason=eof errno=null bytes_in=9 bytes_out=7 undelivered=0 &&
	[ "$(cat "$tmp/clean.out")" = to-peer ]
ok $? "nc -l -N: exit 0, eof, 9 bytes in, 7 out, nc got ours (rc=$rc; $(summary "$tmp/clean.json"))"
jq -e -s 'all(.[]; has("event") and has("conn") and has("peer") and has("reason") and has("phase") and
	has("errno") and has("bytes_in") and has("bytes_out") and has("undelivered") and has("ms") and
	has("t") and has("time")) and (map(.event) == ["open", "eof", "close"])' "$tmp/clean.json" >/dev/null &&
	! grep -q from-peer "$tmp/clean.json"
ok $? "--json: stdout is open, eof, close, each with every field, and no data"
[ "$(field "$tmp/clean.json" open peer)" = "127.0.0.1:$port" ]
ok $? "the peer is the address connected to ($(field "$tmp/clean.json" open peer))"

nc_in=$tmp/peer.in start_nc clean2 -N
out=$(printf 'to-peer' | timeout 10 "$H" connect "127.0.0.1:$port" 2>"$tmp/clean2.err")
rc=$?
wait_exit "$ncpid"
[ $rc -eq 0 ] && [ "$out" = from-peer ] &&
	grep -Eq '^hangup: \[ *[0-9]+\.[0-9]{3}\] #1 127\.0\.0\.1:[0-9]+ close reason=eof errno=- phase=[a-z-]+ in=9 out=7 undelivered=0 ms=[0-9]+$' "$tmp/clean2.err"
ok $? "text mode: the peer's data on stdout, the close line on stderr ($(grep close "$tmp/clean2.err" | cut -c20-90))"

# ---- half-close, we first: stdin ends, the peer answers after our FIN ----
start_peer reply reply
out=$(printf 'req' | timeout 10 "$H" connect "127.0.0.1:$port" 2>"$tmp/reply.err")
rc=$?
[ $rc -eq 0 ] && [ "$out" = 'late reply' ] && grep -q 'close reason=eof errno=- phase=local-done in=10 out=3 ' "$tmp/reply.err"
ok $? "we half-close first: the reply after our FIN arrives, eof in phase local-done (rc=$rc; $(grep close "$tmp/reply.err" | cut -c20-90))"
start_peer reply2 reply
printf 'req' | timeout 10 "$H" connect --json "127.0.0.1:$port" >"$tmp/reply.json"
close_is "$tmp/reply.json" reason=eof phase=local-done bytes_in=10 bytes_out=3 && [ "$(field "$tmp/reply.json" eof phase)" = local-done ]
ok $? "--json: the same end, and the eof line says local-done ($(summary "$tmp/reply.json"))"

# ---- half-close, the peer first: we go on sending until stdin ends ----
start_peer fin fin-first
{ sleep 0.5; printf 'abc'; } | timeout 10 "$H" connect --json "127.0.0.1:$port" >"$tmp/fin.json"
rc=$?
wait_exit "$ppid_"
[ $rc -eq 0 ] && close_is "$tmp/fin.json" reason=eof phase=peer-done bytes_in=5 bytes_out=3 &&
	[ "$(field "$tmp/fin.json" eof bytes_out)" = 0 ] && grep -q 'read 3' "$tmp/fin.peer"
ok $? "the peer half-closes first: we still send 3 bytes after its FIN, it reads them; eof, peer-done (rc=$rc; $(summary "$tmp/fin.json"))"

# ---- a reset: the peer closes with SO_LINGER {1,0} ----
start_peer rst rst
timeout 10 "$H" connect --json "127.0.0.1:$port" <&8 >"$tmp/rst.json"
rc=$?
[ $rc -eq 4 ] && close_is "$tmp/rst.json" reason=reset errno=ECONNRESET phase=open
ok $? "peer reset: exit 4, reset, ECONNRESET, phase open (rc=$rc; $(summary "$tmp/rst.json"))"

# ---- accepted, then reset at once: always open, then reset ----
# Whether the loop sees the handshake and the RST in one event or two is a
# race; the report must not depend on it (10 runs, each must say it).
start_peer abort abort-all
bad=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	timeout 10 "$H" connect --json "127.0.0.1:$port" <&8 >"$tmp/abort.json"
	rc=$?
	{ [ $rc -eq 4 ] && grep -q '"event":"open"' "$tmp/abort.json" &&
		close_is "$tmp/abort.json" reason=reset phase=open; } || {
		bad=$((bad + 1))
		echo "# run $i: rc=$rc $(summary "$tmp/abort.json")" >&2
	}
done
kill "$ppid_" 2>/dev/null
[ $bad -eq 0 ]
ok $? "a peer that accepts and resets at once: open, then reset in phase open, exit 4, in 10 of 10 runs ($bad not)"

# ---- a peer killed with our data unread: RST ----
start_peer unread sleep
printf 'hello' >&7
bg "$H" connect --json "127.0.0.1:$port" <&7 >"$tmp/unread.json"
cpid=$bg_pid
wait_for "$tmp/unread.json" '"event":"open"'
sleep 0.3
{ kill -9 "$ppid_"; wait "$ppid_"; } 2>/dev/null
wait_exit "$cpid" 5
[ $rc -eq 4 ] && close_is "$tmp/unread.json" reason=reset errno=ECONNRESET phase=open bytes_out=5 undelivered=0
ok $? "peer killed with our 5 bytes unread: exit 4, reset, ECONNRESET (rc=$rc; $(summary "$tmp/unread.json"))"

# ---- and with nothing unread: its kernel sends FIN ----
# stdin is a FIFO this test holds open, and ends only once the peer's FIN
# has been reported: our FIN must come second, however slow the start
# (a `sleep 1 |` stdin could end first on a loaded machine).
start_peer killed sleep
mkfifo "$tmp/killed.in" && exec 6<>"$tmp/killed.in"
bg sh -c "exec 6>&- \"$H\" connect --json 127.0.0.1:$port <\"$tmp/killed.in\" >\"$tmp/killed.json\""
cpid=$bg_pid
wait_for "$tmp/killed.json" '"event":"open"'
{ kill -9 "$ppid_"; wait "$ppid_"; } 2>/dev/null
wait_for "$tmp/killed.json" '"event":"eof"'
exec 6>&-
wait_exit "$cpid" 5
[ $rc -eq 0 ] && [ "$(field "$tmp/killed.json" eof phase)" = peer-done ] && close_is "$tmp/killed.json" reason=eof errno=null
ok $? "peer killed with nothing unread: eof, then our FIN at stdin's end, exit 0 (rc=$rc; $(summary "$tmp/killed.json"))"

# ---- refused ----
start_listen gone
kill "$lpid"
wait_exit "$lpid"
timeout 10 "$H" connect "127.0.0.1:$port" </dev/null >/dev/null 2>"$tmp/refused.err"
rc=$?
[ $rc -eq 3 ] && [ "$(wc -l <"$tmp/refused.err")" -eq 1 ] &&
	grep -Eq "^hangup: \[ *[0-9.]+\] #1 127\.0\.0\.1:$port close reason=refused errno=ECONNREFUSED phase=connecting in=0 out=0 undelivered=0 ms=[0-9]+$" "$tmp/refused.err"
ok $? "refused: exit 3, one line naming it ($(cut -c20- "$tmp/refused.err"))"
timeout 10 "$H" connect --json "127.0.0.1:$port" </dev/null >"$tmp/refused.json"
rc=$?
[ $rc -eq 3 ] && close_is "$tmp/refused.json" reason=refused errno=ECONNREFUSED phase=connecting peer="127.0.0.1:$port" &&
	[ "$(jq -s length "$tmp/refused.json")" -eq 1 ]
ok $? "refused, --json: a single close event naming the address (rc=$rc; $(summary "$tmp/refused.json"))"
timeout 10 "$H" connect --json "unix:$tmp/nobody" </dev/null >"$tmp/nobody.json"
rc=$?
[ $rc -eq 3 ] && close_is "$tmp/nobody.json" reason=refused errno=ENOENT phase=connecting
ok $? "a Unix path nobody listens on: refused, ENOENT, exit 3 (rc=$rc; $(summary "$tmp/nobody.json"))"

# ---- connect timeout: a full accept queue drops our SYN (kernel-truth 12) ----
start_peer full full
timeout 10 "$H" connect --json --connect-timeout 500 "127.0.0.1:$port" </dev/null >"$tmp/ct.json"
rc=$?
ms=$(field "$tmp/ct.json" close ms)
[ $rc -eq 5 ] && close_is "$tmp/ct.json" reason=connect-timeout errno=ETIMEDOUT phase=connecting &&
	[ "$ms" -ge 490 ] && [ "$ms" -lt $((1500 * slow)) ]
ok $? "--connect-timeout 500, SYN dropped: exit 5, connect-timeout after ~500 ms (rc=$rc; $(summary "$tmp/ct.json"))"
kill "$ppid_"

# ---- 1 MiB both ways through socat (an echo), from a file and a pipe ----
head -c $((1 << 20)) /dev/urandom >"$tmp/big"
bg socat -d -d TCP-LISTEN:0,bind=127.0.0.1,fork PIPE 2>"$tmp/socat.err"
socat_pid=$bg_pid
wait_for "$tmp/socat.err" 'listening on'
port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$tmp/socat.err")
timeout 20 "$H" connect "127.0.0.1:$port" <"$tmp/big" >"$tmp/back" 2>"$tmp/big.err"
rc=$?
[ $rc -eq 0 ] && cmp -s "$tmp/big" "$tmp/back" && grep -q 'close reason=eof errno=- phase=local-done in=1048576 out=1048576 undelivered=0' "$tmp/big.err"
ok $? "1 MiB from a file through socat's echo: back intact, in = out = 1048576, exit 0 (rc=$rc)"
cat "$tmp/big" | timeout 20 "$H" connect --json "127.0.0.1:$port" >"$tmp/big.json"
rc=$?
[ $rc -eq 0 ] && close_is "$tmp/big.json" reason=eof bytes_in=1048576 bytes_out=1048576 undelivered=0
ok $? "1 MiB from a pipe: bytes_in = bytes_out = 1048576 ($(summary "$tmp/big.json"))"
kill "$socat_pid"

# ---- SIGTERM and SIGINT while connected: we close, gracefully ----
start_nc term
bg "$H" connect --json "127.0.0.1:$port" <&8 >"$tmp/term.json"
cpid=$bg_pid
wait_for "$tmp/term.json" '"event":"open"'
kill -TERM "$cpid"
wait_exit "$cpid" 5
[ $rc -eq 0 ] && close_is "$tmp/term.json" reason=local
ok $? "SIGTERM: reason local, exit 0 (rc=$rc; $(summary "$tmp/term.json"))"
kill "$ncpid" 2>/dev/null
start_nc int
bg perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV' "$H" connect --json "127.0.0.1:$port" <&8 >"$tmp/int.json"
cpid=$bg_pid
wait_for "$tmp/int.json" '"event":"open"'
kill -INT "$cpid"
wait_exit "$cpid" 5
[ $rc -eq 0 ] && close_is "$tmp/int.json" reason=local
ok $? "SIGINT: reason local, exit 0 (rc=$rc; $(summary "$tmp/int.json"))"
kill "$ncpid" 2>/dev/null

# ---- a peer that never reads, stdin endless (/dev/zero: read directly,
# paced by the write buffer): memory stays bounded. On SIGTERM the
# graceful close cannot flush: the linger (1 s) bounds it, the close says
# local/ETIMEDOUT with what never got through as undelivered, exit 1 ----
start_peer deaf sleep
bg "$H" connect --json "127.0.0.1:$port" </dev/zero >"$tmp/deaf.json" 2>"$tmp/deaf.err"
cpid=$bg_pid
wait_for "$tmp/deaf.json" '"event":"open"'
sleep 0.5
a=$(awk '/^VmRSS/ { print $2 }' "/proc/$cpid/status")
sleep 1.5
b=$(awk '/^VmRSS/ { print $2 }' "/proc/$cpid/status")
t0=$(date +%s%N)
kill -TERM "$cpid"
wait_exit "$cpid" 6
took=$(( ($(date +%s%N) - t0) / 1000000 ))
u=$(field "$tmp/deaf.json" close undelivered)
[ $((b - a)) -lt 2048 ]
ok $? "stdin endless, peer never reads: paused at the high-water mark (RSS ${a} -> ${b} KiB)"
[ $rc -eq 1 ] && close_is "$tmp/deaf.json" reason=local errno=ETIMEDOUT phase=closing &&
	[ "$u" -gt 65536 ] && [ "$took" -ge 900 ] && [ "$took" -lt $((2500 * slow)) ] &&
	! grep -q 'still closing' "$tmp/deaf.err"
ok $? "SIGTERM, the peer not reading: the 1 s linger ends it (${took} ms), local/ETIMEDOUT, exit 1, ${u} bytes undelivered ($(summary "$tmp/deaf.json"))"
{ kill "$ppid_"; wait "$ppid_"; } 2>/dev/null

# ---- stdout closed under us, the peer still sending ----
nc_in=$tmp/big start_nc flood
bg "$H" connect "127.0.0.1:$port" <&8 2>"$tmp/flood.err" > >(head -c 10 >/dev/null)
fpid=$bg_pid
wait_exit "$fpid" 10
[ $rc -ne 124 ] && grep -q 'stdout: Broken pipe (EPIPE)' "$tmp/flood.err"
ok $? "stdout closed (| head -c 10): EPIPE is one line and the tool exits, no hang ($(grep stdout "$tmp/flood.err"))"
kill "$ncpid" 2>/dev/null

# ---- as root, in a private namespace: unreachable, and a dead peer ----
if ! can_netns; then
	for i in 1 2 3 4 5 6; do skip "needs root, ip and nft for a private namespace"; done
else
	new_ns
	ip netns exec "$ns" timeout 10 "$H" connect --json 10.99.0.1:80 </dev/null >"$tmp/noroute.json"
	rc=$?
	[ $rc -eq 6 ] && close_is "$tmp/noroute.json" reason=unreachable errno=ENETUNREACH phase=connecting
	ok $? "no route to the host: exit 6, unreachable, ENETUNREACH (rc=$rc; $(summary "$tmp/noroute.json"))"
	# An ICMP host unreachable answering our SYN (nft reject on output).
	ip netns exec "$ns" nft -f - <<'NFT'
table inet hu_t {
	chain out {
		type filter hook output priority 0;
		tcp dport 9 reject with icmpx type host-unreachable
	}
}
NFT
	ip netns exec "$ns" timeout 10 "$H" connect --json 127.0.0.1:9 </dev/null >"$tmp/icmp.json"
	rc=$?
	[ $rc -eq 6 ] && close_is "$tmp/icmp.json" reason=unreachable errno=EHOSTUNREACH phase=connecting
	ok $? "ICMP host unreachable: exit 6, unreachable, EHOSTUNREACH (rc=$rc; $(summary "$tmp/icmp.json"))"
	ip netns exec "$ns" nft flush ruleset

	# connect-timeout again, honestly: every SYN dropped.
	ip netns exec "$ns" nft -f - <<'NFT'
table inet hu_t {
	chain in {
		type filter hook input priority 0;
		tcp dport 9 drop
	}
}
NFT
	ip netns exec "$ns" timeout 10 "$H" connect --json --connect-timeout 700 127.0.0.1:9 </dev/null >"$tmp/ct2.json"
	rc=$?
	ms=$(field "$tmp/ct2.json" close ms)
	[ $rc -eq 5 ] && close_is "$tmp/ct2.json" reason=connect-timeout phase=connecting && [ "$ms" -ge 700 ]
	ok $? "every SYN dropped (nft): exit 5, connect-timeout ($(summary "$tmp/ct2.json"))"
	ip netns exec "$ns" nft flush ruleset

	NC_NS=$ns start_nc dead
	bg ip netns exec "$ns" "$H" connect --json --liveness 2000 "127.0.0.1:$port" <&8 >"$tmp/dead.json"
	cpid=$bg_pid
	wait_for "$tmp/dead.json" '"event":"open"'
	drop_tcp
	t0=$(date +%s%N)
	wait_exit "$cpid" 10
	took=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $rc -eq 5 ] && close_is "$tmp/dead.json" reason=timeout errno=ETIMEDOUT phase=open
	ok $? "--liveness 2000, the peer vanished (idle): exit 5, timeout, ETIMEDOUT (rc=$rc; $(summary "$tmp/dead.json"))"
	[ "$took" -ge 1500 ] && [ "$took" -le $((4000 * slow)) ]
	ok $? "detected ${took} ms after the drop (liveness 2000: idle 1 s + one 1 s probe)"
	kill "$ncpid" 2>/dev/null

	# Busy: data in flight when the peer vanishes; the user timeout
	# counts from the first retransmission (≈0.2-0.45 s on lo).
	ip netns exec "$ns" nft flush ruleset
	NC_NS=$ns start_nc dead2
	bg ip netns exec "$ns" "$H" connect --json --liveness 2000 "127.0.0.1:$port" <&7 >"$tmp/dead2.json"
	cpid=$bg_pid
	wait_for "$tmp/dead2.json" '"event":"open"'
	drop_tcp
	t0=$(date +%s%N)
	printf 'are you there?' >&7
	wait_exit "$cpid" 10
	took=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $rc -eq 5 ] && close_is "$tmp/dead2.json" reason=timeout errno=ETIMEDOUT bytes_out=14 undelivered=14 &&
		[ "$took" -ge 1500 ] && [ "$took" -le $((4500 * slow)) ]
	ok $? "busy dead peer: exit 5, timeout, 14 bytes undelivered, ${took} ms ($(summary "$tmp/dead2.json"))"
	kill "$ncpid" 2>/dev/null
	end_ns
fi

none_left
ok $? "every hangup this test started has exited"
done_testing
