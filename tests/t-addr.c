/*
 * t-addr.c -- hu_addr_parse() and hu_addr_format(): every accepted form
 * round-trips, every malformed one is HU_INVAL, and a parsed address really
 * binds and connects.
 */
#include "hangup.h"
#include "lib/testlib.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* Parse `in`, format it back, compare with `want`. */
static void round_trip(const char *in, const char *want, int family)
{
	struct hu_addr a;
	char buf[256];

	int rc = hu_addr_parse(in, &a);
	CHECK(rc == 0, "parse '%s' = %s", in, hu_status_name(rc));
	if (rc != 0)
		return;
	CHECK(a.sa.ss_family == family, "'%s' family %d", in, a.sa.ss_family);
	int n =
	    hu_addr_format((struct sockaddr *)&a.sa, a.len, buf, sizeof(buf));
	CHECK(n == (int)strlen(want) && strcmp(buf, want) == 0,
	      "format '%s' = '%s' (%d), want '%s'", in, buf, n, want);
	/* And what format wrote, parse reads back to the same bytes. */
	struct hu_addr b;
	CHECK(hu_addr_parse(buf, &b) == 0 && b.len == a.len &&
		  memcmp(&a.sa, &b.sa, a.len) == 0,
	      "'%s' parses back to the same address", buf);
}

static void t_round_trips(void)
{
	round_trip("127.0.0.1:80", "127.0.0.1:80", AF_INET);
	round_trip("10.1.2.3:65535", "10.1.2.3:65535", AF_INET);
	round_trip("0.0.0.0:0", "0.0.0.0:0", AF_INET);
	round_trip(":8080", "127.0.0.1:8080", AF_INET);
	round_trip("localhost:1", "127.0.0.1:1", AF_INET);
	round_trip("127.0.0.1:0080", "127.0.0.1:80", AF_INET);
	round_trip("[::1]:443", "[::1]:443", AF_INET6);
	round_trip("[::]:0", "[::]:0", AF_INET6);
	round_trip("[2001:db8::a:b]:9", "[2001:db8::a:b]:9", AF_INET6);
	round_trip("[::ffff:127.0.0.1]:7", "[::ffff:127.0.0.1]:7", AF_INET6);
	/* Scope ids: an interface's name, or its number (lo is 1 in every
	 * network namespace); a number no interface has stays a number. */
	round_trip("[fe80::1%lo]:80", "[fe80::1%lo]:80", AF_INET6);
	round_trip("[fe80::1%1]:80", "[fe80::1%lo]:80", AF_INET6);
	round_trip("[fe80::1%4000000000]:0", "[fe80::1%4000000000]:0",
		   AF_INET6);
	round_trip("[fe80::1%0]:80", "[fe80::1]:80", AF_INET6);
	round_trip("unix:/tmp/hu.sock", "unix:/tmp/hu.sock", AF_UNIX);
	round_trip("unix:rel/path", "unix:rel/path", AF_UNIX);
	round_trip("unix:@abstract", "unix:@abstract", AF_UNIX);

	/* The longest path that fits sun_path with its NUL. */
	char path[200] = "unix:";
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	memset(path + 5, 'p', max);
	path[5 + max] = '\0';
	round_trip(path, path, AF_UNIX);
}

