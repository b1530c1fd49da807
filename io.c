/*
 * io.c: bounded line input and buffered reply output.  See io.h.
 * Runs in: any process (library).
 */
#include "io.h"
#include "log.h"
#include "params.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int in_fd = 0, out_fd = 1, timeout_s = DEFAULT_TIMEOUT;
static struct timespec deadline;	/* CLOCK_MONOTONIC; tv_sec 0: none */

static char inbuf[IO_INPUT_BUFFER];
static size_t in_pos, in_len;

static char outbuf[OUTPUT_BUFFER];
static size_t out_len;
static unsigned long long sent;	/* octets written to the client */

static volatile sig_atomic_t write_expired;

/* The plain transport: the fds themselves.  Usually blocking (inetd hands
 * over a blocking socket); EAGAIN is handled in case they are not. */
static ssize_t plain_read(void *buf, size_t n, short *want)
{
	*want = POLLIN;
	return read(in_fd, buf, n);
}

static ssize_t plain_write(const void *buf, size_t n, short *want)
{
	*want = POLLOUT;
	return write(out_fd, buf, n);
}

static bool plain_pending(void)
{
	return false;
}

static const struct io_transport plain = { plain_read, plain_write,
    plain_pending };
static const struct io_transport *tr = &plain;

void io_set_transport(const struct io_transport *t)
{
	tr = t ? t : &plain;
}

static void on_alarm(int sig)
{
	(void)sig;
	write_expired = 1;
}

void io_init(int in, int out, int timeout)
{
	in_fd = in;
	out_fd = out;
	timeout_s = timeout;
	in_pos = in_len = out_len = 0;	/* a fresh connection (the fuzzers) */
	deadline.tv_sec = 0;
	/* A blocking write to a client that stops reading is ended by SIGALRM
	 * (no SA_RESTART, so write returns early with EINTR or a short count). */
	struct sigaction sa = { .sa_handler = on_alarm };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
}

static int relay_fd = -1;
static pid_t relay_pid = -1;

/* At exit: the relay sees the end of the session, sends what is left and
 * close_notify; the connection ends when it does. */
