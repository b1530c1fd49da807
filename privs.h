/*
 * privs.h: what pop3d keeps once root is dropped, and why (see pop3d.8,
 * SECURITY).  become_user() in pop3d.c does the drop itself.
 *
 *   privs_set_lock_group(gid)  --lock-group: become_user() keeps gid as the
 *                              saved set-group-ID, for dotlocks in a
 *                              directory only that group may write
 *   privs_lock_gid(&gid)       true, and the kept group, if there is one
 *   privs_lock_group_enter()   setegid(kept group) around creating or
 *   privs_lock_group_leave()   removing a dotlock, and back; false (errno
 *                              set) if there is no kept group or it fails
 *   privs_monitor()            forks.  The child returns and serves the
 *                              session; the parent, still root, becomes the
 *                              monitor: it reads nothing from the client,
 *                              waits for the child, closes the PAM session
 *                              and exits with the child's status.
 */
#ifndef POP3D_PRIVS_H
#define POP3D_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

void privs_set_lock_group(gid_t gid);
bool privs_lock_gid(gid_t *gid);
bool privs_lock_group_enter(void);
bool privs_lock_group_leave(void);
bool privs_monitor(void);

#endif
