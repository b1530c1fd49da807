/*
 * handover.c: see handover.h.  handover_prepare runs in the root parent,
 * handover_exec in the session process once it is the user, and
 * handover_receive in the new image of pop3d, the user's session.
 */
/* memfd_create, getresgid (Linux). */
#define _GNU_SOURCE
#include "handover.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define MAGIC		"pop3d-session-1"
#define RECORD_FD	3
#define RELAY_FD	HANDOVER_LAST_FD

extern char **environ;

/* pop3d's own executable, by the path it was started from, read from
 * /proc/self/exe at startup (as root, before anything was dropped).  The
 * path, not the link itself: under valgrind the link leads to valgrind's
 * tool, while readlink(2) of it gives the program's path.  No descriptor is
 * kept open for it: libraries that cache a descriptor of theirs (NSS) may
 * find theirs gone after the startup's cleanup, and must not find this
 * one in its place.  An upgrade that replaced the file between the start
 * and the exec runs the new version, which refuses a record it does not
 * know (MAGIC). */
static char self[PATH_MAX];

bool handover_prepare(void)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0 && self[0] == '/') {
		self[n] = '\0';
		if (access(self, X_OK) == 0)
			return true;
	}
	log_msg(LOG_ERR, "cannot find pop3d's own executable (/proc/self/exe) "
	    "for the user's sessions: %s", n < 0 ? strerror(errno) :
	    "not an absolute path");
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
	int n = fcntl(fd, F_DUPFD_CLOEXEC, RELAY_FD + 1);
	close(fd);
	return n;
}

static bool write_record(int fd, const struct handover *h)
{
	const char *p = (const char *)h;
	for (size_t done = 0; done < sizeof(*h); ) {
		ssize_t r = write(fd, p + done, sizeof(*h) - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return lseek(fd, 0, SEEK_SET) == 0;
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
	if (fd >= 0 && !write_record(fd, h)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

void handover_exec(struct handover *h)
{
	int relay = h->relay;
	memcpy(h->magic, MAGIC, sizeof(MAGIC));
	h->relay = relay >= 0 ? RELAY_FD : -1;
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
	if (dup2(rec, RECORD_FD) < 0 || (relay >= 0 && dup2(relay,
	    RELAY_FD) < 0) || (h->lock_group && setegid(h->lock_gid) < 0)) {
		log_msg(LOG_ERR, "user's session: cannot set it up: %s",
		    strerror(errno));
		return;
	}
	/* Without a relay nothing is left on its number: the new image's
	 * syslog socket may take it. */
	if (relay < 0)
		close(RELAY_FD);
	char *argv[] = { "pop3d", HANDOVER_ARG, NULL };
	execve(self, argv, environ);
	int e = errno;
	if (h->lock_group && setegid(h->gid) < 0)
		_exit(1);
	log_msg(LOG_ERR, "cannot execute pop3d for the user's session: %s",
	    strerror(e));
}

static bool read_record(struct handover *h)
{
	char *p = (char *)h;
	size_t done = 0;
	while (done < sizeof(*h)) {
		ssize_t r = read(RECORD_FD, p + done, sizeof(*h) - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	close(RECORD_FD);
	return done == sizeof(*h);
}

#define TERMINATED(a)	(memchr((a), '\0', sizeof(a)) != NULL)

bool handover_receive(struct handover *h)
{
	if (getuid() == 0 || geteuid() == 0) {
		log_msg(LOG_ERR, HANDOVER_ARG " refused: it never runs as root");
		return false;
	}
	if (!read_record(h) || memcmp(h->magic, MAGIC, sizeof(MAGIC)) != 0 ||
	    !TERMINATED(h->name) || !TERMINATED(h->mailbox) ||
	    !TERMINATED(h->state) || !TERMINATED(h->state_fallback) ||
	    !TERMINATED(h->peer) || !TERMINATED(h->method) ||
	    h->pending > sizeof(h->input) || h->queued > sizeof(h->output) ||
	    (h->relay != -1 && h->relay != RELAY_FD)) {
		log_msg(LOG_ERR, HANDOVER_ARG ": no valid record on fd %d",
		    RECORD_FD);
		return false;
	}
	/* Without a relay, handover_exec left its number free, and what is
	 * there now is this image's own (the syslog socket): not closed. */
	if (h->relay >= 0 && fcntl(RELAY_FD, F_SETFD, FD_CLOEXEC) < 0)
		return false;	/* no program the session runs gets it */
	gid_t keep = h->gid;
	if (h->lock_group) {
#ifdef __linux__
		gid_t r, e, s;
		if (getresgid(&r, &e, &s) < 0 || s != h->lock_gid)
			keep = (gid_t)-1;
#endif
		if (setegid(h->gid) < 0)
			keep = (gid_t)-1;
	}
	if (getuid() != h->uid || geteuid() != h->uid || getgid() != keep ||
	    getegid() != keep) {
		log_msg(LOG_CRIT, HANDOVER_ARG ": not running as the account "
		    "of its record");
		return false;
	}
#ifdef PR_SET_DUMPABLE
	/* As before the exec: the user's other processes may not ptrace it
	 * (it holds the client connection, and maybe the lock group). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
	return true;
}

#if defined(__SANITIZE_ADDRESS__) && defined(__linux__)
#include <sys/auxv.h>
/* The sanitizer build only: an image executed with --lock-group's gid kept
 * runs in secure mode (AT_SECURE: its effective and real gids differ),
 * where the sanitizer reads no ASAN_OPTIONS and LeakSanitizer cannot
 * ptrace the process (its saved gid differs): no leak check there. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return getauxval(AT_SECURE) ? "detect_leaks=0" : "";
}
#endif
