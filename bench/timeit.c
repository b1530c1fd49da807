/*
 * timeit - like `/usr/bin/time -f '%e %U %S %M' -o FILE` but with
 * microsecond resolution (GNU time prints 10 ms steps, too coarse for the
 * small mailboxes), plus a time limit.
 *
 * usage: timeit -o FILE [-t SECONDS] CMD [ARG...]
 * Writes "wall user sys maxrss_kib" to FILE.  Exit status: the command's,
 * 128+signal if it was killed, 124 if the time limit hit (then SIGKILL).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	if (child > 0)
		kill(child, SIGKILL);
}

static double tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

int main(int argc, char **argv)
{
	const char *out = NULL;
	unsigned limit = 0;
	int c;
	while ((c = getopt(argc, argv, "+o:t:")) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 't')
			limit = (unsigned)atoi(optarg);
		else
			return 2;
	}
	if (!out || optind >= argc) {
		fprintf(stderr, "usage: timeit -o FILE [-t SECONDS] CMD [ARG...]\n");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		execvp(argv[optind], argv + optind);
		perror(argv[optind]);
		_exit(127);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (limit)
		alarm(limit);
	int st;
	struct rusage ru;
	while (wait4(child, &st, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("wait4");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	FILE *f = fopen(out, "w");
	if (!f) {
		perror(out);
		return 1;
	}
	fprintf(f, "%.6f %.6f %.6f %ld\n",
		(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		tv(ru.ru_utime), tv(ru.ru_stime), ru.ru_maxrss);
	fclose(f);
	if (timed_out)
		return 124;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}
