/*
 * netfs.h: files on a shared file system (NFS, SMB/CIFS, CephFS, or FUSE,
 * which is how GlusterFS is mounted), written by other hosts too.  Such a
 * client caches a file's attributes (its size above all) and pages for a
 * while; a view from before another host's last write must never be used
 * to scan, verify, recover or rewrite a mailbox (README "Serving one spool
 * from several hosts", pop3d.8 FILES).  Runs in the user's session.
 *
 *   netfs_kind(fd)      the name of fd's file system when it is a network
 *                       or FUSE one ("NFS", "FUSE", ...); NULL when local
 *                       or unknown
 *   netfs_flush(fd)     after a lock on fd was taken, or fd was opened:
 *                       drop what this host caches about the file, so that
 *                       the next fstat and reads see what the other hosts
 *                       last wrote (a no-op on a local file system).  The
 *                       file must be the user's.  false: errno says why
 *   netfs_note(fd, what)  logs (debug) that `what` is on a network or
 *                       FUSE file system; called once per session
 */
#ifndef POP3D_NETFS_H
#define POP3D_NETFS_H

#include <stdbool.h>

const char *netfs_kind(int fd);
bool netfs_flush(int fd);
void netfs_note(int fd, const char *what);

#endif
