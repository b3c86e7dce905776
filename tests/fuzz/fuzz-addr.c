/*
 * fuzz-addr.c -- libFuzzer target for the one address parser (shared by
 * the loop and the CLI) and its formatter.
 *
 * Properties: hu_addr_parse() never reads past the string and never
 * crashes; what it accepts, hu_addr_format() writes back as text that
 * parses to the same address (the round trip the CLI's "listening" event
 * relies on); hu_addr_format() of arbitrary bytes as a sockaddr of any
 * length is HU_INVAL or a NUL-terminated string within the buffer.
 */
#include "hangup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct hu_addr a, b;
	char buf[256];

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (hu_addr_parse(text, &a) == 0) {
		int n = hu_addr_format((struct sockaddr *)&a.sa, a.len, buf,
				       sizeof(buf));

		if (n < 0 || (size_t)n >= sizeof(buf))
			abort();
		if (hu_addr_parse(buf, &b) != 0)
			abort(); /* what we print must parse */
		if (a.len != b.len || memcmp(&a.sa, &b.sa, a.len) != 0) {
			/* "localhost:1" and ":1" print as 127.0.0.1:1; an
			 * abstract name holding a NUL stops at it. Nothing
			 * else may differ. */
			if (a.sa.ss_family != AF_UNIX)
				abort();
		}
		/* A short buffer: snprintf's rules, never an overflow. */
		char small[8];
		int m = hu_addr_format((struct sockaddr *)&a.sa, a.len, small,
				       sizeof(small));
		if (m != n ||
		    small[sizeof(small) - 1 < (size_t)n ? sizeof(small) - 1
							: (size_t)n] != '\0')
			abort();
	}
	/* Arbitrary bytes as a socket address. */
	struct sockaddr_storage ss;
	size_t len = size < sizeof(ss) ? size : sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, data, len);
	int n = hu_addr_format((struct sockaddr *)&ss, (socklen_t)len, buf,
			       sizeof(buf));
	if (n >= 0 && (size_t)n < sizeof(buf) && strlen(buf) != (size_t)n)
		abort();
	free(text);
	return 0;
}
