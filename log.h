/*
 * log.h: syslog (facility mail, ident "pop3d"), and stderr as well with -d.
 *   log_open(debug)        call once, before anything is logged
 *   log_msg(prio, fmt...)  one line; never a password or message content
 *   log_escape(s, out, n)  a copy of untrusted text with control characters
 *                          and non-ASCII escaped as \xHH, for log lines
 */
#ifndef POP3D_LOG_H
#define POP3D_LOG_H

#include <stddef.h>
#include <syslog.h>

void log_open(int debug);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *log_escape(const char *s, char *out, size_t size);

#endif
