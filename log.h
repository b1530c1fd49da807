/*
 * log.h: syslog (facility mail, ident "pop3d"), and stderr as well with -d.
 *   log_open(debug)        call once, before anything is logged.  Until
 *                          log_started(), errors (LOG_ERR and worse) also
 *                          go to stderr unless it is a socket (under inetd
 *                          it is the client's): a mistyped option is seen
 *                          where pop3d was started, and never by a client
 *   log_debug()            -d: every line goes to stderr as well
 *   log_started()          the end of startup: without -d, fd 2 is pointed
 *                          at /dev/null and nothing more is written there
 *   log_msg(prio, fmt...)  one line; never a password or message content
 *   log_vmsg(prio, fmt, ap)  the same with a va_list
 *   log_escape(s, out, n)  a copy of untrusted text with control characters
 *                          and non-ASCII escaped as \xHH, for log lines
 */
#ifndef POP3D_LOG_H
#define POP3D_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

void log_open(int debug);
void log_debug(void);
void log_started(void);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int prio, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
const char *log_escape(const char *s, char *out, size_t size);

#endif
