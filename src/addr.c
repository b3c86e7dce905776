/*
 * addr.c -- the one address parser, shared by the loop and the CLI.
 *
 * Literal addresses only: no DNS lookup is ever made, so parsing never
 * blocks and never touches the network. "localhost" is the one name, and it
 * means 127.0.0.1; an IPv6 scope id may name an interface ([fe80::1%eth0]).
 */
#include "internal.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

/* "0".."65535", digits only, no sign, no spaces. */
static int parse_port(const char *s, in_port_t *out)
{
	unsigned long v = 0;

	if (*s == '\0')
		return HU_INVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return HU_INVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return HU_INVAL;
	}
	*out = htons((in_port_t)v);
	return 0;
}

/*
 * An IPv6 scope id, as getaddrinfo() and ping take it: an interface name
 * ("eth0") or its index ("2"). Which interface a link-local address
 * (fe80::/10) is on: without one the kernel cannot bind or connect it
 * (EINVAL). A name is looked up with if_nametoindex() -- an ioctl on this
 * host, not the network.
 */
static int parse_scope(const char *s, uint32_t *out)
{
	unsigned long v = 0;
	const char *p;

	if (*s == '\0')
		return HU_INVAL;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > UINT32_MAX)
			return HU_INVAL;
	}
	if (*p == '\0') {
		*out = (uint32_t)v;
		return 0;
	}
	if (strlen(s) >= IF_NAMESIZE || (*out = if_nametoindex(s)) == 0)
		return HU_INVAL;
	return 0;
}

static int parse_unix(const char *path, struct hu_addr *out)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
	size_t n = strlen(path);

	if (n == 0)
		return HU_INVAL;
	un->sun_family = AF_UNIX;
	if (path[0] == '@') {
		/* Abstract namespace: a leading NUL, no file. */
		if (n > sizeof(un->sun_path))
			return HU_INVAL;
		un->sun_path[0] = '\0';
		memcpy(un->sun_path + 1, path + 1, n - 1);
		out->len =
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
		return 0;
	}
	if (n >= sizeof(un->sun_path))
		return HU_INVAL; /* would be truncated */
	memcpy(un->sun_path, path, n + 1);
	out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int hu_addr_parse(const char *text, struct hu_addr *out)
{
	char host[64];
	in_port_t port;

	if (text == NULL || out == NULL)
		return HU_INVAL;
	memset(out, 0, sizeof(*out));
	if (strncmp(text, "unix:", 5) == 0)
		return parse_unix(text + 5, out);

	const char *colon;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return HU_INVAL;
		size_t n = (size_t)(close - text - 1);
		if (n == 0 || n >= sizeof(host))
			return HU_INVAL;
		memcpy(host, text + 1, n);
		host[n] = '\0';
		if (parse_port(close + 2, &port) < 0)
			return HU_INVAL;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->sa;
		char *pct = strchr(host, '%');
		if (pct != NULL) {
			*pct = '\0';
			if (parse_scope(pct + 1, &s6->sin6_scope_id) < 0)
				return HU_INVAL;
		}
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return HU_INVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = port;
		out->len = sizeof(*s6);
		return 0;
	}

	colon = strrchr(text, ':');
	if (colon == NULL)
		return HU_INVAL;
	size_t n = (size_t)(colon - text);
	if (n >= sizeof(host) || memchr(text, ':', n) != NULL)
		return HU_INVAL; /* IPv6 must be bracketed */
	memcpy(host, text, n);
	host[n] = '\0';
	if (parse_port(colon + 1, &port) < 0)
		return HU_INVAL;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&out->sa;
	s4->sin_family = AF_INET;
	s4->sin_port = port;
	out->len = sizeof(*s4);
	if (n == 0 || strcmp(host, "localhost") == 0) {
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return 0;
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return HU_INVAL;
	return 0;
}

int hu_addr_format(const struct sockaddr *sa, socklen_t len, char *buf,
		   size_t size)
{
	char host[INET6_ADDRSTRLEN];
	int n;

	if (sa == NULL || (buf == NULL && size > 0) ||
	    len < (socklen_t)sizeof(sa_family_t))
		return HU_INVAL;
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *s4 = (const void *)sa;

		if (len < (socklen_t)sizeof(*s4))
			return HU_INVAL;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		n = snprintf(buf, size, "%s:%u", host, ntohs(s4->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		if (len < (socklen_t)sizeof(*s6))
			return HU_INVAL;
		char scope[IF_NAMESIZE + 2] = "";

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		if (s6->sin6_scope_id != 0) {
			char name[IF_NAMESIZE];

			/* The name reads back through hu_addr_parse(); an
			 * interface that has gone keeps its number. */
			if (if_indextoname(s6->sin6_scope_id, name) != NULL)
				snprintf(scope, sizeof(scope), "%%%s", name);
			else
				snprintf(scope, sizeof(scope), "%%%u",
					 (unsigned)s6->sin6_scope_id);
		}
		n = snprintf(buf, size, "[%s%s]:%u", host, scope,
			     ntohs(s6->sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const void *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t plen = len > off ? (size_t)len - off : 0;

		if (plen > sizeof(un->sun_path))
			plen = sizeof(un->sun_path);
		if (plen == 0)
			n = snprintf(buf, size, "unix:");
		else if (un->sun_path[0] == '\0')
			n = snprintf(buf, size, "unix:@%.*s", (int)(plen - 1),
				     un->sun_path + 1);
		else
			n = snprintf(buf, size, "unix:%.*s",
				     (int)strnlen(un->sun_path, plen),
				     un->sun_path);
		break;
	}
	default:
		return HU_INVAL;
	}
	return n;
}
