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
n=0
failed=0
ok() { # ok STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
	fi
}
skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}
# q FILTER: jq -e over all objects of the default run (slurped)
q() { jq -e -s "$1" "$tmp/all.json" >/dev/null 2>&1; }

root=0
[ "$(id -u)" -eq 0 ] && root=1

"$H" lab --json >"$tmp/all.json" 2>"$tmp/all.err"
rc=$?
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
reset-before-accept myth-recv-eagain myth-send-einprogress"
missing=
for s in $names; do
	q "map(.name) | index(\"$s\") != null" || missing="$missing $s"
done
[ -z "$missing" ]
ok $? "the scenario families are all there${missing:+ (missing:$missing)}"

q 'map(select(.verdict != "pass" and
	    (.verdict != "skip" or .netns == false))) | length == 0'
ok $? "every verdict is pass (skip only for namespace scenarios)"

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
else
	for i in 1 2 3 4; do skip "no packet capture (needs root)"; done
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

"$H" lab --list >"$tmp/list" 2>&1
ok $? "--list exits 0"
grep -q '^abortive-close ' "$tmp/list" && grep -q '^myth-recv-eagain ' \
	"$tmp/list"
ok $? "--list names the scenarios"

"$H" lab no-such-scenario >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "an unknown scenario exits 2"
"$H" lab --no-such-option >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "an unknown option exits 2"

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

echo "1..$n"
exit $failed
