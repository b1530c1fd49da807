/*
 * io.h: the client connection.  Lines in (bounded, with the idle timeout),
 * replies out through one large buffer that is flushed only when pop3d is
 * about to wait for the client, so pipelined replies leave in few writes.
 *
 *   io_init(in, out, timeout)    fds and the idle timeout in seconds
 *   io_init_relay(relay, pid, timeout)  io on the TLS relay's socketpair
 *                                (relay >= 0; else on fds 0/1): at exit the
 *                                relay is told of the end (it sends what is
 *                                left and close_notify) and pid reaped
 *   io_set_timeout(timeout)      a new idle timeout (after login)
 *   io_set_deadline(t)           from t (CLOCK_MONOTONIC) on, io_getline
 *                                reads nothing more and says IO_TIMEOUT,
 *                                however busy the client; writes wait no
 *                                longer than t (a second at least).  NULL:
 *                                none (io_init sets none)
 *   io_deadline(t, from, ms)     t = from + ms (CLOCK_MONOTONIC; from NULL:
 *                                now): the one deadline arithmetic of pop3d
 *   io_ms_left(t)                milliseconds from now to t (<= 0: passed)
 *   io_wait(fd, events, limit)   poll fd for events until limit (NULL: no
 *                                limit); false once limit has passed
 *   io_fd_read(fd, buf, n, limit)  exactly n bytes from a pipe between
 *                                pop3d's processes (fdio_write_all writes
 *                                them); EINTR is retried.  false on EOF or
 *                                an error (the other process is gone, and
 *                                the session with it) and once limit (NULL:
 *                                none) has passed
 *   io_getline(buf, size, len)   next command line without its CRLF/LF:
 *                                IO_LINE, IO_TOOLONG (rest discarded),
 *                                IO_EOF, IO_TIMEOUT, IO_ERROR
 *   io_put/io_printf             queue reply bytes
 *   io_space(&room) / io_commit(n)  write straight into the output
 *                                buffer: room >= IO_SPACE_MIN bytes free
 *                                (flushed first when fewer are), n of
 *                                them used
 *   io_flush()                   write everything queued; false on failure
 *   io_set_transport(t)          read/write through t (TLS) instead of the fds
 *   io_discard_input()           forget unread input (STLS, RFC 2595 section 4)
 *   io_take_input(buf, size)     move unread input out (pipelined commands
 *                                handed to another process); returns the count
 *   io_peek(buf, size)           a copy of the unread input, up to size
 *                                bytes (what came with the last line);
 *                                returns the count
 *   io_preload(buf, n)           put such input in front of what is unread
 *   io_copy_output(buf, size)    a copy of the queued output when it fits
 *                                (its length), else sends it (0): replies
 *                                handed to another process to send
 *   io_sent()                    octets written to the client so far (POP3
 *                                octets: the plaintext under TLS)
 *   io_close_inherited(above)    closes every fd above `above` that a
 *                                careless parent left open (at the start
 *                                of a process image: nothing of it may
 *                                reach the login process or the user's)
 *   io_add_sent(n)               count n octets another process of the
 *                                session wrote before this one took over
 * A write that fails or times out ends the process (exit 1): the client is
 * gone and there is nobody to answer.
 */
#ifndef POP3D_IO_H
#define POP3D_IO_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/types.h>
#include <time.h>

enum io_status { IO_LINE, IO_TOOLONG, IO_EOF, IO_TIMEOUT, IO_ERROR };

/* The byte pipe under the line reader and the output buffer.  read/write
 * act like read(2)/write(2) on a non-blocking fd: >0 bytes moved, 0 end of
 * input (read only), -1 with errno; errno EAGAIN means "call again once the
 * fd is ready for *want" (POLLIN or POLLOUT: a TLS record may need either).
 * pending: bytes already inside the transport, readable without waiting. */
struct io_transport {
	ssize_t (*read)(void *buf, size_t n, short *want);
	ssize_t (*write)(const void *buf, size_t n, short *want);
	bool (*pending)(void);
};

/* The least io_space() leaves free: room for a doubled dot, a byte of a
 * line and its CRLF, so that a writer always makes progress. */
#define IO_SPACE_MIN		4

/* Input read ahead of the current line; a whole buffer of it at most. */
#define IO_INPUT_BUFFER		4096

void io_init(int in, int out, int timeout);
void io_init_relay(int relay, pid_t pid, int timeout);
void io_set_timeout(int timeout);
void io_set_deadline(const struct timespec *t);
void io_deadline(struct timespec *t, const struct timespec *from, long long ms);
long long io_ms_left(const struct timespec *t);
bool io_wait(int fd, short events, const struct timespec *limit);
bool io_fd_read(int fd, void *buf, size_t n, const struct timespec *limit);
enum io_status io_getline(char *buf, size_t size, size_t *length);
bool io_pending(void);
void io_put(const char *s, size_t n);
void io_puts(const char *s);
void io_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *io_space(size_t *room);
void io_commit(size_t n);
bool io_flush(void);
void io_set_transport(const struct io_transport *t);
void io_discard_input(void);
size_t io_take_input(char *buf, size_t size);
size_t io_peek(char *buf, size_t size);
bool io_preload(const char *buf, size_t n);
size_t io_copy_output(char *buf, size_t size);
unsigned long long io_sent(void);
void io_add_sent(unsigned long long n);
void io_close_inherited(int above);

#endif
