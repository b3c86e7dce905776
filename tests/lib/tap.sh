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
