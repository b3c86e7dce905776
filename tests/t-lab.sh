#!/bin/bash
# t-lab.sh -- `hangup lab` through its JSON: every scenario is there and
# behaved as the kernel is expected to, the packets say what the scenario is
# about (an abortive close is an RST and no FIN), the myths show the stale
# errno, and the options (--list, --svg, --markdown, --no-capture, unknown
# names) do what they say. TAP; needs jq (skips without it).

B=${HU_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
H=$B/hangup

if ! command -v jq >/dev/null 2>&1; then
	echo "1..0 # SKIP jq not installed"
	exit 0
fi
if [ ! -x "$H" ]; then
	echo "1..0 # SKIP $H not built"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib/tap.sh"
# q FILTER: jq -e over all objects of the default run (slurped)
q() { jq -e -s "$1" "$tmp/all.json" >/dev/null 2>&1; }

root=0
[ "$(id -u)" -eq 0 ] && root=1

t0=$(date +%s.%N)
"$H" lab --json >"$tmp/all.json" 2>"$tmp/all.err"
rc=$?
t1=$(date +%s.%N)
ok $rc "default run exits 0 (every scenario as expected or skipped)"
[ $rc -ne 0 ] && sed 's/^/# /' "$tmp/all.err" && jq -c \
	'select(.verdict=="fail") | {name, mismatches}' "$tmp/all.json" |
	sed 's/^/# /'

jq -e . "$tmp/all.json" >/dev/null 2>&1
ok $? "every output line is JSON"

names="peer-close data-then-close write-after-close write-after-close-sigpipe
half-close unread-close abortive-close peer-killed peer-killed-unread
dead-peer-idle dead-peer-idle-liveness dead-peer-busy dead-peer-busy-liveness
connect-refused connect-in-progress unix-close unix-sigpipe epoll-et-lt
reset-before-accept myth-recv-eagain myth-send-einprogress uring-recv-fin
uring-multishot-fin uring-recv-rst uring-multishot-enobufs uring-multishot-cancel
uring-close-with-armed-recv uring-dead-peer"
missing=
for s in $names; do
	q "map(.name) | index(\"$s\") != null" || missing="$missing $s"
done
[ -z "$missing" ]
ok $? "the scenario families are all there${missing:+ (missing:$missing)}"

# The issue's twelve families, the io_uring view of them (issue 16) and
# the two myths, each by its family word and by the scenarios that carry
# its particular claims.
families="peer-close data-then-close write-after-close half-close unread-close
abortive-close peer-killed dead-peer connect unix epoll accept io_uring myths"
missing=
for f in $families; do
	q "map(.family) | index(\"$f\") != null" || missing="$missing $f"
done
[ -z "$missing" ]
ok $? "all twelve families, io_uring and the myths are there${missing:+ (missing:$missing)}"

q 'length == ([.[].name] | unique | length)'
ok $? "scenario names are unique"
q 'all(.name | test("^[a-z0-9]+(-[a-z0-9]+)*$"))'
ok $? "scenario names are kebab-case"
q 'all(.verdict == "pass" or .verdict == "fail" or .verdict == "skip")'
ok $? "every scenario has a verdict"
q 'all((.expected | length > 20) and (.rule | length > 10))'
ok $? "every scenario states its expected behaviour and a rule"
q 'all(has("steps") and has("packets") and has("mismatches"))'
ok $? "every object carries steps, packets and mismatches"
q 'map(select(.verdict != "skip")) | all(.steps | length > 0)'
ok $? "every scenario that ran recorded steps"
q 'any(.name == "self-test-mismatch") | not'
ok $? "the test-only scenario is not part of a default run"

# A skip is allowed where the machine cannot run a scenario: a namespace
# without root, io_uring where the kernel refuses it (the reason says so).
q 'map(select(.verdict != "pass" and
	    (.verdict != "skip" or (.netns == false and
	     (.family != "io_uring" or
	      (.skip_reason | test("^io_uring|^IORING") | not)))))) |
   length == 0'
ok $? "every verdict is pass (skip only for namespace or io_uring ones)"

if [ $root -eq 1 ]; then
	q 'map(select(.netns)) | all(.verdict == "pass")'
	ok $? "as root the namespace (dead-peer) scenarios ran and passed"
else
	skip "not root: namespace scenarios are skipped"
fi

q 'all(.mismatches | length == 0)'
ok $? "no mismatches reported"

