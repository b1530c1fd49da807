/*
 * log.c: see log.h.
 * Runs in: any process (library).
 * The root parent opens the log and makes the session ID; the login
 * process, the user's process and the PAM monitor inherit both, and the
 * user's session image adopts them from its handover record.
 */
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int to_stderr;		/* -d: every line */
static int errors_to_stderr;	/* starting up, and fd 2 is no socket */
static char session_id[LOG_SESSION_ID_LEN + 1];
static long long start_ms;

static long long log_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 48 random bits; without getentropy (no kernel support), the pid and the
 * time in nanoseconds, which no two sessions on a host share at once. */
static void make_session_id(void)
{
	unsigned char b[LOG_SESSION_ID_LEN / 2];
	if (getentropy(b, sizeof(b)) != 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		unsigned long long v = ((unsigned long long)getpid() << 32) ^
		    (unsigned long long)ts.tv_sec * 1000000000ULL ^
		    (unsigned long long)ts.tv_nsec;
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(v >> (8 * i));
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(session_id + 2 * i, 3, "%02x", b[i]);
}

void log_open(int debug)
{
	struct stat st;
	to_stderr = debug;
	start_ms = log_now_ms();
	make_session_id();
	errors_to_stderr = fstat(2, &st) == 0 && !S_ISSOCK(st.st_mode);
	openlog("pop3d", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_debug(void)
{
	to_stderr = 1;
}

void log_started(void)
{
	errors_to_stderr = 0;
	if (to_stderr)
		return;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && fd != 2) {
		dup2(fd, 2);
		close(fd);
	}
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

void log_vmsg(int prio, const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	syslog(prio, "session=%s %s", session_id, line);
	if (to_stderr)
		fprintf(stderr, "pop3d: session=%s %s\n", session_id, line);
	else if (errors_to_stderr && prio <= LOG_ERR)
		fprintf(stderr, "pop3d: %s\n", line);
}

const char *log_session_id(void)
{
	return session_id;
}

bool log_set_session(const char *id, long long start)
{
	if (strlen(id) != LOG_SESSION_ID_LEN ||
	    strspn(id, "0123456789abcdef") != LOG_SESSION_ID_LEN)
		return false;
	memcpy(session_id, id, sizeof(session_id));
	start_ms = start;
	return true;
}

long long log_session_start_ms(void)
{
	return start_ms;
}

long long log_session_ms(void)
{
	return log_now_ms() - start_ms;
}

const char *log_escape(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (; *s && o + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

bool log_word_ok(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		return false;
	size_t n = strlen(s);
	return n > 0 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._/-") == n;
}
