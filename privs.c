/*
 * privs.c: root to the user.  See privs.h.
 *
 * Runs in: the root parent.
 * (Up to the drop: the process that returns from privs_start_session is
 * the user's, or with PAM its child.)
 */
/* setresuid/setresgid (Linux, the BSDs) set the saved IDs explicitly. */
#define _GNU_SOURCE
#include "privs.h"
#include "auth.h"
#include "io.h"
#include "log.h"
#include "params.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child;

/* As root, before PAM's setcred (which may add groups, e.g. pam_group):
 * the account's supplementary groups. */
static bool set_groups(const struct account *a)
{
	if (geteuid() != 0)
		return true;
	int r = a->system ? initgroups(a->name, a->gid) :
	    setgroups(1, &a->gid);
	if (r < 0)
		log_msg(LOG_ERR, "cannot set the groups of %s: %s", a->name,
		    strerror(errno));
	return r == 0;
}

/* Root -> the account, for good: gid (the --lock-group gid kept as the
 * saved gid, nothing else), uid, then proof that root cannot be had back.
 * The groups are set before (set_groups).  Never uid 0.  Not root: only
 * one's own account. */
static bool become_user(const struct account *a,
    const struct privs_config *cfg)
{
	if (geteuid() != 0) {
		if (a->has_ids && a->uid != getuid()) {
			log_msg(LOG_ERR, "not started as root: cannot serve uid %lu",
			    (unsigned long)a->uid);
			return false;
		}
		return true;
	}
	if (!a->has_ids || a->uid == 0) {
		log_msg(LOG_ERR, "refusing to serve %s as root (no uid:gid, or uid 0)",
		    a->name);
		return false;
	}
	gid_t saved = cfg->lock_group ? cfg->lock_gid : a->gid;
	if (setresgid(a->gid, a->gid, saved) < 0 ||
	    setresuid(a->uid, a->uid, a->uid) < 0) {
		log_msg(LOG_ERR, "cannot switch to uid %lu: %s",
		    (unsigned long)a->uid, strerror(errno));
		return false;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || setegid(0) == 0 ||
	    getuid() != a->uid ||
	    geteuid() != a->uid || getgid() != a->gid || getegid() != a->gid) {
		log_msg(LOG_CRIT, "privileges could not be dropped");
		_exit(1);
	}
	return true;
}

/* A stop request (systemd stopping the unit, xinetd going down) is passed
 * on to the session, which ends without UPDATE; the monitor then still
 * closes the PAM session. */
static void forward(int sig)
{
	if (child > 0)
		kill((pid_t)child, sig);
}

/* PAM only: forks.  The child returns true and goes on to serve the
 * session; the parent, still root, is the monitor: it reads nothing from
 * the client, waits for the child, closes the PAM session and exits with
 * the child's status. */
static bool monitor(void)
{
	/* Stop requests wait until the monitor's handler is in place: a
	 * session may run before the parent is scheduled again. */
	sigset_t stop, old;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, &old);
	pid_t pid = fork();
	if (pid <= 0) {
		if (pid < 0)
			log_msg(LOG_ERR, "fork: %s", strerror(errno));
		else
			auth_forget();
		sigprocmask(SIG_SETMASK, &old, NULL);
		return pid == 0;
	}
	child = pid;
	struct sigaction sa = { .sa_handler = forward };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* Nothing from the network reaches this process again. */
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
		log_msg(LOG_WARNING, "monitor: cannot detach from the client");
	if (fd > 1)
		close(fd);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			log_msg(LOG_ERR, "monitor: waitpid: %s", strerror(errno));
			status = 1 << 8;
			break;
		}
	auth_session_close();
	if (WIFSIGNALED(status))
		log_msg(LOG_ERR, "session process killed by signal %d",
		    WTERMSIG(status));
	exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

bool privs_path(const char *pattern, const struct account *a,
    const char *dir, char *out, size_t size)
{
	size_t o = 0;
	for (const char *p = pattern; *p; p++) {
		const char *add = NULL;
		char one[2] = { *p, '\0' };
		if (*p == '%') {
			p++;
			if (*p == 'u')
				add = a->name;
			else if (*p == 'h' && a->home[0])
				add = a->home;
			else if (*p == 'd' && dir)
				add = dir;
			else if (*p == '%')
				add = "%";
			else
				return false;
		} else {
			add = one;
		}
		size_t n = strlen(add);
		if (o + n >= size)
			return false;
		memcpy(out + o, add, n);
		o += n;
	}
	out[o] = '\0';
	return o > 0;
}

/* The mailbox's directory, for %d. */
static void dir_of(const char *mailbox, char *dir, size_t size)
{
	snprintf(dir, size, "%s", mailbox);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, size, ".");
	else
		slash[slash == dir] = '\0';
}

/* As root, with the user's effective ids (the home may be an NFS mount
 * that maps root to nobody): does path exist, or might it?  It is made
 * when it can be.  The user's process looks at it again and decides. */
