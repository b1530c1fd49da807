/*
 * log.h: syslog (facility mail, ident "pop3d"), and stderr as well with -d.
 *   log_open(debug)        call once, before anything is logged; also starts
 *                          the session: its clock, and its ID (below)
 *   log_msg(prio, fmt...)  one line; never a password or message content.
 *                          Once the session has an ID, every line starts
 *                          with "session=ID ", in every process of it
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

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

#define LOG_SESSION_ID_LEN	12

void log_open(int debug);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *log_escape(const char *s, char *out, size_t size);
const char *log_session_id(void);
bool log_set_session(const char *id, long long start_ms);
long long log_session_start_ms(void);
long long log_session_ms(void);

#endif
