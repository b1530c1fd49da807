/*
 * update.h: the crash-safe UPDATE of an mbox, in place, with its backup
 * appended to the mailbox itself and a small journal (the plan and its
 * phase) in the state directory.  The design and the failure model:
 * DESIGN ("The UPDATE").  The caller holds the delivery lock.
 *
 *   update_commit(fd, st, lk, size, del, n)  remove the n byte ranges del
 *       (ascending, disjoint, non-empty, inside [0, size)) from the file of
 *       that size: every other byte is kept, in order.
 *   update_recover(fd, st, lk)  before a mailbox is scanned: finish an
 *       UPDATE that a crash or an I/O error interrupted (UPD_OK when there
 *       was none).
 * Results:
 *   UPD_OK       done, durable (fsync'ed) before returning
 *   UPD_NOTHING  the mailbox was not touched (errno / the log say why)
 *   UPD_UNSURE   done, but the disk reported an error when making it
 *                durable: the deleted messages may come back (no kept one
 *                is at risk)
 *   UPD_PENDING  the rewrite started and could not be finished now: the
 *                journal is durable and the next start completes it; the
 *                mailbox must not be served until then
 */
#ifndef POP3D_UPDATE_H
#define POP3D_UPDATE_H

#include "journal.h"
#include "lock.h"

#include <sys/stat.h>
#include <sys/types.h>

enum upd_status { UPD_OK, UPD_NOTHING, UPD_UNSURE, UPD_PENDING };

enum upd_status update_commit(int fd, const struct stat *st, struct lock *lk,
    off_t size, const struct range *del, size_t n);
enum upd_status update_recover(int fd, const struct stat *st, struct lock *lk);

#endif
