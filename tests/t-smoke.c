/* t-smoke.c -- the harness itself: a passing case and the fd-leak check. */
#include "hangup.h"
#include "lib/testlib.h"

#include <unistd.h>

static void t_pair_and_version(void)
{
	int c, s;

	tcp_pair(AF_INET, &c, &s);
	CHECK(hu_version_number() == HU_VERSION_NUMBER, "version number");
	close(c);
	close(s);
}

int main(void)
{
	RUN(t_pair_and_version, 5);
	return tap_done();
}