static bool exists_as_user(const struct account *a, const char *path)
{
	gid_t egid = getegid();
	if (setegid(a->gid) < 0 || seteuid(a->uid) < 0) {
		log_msg(LOG_ERR, "cannot look at %s as uid %lu: %s", path,
		    (unsigned long)a->uid, strerror(errno));
		if (seteuid(0) < 0 || setegid(egid) < 0)
			_exit(1);
		return true;
	}
	struct stat st;
	bool there = mkdir(path, 0700) == 0 || errno == EEXIST ||
	    lstat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
	if (seteuid(0) < 0 || setegid(egid) < 0) {
		log_msg(LOG_CRIT, "cannot get root back: %s", strerror(errno));
		_exit(1);
	}
	return there;
}

/* Started as root, for an account whose home cannot hold its state
 * directory: --state-base/USER, made here by root before the drop, owned
 * by the user, mode 0700, in a base directory that only root may write.
 * STATE_OPEN (path filled in); STATE_NONE when the base cannot be made;
 * STATE_BAD when the base or an existing directory is not as it must be
 * (a journal may be in it: the login is refused).  Logged. */
static enum state_result make_state_dir(const struct account *a,
    const char *base, char *path, size_t size)
{
	int n = snprintf(path, size, "%s/%s", base, a->name);
	if (n < 0 || (size_t)n >= size)
		return STATE_NONE;
	if (mkdir(base, 0755) == 0)
		chmod(base, 0755);	/* the umask is 077 */
	else if (errno != EEXIST) {
		log_msg(LOG_WARNING, "--state-base %s: cannot create: %s", base,
		    strerror(errno));
		return STATE_NONE;
	}
	struct stat st;
	int bfd = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0 || fstat(bfd, &st) < 0 || st.st_uid != 0 ||
	    (st.st_mode & 022) || !(st.st_mode & 01)) {
		log_msg(LOG_ERR, "--state-base %s: refused: not a directory "
		    "owned by root, writable only by root and searchable by all "
		    "(0755 or 0711)", base);
		if (bfd >= 0)
			close(bfd);
		return STATE_BAD;
	}
	bool made = mkdirat(bfd, a->name, 0700) == 0;
	int fd = openat(bfd, a->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	close(bfd);
	if (fd >= 0 && made && fchown(fd, a->uid, a->gid) < 0) {
		close(fd);
		fd = -1;
	}
	const char *why = NULL;
	if (fd < 0 || fstat(fd, &st) < 0)
		why = strerror(errno);
	else if (st.st_uid != a->uid || (st.st_mode & 022))
		why = "not the user's own, or writable by group or others";
	if (fd >= 0)
		close(fd);
	if (why) {
		log_msg(LOG_ERR, "state directory %s: refused: %s", path, why);
		return STATE_BAD;
	}
	return STATE_OPEN;
}

/* The state directory to look for: --state-dir if given (no fallback: the
 * admin chose); else the default under the home directory; when that does
 * not exist and cannot be made, the root-made one (started as root) or
 * one beside the mailbox (started as an ordinary user).  Runs before the
 * drop; false: the login is refused (logged). */
static bool plan_state_dir(const struct account *a,
    const struct privs_config *cfg, const char *mailbox,
    struct state_plan *p)
{
	char dir[PATH_MAX];
	dir_of(mailbox, dir, sizeof(dir));
	p->path[0] = p->fallback[0] = '\0';
	if (cfg->state_dir) {
		if (!privs_path(cfg->state_dir, a, dir, p->path,
		    sizeof(p->path)))
			log_msg(LOG_ERR, "--state-dir=%s cannot be expanded",
			    cfg->state_dir);
		return true;
	}
	if (!privs_path(DEFAULT_STATE_DIR, a, dir, p->path, sizeof(p->path)))
		p->path[0] = '\0';
	if (geteuid() != 0) {
		if (!privs_path(FALLBACK_STATE_DIR, a, dir, p->fallback,
		    sizeof(p->fallback)))
			p->fallback[0] = '\0';
		return true;
	}
	if (p->path[0] && exists_as_user(a, p->path))
		return true;
	switch (make_state_dir(a, cfg->state_base, p->path,
	    sizeof(p->path))) {
	case STATE_OPEN:
		return true;
	case STATE_BAD:
		return false;
	default:
		p->path[0] = '\0';
		return true;
	}
}

enum privs_result privs_start_session(const struct account *a,
    const struct privs_config *cfg, const char *mailbox,
    struct state_plan *plan)
{
	if (!set_groups(a) || !auth_session_open())
		return PRIVS_FAILED;
	if (auth_is_pam()) {
		io_flush();
		if (!monitor())
			return PRIVS_FAILED;
	}
	if (!plan_state_dir(a, cfg, mailbox, plan))
		return PRIVS_STATE_BAD;
	return become_user(a, cfg) ? PRIVS_OK : PRIVS_FAILED;
}