static void t_parsed_fields(void)
{
	struct hu_addr a;

	REQUIRE(hu_addr_parse("127.0.0.2:4321", &a) == 0, "parse");
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a.sa;
	CHECK(a.len == sizeof(*s4), "v4 len %u", (unsigned)a.len);
	CHECK(ntohs(s4->sin_port) == 4321, "port");
	CHECK(ntohl(s4->sin_addr.s_addr) == 0x7f000002, "addr");

	REQUIRE(hu_addr_parse("[::1]:5", &a) == 0, "parse v6");
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.sa;
	CHECK(a.len == sizeof(*s6), "v6 len");
	CHECK(ntohs(s6->sin6_port) == 5, "v6 port");
	CHECK(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr), "v6 addr");
	CHECK(s6->sin6_scope_id == 0, "v6: no scope");
	REQUIRE(hu_addr_parse("[fe80::2%lo]:6", &a) == 0, "parse scoped");
	CHECK(s6->sin6_scope_id == if_nametoindex("lo") &&
		  IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr),
	      "scope id %u", (unsigned)s6->sin6_scope_id);

	REQUIRE(hu_addr_parse("unix:/x", &a) == 0, "parse unix");
	CHECK(a.len == offsetof(struct sockaddr_un, sun_path) + 3,
	      "unix len counts the NUL");
	REQUIRE(hu_addr_parse("unix:@x", &a) == 0, "parse abstract");
	struct sockaddr_un *un = (struct sockaddr_un *)&a.sa;
	CHECK(un->sun_path[0] == '\0' && un->sun_path[1] == 'x' &&
		  a.len == offsetof(struct sockaddr_un, sun_path) + 2,
	      "abstract: leading NUL, no trailing NUL");
}

static void t_malformed(void)
{
	static const char *const bad[] = {
	    "",
	    ":",
	    "127.0.0.1",
	    "127.0.0.1:",
	    "127.0.0.1:65536",
	    "127.0.0.1:99999999999999999999",
	    "127.0.0.1:+80",
	    "127.0.0.1:-1",
	    "127.0.0.1: 80",
	    "127.0.0.1:80 ",
	    " 127.0.0.1:80",
	    "127.0.0.1:8x",
	    "127.0.0.1:0x50",
	    "::1:80",
	    "fe80::1:80",
	    "[::1]",
	    "[::1]80",
	    "[::1]:",
	    "[::1]:65536",
	    "[]:80",
	    "[127.0.0.1]:80",
	    "[::1:80",
	    "[::g]:80",
	    "256.0.0.1:80",
	    "1.2.3:80",
	    "1.2.3.4.5:80",
	    "example.com:80",
	    "unix:",
	    "127.0.0.1:80:80",
	    "[fe80::1%]:80",
	    "[fe80::1%hu-no-such-if]:80",
	    "[fe80::1%lo%lo]:80",
	    "[fe80::1%4294967296]:80",
	    "[%lo]:80",
	    "127.0.0.1%lo:80",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hu_addr a;
		int rc = hu_addr_parse(bad[i], &a);

		CHECK(rc == HU_INVAL, "'%s' gave %s", bad[i],
		      hu_status_name(rc));
	}

	/* A path one byte too long for sun_path (it would be truncated),
	 * and an abstract name one byte too long. */
	char path[300] = "unix:";
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	memset(path + 5, 'p', max);
	path[5 + max] = '\0';
	struct hu_addr a;
	CHECK(hu_addr_parse(path, &a) == HU_INVAL, "path of %zu bytes", max);
	path[5] = '@';
	path[5 + max + 1] = '\0';
	path[5 + max] = 'p';
	CHECK(hu_addr_parse(path, &a) == HU_INVAL, "abstract too long");

	/* A host longer than any literal. */
	char longhost[300];
	memset(longhost, '1', 250);
	strcpy(longhost + 250, ":80");
	CHECK(hu_addr_parse(longhost, &a) == HU_INVAL, "long host");

	CHECK(hu_addr_parse(NULL, &a) == HU_INVAL, "NULL text");
	CHECK(hu_addr_parse("127.0.0.1:80", NULL) == HU_INVAL, "NULL out");
}

