// SPDX-License-Identifier: GPL-2.0
/*
 * TAP 13 output and per-sub-test isolation (fork) for the kvm-prefault
 * selftests.  See tap.h.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

unsigned int tap_default_timeout_s = 60;

/* Shared page between the runner and the sub-test child. */
struct tap_shared {
	char reason[512];
};

static struct tap_shared *tap_shm;
static bool tap_in_child;
/* Diagnostics printed before the TAP header wait here for it. */
static char tap_preamble[4096];
static bool tap_header_done;

double tap_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void tap_vdiag(const char *fmt, va_list ap)
{
	char buf[1024];
	char *line, *save = NULL;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* One "# " per line so multi-line messages stay valid TAP. */
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t used = strlen(tap_preamble);

		if (tap_header_done || tap_in_child)
			printf("# %s\n", line);
		else
			snprintf(tap_preamble + used,
				 sizeof(tap_preamble) - used, "# %s\n", line);
	}
	fflush(stdout);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vdiag(fmt, ap);
	va_end(ap);
}

static void __attribute__((noreturn)) tap_child_exit(int code)
{
	fflush(stdout);
	fflush(stderr);
	if (tap_in_child)
		_exit(code);
	exit(code);
}

void tap_skip(const char *fmt, ...)
{
	va_list ap;

	if (tap_shm) {
		va_start(ap, fmt);
		vsnprintf(tap_shm->reason, sizeof(tap_shm->reason), fmt, ap);
		va_end(ap);
	}
	tap_child_exit(KSFT_SKIP);
}

void tap_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vdiag(fmt, ap);
	va_end(ap);
	tap_child_exit(KSFT_FAIL);
}

void tap_assert_fail(const char *file, int line, const char *cond, int err,
		     const char *fmt, ...)
{
	va_list ap;

	tap_diag("==== Test Assertion Failure ====");
	tap_diag("  %s:%d: %s", file, line, cond);
	tap_diag("  pid=%d tid=%d errno=%d - %s", getpid(), gettid(), err,
		 strerror(err));
	va_start(ap, fmt);
	tap_vdiag(fmt, ap);
	va_end(ap);
	tap_child_exit(KSFT_FAIL);
}

static void tap_header(int n)
{
	printf("TAP version 13\n%s1..%d\n", tap_preamble, n);
	tap_header_done = true;
	fflush(stdout);
}

static int tap_exit_code(int pass, int fail, int skip)
{
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       pass, fail, skip);
	fflush(stdout);
	if (fail)
		return KSFT_FAIL;
	if (!pass && skip)
		return KSFT_SKIP;
	return KSFT_PASS;
}

int tap_skip_all(const struct tap_test *tests, int n, const char *reason)
{
	int i;

	tap_header(n);
	for (i = 0; i < n; i++)
		printf("ok %d %s # SKIP %s\n", i + 1, tests[i].name, reason);
	return tap_exit_code(0, 0, n);
}

/* Wait for the child up to the deadline; -1 when it did not end. */
static int tap_wait(pid_t pid, double deadline, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (tap_now() > deadline)
			return -1;
		usleep(5000);
	}
}

int tap_run(const struct tap_test *tests, int n)
{
	int pass = 0, fail = 0, skip = 0;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_shm = mmap(NULL, sizeof(*tap_shm), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tap_shm == MAP_FAILED) {
		perror("mmap");
		return KSFT_FAIL;
	}

	tap_header(n);
	for (i = 0; i < n; i++) {
		const struct tap_test *t = &tests[i];
		unsigned int timeout = t->timeout_s ? t->timeout_s :
				       tap_default_timeout_s;
		double start = tap_now();
		int status = 0;
		pid_t pid;

		memset(tap_shm, 0, sizeof(*tap_shm));
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid < 0) {
			printf("# fork: %s\nnot ok %d %s\n", strerror(errno),
			       i + 1, t->name);
			fail++;
			continue;
		}
		if (pid == 0) {
			tap_in_child = true;
			t->fn();
			tap_child_exit(KSFT_PASS);
		}

		if (tap_wait(pid, start + timeout, &status)) {
			kill(pid, SIGKILL);
			printf("# %s: no result after %u s (hang?), killed\n",
			       t->name, timeout);
			printf("not ok %d %s\n", i + 1, t->name);
			fail++;
			/* Reap it if it can die; do not wait forever. */
			tap_wait(pid, tap_now() + 5, &status);
			continue;
		}

		printf("# %s: %.2f s\n", t->name, tap_now() - start);
		if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_PASS) {
			printf("ok %d %s\n", i + 1, t->name);
			pass++;
		} else if (WIFEXITED(status) &&
			   WEXITSTATUS(status) == KSFT_SKIP) {
			printf("ok %d %s # SKIP %s\n", i + 1, t->name,
			       tap_shm->reason[0] ? tap_shm->reason :
			       "(no reason given)");
			skip++;
		} else {
			if (WIFSIGNALED(status))
				printf("# %s: killed by signal %d (%s)\n",
				       t->name, WTERMSIG(status),
				       strsignal(WTERMSIG(status)));
			printf("not ok %d %s\n", i + 1, t->name);
			fail++;
		}
		fflush(stdout);
	}
	return tap_exit_code(pass, fail, skip);
}

static void *tap_watchdog_fn(void *arg)
{
	struct tap_watchdog *w = arg;

	while (!w->stop) {
		if (tap_now() - w->last > w->limit_s)
			tap_fail("watchdog: %s: no progress for %.0f s",
				 w->what, w->limit_s);
		usleep(50000);
	}
	return NULL;
}

void tap_watchdog_start(struct tap_watchdog *w, double limit_s,
			const char *what)
{
	w->last = tap_now();
	w->limit_s = limit_s;
	w->what = what;
	w->stop = false;
	if (pthread_create(&w->thread, NULL, tap_watchdog_fn, w))
		tap_fail("watchdog: pthread_create failed");
}

void tap_watchdog_kick(struct tap_watchdog *w)
{
	w->last = tap_now();
}

void tap_watchdog_stop(struct tap_watchdog *w)
{
	w->stop = true;
	pthread_join(w->thread, NULL);
}
