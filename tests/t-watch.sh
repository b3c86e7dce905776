#!/usr/bin/env bash
# t-watch.sh -- `hangup watch` against connections that end every way there
# is, provoked for real by tests/lib/watch-scen.py (one process plays both
# ends with plain syscalls and prints the ports and bytes it used). Each
# record is asserted field by field with jq: who sent the first FIN, the
# RST and its reason, the reason word, exact payload bytes, unread and
# undelivered bytes, the process. Most scenarios run inside a private
# network namespace watched with --netns (the host's traffic, other tests
# included, stays out); one runs on the host (IPv4 and IPv6 loopback).
# Then: bad input, no privilege, --summary, --prometheus scraped and parsed
# by python3-prometheus-client's OpenMetrics parser, nothing left behind.
. "$(dirname "$0")/lib/cli.sh"

# Debian's python3 (python3-prometheus-client is installed for it), not
# whatever python3 comes first in PATH.
py=/usr/bin/python3
[ -x $py ] || py=python3
scen="$py $top/tests/lib/watch-scen.py"
echo "1..38"

# ---- bad input: one line, exit 2 (no privilege needed) ----
one_line_error 2 "$H" watch --reason frobbed
ok $? "unknown --reason word: one line, exit 2 ($msg)"
one_line_error 2 "$H" watch --peer not-an-address
ok $? "bad --peer: one line, exit 2 ($msg)"
one_line_error 2 "$H" watch --port 70000
ok $? "bad --port: one line, exit 2 ($msg)"
one_line_error 2 "$H" watch --netns hu-no-such-namespace
ok $? "missing namespace: one line, exit 2 ($msg)"
one_line_error 2 "$H" watch --prometheus nowhere
ok $? "bad --prometheus address: one line, exit 2 ($msg)"
one_line_error 2 "$H" watch extra
ok $? "an operand: one line, exit 2 ($msg)"
"$H" watch --help >"$tmp/help" 2>&1 && grep -q -- '--summary SECS' "$tmp/help"
ok $? "--help lists the options, exit 0"

if [ "$(id -u)" -ne 0 ] || ! command -v nft >/dev/null 2>&1; then
	for i in $(seq $((n + 1)) 38); do skip "needs root and nft (namespaces, tracepoints)"; done
	exit 0
fi

# ---- without privilege: what is missing, said; nothing to run: exit 1 ----
if command -v setpriv >/dev/null 2>&1; then
	one_line_error 1 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$H" watch --sources trace --duration 1 &&
		grep -q 'cannot watch: tracepoints' "$tmp/ole.err"
	ok $? "no privilege, tracepoints only: exit 1, says why ($msg)"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$H" watch --duration 1 >/dev/null 2>"$tmp/np.err"
	rc=$?
	[ $rc -eq 0 ] && grep -q 'sock_diag; missing: tracepoints' "$tmp/np.err"
	ok $? "no privilege: runs on sock_diag alone and says what is missing (rc=$rc: $(head -1 "$tmp/np.err"))"
else
	skip "no setpriv"
	skip "no setpriv"
fi

# ---- the scenarios, in a private namespace ----
new_ns || { echo "Bail out! cannot create a namespace"; exit 1; }
mounts_before=$(grep -c tracefs /proc/mounts)
"$H" watch --json --netns "$ns" >"$tmp/w.json" 2>"$tmp/w.err" &
wpid=$!
pids+=("$wpid")
wait_for "$tmp/w.err" 'tracepoints on all CPUs + sock_diag' 5
ok $? "watch --netns starts with both sources ($(head -1 "$tmp/w.err"))"

# run NAME [HOST]: play a scenario in the namespace; its line in $tmp/NAME.
run() {
	ip netns exec "$ns" $scen "$@" >"$tmp/$1.s" 2>"$tmp/$1.e"
}
# rec NAME client|server: the record of that end, once it is there (by
# both ports: an ephemeral port comes back in a later scenario).
rec() {
	local me them i
	me=$(jq -r ".$2" "$tmp/$1.s")
	them=$(jq -r "if \"$2\" == \"client\" then .server else .client end" "$tmp/$1.s")
	for ((i = 0; i < 60 * slow; i++)); do
		jq -c --arg p "$me" --arg q "$them" 'select(.event == "end" and
			(.local | endswith(":" + $p)) and
			(.peer | endswith(":" + $q)))' "$tmp/w.json" >"$tmp/$1.$2"
		[ -s "$tmp/$1.$2" ] && return 0
		sleep 0.05
	done
	return 1
}
# check NAME END 'jq expr' description: one record, matching.
check() {
	local pid
	rec "$1" "$2"
	pid=$(jq -r .pid "$tmp/$1.s")
	[ "$(wc -l <"$tmp/$1.$2")" -eq 1 ] &&
		jq -e --argjson pid "$pid" "$3" "$tmp/$1.$2" >/dev/null
	ok $? "$4: $(cut -c1-400 "$tmp/$1.$2" 2>/dev/null)"
}

