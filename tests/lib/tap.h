/*
 * tap.h -- a tiny TAP producer for C tests, run by prove.
 *
 * Each case runs in a forked child with an alarm(), so a socket that hangs
 * fails its case instead of the whole run, and a crash (SIGSEGV, SIGPIPE,
 * an ASan abort) fails only that case. The child also compares its count of
 * open fds before and after the case: a leaked fd fails it.
 *
 *	static void t_fin(void) { ... CHECK(n == 0, "recv gave %zd", n); }
 *	int main(void) { RUN(t_fin, 5); return tap_done(); }
 *
 * tap_done() prints the plan, counted as the cases ran. In a case,
 * CHECK() records a failure and goes on; REQUIRE() stops the
 * case; SKIP() ends it as skipped with a reason ("# SKIP reason" in TAP).
 */
#ifndef HU_TAP_H
#define HU_TAP_H

#include <stdarg.h>

int tap_done(void);
void tap_run(const char *name, void (*fn)(void), unsigned timeout_s);
void tap_check(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void tap_require(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void tap_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The number of open fds of this process (the leak check's count). */
int tap_fd_count(void);
/* Has a CHECK or REQUIRE of the running case failed? */
int tap_case_failed(void);

#define RUN(fn, timeout_s) tap_run(#fn, fn, timeout_s)
/* The condition is evaluated before the message's arguments (a function's
 * arguments are evaluated in no set order), so a message may show what the
 * condition's calls returned or filled in. */
#define CHECK(cond, ...)                                             \
	do {                                                         \
		int tap_ok_ = !!(cond);                              \
		tap_check(tap_ok_, __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)
#define REQUIRE(cond, ...)                                             \
	do {                                                           \
		int tap_ok_ = !!(cond);                                \
		tap_require(tap_ok_, __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)
#define SKIP(...) tap_skip(__VA_ARGS__)

#endif