q '[.[].steps[] | select(.errno != null) | .ret | startswith("-1")] | all'
ok $? "errno is shown only for calls that returned -1"
q '[.[].steps[] | select(.ret == "-1") | .errno != null] | all'
ok $? "every call that returned -1 shows its errno"
q '[.[] | select(.family != "myths") | .steps[] |
    select(has("stale_errno_after_success"))] | length == 0'
ok $? "a stale errno after success is shown only in the myth scenarios"
q '[.[] | select(.family == "myths") | .steps[] |
    select(has("stale_errno_after_success")) | .errno == null] | all'
ok $? "myth steps with a stale errno are calls that succeeded"
q '[.[].steps[] | select(has("observed")) |
    has("epoll") and has("state") and has("outq") and has("inq")] | all'
ok $? "every snapshot records epoll events, TCP state and queue sizes"
q '[.[].steps[] | select(has("observed") and .state != "LISTEN") |
    .hangup != null] | all'
ok $? "every snapshot of a connection records hangup's classification"
q '[.[].steps[] | select(has("observed") | not) | .call |
    test("^hu_close_graceful|^drop all TCP")] | all'
ok $? "every step takes a snapshot, but for a close of the socket itself"
q 'map(select(.name | startswith("unread-close") and
		     (. != "unread-close-graceful")) | .steps |
       any(.observed == "peer" and .inq == 3)) | length == 4 and all'
ok $? "unread-close: the bytes the close destroys are shown unread"

if q 'map(select(.name == "abortive-close"))[0].captured'; then
	q 'map(select(.name == "abortive-close"))[0].packets | map(.flags) |
	   (any(test("RST")) and (any(test("FIN")) | not))'
	ok $? "abortive-close packets: an RST and no FIN"
	q 'map(select(.name == "peer-close"))[0].packets |
	   any(.dir == "server->client" and (.flags | test("FIN")))'
	ok $? "peer-close packets: the server's FIN"
	q 'map(select(.name == "unread-close"))[0].packets | map(.flags) |
	   (any(test("RST")) and (any(test("FIN")) | not))'
	ok $? "unread-close packets: RST instead of FIN"
	q 'map(select(.name == "write-after-close"))[0].packets |
	   (map(.flags) | index("FIN,ACK")) as $f |
	   (map(.flags | test("RST")) | index(true)) as $r |
	   $f != null and $r != null and $f < $r'
	ok $? "write-after-close packets: FIN first, RST after our write"
	q 'map(select(.name == "reset-before-accept"))[0].packets |
	   any(.dir == "client->server" and (.flags | test("RST"))) and
	   (map(.flags) | any(test("FIN")) | not)'
	ok $? "reset-before-accept packets: the client's RST, no FIN"
	q 'map(select(.name == "half-close" or
		       .name == "unread-close-graceful") | .packets |
	   any(.dir == "client->server" and (.flags | test("FIN"))) and
	   any(.dir == "server->client" and (.flags | test("FIN"))) and
	   (map(.flags) | any(test("RST")) | not)) | length == 2 and all'
	ok $? "half-close, graceful close: a FIN each way and no RST"
	q 'map(select(.name == "peer-killed-unread"))[0].packets | map(.flags) |
	   (any(test("RST")) and (any(test("FIN")) | not))'
	ok $? "peer-killed-unread packets: RST, no FIN"
	q 'map(select(.captured)) | all(.packets | length > 0 and
	   (.[0].flags == "SYN") and all(.t_ms >= 0))'
	ok $? "every capture starts with the scenario's own SYN"
	q 'map(select(.captured)) | all(.packets | . == sort_by(.t_ms))'
	ok $? "packets are in time order"
	q 'map(select(.captured and (.name | startswith("unix")))) | length == 0'
	ok $? "Unix-domain scenarios claim no capture"
else
	for i in 1 2 3 4 5 6 7 8 9 10; do
		skip "no packet capture (needs root)"
	done
fi
if [ $root -eq 1 ] && q 'map(select(.name == "dead-peer-busy"))[0].captured'
then
	q 'map(select(.name == "dead-peer-busy"))[0].packets |
	   map(select(.len == 100)) | length >= 3 and all(.dropped) and
	   (map(.seq) | unique | length == 1)'
	ok $? "dead-peer-busy: the data is retransmitted, all dropped"
	q 'map(select(.name == "dead-peer-idle-liveness"))[0].packets |
	   any(.dropped and .flags == "ACK" and .len == 0)'
	ok $? "dead-peer-idle-liveness: a keepalive probe, dropped"
	q 'map(select(.name == "connect-in-progress"))[0].packets |
	   map(select(.flags == "SYN")) | (.[0].dropped and
	   (.[-1].dropped | not))'
	ok $? "connect-in-progress: the first SYN dropped, its retransmission not"
