/*
 * log.h: syslog (facility mail, ident "pop3d"), and stderr as well with -d.
 *   log_open(debug)        call once, before anything is logged; also starts
 *                          the session: its clock, and its ID (below).  Until
 *                          log_started(), errors (LOG_ERR and worse) also
 *                          go to stderr unless it is a socket (under inetd
 *                          it is the client's): a mistyped option is seen
 *                          where pop3d was started, and never by a client
 *   log_debug()            -d: every line goes to stderr as well
 *   log_started()          the end of startup: without -d, fd 2 is pointed
 *                          at /dev/null and nothing more is written there
 *   log_msg(prio, fmt...)  one line; never a password or message content.
 *                          Every line to syslog (and with -d to stderr)
 *                          starts with "session=ID ", in every process of
 *                          the session; a startup error shown on stderr
 *                          without -d is shown without it
 *   log_vmsg(prio, fmt, ap)  the same with a va_list
 *   log_word_ok(s, size)   s, from another process (tls_describe's text),
 *                          is terminated within size, non-empty, and only
 *                          letters, digits and ._/- : one field of a line
 *   log_escape(s, out, n)  a copy of untrusted text with control characters
 *                          and non-ASCII escaped as \xHH, for log lines
 *   log_session_id()       the session's ID: LOG_SESSION_ID_LEN lowercase
 *                          hex digits; processes forked later inherit it
 *   log_set_session(id, start_ms)  adopt the ID and start time of a session
 *                          begun in another process image (a process that
 *                          pop3d exec'd); false (nothing changed) unless id
 *                          is LOG_SESSION_ID_LEN hex digits
 *   log_session_start_ms() the session's start on CLOCK_MONOTONIC, in ms
 *   log_session_ms()       milliseconds since the session started
 *
 * The ID is 48 random bits (getentropy), made once by the root parent as it
 * starts, before any fork: unique enough per host (a collision is expected
 * only after about 16 million sessions, and the line's pid and time tell
 * such sessions apart anyway).
 */
#ifndef POP3D_LOG_H
#define POP3D_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

#define LOG_SESSION_ID_LEN	12

void log_open(int debug);
void log_debug(void);
void log_started(void);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int prio, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
const char *log_escape(const char *s, char *out, size_t size);
bool log_word_ok(const char *s, size_t size);
const char *log_session_id(void);
bool log_set_session(const char *id, long long start_ms);
long long log_session_start_ms(void);
long long log_session_ms(void);

#endif
