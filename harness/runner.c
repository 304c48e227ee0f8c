// SPDX-License-Identifier: GPL-2.0
/*
 * runner: run one test with a timeout inside the harness guest.
 *
 *   runner [-t SECONDS] [-s STATUSFILE] -- PROGRAM [ARGS...]
 *
 * Forks, puts the child in a new session (so it leads its own process
 * group), points its stdin at /dev/null and execs PROGRAM.  When the child
 * exits, or when SECONDS (default 120, 0 = none) pass, every process left in
 * the group is killed with SIGKILL.
 *
 * Verdict, kselftest convention: exit 0 = pass, 4 = skip, anything else
 * (other codes, death by a signal, timeout) = fail.  STATUSFILE receives
 * one line "<pass|fail|skip|timeout> <seconds> <detail>".  runner's own
 * exit code is the child's, 128 + signal for a signal, 124 for a timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KSFT_SKIP 4

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* SIGKILL the test's process group and reap it (wait at most 2 s). */
static void reap_group(pid_t pgid)
{
	double deadline = now() + 2;
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	kill(-pgid, SIGKILL);
	while (now() < deadline) {
		pid_t r = waitpid(-1, NULL, WNOHANG);

		if (r < 0)	/* ECHILD: nothing left */
			return;
		if (r == 0)
			nanosleep(&ts, NULL);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: runner [-t SECONDS] [-s STATUSFILE] -- PROGRAM [ARGS...]\n");
	exit(2);
}

static void write_status(const char *path, const char *verdict,
			 double secs, const char *detail)
{
	FILE *f;

	fprintf(stderr, "runner: %s %.2f s %s\n", verdict, secs, detail);
	if (!path)
		return;
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "runner: cannot write %s: %s\n", path,
			strerror(errno));
		return;
	}
	fprintf(f, "%s %.2f %s\n", verdict, secs, detail);
	fclose(f);
}

int main(int argc, char **argv)
{
	const char *status_path = NULL;
	double timeout = 120, start, elapsed;
	struct timespec ts;
	char detail[64];
	sigset_t chld;
	int opt, wstatus, fd;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+t:s:")) != -1) {
		switch (opt) {
		case 't':
			timeout = strtod(optarg, NULL);
			break;
		case 's':
			status_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();

	/* Orphans of the test become ours, so reap_group() can reap them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	/* Block SIGCHLD so that sigtimedwait() can wait for it. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	start = now();
	pid = fork();
	if (pid < 0) {
		perror("runner: fork");
		return 1;
	}
	if (pid == 0) {
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		setsid();
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			if (fd > 0)
				close(fd);
		}
		execv(argv[optind], &argv[optind]);
		fprintf(stderr, "runner: exec %s: %s\n", argv[optind],
			strerror(errno));
		_exit(127);
	}

	for (;;) {
		pid_t r = waitpid(pid, &wstatus, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			perror("runner: waitpid");
			return 1;
		}
		elapsed = now() - start;
		if (timeout > 0 && elapsed >= timeout) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &wstatus, 0);
			reap_group(pid);
			snprintf(detail, sizeof(detail),
				 "killed after %.0f s timeout", timeout);
			write_status(status_path, "timeout", now() - start,
				     detail);
			return 124;
		}
		/* Wake on SIGCHLD, at least every second. */
		ts.tv_sec = 1;
		ts.tv_nsec = 0;
		if (timeout > 0 && timeout - elapsed < 1) {
			double left = timeout - elapsed;

			ts.tv_sec = 0;
			ts.tv_nsec = (long)(left * 1e9);
		}
		sigtimedwait(&chld, NULL, &ts);
	}
	elapsed = now() - start;

	/* Kill and reap whatever the test left behind in its group. */
	reap_group(pid);

	if (WIFEXITED(wstatus)) {
		int code = WEXITSTATUS(wstatus);

		snprintf(detail, sizeof(detail), "exit %d", code);
		write_status(status_path,
			     code == 0 ? "pass" :
			     code == KSFT_SKIP ? "skip" : "fail",
			     elapsed, detail);
		return code;
	}
	snprintf(detail, sizeof(detail), "signal %d (%s)", WTERMSIG(wstatus),
		 strsignal(WTERMSIG(wstatus)));
	write_status(status_path, "fail", elapsed, detail);
	return 128 + WTERMSIG(wstatus);
}