run client-closes
check client-closes client '.origin == "opened" and .reason == "local" and
	.first_fin == "local" and .rst == "none" and .bytes_out == 6 and
	.bytes_in == 3 and .unread == 0 and .undelivered == 0 and
	.pid == $pid and .comm == "python3" and .netns != null' \
	"orderly close, we closed first: local, fin=local, out 6 in 3, our pid"
check client-closes server '.origin == "accepted" and .reason == "eof" and
	.first_fin == "peer" and .rst == "none" and .bytes_in == 6 and
	.bytes_out == 3 and .unread == 0 and .state == "LAST_ACK" and
	.phase == "closing"' \
	"orderly close, the peer closed first: eof, fin=peer, in 6 out 3"

run server-closes
check server-closes server '.origin == "accepted" and .reason == "local" and
	.first_fin == "local" and .bytes_in == 4 and .bytes_out == 5' \
	"orderly close from the server: local, in 4 out 5"
check server-closes client '.origin == "opened" and .reason == "eof" and
	.first_fin == "peer" and .bytes_in == 5 and .bytes_out == 4 and
	.errno == null' "the client of it: eof, in 5 out 4"

run half-close
check half-close client '.reason == "local" and .first_fin == "local" and
	.state == "FIN_WAIT2" and .bytes_out == 7 and .bytes_in == 9 and
	.unread == 0' "half-close, then the reply read: local, out 7 in 9"
check half-close server '.reason == "eof" and .first_fin == "peer" and
	.bytes_in == 7 and .bytes_out == 9' "the server that replied after the FIN: eof, in 7 out 9"

run simultaneous
check simultaneous client '.first_fin == "both" and .detail == "simultaneous"
	and .rst == "none" and .bytes_out == 10' \
	"simultaneous close (FINs crossed): fin=both, out 10"
check simultaneous server '.first_fin == "both" and .bytes_in == 10 and
	.bytes_out == 0' "the other end of it: fin=both, in 10"

run unread
check unread server '.reason == "abort" and .detail == "unread-data" and
	.rst_reason == "TCP_ABORT_ON_CLOSE" and .rst == "local" and
	.first_fin == "none" and .bytes_in == 6 and .unread == 6 and
	.pid == $pid' "close with 6 unread bytes: abort, unread-data, unread 6"
check unread client '.reason == "reset" and .rst == "peer" and
	.errno == "ECONNRESET" and .bytes_out == 6 and .undelivered == 0' \
	"its peer: reset, ECONNRESET, out 6 all delivered"

run reply-lost
check reply-lost server '.reason == "abort" and .detail == "unread-data" and
	.first_fin == "peer" and .bytes_in == 27 and .unread == 11 and
	.bytes_out == 25' "server closes with 11 of 27 bytes unread after the FIN: abort, unread 11, out 25"
check reply-lost client '.reason == "reset" and .first_fin == "local" and
	.rst == "peer" and .bytes_in == 25 and .unread == 25 and
	.state == "FIN_WAIT2"' "its client: reset in FIN_WAIT2, the 25-byte reply received but never read"

run linger-abort
check linger-abort client '.reason == "abort" and .detail == "linger-abort"
	and .rst_reason == "TCP_STATE" and .bytes_in == null and
	.bytes_out == null' \
	"SO_LINGER {1,0}: abort, linger-abort (tcp_disconnect zeroed the counts: null, not a guess)"
check linger-abort server '.reason == "reset" and .errno == "ECONNRESET"
	and .bytes_in == 4 and .rst == "peer"' "its peer: reset, in 4"

run data-after-close
check data-after-close client '.reason == "reset" and .first_fin == "peer"
	and .rst == "peer" and .errno == "EPIPE" and .bytes_out == 5 and
	.undelivered == 5 and .state == "CLOSE_WAIT"' \
	"data after the peer's close: reset, EPIPE, the 5 late bytes undelivered"

run refused
check refused client '.reason == "refused" and .errno == "ECONNREFUSED" and
	.state == "SYN_SENT" and .rst == "peer" and .bytes_out == 0 and
	.pid == $pid and .comm == "python3"' \
	"refused: refused, ECONNREFUSED, in SYN_SENT (the process, gone by then, named)"

run keepalive
check keepalive client '.reason == "timeout" and .detail == "keepalive" and
	.rst_reason == "TCP_KEEPALIVE_TIMEOUT" and .errno == "ETIMEDOUT" and
	.bytes_out == 3 and .ms >= 2000' \
	"keepalive death (nft drop): timeout, keepalive, out 3"

run user-timeout
check user-timeout client '.reason == "timeout" and .detail == "retransmits"
	and .rst == "none" and .errno == "ETIMEDOUT" and .bytes_out == 24 and
	.undelivered == 16' \
	"user timeout (nft drop): timeout, retransmits, 16 of 24 bytes undelivered"

