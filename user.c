/*
 * user.c: the user's session.  See user.h.
 *
 * Runs in: the user's session.
 */
/* getresgid (Linux). */
#define _GNU_SOURCE
#include "user.h"
#include "fdio.h"
#include "handover.h"
#include "io.h"
#include "lock.h"
#include "log.h"
#include "mailbox.h"
#include "session.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

bool user_state_dir(const struct account *a, const struct state_plan *p)
{
	enum state_result r = p->path[0] ? state_try(p->path) : STATE_NONE;
	if (r == STATE_OPEN)
		return true;
	if (r != STATE_NONE)
		return false;
	if (p->fallback[0]) {
		/* Beside the mailbox, in a directory others may write: one
		 * that another user made (a squat) holds no journal of ours. */
		r = state_try(p->fallback);
		if (r == STATE_OPEN)
			return true;
		if (r == STATE_BAD)
			return false;
	}
	log_msg(LOG_WARNING, "no state directory for %s: no session lock, and "
	    "only UPDATEs that need no journal", a->name);
	return true;
}

void user_refuse(const char *who, const char *peer, bool for_state)
{
	io_puts(for_state ? "-ERR [SYS/TEMP] the mailbox cannot be served "
	    "now, try later\r\n" : "-ERR [SYS/TEMP] the session could not be "
	    "set up\r\n");
	io_flush();
	log_msg(LOG_ERR, "login user=%s peer=%s: %s", who, peer, for_state ?
	    "refused: its state directory exists but cannot be used (it may "
	    "hold an interrupted UPDATE's journal)" : "session setup failed");
}

int user_serve(const struct user_session *u)
{
	char who[4 * MAX_USER + 1];
	log_escape(u->acct->name, who, sizeof(who));
	const char *peer = u->peer, *path = u->mailbox;
	struct mailbox mb;
	enum mb_status st = mailbox_open(&mb, path, u->uidl);
	if (st != MB_OK) {
		log_msg(LOG_ERR, "login user=%s peer=%s: mailbox %s: %s", who,
		    peer, path, mailbox_strerror(st));
		session_reply_status(st, SESSION_OPEN);
		io_flush();
		mailbox_close(&mb);
		return 1;
	}
	size_t count;
	unsigned long long total;
	mailbox_totals(&mb, &count, &total);
	log_msg(LOG_INFO, "login user=%s peer=%s method=%s uid=%lu gid=%lu "
	    "messages=%zu tls=%s failures=%d", who, peer, u->method,
	    (unsigned long)geteuid(), (unsigned long)getegid(), count,
	    u->tls, u->failures);
	io_printf("+OK %s has %zu messages (%llu octets)\r\n", who, count,
	    total);

	struct stats stats = { 0 };
	enum session_end end = session_transact(&mb, &stats, u->login);
	io_flush();
	long long ms = log_session_ms();
	log_msg(LOG_INFO, "session end user=%s peer=%s retrieved=%lu/%llu "
	    "deleted=%lu end=%s duration=%lld.%03lld sent=%llu top=%lu", who,
	    peer, stats.retrieved, stats.retrieved_bytes, stats.deleted,
	    session_end_name(end), ms / 1000, ms % 1000, io_sent(), stats.top);
	mailbox_close(&mb);
	return end == END_QUIT ? 0 : 1;
}

#define TERMINATED(a)	(memchr((a), '\0', sizeof(a)) != NULL)

/* The record read and checked for bounds (it comes from the user's own
 * process: nothing in it is trusted), fd 4 closed on exec, the effective gid
 * back to the user's, the process not dumpable.  false (logged) if it is no
 * record, or the real or effective uid is 0, or the ids are not the
 * record's. */
static bool receive(struct handover *h)
{
	if (getuid() == 0 || geteuid() == 0) {
		log_msg(LOG_ERR, "pop3d-session refused: it never runs as root");
		return false;
	}
	bool whole = fdio_pread_all(HANDOVER_RECORD_FD, h, sizeof(*h), 0);
	close(HANDOVER_RECORD_FD);
	if (!whole ||
	    memcmp(h->magic, HANDOVER_MAGIC, sizeof(HANDOVER_MAGIC)) != 0 ||
	    !TERMINATED(h->name) || !TERMINATED(h->mailbox) ||
	    !TERMINATED(h->plan.path) || !TERMINATED(h->plan.fallback) ||
	    !TERMINATED(h->peer) || !TERMINATED(h->method) ||
	    h->pending > sizeof(h->input) || h->queued > sizeof(h->output) ||
	    !TERMINATED(h->session) ||
	    !log_word_ok(h->tls, sizeof(h->tls)) || h->failures < 0 ||
	    h->failures >= MAX_LOGIN_FAILURES ||
	    (h->relay != -1 && h->relay != HANDOVER_RELAY_FD)) {
		log_msg(LOG_ERR, "pop3d-session: no valid record on fd %d",
		    HANDOVER_RECORD_FD);
		return false;
	}
	/* Without a relay, handover_exec left its number free, and what is
	 * there now is this image's own (the syslog socket): not closed. */
	if (h->relay >= 0 && fcntl(HANDOVER_RELAY_FD, F_SETFD, FD_CLOEXEC) < 0)
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
		log_msg(LOG_CRIT, "pop3d-session: not running as the account "
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

int user_main(void)
{
	static struct handover h;
	io_close_inherited(HANDOVER_LAST_FD);
	signal(SIGPIPE, SIG_IGN);
	log_open(1);	/* fd 2 is /dev/null unless -d (setup_fds) */
	if (!receive(&h))
		return 1;
	log_open(h.debug);
	log_set_session(h.session, h.start_ms);	/* else the one just made */
	mailbox_limits((size_t)h.max_messages, h.max_bytes);
	if (h.lock_group)
		lock_set_group(h.lock_gid);
	io_init_relay(h.relay, h.login_pid, h.timeout);
	io_add_sent(h.sent);
	io_put(h.output, h.queued);
	bool ok = io_preload(h.input, h.pending);
	explicit_bzero(h.input, sizeof(h.input));
	if (!ok)
		return 1;
	struct account a = { .has_ids = true, .uid = h.uid, .gid = h.gid };
	snprintf(a.name, sizeof(a.name), "%s", h.name);
	if (!user_state_dir(&a, &h.plan)) {
		char who[4 * MAX_USER + 1];
		user_refuse(log_escape(a.name, who, sizeof(who)), h.peer, true);
		return 1;
	}
	struct user_session u = { &a, h.mailbox, (enum uidl_mode)h.uidl,
	    h.peer, h.method, h.tls, h.failures, &h.policy };
	return user_serve(&u);
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
