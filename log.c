/*
 * log.c: see log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static int to_stderr;

void log_open(int debug)
{
	to_stderr = debug;
	openlog("pop3d", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_msg(int prio, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	syslog(prio, "%s", line);
	if (to_stderr)
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
