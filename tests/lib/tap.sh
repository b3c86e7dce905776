# tap.sh -- TAP for the shell tests, the counterpart of tap.c: ok, skip,
# and done_testing, which prints the plan last, counted as the tests ran
# (never by hand). prove fails a script that ends without a plan, so a test
# that dies half-way still fails.
#
#	. "$(dirname "$0")/lib/tap.sh"
#	cmd; ok $? "what it shows"
#	done_testing
n=0 fail=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
done_testing() {
	echo "1..$n"
	exit $fail
}

# backend_check PID WHAT: one ok line saying that the process's event loop
# is on the backend this pass asked for -- with HANGUP_BACKEND=io_uring
# (make test's second pass) it holds an io_uring fd, otherwise none. So
# that pass cannot quietly test epoll twice.
backend_check() {
	local ring=epoll
	ls -l "/proc/$1/fd" 2>/dev/null | grep -q 'io_uring' && ring=io_uring
	[ "$ring" = "${HANGUP_BACKEND:-epoll}" ]
	ok $? "$2 runs its loop on ${HANGUP_BACKEND:-epoll} (found: $ring)"
}
