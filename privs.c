/*
 * privs.c: see privs.h.
 */
#include "privs.h"
#include "auth.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static bool have_lock_gid;
static gid_t lock_gid;
static volatile sig_atomic_t child;

void privs_set_lock_group(gid_t gid)
{
	lock_gid = gid;
	have_lock_gid = true;
}

bool privs_lock_gid(gid_t *gid)
{
	if (have_lock_gid)
		*gid = lock_gid;
	return have_lock_gid;
}

bool privs_lock_group_enter(void)
{
	if (!have_lock_gid) {
		errno = EPERM;
		return false;
	}
	return setegid(lock_gid) == 0;
}

bool privs_lock_group_leave(void)
{
	return setegid(getgid()) == 0;
}

/* A stop request (systemd stopping the unit, xinetd going down) is passed
 * on to the session, which ends without UPDATE; the monitor then still
 * closes the PAM session. */
static void forward(int sig)
{
	if (child > 0)
		kill((pid_t)child, sig);
}

bool privs_monitor(void)
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