static void end_relay(void)
{
	shutdown(relay_fd, SHUT_RDWR);
	close(relay_fd);
	while (relay_pid > 0 && waitpid(relay_pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void io_init_relay(int relay, pid_t pid, int timeout)
{
	if (relay < 0) {
		io_init(0, 1, timeout);
		return;
	}
	io_init(relay, relay, timeout);
	relay_fd = relay;
	relay_pid = pid;
	atexit(end_relay);
}

void io_set_timeout(int timeout)
{
	timeout_s = timeout;
}

void io_set_deadline(const struct timespec *t)
{
	if (t)
		deadline = *t;
	else
		deadline.tv_sec = 0;
}

void io_deadline(struct timespec *t, const struct timespec *from, long long ms)
{
	if (from)
		*t = *from;
	else
		clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += ms % 1000 * 1000000;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

long long io_ms_left(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (t->tv_sec - now.tv_sec) * 1000LL +
	    (t->tv_nsec - now.tv_nsec) / 1000000;
}

/* poll(2) until fd is ready; EINTR restarts the wait with the time that is
 * left.  An error is reported as ready: the read or write that follows
 * says what it is. */
bool io_wait(int fd, short events, const struct timespec *limit)
{
	for (;;) {
		long long left = limit ? io_ms_left(limit) : -1;
		if (limit && left <= 0)
			return false;
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (n > 0 || (n < 0 && errno != EINTR))
			return true;
	}
}

bool io_fd_read(int fd, void *buf, size_t n, const struct timespec *limit)
{
	for (size_t done = 0; done < n; ) {
		if (!io_wait(fd, POLLIN, limit))
			return false;
		ssize_t r = read(fd, (char *)buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

/* Milliseconds to the deadline (<= 0: passed); LLONG_MAX without one. */
static long long deadline_left(void)
{
	return deadline.tv_sec == 0 ? LLONG_MAX : io_ms_left(&deadline);
}

/* Waits for fd to become ready; false after timeout_s seconds of silence
 * or at the deadline. */
static bool wait_ready(int fd, short events)
{
	struct timespec t;
	io_deadline(&t, NULL, (long long)timeout_s * 1000);
	return io_wait(fd, events, deadline_left() < io_ms_left(&t) ?
	    &deadline : &t);
}

/* Refills the input buffer: 1 with new bytes, 0 at EOF, -1 error, -2 timeout.
 * Before waiting for the client everything queued is sent; the wait is
 * skipped when the transport holds decrypted bytes already. */
static int fill(void)
{
	if (in_pos > 0) {
		memmove(inbuf, inbuf + in_pos, in_len - in_pos);
		in_len -= in_pos;
		in_pos = 0;
	}
	/* Replies wait in the buffer while more commands are already there
	 * (RFC 2449 PIPELINING): they leave together, in large writes.  With
	 * TLS a readable fd may hold part of a record only: the read then asks
	 * to wait, and the replies are sent before the wait. */
	short want = POLLIN;
	for (;;) {
		/* Past the deadline nothing more is read, however fast the
		 * client sends: the deadline bounds the state, not the pauses. */
		if (deadline_left() <= 0)
			return -2;
		int fd = want == POLLOUT ? out_fd : in_fd;
		struct pollfd p = { .fd = fd, .events = want };
		if (!tr->pending() && (poll(&p, 1, 0) <= 0 ||
		    !(p.revents & (want | POLLHUP)))) {
			if (!io_flush())
				return -1;
			if (!wait_ready(fd, want))
				return -2;
		}
		ssize_t n = tr->read(inbuf + in_len, sizeof(inbuf) - in_len, &want);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		in_len += (size_t)n;
		return 1;
	}
}

bool io_pending(void)
{
	return in_pos < in_len;
}

/* RFC 2595 section 4 / CVE-2011-0411: what the client sent before the TLS
 * handshake must not be taken as sent under TLS. */
void io_discard_input(void)
{
	explicit_bzero(inbuf, sizeof(inbuf));
	in_pos = in_len = 0;
}

size_t io_peek(char *buf, size_t size)
{
	size_t n = in_len - in_pos;
	if (n > size)
		n = size;
	memcpy(buf, inbuf + in_pos, n);
	return n;
}

size_t io_take_input(char *buf, size_t size)
{
	size_t n = io_peek(buf, size);
	io_discard_input();
	return n;
}

size_t io_copy_output(char *buf, size_t size)
{
	if (out_len > size) {
		io_flush();
		return 0;
	}
	memcpy(buf, outbuf, out_len);
	return out_len;
}

bool io_preload(const char *buf, size_t n)
{
	if (n > sizeof(inbuf) - (in_len - in_pos))
		return false;
	memmove(inbuf + n, inbuf + in_pos, in_len - in_pos);
	memcpy(inbuf, buf, n);
	in_len = in_len - in_pos + n;
	in_pos = 0;
	return true;
}

enum io_status io_getline(char *buf, size_t size, size_t *length)
{
	size_t got = 0;
	bool toolong = false;
	for (;;) {
		char *lf = memchr(inbuf + in_pos, '\n', in_len - in_pos);
		size_t n = (lf ? (size_t)(lf - inbuf) : in_len) - in_pos;
		if (!toolong) {
			if (got + n < size) {
				memcpy(buf + got, inbuf + in_pos, n);
				got += n;
			} else {
				toolong = true;
			}
		}
		in_pos += n;
		if (lf) {
			in_pos++;
			if (toolong)
				return IO_TOOLONG;
			if (got > 0 && buf[got - 1] == '\r')
				got--;
			buf[got] = '\0';
			*length = got;
			return IO_LINE;
		}
		int r = fill();
		if (r == 0)
			return IO_EOF;
		if (r == -1)
			return IO_ERROR;
		if (r == -2)
			return IO_TIMEOUT;
	}
}

/* Seconds a blocking write may take: timeout_s, and no longer than the
 * deadline, but a second at least (the reply that ends the session). */
static unsigned write_limit(void)
{
	long long left = deadline_left();
	if (left >= (long long)timeout_s * 1000)
		return (unsigned)timeout_s;
	return left < 1000 ? 1 : (unsigned)((left + 999) / 1000);
}

/* Writes everything in outbuf through the transport.  A short write is
 * continued; EINTR is retried; a client that does not read for timeout_s
 * seconds (or up to the deadline), or any other error, ends the session:
 * the peer is gone. */
bool io_flush(void)
{
	size_t done = 0;
	write_expired = 0;
	while (done < out_len) {
		short want = POLLOUT;
		alarm(write_limit());
		ssize_t n = tr->write(outbuf + done, out_len - done, &want);
		int e = errno;
		alarm(0);
		if (write_expired)
			goto fail;
		if (n < 0 && e == EINTR)
			continue;
		if (n < 0 && e == EAGAIN && wait_ready(want == POLLIN ? in_fd :
		    out_fd, want))
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
		sent += (unsigned long long)n;
	}
	out_len = 0;
	return true;
fail:
	log_msg(LOG_INFO, "write to client failed: %s",
	    errno ? strerror(errno) : "timeout");
	_exit(1);
}

unsigned long long io_sent(void)
{
	return sent;
}

void io_add_sent(unsigned long long n)
{
	sent += n;
}

char *io_space(size_t *room)
{
	if (sizeof(outbuf) - out_len < IO_SPACE_MIN)
		io_flush();
	*room = sizeof(outbuf) - out_len;
	return outbuf + out_len;
}

void io_commit(size_t n)
{
	out_len += n;
}

void io_put(const char *s, size_t n)
{
	while (n > 0) {
		size_t room = sizeof(outbuf) - out_len;
		if (room == 0) {
			io_flush();
			continue;
		}
		size_t k = n < room ? n : room;
		memcpy(outbuf + out_len, s, k);
		out_len += k;
		s += k;
		n -= k;
	}
}

void io_puts(const char *s)
{
	io_put(s, strlen(s));
}

void io_printf(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	io_put(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* /proc/self/fd lists them where it exists; elsewhere every possible
 * number is tried. */
void io_close_inherited(int above)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		long max = sysconf(_SC_OPEN_MAX);
		for (long i = above + 1; i < (max > 0 && max < 65536 ? max : 65536); i++)
			close((int)i);
		return;
	}
	int fds[256], n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 256) {
		int fd = atoi(e->d_name);
		if (fd > above && fd != dirfd(d))
			fds[n++] = fd;
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	if (n == 256)
		io_close_inherited(above);
}
