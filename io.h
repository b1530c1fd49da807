/*
 * io.h: the client connection.  Lines in (bounded, with the idle timeout),
 * replies out through one large buffer that is flushed only when pop3d is
 * about to wait for the client, so pipelined replies leave in few writes.
 *
 *   io_init(in, out, timeout)    fds and the idle timeout in seconds
 *   io_set_timeout(timeout)      a new idle timeout (after login)
 *   io_getline(buf, size, len)   next command line without its CRLF/LF:
 *                                IO_LINE, IO_TOOLONG (rest discarded),
 *                                IO_EOF, IO_TIMEOUT, IO_ERROR
 *   io_put/io_printf             queue reply bytes
 *   io_space(n) / io_commit(n)   write straight into the output buffer
 *   io_flush()                   write everything queued; false on failure
 * A write that fails or times out ends the process (exit 1): the client is
 * gone and there is nobody to answer.
 */
#ifndef POP3D_IO_H
#define POP3D_IO_H

#include <stdbool.h>
#include <stddef.h>

enum io_status { IO_LINE, IO_TOOLONG, IO_EOF, IO_TIMEOUT, IO_ERROR };

void io_init(int in, int out, int timeout);
void io_set_timeout(int timeout);
enum io_status io_getline(char *buf, size_t size, size_t *length);
bool io_pending(void);
void io_put(const char *s, size_t n);
void io_puts(const char *s);
void io_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *io_space(size_t n);
void io_commit(size_t n);
bool io_flush(void);

#endif
