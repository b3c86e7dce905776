#!/usr/bin/env bash
# watch-bench.sh BUILD [OUT.md] -- what `hangup watch` costs and where it
# stops keeping up: loopback churn (bench/watch-churn.c) inside a private
# network namespace at fixed rates, once without watch and once with
# `hangup watch --json --netns NS` running, generator pinned to CPU 1 and
# watch to CPU 0. Per rate: connections made, records watch printed (two
# per connection: one per end), samples and messages lost, watch's CPU per
# connection end, the churn's own CPU per connection with and without
# (the kernel's tracepoint cost lands there), and the delay from the
# kernel's destroy of the socket to the printed record (p50/p99).
# Then bcc's tcplife on the same churn, if it runs here.
#
# Needs root (a namespace, tracepoints); says so and exits 0 otherwise.
# Appends a section to OUT.md when given. WATCH_BENCH_SECS (default 5),
# WATCH_BENCH_RATES (connections/s; 0 = as fast as it goes).
set -u
B=${1:-build}
out=${2:-}
H=$B/hangup
churn=$B/bench/watch-churn
secs=${WATCH_BENCH_SECS:-5}
rates=${WATCH_BENCH_RATES:-"2500 5000 10000 15000 20000 0"}
if [ "$(id -u)" -ne 0 ]; then
	echo "watch bench: needs root (namespace, tracepoints): skipped"
	exit 0
fi
ns=hu_wbench_$$
tmp=$(mktemp -d)
wpid=
cleanup() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || exit 1
# Churn reuses 4-tuples whose TIME_WAIT is on the server's side.
ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 \
	net.ipv4.ip_local_port_range="1024 65000"
tck=$(getconf CLK_TCK)
cpu_of() { awk -v t="$tck" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
churn_run() { ip netns exec "$ns" taskset -c 1 "$churn" "$1" "$secs" 100; }
pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END {
	if (!NR) { print "-"; exit } i = int((NR * p + 99) / 100); if (i < 1) i = 1;
	printf "%.1f", v[i] / 1000 }'; }

rows=$tmp/rows
load0=$(cut -d' ' -f1-3 /proc/loadavg)
# Each rate with JSON lines written to a file; then one rate with
# --summary (no line per record: the engine's own cost).
for rate in $rates summary; do
	mode=--json
	if [ "$rate" = summary ]; then
		mode="--summary 3600"
		rate=${WATCH_BENCH_SUMMARY_RATE:-20000}
	fi
	base=$(churn_run "$rate")
	taskset -c 0 "$H" watch $mode --netns "$ns" >"$tmp/w.json" 2>"$tmp/w.err" &
	wpid=$!
	for _ in $(seq 50); do grep -q tracepoints "$tmp/w.err" && break; sleep 0.1; done
	c0=$(cpu_of "$wpid")
	with=$(churn_run "$rate")
	sleep 0.5 # the last records: hold 20 ms, diag wait up to 300 ms
	c1=$(cpu_of "$wpid")
	kill -TERM "$wpid"
	wait "$wpid" 2>/dev/null
	wpid=
	conns=$(field conns "$with")
	ends=$(grep -c '"event":"end"' "$tmp/w.json")
	if [ "$mode" != --json ]; then
		ends=$(sed -n 's/.* \([0-9]*\) ends seen.*/\1/p' "$tmp/w.err")
		: >"$tmp/w.json"
	fi
	lost=$(sed -n 's/.*, \([0-9]*\) lost samples, \([0-9]*\) netlink overruns.*/\1 \2/p' \
		"$tmp/w.err" | awk '{ print $1 + $2 }')
	p50=$(jq -r 'select(.event == "end") | .delay_us' "$tmp/w.json" | pct 50)
	p99=$(jq -r 'select(.event == "end") | .delay_us' "$tmp/w.json" | pct 99)
	awk -v rate="$rate" -v conns="$conns" -v ends="$ends" -v lost="$lost" \
		-v c0="$c0" -v c1="$c1" -v p50="$p50" -v p99="$p99" -v mode="$mode" \
		-v bc="$(field cpu_s "$base")" -v bn="$(field conns "$base")" \
		-v br="$(field rate "$base")" -v wc="$(field cpu_s "$with")" \
		-v wr="$(field rate "$with")" 'BEGIN {
		per_end = ends ? (c1 - c0) / ends * 1e6 : 0
		b = bc / bn * 1e6; w = wc / conns * 1e6
		printf "| %s%s | %.0f | %.0f | %d | %d | %s | %.2f | %.1f | %.1f | %+.1f%% | %s | %s |\n",
			rate ? rate : "max", mode == "--json" ? "" : " (--summary)", br, wr, conns, ends,
			(ends == 2 * conns && lost == 0) ? "0" : lost " samples, " 2 * conns - ends " records",
			per_end, b, w, (w / b - 1) * 100, p50, p99 }' >>"$rows"
	tail -1 "$rows"
	sleep 1