else
	for i in 1 2 3; do skip "namespace packets need root"; done
fi

# The io_uring family (issue 16): a completion's error is its res, and a
# multishot recv's last completion has F_MORE clear, whatever ended it.
if q 'map(select(.name == "uring-multishot-fin"))[0].verdict == "pass"'; then
	q '[.[] | select(.family == "io_uring") | .steps[] | select(.cqe) |
	    .errno == null and .value == .cqe.res] | length > 10 and all'
	ok $? "io_uring: a completion's error is its res, never errno"
	q '[.[] | select(.family == "io_uring") | .steps[] |
	    select(.cqe and (.ret | startswith("multishot"))) |
	    .cqe.more == (.cqe.res > 0)] | length >= 15 and all'
	ok $? "io_uring: a multishot's data has F_MORE, its end (res <= 0) not"
	q 'map(select(.name == "uring-multishot-fin"))[0].steps |
	   map(select(.cqe)) | .[-1].cqe.res == 0'
	ok $? "io_uring: the FIN ends a multishot with res=0"
	q 'map(select(.name == "uring-multishot-enobufs"))[0].steps |
	   (map(select(.cqe and .cqe.res == -105))[0] |
	    .state == "ESTABLISHED" and .inq == 8 and (.cqe.more | not)) and
	   (map(select(.cqe)) | .[-1].cqe.res == 0)'
	ok $? "io_uring: -ENOBUFS ends the multishot, not the connection"
	q 'map(select(.name == "uring-multishot-cancel"))[0].steps |
	   any(.cqe and .cqe.res == -125 and (.cqe.more | not) and
	       .state == "ESTABLISHED")'
	ok $? "io_uring: -ECANCELED ends the multishot, not the connection"
	q 'map(select(.name == "uring-close-with-armed-recv"))[0].steps |
	   any(.call == "close()" and .observed == "peer" and
	       .state == "ESTABLISHED")'
	ok $? "io_uring: close() with a recv armed leaves the peer ESTABLISHED"
else
	for i in 1 2 3 4 5 6; do skip "io_uring unavailable here"; done
fi
if q 'map(select(.name == "uring-close-with-armed-recv"))[0].captured'; then
	q 'map(select(.name == "uring-close-with-armed-recv"))[0] |
	   (.steps | map(select(.call | test("CANCEL")))[0].t_ms) as $c |
	   .packets | map(select(.flags | test("FIN"))) |
	   length == 1 and .[0].t_ms >= $c'
	ok $? "io_uring: the FIN goes out only when the armed recv is cancelled"
else
	skip "no packet capture (needs root) or io_uring unavailable"
fi
# Where io_uring_setup() fails, the io_uring scenarios skip and say why:
# strace makes it fail with ENOSYS, as a kernel without io_uring would.
if command -v strace >/dev/null 2>&1 &&
	strace -f -o /dev/null -e trace=io_uring_setup \
		-e inject=io_uring_setup:error=ENOSYS \
		"$H" lab --json uring-recv-fin >"$tmp/nouring.json" 2>/dev/null; then
	jq -e '.verdict == "skip" and (.skip_reason | test("ENOSYS")) and
	       (.steps | length == 0)' "$tmp/nouring.json" >/dev/null
	ok $? "io_uring_setup failing (ENOSYS): the scenario skips, saying why"
else
	skip "strace cannot inject a failing io_uring_setup here"
fi

q 'map(select(.name == "myth-recv-eagain"))[0].steps |
   (map(.stale_errno_after_success) | index("EAGAIN") != null) and
   (map(.stale_errno_after_success) | index("0") != null)'
ok $? "myth-recv-eagain: recv()==0 with errno 0 and with a stale EAGAIN"
q 'map(select(.name == "myth-send-einprogress"))[0].steps |
   any(.stale_errno_after_success == "EINPROGRESS" and .value > 0 and
       .errno == null)'
ok $? "myth-send-einprogress: send()>0 with a stale EINPROGRESS"

q 'map(select(.name == "write-after-close-sigpipe"))[0].steps |
   any(.ret | test("SIGPIPE"))'
