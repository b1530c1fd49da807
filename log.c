/*
 * log.c: see log.h.
 */
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int to_stderr;		/* -d: every line */
static int errors_to_stderr;	/* starting up, and fd 2 is no socket */

void log_open(int debug)
{
	struct stat st;
	to_stderr = debug;
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
	syslog(prio, "%s", line);
	if (to_stderr || (errors_to_stderr && prio <= LOG_ERR))
		fprintf(stderr, "pop3d: %s\n", line);
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
