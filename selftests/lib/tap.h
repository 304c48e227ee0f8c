/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal TAP 13 reporting for the kvm-prefault selftests.
 *
 * Every sub-test runs in a forked child so that a failed assertion, a crash
 * or a hang ends that sub-test only.  The child reports through its exit
 * status: 0 pass, KSFT_SKIP skip (with a reason), anything else fail.  The
 * process exit code follows kselftest: 0 when something passed and nothing
 * failed, KSFT_SKIP when everything was skipped, 1 otherwise.
 */
#ifndef KL_TAP_H
#define KL_TAP_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_SKIP 4

struct tap_test {
	const char *name;
	void (*fn)(void);
	unsigned int timeout_s;	/* 0: default (tap_default_timeout_s) */
};

extern unsigned int tap_default_timeout_s;

#define TAP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Diagnostic line ("# ..."), usable anywhere. */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Inside a sub-test: end it as skipped / failed.  Never return. */
void tap_skip(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void tap_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

void tap_assert_fail(const char *file, int line, const char *cond, int err,
		     const char *fmt, ...)
	__attribute__((format(printf, 5, 6), noreturn));

/*
 * TEST_ASSERT(cond, fmt, ...): on failure print where, the condition, errno
 * and the context message, then fail the current sub-test.
 */
#define TEST_ASSERT(cond, fmt, ...)					\
	do {								\
		if (!(cond)) {						\
			int __tap_errno = errno;			\
			tap_assert_fail(__FILE__, __LINE__, #cond,	\
					__tap_errno, fmt, ##__VA_ARGS__); \
		}							\
	} while (0)

/* Equality of two integers, printing both values. */
#define TEST_ASSERT_EQ(a, b)						\
	do {								\
		unsigned long long __a = (unsigned long long)(a);	\
		unsigned long long __b = (unsigned long long)(b);	\
		TEST_ASSERT(__a == __b, "%s = %#llx (%lld), %s = %#llx (%lld)", \
			    #a, __a, (long long)__a, #b, __b, (long long)__b); \
	} while (0)

/* Run all sub-tests, print the report, return the process exit code. */
int tap_run(const struct tap_test *tests, int n);

/* Report every sub-test as skipped for one reason; returns KSFT_SKIP. */
int tap_skip_all(const struct tap_test *tests, int n, const char *reason);

/* Monotonic seconds, for deadlines. */
double tap_now(void);

/*
 * Watchdog for code that may block in the kernel: unless kicked at least
 * every limit_s seconds, it fails the sub-test with "what" (the whole
 * sub-test process exits, which also kills threads stuck in ioctls).
 */
struct tap_watchdog {
	pthread_t thread;
	volatile double last;
	double limit_s;
	const char *what;
	volatile bool stop;
};

void tap_watchdog_start(struct tap_watchdog *w, double limit_s,
			const char *what);
void tap_watchdog_kick(struct tap_watchdog *w);
void tap_watchdog_stop(struct tap_watchdog *w);

#endif /* KL_TAP_H */