ok $? "a child without MSG_NOSIGNAL dies of SIGPIPE"

# A mismatch must be printed plainly and fail the run: the test-only
# scenario (undocumented --self-test-mismatch) expects the wrong things.
"$H" lab --self-test-mismatch >"$tmp/mis.txt" 2>&1
rc=$?
[ $rc -eq 1 ]
ok $? "a mismatch makes the exit status 1 (got $rc)"
grep -q '^   MISMATCH: step 3 us recv(64): expected -1 ECONNRESET' \
	"$tmp/mis.txt" && grep -q '\[fail\]' "$tmp/mis.txt" &&
	grep -q '0 passed, 1 failed' "$tmp/mis.txt"
ok $? "a mismatch is printed plainly, with what was expected"
"$H" lab --json --self-test-mismatch >"$tmp/mis.json" 2>/dev/null
rc=$?
[ $rc -eq 1 ] && jq -e '.verdict == "fail" and (.mismatches | length >= 1)
	and any(.steps[]; .ok == false)' "$tmp/mis.json" >/dev/null
ok $? "--json: the mismatch is in the verdict, the step and the list"
"$H" lab --self-test-mismatch peer-close >/dev/null 2>&1
[ $? -eq 1 ]
ok $? "one failing scenario among passing ones still fails the run"

"$H" lab --list >"$tmp/list" 2>&1
ok $? "--list exits 0"
! grep -q 'self-test' "$tmp/list"
ok $? "--list does not show the test-only scenario"
grep -q '^abortive-close ' "$tmp/list" && grep -q '^myth-recv-eagain ' \
	"$tmp/list"
ok $? "--list names the scenarios"

"$H" lab no-such-scenario >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "an unknown scenario exits 2"
"$H" lab --no-such-option >"$tmp/opt.out" 2>"$tmp/opt.err"
[ $? -eq 2 ] && [ ! -s "$tmp/opt.out" ] && [ "$(wc -l <"$tmp/opt.err")" -eq 1 ] &&
	grep -q "^hangup lab: unknown option '--no-such-option'" "$tmp/opt.err"
ok $? "an unknown option: one line naming it, exit 2 ($(cat "$tmp/opt.err"))"

"$H" lab --json abortive-close >"$tmp/one.json" 2>/dev/null
[ "$(wc -l <"$tmp/one.json")" -eq 1 ] &&
	jq -e '.name == "abortive-close"' "$tmp/one.json" >/dev/null
ok $? "a scenario chosen by name runs alone"

"$H" lab --json --no-capture peer-close >"$tmp/nc.json" 2>/dev/null
jq -e '.captured == false and (.packets | length == 0) and
       .verdict == "pass"' "$tmp/nc.json" >/dev/null
ok $? "--no-capture: steps alone, no packets"

"$H" lab --svg "$tmp/svg" peer-close abortive-close dead-peer-busy-liveness \
	unix-close >/dev/null 2>&1