static void t_format_bad_and_short(void)
{
	struct hu_addr a;
	char buf[8];

	REQUIRE(hu_addr_parse("[2001:db8::1]:65535", &a) == 0, "parse");
	/* Like snprintf: the length it needed, a truncated NUL-ended
	 * string, and buf may be NULL when size is 0. */
	int need = (int)strlen("[2001:db8::1]:65535");
	CHECK(hu_addr_format((struct sockaddr *)&a.sa, a.len, NULL, 0) == need,
	      "size 0");
	CHECK(hu_addr_format((struct sockaddr *)&a.sa, a.len, buf,
			     sizeof(buf)) == need &&
		  strcmp(buf, "[2001:d") == 0,
	      "truncated: '%s'", buf);

	CHECK(hu_addr_format(NULL, 16, buf, sizeof(buf)) == HU_INVAL, "NULL");
	CHECK(hu_addr_format((struct sockaddr *)&a.sa, a.len, NULL, 8) ==
		  HU_INVAL,
	      "NULL buf with size");
	CHECK(hu_addr_format((struct sockaddr *)&a.sa, 1, buf, sizeof(buf)) ==
		  HU_INVAL,
	      "len too short for a family");
	CHECK(hu_addr_format((struct sockaddr *)&a.sa,
			     sizeof(struct sockaddr_in6) - 1, buf,
			     sizeof(buf)) == HU_INVAL,
	      "len too short for sockaddr_in6");
	REQUIRE(hu_addr_parse("1.2.3.4:5", &a) == 0, "parse v4");
	CHECK(hu_addr_format((struct sockaddr *)&a.sa,
			     sizeof(struct sockaddr_in) - 1, buf,
			     sizeof(buf)) == HU_INVAL,
	      "len too short for sockaddr_in");
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_PACKET;
	CHECK(hu_addr_format((struct sockaddr *)&ss, sizeof(ss), buf,
			     sizeof(buf)) == HU_INVAL,
	      "unknown family");
	/* An unnamed Unix socket (getsockname of a socketpair end). */
	ss.ss_family = AF_UNIX;
	char ubuf[32];
	CHECK(hu_addr_format((struct sockaddr *)&ss, sizeof(sa_family_t), ubuf,
			     sizeof(ubuf)) == 5 &&
		  strcmp(ubuf, "unix:") == 0,
	      "unnamed unix: '%s'", ubuf);
}

/* A parsed address is one the kernel accepts: bind port 0, read the real
 * port back with getsockname, format it, parse that, connect to it. */
static void bind_connect(const char *text)
{
	struct hu_addr a, b;
	char buf[128];

	REQUIRE(hu_addr_parse(text, &a) == 0, "parse %s", text);
	int l = socket(a.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(l >= 0, "socket");
	REQUIRE(bind(l, (struct sockaddr *)&a.sa, a.len) == 0 &&
		    listen(l, 1) == 0,
		"bind %s", text);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	REQUIRE(getsockname(l, (struct sockaddr *)&ss, &len) == 0, "name");
	int n = hu_addr_format((struct sockaddr *)&ss, len, buf, sizeof(buf));
	CHECK(n > 0 && (size_t)n < sizeof(buf), "format bound %s", text);
	REQUIRE(hu_addr_parse(buf, &b) == 0, "parse bound '%s'", buf);
	int c = socket(b.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(connect(c, (struct sockaddr *)&b.sa, b.len) == 0,
	      "connect to '%s'", buf);
	close(c);
	close(l);
}

static void t_bind_connect(void)
{
	char path[64];

	/* Not 127.0.0.1: see listen_addr4() in testlib.c. */
	snprintf(path, sizeof(path), "127.%d.%d.3:0", 1 + (int)getpid() % 250,
		 1 + (int)getpid() / 250 % 250);
	bind_connect(path);
	bind_connect("[::1]:0");
	snprintf(path, sizeof(path), "unix:@hu-t-addr-%d", (int)getpid());
	bind_connect(path);
}

int main(void)
{
	RUN(t_round_trips, 5);
	RUN(t_parsed_fields, 5);
	RUN(t_malformed, 5);
	RUN(t_format_bad_and_short, 5);
	RUN(t_bind_connect, 5);
	return tap_done();
}
