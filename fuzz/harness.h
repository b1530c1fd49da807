/*
 * fuzz/harness.h: what the libFuzzer targets share.  Each target is one
 * fork-free process that runs pop3d's own modules on in-memory files:
 *
 *   harness_file(name)          a private temporary file (for a mailbox),
 *                               removed at exit; returns its path.  On
 *                               tmpfs when there is one: UPDATE's fsync
 *                               would otherwise set the pace
 *   harness_put(path, d, n)     the file's contents become d[0..n), mode 600
 *   harness_memfd(d, n)         an fd reading d[0..n) then EOF (a client)
 *   harness_state()             a private --state-dir (session locks, the
 *                               UPDATE journal), beside the mailbox
 */
#ifndef POP3D_FUZZ_HARNESS_H
#define POP3D_FUZZ_HARNESS_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../state.h"

static char harness_path[64];

static inline void harness_cleanup(void)
{
	char cmd[128];
	if (!harness_path[0])
		return;
	unlink(harness_path);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s.state'", harness_path);
	if (system(cmd) != 0)
		return;
}

static inline const char *harness_file(const char *name)
{
	struct stat st;
	const char *dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(harness_path, sizeof(harness_path), "%s/pop3d-fuzz-%s-XXXXXX",
	    dir, name);
	int fd = mkstemp(harness_path);
	if (fd < 0)
		abort();
	close(fd);
	atexit(harness_cleanup);
	return harness_path;
}

static inline void harness_state(void)
{
	char dir[96];
	snprintf(dir, sizeof(dir), "%s.state", harness_path);
	if (!state_open(dir))
		abort();
}

static inline void harness_put(const char *path, const void *d, size_t n)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || (n > 0 && write(fd, d, n) != (ssize_t)n) ||
	    fchmod(fd, 0600) < 0)
		abort();
	close(fd);
}

static inline int harness_memfd(const void *d, size_t n)
{
	int fd = memfd_create("pop3d-fuzz", MFD_CLOEXEC);
	if (fd < 0 || (n > 0 && write(fd, d, n) != (ssize_t)n) ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

#endif