ok $? "--svg exits 0"
svgs=$(ls "$tmp/svg"/*.svg 2>/dev/null | wc -l)
[ "$svgs" -ge 3 ]
ok $? "--svg writes one file per scenario ($svgs)"
wf=0
for f in "$tmp/svg"/*.svg; do
	if command -v xmllint >/dev/null 2>&1; then
		xmllint --noout "$f" 2>/dev/null || wf=1
	else
		head -c 200 "$f" | grep -q '<svg' && tail -n1 "$f" |
			grep -q '</svg>' || wf=1
	fi
done
ok $wf "the SVG files are well-formed XML"
grep -q 'marker-end' "$tmp/svg/abortive-close.svg" ||
	[ "$(jq -r '.captured' "$tmp/one.json")" = false ]
ok $? "the abortive-close ladder has arrows (when capturing)"
if [ "$(jq -r '.captured' "$tmp/one.json")" = true ]; then
	# Arrows point the right way: the server's RST runs from the right
	# lane to the left one; there is no FIN arrow.
	grep -o '<line class="seg s2c" data-flags="RST[^"]*" x1="[0-9]*" [^>]*' \
		"$tmp/svg/abortive-close.svg" |
		sed -E 's/.* x1="([0-9]+)" y1="[0-9]+" x2="([0-9]+)".*/\1 \2/' |
		{ read -r a b && [ "$a" -gt "$b" ]; }
	ok $? "abortive-close SVG: the RST arrow points from server to client"
	! grep -q 'data-flags="[^"]*FIN' "$tmp/svg/abortive-close.svg"
	ok $? "abortive-close SVG: no FIN arrow"
else
	skip "no packet capture (needs root)"
	skip "no packet capture (needs root)"
fi
# --svg where nothing can be written: one status, 3, however it fails --
# not 1 (that is a mismatch) nor 2 (usage) -- said before anything runs.
: >"$tmp/file"
"$H" lab --svg "$tmp/file" peer-close >"$tmp/svgf.out" 2>"$tmp/svgf.err"
rc=$?
[ $rc -eq 3 ] && [ ! -s "$tmp/svgf.out" ] &&
	grep -q "^hangup lab: cannot write to $tmp/file" "$tmp/svgf.err"
ok $? "--svg onto a file: exit 3, nothing run (got $rc)"
"$H" lab --svg "$tmp/no/such/dir" peer-close >/dev/null 2>&1
rc=$?
[ $rc -eq 3 ]
ok $? "--svg under a missing directory: exit 3 (got $rc)"
ro=$(mktemp -d)
chmod 555 "$ro"
if [ $root -eq 0 ]; then
	"$H" lab --svg "$ro" peer-close >/dev/null 2>&1
	rc=$?
elif command -v setpriv >/dev/null 2>&1; then
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$H" lab --svg "$ro" peer-close >/dev/null 2>&1
	rc=$?
else
	rc=3
fi
rmdir "$ro"
[ $rc -eq 3 ]
ok $? "--svg into a directory we may not write: exit 3 (got $rc)"

grep -q 'expected: </tspan>' "$tmp/svg/peer-close.svg" &&
	grep -q 'rule: </tspan>' "$tmp/svg/peer-close.svg" &&
	grep -q '<title>peer-close' "$tmp/svg/peer-close.svg"
ok $? "an SVG carries its title, the expected behaviour and the rule"

"$H" lab --markdown peer-close unix-close >"$tmp/doc.md" 2>/dev/null
grep -q '^# Kernel truth' "$tmp/doc.md" && grep -q '^## peer-close' \
	"$tmp/doc.md" && grep -q '^| # | actor | call' "$tmp/doc.md"
ok $? "--markdown writes the document"

"$H" lab peer-close >"$tmp/text" 2>&1
! grep -q $'\033' "$tmp/text"
ok $? "no colour when stdout is not a terminal"

if [ $root -eq 1 ] && command -v setpriv >/dev/null 2>&1 &&
	setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$H" lab --json peer-close dead-peer-idle \
		>"$tmp/user.json" 2>"$tmp/user.err"
	rc=$?
	[ $rc -eq 0 ] && jq -e -s 'map(select(.name == "dead-peer-idle"))[0]
		.verdict == "skip" and
		(map(select(.name == "peer-close"))[0].verdict == "pass")' \
		"$tmp/user.json" >/dev/null
	ok $? "unprivileged: namespace scenarios skip, the rest pass"
	[ "$(grep -c 'capture' "$tmp/user.err")" -eq 1 ]
	ok $? "unprivileged: no capture, said once"
else
	skip "needs root and setpriv to run unprivileged"
	skip "needs root and setpriv to run unprivileged"
fi

# --watch: every scenario again with watch's engine attached, its record
# of each TCP socket compared with the capture (root: tracepoints and the
# capture; else exit 4, said in one line before anything runs).
if [ $root -eq 1 ]; then
	"$H" lab --watch --json >"$tmp/w.json" 2>"$tmp/w.err"
	rc=$?
	ok $rc "--watch: every scenario passes with watch's view matching"
	[ $rc -ne 0 ] && jq -c 'select(.verdict=="fail") | {name, mismatches}' \
		"$tmp/w.json" | sed 's/^/# /'
	# wq FILTER: jq -e over the --watch run (slurped)
	wq() { jq -e -s "$1" "$tmp/w.json" >/dev/null 2>&1; }
	wq 'map(select(.family != "unix")) | all(.watch | length > 0) and
	    all(.[].watch[]; .ok and .capture != null)'
	ok $? "--watch: every TCP scenario has watch records, each matching"
	wq 'map(select(.family == "unix")) | length > 0 and
	    all(.watch == [] and (.watch_note | test("TCP")))'
	ok $? "--watch: Unix scenarios say why there is nothing to compare"
	wq 'map(select(.name == "unread-close"))[0].watch |
	    any(.end == "server" and .reason == "abort" and
		.rst_reason == "TCP_ABORT_ON_CLOSE" and .bytes_in == 3) and
	    any(.end == "client" and .reason == "reset" and .rst_first == "peer")'
	ok $? "--watch: unread-close is the server's abort, with its 3 bytes"
	wq 'map(select(.name == "connect-refused"))[0].watch |
	    length == 1 and .[0].reason == "refused"'
	ok $? "--watch: connect-refused is one record, refused (no listener)"
	wq 'map(select(.name == "half-close"))[0].watch |
	    any(.end == "server" and .first_fin == "local" and .bytes_in == 8)'
	ok $? "--watch: half-close: the server's FIN first, and it still got 8"
	wq 'map(select(.name == "dead-peer-busy-liveness"))[0].watch |
	    any(.end == "client" and .reason == "timeout" and .bytes_out == 100)'
	ok $? "--watch: dead-peer-busy-liveness: the client's timeout, 100 out"
	# The comparison must be able to fail: the self-test perturbs each
	# record (who sent the first FIN, bytes in) before it is compared.
	"$H" lab --json --self-test-watch-mismatch peer-close \
		>"$tmp/wm.json" 2>/dev/null
	rc=$?
	[ $rc -eq 1 ] && jq -e '.verdict == "fail" and
		any(.mismatches[]; test("^watch: server record says first FIN by peer, capture says local")) and
		any(.watch[]; .ok == false)' "$tmp/wm.json" >/dev/null &&
		wq 'map(select(.name == "peer-close"))[0].verdict == "pass"'
	ok $? "--watch: a perturbed record fails the scenario (got $rc)"
	"$H" lab --watch peer-close >"$tmp/wt.txt" 2>&1 &&
		grep -q '^   watch: client .* eof  first FIN peer, RST none .*= capture' \
			"$tmp/wt.txt" &&
		grep -q '^   watch: server .* local  first FIN local' "$tmp/wt.txt"
	ok $? "--watch: the text shows each socket's record beside the steps"
else
	for i in 1 2 3 4 5 6 7 8 9; do skip "--watch needs root"; done
fi
"$H" lab --watch --no-capture peer-close >/dev/null 2>"$tmp/wnc.err"
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$tmp/wnc.err")" -eq 1 ]
ok $? "--watch with --no-capture: usage, exit 2 (got $rc)"
if [ $root -eq 0 ]; then
	"$H" lab --watch peer-close >"$tmp/wu.out" 2>"$tmp/wu.err"
	rc=$?
