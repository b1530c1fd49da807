/*
 * netfs.c: shared file systems.  See netfs.h.
 * Runs in: the user's session.
 *
 * What each kind of client needs (measured on GlusterFS 10 over FUSE; the
 * Linux sources for the others):
 *   FUSE (GlusterFS): the kernel and the GlusterFS client both keep a file's
 *       attributes for about a second; fstat, a fresh open, lseek(SEEK_END)
 *       and pread beyond the old size all show the old file, also under an
 *       fcntl lock.  fchown(fd, -1, -1) is a SETATTR round trip to the
 *       brick, which answers with the file's true attributes; the kernel
 *       takes them and drops its pages when the size changed.  A GETATTR
 *       (statx with AT_STATX_FORCE_SYNC) is answered from the client's cache
 *       and does not help.  The price: the SETATTR sets the ctime.
 *   NFS: taking an fcntl lock is the client's cache coherency point (Linux
 *       flushes and revalidates the file's attributes and pages when a lock
 *       is granted), unless the file system is mounted with nolock or
 *       local_lock=posix/all; fchown(fd, -1, -1) sends nothing there.
 *   SMB/CIFS, CephFS and the others: the same fchown, which costs little
 *       where it does not help (not measured here).
 * Then, everywhere: the file's clean pages are dropped, so that bytes
 * another host rewrote in place are read again from the server.
 */
#include "netfs.h"
#include "log.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/vfs.h>
#include <unistd.h>

/* statfs(2) f_type values (linux/magic.h and the file systems' sources). */
static const struct {
	uint32_t magic;
	const char *name;
} kinds[] = {
	{ 0x6969, "NFS" },
	{ 0xFF534D42, "CIFS" },
	{ 0xFE534D42, "SMB2" },
	{ 0x517B, "SMB" },
	{ 0x00C36400, "CephFS" },
	{ 0x65735546, "FUSE" },		/* GlusterFS, CephFS-FUSE, sshfs ... */
	{ 0x01161970, "GFS2" },
	{ 0x7461636F, "OCFS2" },
	{ 0x0BD00BD0, "Lustre" },
	{ 0x5346414F, "AFS" },
	{ 0x6B414653, "AFS" },
	{ 0x01021997, "9P" },
};

const char *netfs_kind(int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if ((uint32_t)sf.f_type == kinds[i].magic)
			return kinds[i].name;
	return NULL;
}

bool netfs_flush(int fd)
{
	const char *kind = netfs_kind(fd);
	if (!kind)
		return true;
	if (kind[0] != 'N' && fchown(fd, (uid_t)-1, (gid_t)-1) < 0)
		return false;
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return true;
}

void netfs_note(int fd, const char *what)
{
	const char *kind = netfs_kind(fd);
	if (!kind)
		return;
	log_msg(LOG_DEBUG, "the %s is on a shared (%s) file system: its cached "
	    "attributes and pages are dropped under every lock", what, kind);
}
