/*
 * fdio.h: whole-buffer transfers on a file descriptor, the one copy of
 * these loops (files, the journal, the index cache, the pipes between the
 * processes of a session).
 *
 *   fdio_pread_all(fd, buf, n, off)   exactly n bytes at off
 *   fdio_pwrite_all(fd, buf, n, off)  all n bytes at off
 *   fdio_write_all(fd, buf, n)        all n bytes at the file offset
 * Failure semantics, the same for each: EINTR is retried and a short
 * transfer is continued; any other error (EIO, ENOSPC, EDQUOT ...) fails
 * with its errno, and so does an end of file before n bytes were read or
 * a write that moved nothing (errno EIO).  After a failure some of the
 * bytes may have been moved.
 */
#ifndef POP3D_FDIO_H
#define POP3D_FDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

bool fdio_pread_all(int fd, void *buf, size_t n, off_t off);
bool fdio_pwrite_all(int fd, const void *buf, size_t n, off_t off);
bool fdio_write_all(int fd, const void *buf, size_t n);

#endif
