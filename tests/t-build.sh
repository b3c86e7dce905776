#!/usr/bin/env bash
# t-build.sh -- what `make` and `make install` produce: the shared library
# exports only the public hu_ names and carries its SONAME; an installed
# copy (DESTDIR) compiles and runs a program through pkg-config.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${HU_BUILD:-$top/build}
. "$(dirname "$0")/lib/tap.sh"

so=$(ls "$build"/libhangup.so.*.*.* 2>/dev/null | head -1)
[ -n "$so" ] && [ -f "$build/libhangup.a" ] && [ -x "$build/hangup" ]
ok $? "make built the static and shared libraries and the tool"

bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^hu_' | grep -v '^_' || true)
[ -z "$bad" ] && nm -D --defined-only "$so" | grep -q ' hu_recv$'
ok $? "the shared library exports only hu_ symbols${bad:+ (also: $bad)}"

soname=$(readelf -d "$so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libhangup.so.0" ]
ok $? "SONAME is libhangup.so.0 (got '$soname')"

# errno is read in one place only (src/status.c, hu__status_errno): glibc's
# errno is *__errno_location(), so any other object that touches it links
# that symbol.
readers=$(for o in "$build"/obj/src/*.o; do
	nm -u "$o" | grep -q ' __errno_location$' && basename "$o"
done | grep -vx 'status.o' | tr '\n' ' ')
[ -z "$readers" ] && nm -u "$build/obj/src/status.o" | grep -q __errno_location
ok $? "only status.o reads or writes errno${readers:+ (also: $readers)}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -C "$top" -s install BUILD="$build" SAN="${HU_SAN:-}" DESTDIR="$tmp" PREFIX=/usr >/dev/null 2>&1
[ -f "$tmp/usr/include/hangup.h" ] && [ -f "$tmp/usr/lib/libhangup.a" ] &&
	[ -L "$tmp/usr/lib/libhangup.so" ] && [ -f "$tmp/usr/lib/pkgconfig/hangup.pc" ] &&
	[ -x "$tmp/usr/bin/hangup" ]
ok $? "make install honours DESTDIR and PREFIX"

cat >"$tmp/v.c" <<'C'
#include <hangup.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	/* A pipe is not a socket: the installed library must say so. */
	return hu_recv(0, (char[1]){0}, 1) == HU_BADF &&
			       strcmp(hu_version(), HU_VERSION_STRING) == 0
		   ? 0
		   : 1;
}
C
flags=$(PKG_CONFIG_SYSROOT_DIR="$tmp" PKG_CONFIG_LIBDIR="$tmp/usr/lib/pkgconfig" \
	pkg-config --cflags --libs hangup 2>/dev/null ||
	echo "-I$tmp/usr/include -L$tmp/usr/lib -lhangup")
${CC:-cc} ${HU_SANFLAGS:-} -o "$tmp/v" "$tmp/v.c" $flags 2>"$tmp/err"
ok $? "a program compiles and links against the installed copy"
echo | LD_LIBRARY_PATH="$tmp/usr/lib" "$tmp/v"
ok $? "and runs: hu_recv on a pipe gives HU_BADF"
done_testing