done

# bcc's tcplife on the same churn, if it runs on this kernel.
tl=$(command -v tcplife-bpfcc || command -v tcplife || true)
tlnote="bcc's tcplife: not installed (apt-get install bpfcc-tools)."
if [ -n "$tl" ]; then
	taskset -c 0 "$tl" >"$tmp/tl.out" 2>"$tmp/tl.err" &
	wpid=$!
	sleep 8 # compiling the BPF program takes seconds
	if kill -0 "$wpid" 2>/dev/null; then
		c0=$(cpu_of "$wpid")
		with=$(churn_run 5000)
		sleep 1
		c1=$(cpu_of "$wpid")
		kill -INT "$wpid"
		wait "$wpid" 2>/dev/null
		port=$(field port "$with")
		seen=$(grep -c " $port " "$tmp/tl.out")
		tlnote=$(awk -v s="$seen" -v c="$(field conns "$with")" -v c0="$c0" -v c1="$c1" \
			'BEGIN { printf "bcc tcplife at 5000 connections/s: %d lines for %d connections (%d ends), %.2f us CPU per line (no reason, no who-ended, no RST)", s, c, 2 * c, s ? (c1 - c0) / s * 1e6 : 0 }')
	else
		wait "$wpid" 2>/dev/null
		tlnote="bcc's tcplife ($tl) cannot run here: $(grep -v '^$' "$tmp/tl.err" | head -3 | tr '\n' ' ' | cut -c1-300)"
	fi
	wpid=
fi
echo "$tlnote"

{
	echo
	echo "## hangup watch: loopback churn with and without it"
	echo
	echo "\`bench/watch-bench.sh\` ($(date -u +%Y-%m-%d), $(nproc) CPUs, kernel $(uname -r), load average before: $load0): \`watch-churn\` in a private namespace on CPU 1 (connect, accept, 100 bytes, the server closes, then the client), \`hangup watch --json --netns\` on CPU 0, ${secs} s per rate. Two records per connection (each end); the last row runs \`--summary\` instead of \`--json\` (no line per record: what the engine itself costs; its records are counted from the totals). *lost* = samples/messages lost and records missing; *watch µs/end* = watch's CPU ÷ records; *churn µs/conn* = the generator's own CPU (it carries the kernel's TCP work and the tracepoints) without → with watch; *delay* = the kernel's destroy of the socket → the record printed."
	echo
	echo "| rate (conn/s) | achieved without | with watch | connections | records | lost | watch µs/end | churn µs/conn without | with | slowdown | delay p50 ms | p99 ms |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	cat "$rows"
	echo
	echo "$tlnote"
} >"$tmp/section"
if [ -n "$out" ]; then
	cat "$tmp/section" >>"$out"
	echo "watch bench: appended to $out"
else
	cat "$tmp/section"
fi
