/*
 * state.c: the per-user state directory.  See state.h.
 * Runs in: the user's session.
 */
#include "state.h"
#include "log.h"
#include "netfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int dirfd_ = -1;
static char dirpath[PATH_MAX];

/* A file or directory we may trust: ours, and nobody else may write it. */
static bool trusted(const struct stat *st, mode_t type)
{
	return (st->st_mode & S_IFMT) == type && st->st_uid == geteuid() &&
	    (st->st_mode & 022) == 0;
}

static char problem[PATH_MAX + 128];
static bool unknown;

/* Logs and keeps why path is not used; returns r. */
static enum state_result refuse(enum state_result r, const char *path,
    const char *why)
{
	snprintf(problem, sizeof(problem), "%s: %s", path, why);
	if (r == STATE_BAD)
		unknown = true;
	log_msg(r == STATE_NONE ? LOG_WARNING : LOG_ERR, "state directory %s",
	    problem);
	return r;
}

enum state_result state_try(const char *path)
{
	char why[128];
	if (strlen(path) >= sizeof(dirpath) || path[0] != '/')
		return refuse(STATE_NONE, path, "not an absolute path");
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		/* Not made: is it there?  Only "no such file" says no; any
		 * other answer (EACCES, EIO, ESTALE: an NFS home that is
		 * down) may hide a journal. */
		int e = errno;
		struct stat st;
		if (lstat(path, &st) < 0 && (errno == ENOENT ||
		    errno == ENOTDIR)) {
			snprintf(why, sizeof(why), "cannot create: %s",
			    strerror(e));
			return refuse(STATE_NONE, path, why);
		}
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		/* Another user's (mode 0700: not even readable)? */
		if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode) ||
		    st.st_uid == geteuid()) {
			snprintf(why, sizeof(why), "exists but cannot be used: "
			    "%s", e == ELOOP ? "a symlink" : strerror(e));
			return refuse(STATE_BAD, path, why);
		}
		fd = -1;
	}
	if (fd < 0 || !trusted(&st, S_IFDIR)) {
		if (fd >= 0)
			close(fd);
		snprintf(why, sizeof(why), "exists but cannot be used: %s "
		    "(owner uid %lu, mode %04o)", st.st_uid != geteuid() ?
		    "not the user's own" : "writable by group or others",
		    (unsigned long)st.st_uid, (unsigned)(st.st_mode & 07777));
		return refuse(st.st_uid != geteuid() ? STATE_FOREIGN :
		    STATE_BAD, path, why);
	}
	netfs_note(fd, "state directory");
	dirfd_ = fd;
	snprintf(dirpath, sizeof(dirpath), "%s", path);
	return STATE_OPEN;
}

bool state_open(const char *path)
{
	return state_try(path) == STATE_OPEN;
}

const char *state_problem(void)
{
	return problem;
}

bool state_unknown(void)
{
	return unknown;
}

const char *state_dir(void)
{
	return dirfd_ >= 0 ? dirpath : NULL;
}

int state_fd(void)
{
	return dirfd_;
}

int state_create(const char *name)
{
	if (dirfd_ < 0) {
		errno = ENOENT;
		return -1;
	}
	return openat(dirfd_, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_NOCTTY | O_CLOEXEC, 0600);
}

bool state_sync(void)
{
	return dirfd_ >= 0 && fsync(dirfd_) == 0;
}

static int session_fd = -1;

int state_session_lock(dev_t dev, ino_t ino)
{
	char name[64];
	(void)dev;	/* may change across mounts (NFS): the inode is enough */
	snprintf(name, sizeof(name), "session-%llx.lock",
	    (unsigned long long)ino);
	int fd = -1;
	for (int tries = 0; fd < 0 && tries < 3; tries++) {
		fd = openat(dirfd_, name, O_RDWR | O_NOFOLLOW | O_NOCTTY |
		    O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			fd = state_create(name);
		if (fd < 0 && errno != ENOENT && errno != EEXIST)
			break;
	}
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !trusted(&st, S_IFREG)) {
		log_msg(LOG_ERR, "session lock %s/%s: %s", dirpath, name,
		    fd < 0 ? strerror(errno) : "not a file of the user's own");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* flock, not fcntl: it belongs to the open file, not to the process's
	 * set of fcntl locks, so no close() elsewhere can drop it; and it
	 * dies with the process, so a killed session frees the mailbox. */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		int busy = errno == EWOULDBLOCK;
		close(fd);
		return busy ? 0 : -1;
	}
	session_fd = fd;
	return 1;	/* fd stays open, on purpose, until exit or unlock */
}

void state_session_unlock(void)
{
	if (session_fd >= 0)
		close(session_fd);
	session_fd = -1;
}
