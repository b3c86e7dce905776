#!/usr/bin/env bash
# t-docs.sh -- the documentation holds to the code: every function the
# library exports (nm -D, and HU_EXPORT in hangup.h: the same list) has a
# prototype in hangup(3)'s SYNOPSIS and an entry in its text; `make install`
# puts a page per function (man 3 hu_recv) beside hangup.3; each command's
# --help names the options its SYNOPSIS in hangup(1) names; both pages
# render within 80 columns; README's package list has what .ci/run
# installs.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${HU_BUILD:-$top/build}
H=$build/hangup
man3=$top/docs/hangup.3
man1=$top/docs/hangup.1

. "$(dirname "$0")/lib/tap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT


# ---- every exported name has its entry in hangup(3) ----
sed -n 's/^HU_EXPORT .*[ *]\(hu_[a-z0-9_]*\)(.*/\1/p' "$top/include/hangup.h" | sort >"$tmp/hdr"
if command -v nm >/dev/null 2>&1; then
	nm -D --defined-only "$build/libhangup.so" | awk '$2 == "T" { print $3 }' | sort >"$tmp/nm"
	diff "$tmp/nm" "$tmp/hdr" >"$tmp/nmdiff"
	ok $? "nm -D and hangup.h's HU_EXPORT list the same $(wc -l <"$tmp/nm") functions ($(tr '\n' ' ' <"$tmp/nmdiff"))"
else
	cp "$tmp/hdr" "$tmp/nm"
	skip "nm (binutils) not installed"
fi
# The SYNOPSIS (up to DESCRIPTION) must declare it: "NAME(" in a .B/.BI
# line; the text after it must name it (.BR NAME (), or NAME( in an example).
sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$man3" >"$tmp/syn"
sed -n '/^\.SH DESCRIPTION/,$p' "$man3" >"$tmp/text"
nosyn= notext=
while read -r f; do
	grep -Eq "^\.BI? .*[ *]$f\(" "$tmp/syn" || nosyn="$nosyn $f"
	grep -Eq "(^|[ (])$f( \(\)|\(\)|\(| \")" "$tmp/text" || notext="$notext $f"
done <"$tmp/nm"
[ -z "$nosyn" ]
ok $? "every exported function has its prototype in hangup(3)'s SYNOPSIS (missing:${nosyn:- none})"
[ -z "$notext" ]
ok $? "every exported function is described in hangup(3)'s text (missing:${notext:- none})"

# ---- make install: a page per function, found by man ----
make -s -C "$top" --no-print-directory install BUILD="$build" SAN="${HU_SAN:-}" \
	PREFIX=/usr/local DESTDIR="$tmp/dest" >"$tmp/install.log" 2>&1
rc=$?
m3=$tmp/dest/usr/local/share/man/man3
missing=
while read -r f; do
	[ "$(cat "$m3/$f.3" 2>/dev/null)" = '.so man3/hangup.3' ] || missing="$missing $f"
done <"$tmp/nm"
[ $rc -eq 0 ] && [ -f "$m3/hangup.3" ] && [ -z "$missing" ] && ! grep -q '^ldconfig' "$tmp/install.log"
ok $? "make install DESTDIR=...: hangup.3 and one .so page per function, no ldconfig into a DESTDIR (rc=$rc; missing:${missing:- none})"
if command -v man >/dev/null 2>&1; then
	MANWIDTH=80 man -M "$tmp/dest/usr/local/share/man" 3 hu_recv 2>/dev/null >"$tmp/hu_recv.txt"
	grep -q 'hu_recv(int fd' "$tmp/hu_recv.txt"
	ok $? "man 3 hu_recv finds hangup(3) in the installed tree"
else
	skip "man not installed"
fi

# ---- --help and hangup(1) name the same options ----
bad=
for cmd in lab listen connect probe; do
	# The SYNOPSIS paragraph of this command, roff escapes undone.
	awk -v c="$cmd" '/^\.SY/ { on = ($0 ~ "\"hangup " c "\"") } /^\.YS/ { on = 0 } on' "$man1" |
		sed 's/\\-/-/g' | grep -o -- '--[a-z-]*' | sort -u >"$tmp/man.$cmd"
	# The usage lines of --help (up to the first blank line).
	"$H" "$cmd" --help 2>&1 | sed '/^$/q' | grep -o -- '--[a-z-]*' | sort -u >"$tmp/help.$cmd"
	diff -q "$tmp/man.$cmd" "$tmp/help.$cmd" >/dev/null ||
		bad="$bad $cmd: man [$(tr '\n' ' ' <"$tmp/man.$cmd")] help [$(tr '\n' ' ' <"$tmp/help.$cmd")]"
done
[ -z "$bad" ]
ok $? "each command's --help usage names the options of its hangup(1) SYNOPSIS${bad:+ ($bad)}"
"$H" listen --help >"$tmp/lh" && "$H" connect --help >"$tmp/ch"
grep -q SIGHUP "$tmp/lh" && grep -q SIGHUP "$tmp/ch" && grep -q '1 s' "$tmp/lh" && grep -q '1 s' "$tmp/ch" &&
	! grep -q '2 s' "$tmp/lh" "$tmp/ch"
ok $? "listen and connect --help: SIGHUP, and the 1 s linger of hangup(1), not 2 s"

# ---- both pages read cleanly at 80 columns ----
if command -v man >/dev/null 2>&1; then
	for p in 1 3; do
		MANWIDTH=80 MAN_KEEP_FORMATTING= man -l "$top/docs/hangup.$p" 2>"$tmp/warn.$p" >"$tmp/page.$p"
		long=$(perl -CSD -ne 'chomp; print "$.: $_\n" if length > 80' "$tmp/page.$p" | head -3)
		[ -s "$tmp/page.$p" ] && [ -z "$long" ] && [ ! -s "$tmp/warn.$p" ]
		ok $? "hangup($p) renders at 80 columns: no line longer, no warning (${long:-ok}$(head -c 200 "$tmp/warn.$p"))"
	done
else
	skip "man not installed"
	skip "man not installed"
fi

# ---- README names every package .ci/run installs ----
missing=
for p in $(grep -o 'need+=([a-z0-9.-]*)' "$top/.ci/run" | sed 's/need+=(\(.*\))/\1/'); do
	grep -q "\`$p\`" "$top/README.md" || missing="$missing $p"
done
[ -z "$missing" ]
ok $? "README's package list has every package .ci/run installs (missing:${missing:- none})"

done_testing