elif command -v setpriv >/dev/null 2>&1; then
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$H" lab --watch peer-close >"$tmp/wu.out" 2>"$tmp/wu.err"
	rc=$?
else
	rc=4
	: >"$tmp/wu.out"
	echo "hangup lab: --watch: (no setpriv)" >"$tmp/wu.err"
fi
[ $rc -eq 4 ] && [ ! -s "$tmp/wu.out" ] &&
	[ "$(wc -l <"$tmp/wu.err")" -eq 1 ] &&
	grep -q '^hangup lab: --watch: ' "$tmp/wu.err"
ok $? "--watch unprivileged: one line, exit 4, nothing run (got $rc: $(cat "$tmp/wu.err"))"

# The whole default run (dead-peer countdowns included) under 30 s.
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 30) }'
ok $? "the default run takes under 30 s ($(awk -v a="$t0" -v b="$t1" \
	'BEGIN { printf "%.1f", b - a }') s)"

# docs/kernel-truth.md is the lab's output, not a hand-typed page: it says
# so, and it has exactly the scenarios the lab has, in the lab's order.
doc=$(dirname "$0")/../docs/kernel-truth.md
if [ -f "$doc" ]; then
	grep -q '^\*Generated by `hangup lab --markdown`' "$doc"
	ok $? "docs/kernel-truth.md says it is generated"
	[ "$(sed -n 's/^## \([a-z0-9-]*\)$/\1/p' "$doc")" = \
		"$(awk '{print $1}' "$tmp/list")" ]
	ok $? "docs/kernel-truth.md has the lab's scenarios, in order"
	! grep -q 'MISMATCH' "$doc" && ! grep -q 'verdict: \*\*fail' "$doc"
	ok $? "docs/kernel-truth.md was generated by a passing run"
else
	skip "docs/kernel-truth.md not found"
	skip "docs/kernel-truth.md not found"
	skip "docs/kernel-truth.md not found"
fi

done_testing
