/*
 * handover.c: the sending half of the handover (handover.h); user.c
 * receives.
 *
 * Runs in: the root parent.
 * (handover_exec: once it has become the user, before the exec.)
 */
/* memfd_create (Linux). */
#define _GNU_SOURCE
#include "handover.h"
#include "fdio.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern char **environ;

/* pop3d-session, in the directory of pop3d's own executable by the path
 * it was started from, read from /proc/self/exe at startup (as root,
 * before anything was dropped).  The path, not the link itself: under
 * valgrind the link leads to valgrind's tool, while readlink(2) of it gives
 * the program's path.  No descriptor is kept open for it: libraries that
 * cache a descriptor of theirs (NSS) may find theirs gone after the
 * startup's cleanup, and must not find this one in its place.  An upgrade
 * that replaced the file between the start and the exec runs the new
 * version, which refuses a record it does not know (HANDOVER_MAGIC). */
static char program[PATH_MAX];

bool handover_prepare(void)
{
	ssize_t n = readlink("/proc/self/exe", program, sizeof(program) - 1);
	char *slash = n > 0 ? memrchr(program, '/', (size_t)n) : NULL;
	const char *why = n < 0 ? strerror(errno) : "not an absolute path";
	if (slash && program[0] == '/') {
		size_t dir = (size_t)(slash + 1 - program);
		if (dir + sizeof(HANDOVER_PROGRAM) > sizeof(program))
			why = "the path is too long";
		else {
			memcpy(slash + 1, HANDOVER_PROGRAM,
			    sizeof(HANDOVER_PROGRAM));
			if (access(program, X_OK) == 0)
				return true;
			why = strerror(errno);
		}
	}
	log_msg(LOG_ERR, "cannot find " HANDOVER_PROGRAM " beside pop3d's own "
	    "executable (/proc/self/exe) for the user's sessions: %s", why);
	return false;
}

bool handover_dropped(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long r = 1, e = 1;
	if (!f)
		return true;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %lu %lu", &r, &e) == 2)
			break;
	fclose(f);
	return r != 0 && e != 0;
}

/* fd moved above the fds the new image gets, close-on-exec. */
static int move_high(int fd)
{
	int n = fcntl(fd, F_DUPFD_CLOEXEC, HANDOVER_RELAY_FD + 1);
	close(fd);
	return n;
}

/* An anonymous file (no name anyone else could open) holding the record. */
static int record_file(const struct handover *h)
{
#ifdef MFD_CLOEXEC
	int fd = memfd_create("pop3d-session", MFD_CLOEXEC);
#else
	FILE *f = tmpfile();
	int fd = f ? fcntl(fileno(f), F_DUPFD_CLOEXEC, 0) : -1;
	if (f)
		fclose(f);
#endif
	if (fd >= 0 && !fdio_pwrite_all(fd, h, sizeof(*h), 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

void handover_exec(struct handover *h)
{
	int relay = h->relay;
	memcpy(h->magic, HANDOVER_MAGIC, sizeof(HANDOVER_MAGIC));
	h->relay = relay >= 0 ? HANDOVER_RELAY_FD : -1;
	int rec = record_file(h);
	explicit_bzero(h->input, sizeof(h->input));
	if (rec < 0) {
		log_msg(LOG_ERR, "user's session: cannot write its record: %s",
		    strerror(errno));
		return;
	}
	rec = move_high(rec);
	if (relay >= 0)
		relay = move_high(relay);
	if (rec < 0 || (h->relay >= 0 && relay < 0)) {
		log_msg(LOG_ERR, "user's session: fcntl: %s", strerror(errno));
		return;
	}
	/* No log line until the exec: syslog's socket may be on fd 3. */
	closelog();
	if (dup2(rec, HANDOVER_RECORD_FD) < 0 || (relay >= 0 &&
	    dup2(relay, HANDOVER_RELAY_FD) < 0) ||
	    (h->lock_group && setegid(h->lock_gid) < 0)) {
		log_msg(LOG_ERR, "user's session: cannot set it up: %s",
		    strerror(errno));
		return;
	}
	/* Without a relay nothing is left on its number: the new image's
	 * syslog socket may take it. */
	if (relay < 0)
		close(HANDOVER_RELAY_FD);
	char *argv[] = { HANDOVER_PROGRAM, NULL };
	execve(program, argv, environ);
	int e = errno;
	if (h->lock_group && setegid(h->gid) < 0)
		_exit(1);
	log_msg(LOG_ERR, "cannot execute " HANDOVER_PROGRAM " for the user's "
	    "session: %s", strerror(e));
}