run syn-timeout
check syn-timeout client '.reason == "connect-timeout" and
	.detail == "syn-retries" and .errno == "ETIMEDOUT" and
	.state == "SYN_SENT" and .retransmits >= 1' \
	"SYN timeout (nft drop): connect-timeout, syn-retries"

grep -q '"event":"lost"' "$tmp/w.json"
[ $? -ne 0 ] || grep -q '"lost_samples":0,"netlink_overruns":0' "$tmp/w.json"
ok $? "nothing lost during the scenarios (a loss would be a \"lost\" line)"

kill -TERM "$wpid"
wait_exit "$wpid" 5
[ $rc -eq 0 ] && grep -q 'ends seen' "$tmp/w.err"
ok $? "SIGTERM: exit 0 with the totals ($(tail -1 "$tmp/w.err" | cut -c1-120))"
[ "$(grep -c tracefs /proc/mounts)" -eq "$mounts_before" ] &&
	! ls -d /tmp/hangup-tracefs.* >/dev/null 2>&1
ok $? "no tracefs mount or directory left behind"

# ---- the host's namespace, IPv4 and IPv6, --count, --port ----
ip netns exec "$ns" true
"$H" watch --json --peer ::1 --count 2 >"$tmp/w.json" 2>"$tmp/w2.err" &
wpid=$!
pids+=("$wpid")
wait_for "$tmp/w2.err" 'tracepoints' 5
$scen client-closes ::1 >"$tmp/v6.s"
rec v6 client && jq -e '.family == "ipv6" and (.local | startswith("[::1]:"))
	and .bytes_out == 6 and .reason == "local"' "$tmp/v6.client" >/dev/null
ok $? "IPv6 on the host: [::1], out 6, local"
wait_exit "$wpid" 5
[ $rc -eq 0 ] && [ "$(wc -l <"$tmp/w.json")" -eq 2 ]
ok $? "--peer ::1 --count 2: two records (both ends), then exit 0 (rc=$rc)"

"$H" watch --json --port 1 --duration 2 >"$tmp/p.json" 2>/dev/null &
wpid=$!
pids+=("$wpid")
sleep 0.5
$scen client-closes >/dev/null
wait_exit "$wpid" 5
[ $rc -eq 0 ] && ! grep -q '"event":"end"' "$tmp/p.json"
ok $? "--port 1: other ports' ends are not shown ($(grep -c lost "$tmp/p.json") loss lines)"

# ---- --summary and --prometheus ----
"$H" watch --netns "$ns" --summary 1 --duration 3 \
	--prometheus 127.0.0.1:0 >"$tmp/sum" 2>"$tmp/prom.err" &
wpid=$!
pids+=("$wpid")
wait_for "$tmp/prom.err" 'metrics on http://' 5
url=$(grep -o 'http://[^ ]*' "$tmp/prom.err")
run unread
run client-closes
sleep 0.5
curl -sf "$url" >"$tmp/metrics" 2>/dev/null ||
	$py -c "import sys,urllib.request;sys.stdout.write(urllib.request.urlopen('$url').read().decode())" >"$tmp/metrics"
wait_exit "$wpid" 6
grep -Eq '^:[0-9]+ +abort +1 +6 +0 +6 ' "$tmp/sum" &&
	grep -Eq '^:[0-9]+ +eof +1 +6 +3 ' "$tmp/sum"
ok $? "--summary: rows per service and reason with counts and bytes ($(grep -c abort "$tmp/sum") abort rows)"
if $py -c 'import prometheus_client' 2>/dev/null; then
	$py - "$tmp/metrics" >"$tmp/parsed" 2>&1 <<'EOF'
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
ends = fams["hangup_watch_ends"]
assert ends.type == "counter", ends.type
by = {}
for s in ends.samples:
    k = (s.labels["reason"], s.labels["first_fin"], s.labels["rst"])
    by[k] = by.get(k, 0) + s.value
assert by.get(("abort", "none", "local")) == 1, by
assert by.get(("reset", "none", "peer")) == 1, by
assert by.get(("eof", "peer", "none")) == 1, by
assert by.get(("local", "local", "none")) == 1, by
assert fams["hangup_watch_lost_samples"].samples[0].value == 0
assert fams["hangup_watch_duration_seconds"].type == "histogram"
print("parsed", len(fams), "families")
EOF
	ok $? "--prometheus: the OpenMetrics parser reads the scrape; counts by reason/fin/rst right ($(tail -1 "$tmp/parsed"))"
else
	skip "python3-prometheus-client not installed"
fi
fds=$(ls /proc/self/fd | wc -l)
[ "$fds" -lt 20 ]
ok $? "the shell has no stray fds ($fds)"
exit $fail
