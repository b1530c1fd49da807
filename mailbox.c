/*
 * mailbox.c: opening, indexing, message output and UPDATE.  See mailbox.h;
 * the mbox format is read by scan.c, the index kept by index.c.
 * Runs in: the user's session.
 */
#include "mailbox.h"
#include "cache.h"
#include "digest.h"
#include "index.h"
#include "io.h"
#include "lock.h"
#include "log.h"
#include "netfs.h"
#include "params.h"
#include "scan.h"
#include "state.h"
#include "uidl.h"
#include "update.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static size_t max_messages = DEFAULT_MAX_MESSAGES;
static long long max_bytes = DEFAULT_MAX_MAILBOX_BYTES;

void mailbox_limits(size_t messages, long long bytes)
{
	max_messages = messages;
	max_bytes = bytes;
}

/* Do two fstat results show the same file, unchanged?  An MDA's append
 * changes size and mtime; a rewrite changes mtime or ctime (with
 * nanoseconds); a replaced file changes the inode. */
static bool same_state(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Has the file changed since it was scanned or last verified? */
static bool file_changed(const struct mailbox *mb, struct stat *now)
{
	return fstat(mb->fd, now) < 0 || !same_state(now, &mb->st);
}

/* Has the mailbox changed in the current tick of the file system clock?
 * Then a change after this scan could leave the same mtime and ctime, and
 * the index must not be cached (Git's "racily clean" problem). */
static bool changed_just_now(const struct stat *st)
{
	struct timespec now;
	if (clock_gettime(CLOCK_REALTIME_COARSE, &now) < 0)
		return true;
	return st->st_ctim.tv_sec > now.tv_sec ||
	    (st->st_ctim.tv_sec == now.tv_sec &&
	     st->st_ctim.tv_nsec >= now.tv_nsec);
}

static enum mb_status scan_status(enum scan_result r)
{
	return r == SCAN_OK ? MB_OK : r == SCAN_NOTMBOX ? MB_NOTMBOX :
	    r == SCAN_TOOBIG ? MB_TOOBIG : MB_SYSERR;
}

/* The index: from the cache where it still describes the file, else by
 * scanning what it does not cover.  Called under the read lock. */
static enum mb_status load_index(struct mailbox *mb, const char *dir)
{
	struct index *ix = &mb->ix;
	enum cache_result c = CACHE_OFF;
	if (dir && mb->st.st_size > 0)
		c = cache_load(ix, mb->fd, &mb->st, dir, &mb->rest);
	mb->cache = c;
	log_msg(LOG_DEBUG, "index cache: %s", cache_result_name(c));
	/* A cache was written under other limits: --max-messages holds for it
	 * too (scan_range() checks the limit as it grows the index). */
	if (ix->count > max_messages)
		return MB_TOOBIG;
	if (c == CACHE_HIT && !ix->msg) {
		mb->octets = mb->rest.h.octets;
		return MB_OK;
	}
	if (c == CACHE_HIT)
		return MB_OK;
	if (c == CACHE_GREW && !ix->msg) {
		/* The new messages: login needs only their count and size. */
		struct index *t = &mb->tail;
		enum mb_status st = scan_status(scan_range(t, mb->fd,
		    ix->scanned, mb->st.st_size, max_messages - ix->count));
		if (st != MB_OK)
			return st;
		mb->octets = mb->rest.h.octets - mb->rest.last.octets;
		for (size_t i = 0; i < t->count; i++)
			mb->octets += t->msg[i].octets;
		ix->count += t->count;
		ix->scanned = t->scanned;
		return MB_OK;
	}
	size_t fresh = ix->count;
	enum mb_status st = scan_status(scan_range(ix, mb->fd, ix->scanned,
	    mb->st.st_size, max_messages));
	if (st != MB_OK)
		return st;
	if (!index_number(ix, fresh))
		return MB_SYSERR;
	struct index_walk w;
	if (c != CACHE_OFF && changed_just_now(&mb->st))
		log_msg(LOG_DEBUG, "index cache: not stored: the mailbox "
		    "changed in this clock tick");
	else if (c != CACHE_OFF && index_walk_begin(&w, ix, false))
		cache_store(&w, mb->fd, &mb->st, dir);
	return MB_OK;
}

/* Are messages [first, last) still exactly as indexed?  Rescans their
 * bytes and compares place, size and digest. */
static bool messages_intact(struct mailbox *mb, size_t first, size_t last)
{
	struct stat now;
	const struct index *ix = &mb->ix;
	if (fstat(mb->fd, &now) < 0 || now.st_ino != mb->st.st_ino ||
	    now.st_size < ix->scanned)
		return false;
	if (first == last)
		return true;
	off_t from = ix->msg[first].start;
	off_t to = last < ix->count ? ix->msg[last].start : ix->scanned;
	struct index again = { .uidl = UIDL_OWN };
	bool same = scan_range(&again, mb->fd, from, to, max_messages) ==
	    SCAN_OK && again.count == last - first;
	for (size_t i = 0; same && i < again.count; i++) {
		const struct message *a = &again.msg[i], *b = &ix->msg[first + i];
		same = a->start == b->start && a->data == b->data &&
		    a->end == b->end && a->octets == b->octets &&
		    memcmp(a->digest, b->digest, DIGEST_BYTES) == 0;
	}
	index_free(&again);
	return same;
}

/* What MB_UNSAFE means this time, for mailbox_strerror: which check the
 * mailbox or the way to it failed, and for permissions what to change. */
static char unsafe_why[PATH_MAX + 200];

__attribute__((format(printf, 1, 2)))
static enum mb_status unsafe(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(unsafe_why, sizeof(unsafe_why), fmt, ap);
	va_end(ap);
	return MB_UNSAFE;
}

static enum mb_status not_owned(const char *path, const struct stat *st)
{
	return unsafe("owned by uid %lu%s, not by the user (uid %lu): chown "
	    "%lu %s", (unsigned long)st->st_uid, st->st_uid == 0 ? " (root)" :
	    "", (unsigned long)geteuid(), (unsigned long)geteuid(), path);
}

/* open() said ENOENT, EACCES or ENOTDIR (err): which part of the path.  A
 * missing mailbox in a usable directory is an empty one (MB_OK); a missing
 * or unusable directory on the way is the admin's to fix. */
static enum mb_status path_problem(const char *path, int err)
{
	char dir[PATH_MAX];
	struct stat st;
	for (const char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		size_t n = (size_t)(s - path);
		if (n >= sizeof(dir))
			break;
		memcpy(dir, path, n);
		dir[n] = '\0';
		if (stat(dir, &st) < 0)
			return errno == ENOENT ? unsafe("directory %s does not "
			    "exist", dir) : errno == EACCES ? MB_SYSERR :
			    unsafe("%s: %s", dir, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return unsafe("%s is not a directory", dir);
		if (faccessat(AT_FDCWD, dir, X_OK, AT_EACCESS) < 0)
			return unsafe("directory %s (mode %04o, uid %lu, gid %lu) "
			    "cannot be searched by the user (uid %lu): give "
			    "the user x permission on it (chmod o+x, or a "
			    "group of the user)", dir, (unsigned)(st.st_mode &
			    07777), (unsigned long)st.st_uid,
			    (unsigned long)st.st_gid, (unsigned long)geteuid());
	}
	if (err == ENOENT)
		return MB_OK;
	if (lstat(path, &st) < 0)
		return MB_SYSERR;
	if (st.st_uid != geteuid())
		return not_owned(path, &st);
	return unsafe("mode %04o: not readable and writable by its owner "
	    "(chmod 600 %s)", (unsigned)(st.st_mode & 07777), path);
}

enum mb_status mailbox_open(struct mailbox *mb, const char *path,
    enum uidl_mode uidl)
{
	*mb = (struct mailbox){ .path = path, .fd = -1, .ix.uidl = uidl,
	    .rest.fd = -1, .tail.uidl = uidl };
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? unsafe("a symbolic link: pop3d opens "
		    "only the file itself (point --mailbox at it)") :
		    errno == ENOENT || errno == EACCES || errno == ENOTDIR ?
		    path_problem(path, errno) : MB_SYSERR;
	mb->fd = fd;
	if (fstat(fd, &mb->st) < 0)
		return MB_SYSERR;
	netfs_note(fd, "mailbox");
	if (!S_ISREG(mb->st.st_mode))
		return unsafe("not a regular file");
	if (mb->st.st_uid != geteuid())
		return not_owned(path, &mb->st);
	if (mb->st.st_nlink != 1)
		return unsafe("%lu hard links: another name could change it "
		    "behind pop3d's back (keep one: copy it, remove the rest)",
		    (unsigned long)mb->st.st_nlink);
	if (fcntl(fd, F_SETFL, 0) < 0)
		return MB_SYSERR;
	if (mb->st.st_size > max_bytes)
		return MB_TOOBIG;
	if (state_fd() >= 0) {
		int r = state_session_lock(mb->st.st_dev, mb->st.st_ino);
		if (r <= 0)
			return r == 0 ? MB_INUSE : MB_SYSERR;
	}
	struct lock lk;
	if (!lock_acquire(&lk, fd, path, true))
		return errno == EAGAIN ? MB_LOCKED : MB_SYSERR;
	enum mb_status st = MB_PENDING;
	if (update_recover(fd, &mb->st, &lk) != UPD_OK)
		goto out;
	st = MB_SYSERR;
	if (fstat(fd, &mb->st) < 0)
		goto out;
	st = MB_TOOBIG;
	if (mb->st.st_size > max_bytes)
		goto out;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	st = load_index(mb, uidl == UIDL_OWN ? state_dir() : NULL);
	if (st == MB_OK && mb->ix.alt)
		uidl_unique(mb->ix.alt, mb->ix.count);
out:
	lock_release(&lk);
	return st;
}

void mailbox_totals(const struct mailbox *mb, size_t *n,
    unsigned long long *octets)
{
	const struct index *ix = &mb->ix;
	*n = 0;
	*octets = 0;
	if (!ix->msg) {		/* the records not read yet: none deleted */
		*n = ix->count;
		*octets = mb->octets;
		return;
	}
	for (size_t i = 0; i < ix->count; i++)
		if (!ix->msg[i].deleted) {
			++*n;
			*octets += ix->msg[i].octets;
		}
}

/* The records of a hit failed their checks after login: scan the part of
 * the mailbox the login counted again, under the read lock.  The session
 * goes on only when the scan finds the same count and octets: what the
 * client was told at login still holds. */
static enum mb_status rescan(struct mailbox *mb)
{
	struct index *ix = &mb->ix;
	struct index again = { .uidl = ix->uidl };
	struct lock lk;
	struct stat now;
	if (!lock_acquire(&lk, mb->fd, mb->path, false))
		return errno == EAGAIN ? MB_LOCKED : MB_SYSERR;
	enum mb_status st = MB_SYSERR;
	if (fstat(mb->fd, &now) < 0)
		goto out;
	st = MB_DAMAGED;
	if (now.st_ino != mb->st.st_ino || now.st_size < ix->scanned ||
	    scan_range(&again, mb->fd, 0, ix->scanned, max_messages) != SCAN_OK)
		goto out;
	unsigned long long octets = 0;
	for (size_t i = 0; i < again.count; i++)
		octets += again.msg[i].octets;
	if (again.count != ix->count || octets != mb->octets)
		goto out;
	st = MB_SYSERR;
	if (!index_number(&again, 0))
		goto out;
	index_free(ix);
	*ix = again;
	again = (struct index){ 0 };
	st = MB_OK;
	/* The file as it was at login: the cache is written again. */
	struct index_walk w;
	if (same_state(&now, &mb->st) && !changed_just_now(&now) &&
	    index_walk_begin(&w, ix, false))
		cache_store(&w, mb->fd, &mb->st, state_dir());
out:
	index_free(&again);
	lock_release(&lk);
	return st;
}

/* The cache's records, msg (room for every message), and the messages
 * scanned at login after them: the index.  A mailbox that grew gets its
 * cache written again, while the file is as it was at login. */
static enum mb_status join(struct mailbox *mb, struct message *msg)
{
	struct index *ix = &mb->ix, *t = &mb->tail;
	size_t old = ix->count - t->count;
	if (t->count > 0)
		memcpy(msg + old, t->msg, t->count * sizeof(*msg));
	ix->msg = msg;
	ix->alloc = ix->count > mb->rest.h.count ? ix->count :
	    (size_t)mb->rest.h.count;
	bool grew = mb->cache == CACHE_GREW;
	index_free(t);
	if (!grew)
		return MB_OK;
	if (!index_number(ix, old))
		return MB_SYSERR;
	struct stat now;
	struct index_walk w;
	if (fstat(mb->fd, &now) == 0 && same_state(&now, &mb->st) &&
	    !changed_just_now(&now) && index_walk_begin(&w, ix, false))
		cache_store(&w, mb->fd, &mb->st, state_dir());
	return MB_OK;
}

enum mb_status mailbox_index(struct mailbox *mb)
{
	if (mb->ix.msg || mb->ix.count == 0)
		return MB_OK;
	if (mb->damaged)
		return MB_DAMAGED;
	struct message *msg = NULL;
	if (mb->rest.fd >= 0 && (msg = cache_load_rest(&mb->rest,
	    mb->ix.count)) != NULL)
		return join(mb, msg);
	index_free(&mb->tail);
	log_msg(LOG_NOTICE, "index cache: damaged after login: scanning "
	    "the mailbox again");
	enum mb_status st = rescan(mb);
	mb->damaged = st == MB_DAMAGED;
	return st;
}

/* Copies in[0..n) to the connection, as much as the output buffer takes
 * (io_space); returns how much of in it took.  Every line ends in one CRLF,
 * whether stored with LF or with CRLF (a CR elsewhere is data: mbox.h), and
 * a '.' starting a line is doubled (RFC 1939 section 3).  *bol says whether
 * in[0] starts a line, *cr whether the byte before in[0] was a CR; *lines,
 * when >= 0, counts down body lines and stops at zero; *sent counts the
 * octets sent, the doubled dots not included (the count "+OK n octets"
 * promised).  The state is kept in locals: stores through out may alias
 * anything a pointer points to. */
static size_t emit(const char *in, size_t n, bool *bol, bool *cr, long *lines,
    uint64_t *sent)
{
	size_t room, dots = 0;
	char *out = io_space(&room), *o = out;
	char *stop = out + room - 2;	/* the room left for a CRLF */
	const char *p = in, *end = in + n;
	bool at_bol = *bol, after_cr = *cr;
	long left = *lines;
	/* Each turn needs room for a dot, a byte and a CRLF (IO_SPACE_MIN). */
	while (left != 0 && p < end && stop - o >= 2) {
		if (at_bol && *p == '.') {
			*o++ = '.';
			dots++;
		}
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t k = (size_t)((lf ? lf : end) - p);
		if (k > (size_t)(stop - o)) {	/* the rest of the line later */
			k = (size_t)(stop - o);
			lf = NULL;
		}
		memcpy(o, p, k);
		o += k;
		if (!lf) {
			after_cr = k > 0 ? p[k - 1] == '\r' : after_cr;
			at_bol = false;
			p += k;
			break;
		}
		if (k == 0 ? !after_cr : p[k - 1] != '\r')
			*o++ = '\r';
		*o++ = '\n';
		p = lf + 1;
		after_cr = false;
		at_bol = true;
		if (left > 0)
			left--;
	}
	io_commit((size_t)(o - out));
	*bol = at_bol;
	*cr = after_cr;
	*lines = left;
	*sent += (uint64_t)(o - out) - dots;
	return (size_t)(p - in);
}

/* Is there a blank line (the separator before the next From_ line) at
 * `at` < mb->ix.scanned?  From b, the file's bytes [b_off, b_off + n), when
 * they hold it; else read. */
static bool separator_at(const struct mailbox *mb, const char *b,
    off_t b_off, size_t n, off_t at)
{
	char two[2];
	off_t scanned = mb->ix.scanned;
	size_t k = scanned - at >= 2 ? 2 : (size_t)(scanned - at);
	const char *p = two;
	if (at >= b_off && at - b_off + (off_t)k <= (off_t)n)
		p = b + (at - b_off);
	else if (pread(mb->fd, two, k, at) != (ssize_t)k)
		return false;
	return is_blank(p, k);
}

/* Is message m where the index says?  b holds the file's bytes
 * [from, from + n), from the LF before its From_ line on (its first byte
 * when it starts the file): the From_ line is there and ends where the
 * headers start, and the message ends at a separator or at the end of
 * what was scanned.  The index may come from a file the user writes
 * (cache.h): nothing it says is used before this check. */
static bool in_place(const struct mailbox *mb, const struct message *m,
    off_t from, const char *b, size_t n)
{
	size_t lead = (size_t)(m->start - from);	/* the LF before, or none */
	off_t full = m->end - from;
	if ((off_t)n < (full < (off_t)SEND_BUFFER ? full : (off_t)SEND_BUFFER) ||
	    (lead && b[0] != '\n') || !is_from(b + lead, n - lead))
		return false;
	off_t head = m->data - m->start;	/* the From_ line */
	if (head + (off_t)lead <= (off_t)n) {
		const char *lf = memchr(b + lead, '\n', (size_t)head);
		if (lf ? lf != b + lead + head - 1 : m->data != mb->ix.scanned)
			return false;
	}
	return m->end == mb->ix.scanned ||
	    separator_at(mb, b, from, n, m->end);
}

/* After a message was sent: was the file left alone meanwhile?  When it
 * changed (or may have, within the clock tick of the last change), the
 * message is checked again: an MDA's append leaves it as it was, a rewrite
 * in place does not, and then what was sent cannot be vouched for. */
static bool left_alone(struct mailbox *mb, size_t i, const struct stat *before,
    bool racy)
{
	struct stat now;
	if (!racy && fstat(mb->fd, &now) == 0 && same_state(&now, before)) {
		mb->ahead.as_scanned = same_state(&now, &mb->st);
		return true;
	}
	mb->ahead.len = 0;
	return messages_intact(mb, i, i + 1);
}

/* mailbox_send, but for forgetting the block read ahead after a failure
 * (what it holds may be of another state of the file). */
static enum mb_status send_checked(struct mailbox *mb, size_t i, long lines)
{
	const struct message *m = &mb->ix.msg[i];
	struct send_ahead *a = &mb->ahead;
	off_t scanned = mb->ix.scanned;
	/* Read from the LF before the From_ line: the check that the message
	 * is still where the index says comes with the first block. */
	off_t from = m->start > 0 ? m->start - 1 : 0;
	off_t stop = m->end < scanned - 2 ? m->end + 2 : scanned;
	/* A message wholly inside a block read as scanned is sent from that
	 * snapshot without asking the file again (no fstat per message for a
	 * client that retrieves them all).  Else, when the file changed since
	 * the scan (new mail, or a rewrite), the message is verified again,
	 * and nothing read before is used. */
	struct stat before = mb->st;
	bool racy = false;
	if (!a->as_scanned || from < a->base || stop > a->base + (off_t)a->len) {
		if (file_changed(mb, &before)) {
			a->len = 0;
			if (!messages_intact(mb, i, i + 1))
				return MB_CHANGED;
		}
		racy = changed_just_now(&before);
		a->as_scanned = !racy && same_state(&before, &mb->st);
	}
	if (!a->buf && !(a->buf = malloc(SEND_BUFFER)))
		return MB_SYSERR;
	struct scan_reader r;
	scan_init(&r, mb->fd, a->buf, SEND_BUFFER, from, scanned);
	if (from >= a->base && from < a->base + (off_t)a->len) {
		r.base = a->base;
		r.len = a->len;
		r.pos = (size_t)(from - a->base);
	}
	size_t want = m->end + 2 - from < (off_t)SEND_BUFFER ?
	    (size_t)(m->end + 2 - from) : SEND_BUFFER;
	off_t had = r.base + (off_t)r.len;
	size_t got = scan_fill(&r, want);
	bool intact = in_place(mb, m, from, r.buf + r.pos, got);
	off_t checked = r.base + (off_t)r.len;	/* read up to here so far */
	if (checked != had)
		a->as_scanned = false;	/* until an fstat after this read */
	a->base = r.base;
	a->len = r.len;
	if (!intact)
		return r.err ? (errno = r.err, MB_SYSERR) : MB_CHANGED;
	/* From here on no byte at or past the message's end is handed out,
	 * whatever the file holds by the time it is read. */
	r.end = m->end;
	for (off_t skip = m->data - from; skip > 0; ) {	/* the From_ line */
		size_t n = scan_fill(&r, 1);
		if (n == 0)
			return r.err ? (errno = r.err, MB_SYSERR) : MB_CHANGED;
		size_t k = (off_t)n < skip ? n : (size_t)skip;
		r.pos += k;
		skip -= (off_t)k;
	}
	bool bol = true, cr = false;
	enum header_class c = HDR_KEEP, last = HDR_KEEP;
	long all = -1;
	uint64_t sent = 0;
	size_t avail;
	/* RETR's count is the size of what follows; TOP's part has no such
	 * size worth counting in advance, so its line gives none (RFC 1939
	 * asks for no count on either). */
	if (lines < 0)
		io_printf("+OK %llu octets\r\n", (unsigned long long)m->octets);
	else
		io_puts("+OK top of message follows\r\n");
	/* Headers line by line, leaving out the hidden ones. */
	while (c != HDR_END && (avail = scan_fill(&r, 16)) > 0) {
		c = scan_header(&last, r.buf + r.pos, avail);
		if (c == HDR_HIDE) {
			size_t eol;
			scan_line(&r, &eol, NULL, NULL);
			continue;
		}
		do {
			const char *q = r.buf + r.pos;
			const char *e = memchr(q, '\n', avail);
			size_t k = e ? (size_t)(e - q) + 1 : avail;
			r.pos += emit(q, k, &bol, &cr, &all, &sent);
		} while (!bol && (avail = scan_fill(&r, 1)) > 0);
	}
	/* The body, in large blocks. */
	while (lines != 0 && (avail = scan_fill(&r, 1)) > 0)
		r.pos += emit(r.buf + r.pos, avail, &bol, &cr, &lines, &sent);
	a->base = r.base;
	a->len = r.len;
	/* A last line without LF gets its CRLF below. */
	uint64_t octets = sent + (bol ? 0 : 2);
	bool whole = lines < 0 ? scan_offset(&r) == m->end &&
	    octets == m->octets : octets <= m->octets;
	/* Bytes read after the check may come from another file's state. */
	bool reread = r.base + (off_t)r.len != checked;
	if (reread)
		a->as_scanned = false;	/* left_alone() may vouch again */
	if (r.err || !whole || (reread && !left_alone(mb, i, &before, racy))) {
		/* Cut short, or not what "+OK" promised: only ending the
		 * session is honest. */
		if (r.err)
			errno = r.err;
		return r.err ? MB_SYSERR : MB_CUT;
	}
	io_puts(bol ? ".\r\n" : "\r\n.\r\n");
	return MB_OK;
}

enum mb_status mailbox_send(struct mailbox *mb, size_t i, long lines)
{
	enum mb_status st = send_checked(mb, i, lines);
	if (st != MB_OK)
		mb->ahead.len = 0;
	return st;
}

void mailbox_uidl(const struct mailbox *mb, size_t i, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	const struct message *m = &mb->ix.msg[i];
	if (mb->ix.alt && mb->ix.alt[i][0]) {
		memcpy(buf, mb->ix.alt[i], UIDL_MAX + 1);
		return;
	}
	for (int k = 0; k < DIGEST_BYTES; k++) {
		buf[2 * k] = hex[m->digest[k] >> 4];
		buf[2 * k + 1] = hex[m->digest[k] & 15];
	}
	buf[2 * DIGEST_BYTES] = '\0';
	if (m->occurrence > 1)
		sprintf(buf + 2 * DIGEST_BYTES, "-%u", m->occurrence);
}

/* After an UPDATE that removed the deleted messages from [0, scanned): the
 * index of the new file is stored, but for the last kept message, as a
 * cache of a mailbox that grew (index.h): the next session checks it by
 * content (cache.c) and scans from its last message on, with any mail
 * delivered since, instead of scanning the whole mailbox again.  Called
 * under the lock. */
static void cache_after_update(const struct mailbox *mb)
{
	struct index_walk w;
	struct stat st;
	if (index_walk_begin(&w, &mb->ix, true) && w.count > 0 &&
	    fstat(mb->fd, &st) == 0) {
		st.st_size = w.scanned;
		cache_store(&w, mb->fd, &st, state_dir());
	}
	index_walk_end(&w);
}

/* RFC 1939 section 6: remove the deleted messages; keep every other byte,
 * mail appended since the scan included.  Lock, verify, commit, unlock. */
enum mb_status mailbox_update(struct mailbox *mb)
{
	const struct index *ix = &mb->ix;
	size_t first = 0;
	if (!ix->msg)		/* the records were never needed: no DELE */
		return MB_OK;
	while (first < ix->count && !ix->msg[first].deleted)
		first++;
	if (first == ix->count)
		return MB_OK;
	struct lock lk;
	if (!lock_acquire(&lk, mb->fd, mb->path, true))
		return errno == EAGAIN ? MB_LOCKED : MB_SYSERR;
	enum mb_status st = MB_CHANGED;
	struct stat now;
	if (file_changed(mb, &now) && !messages_intact(mb, 0, ix->count))
		goto out;
	if (fstat(mb->fd, &now) < 0 || now.st_size < ix->scanned) {
		st = MB_SYSERR;
		goto out;
	}
	/* The deleted ranges: each message with its separator line;
	 * everything else, mail appended since the scan included, is kept. */
	struct range *del = malloc((ix->count - first) * sizeof(*del));
	st = MB_SYSERR;
	if (!del)
		goto out;
	size_t n = 0;
	for (size_t i = first; i < ix->count; i++) {
		off_t from = ix->msg[i].start;
		off_t to = i + 1 < ix->count ? ix->msg[i + 1].start : ix->scanned;
		if (!ix->msg[i].deleted)
			continue;
		if (n > 0 && del[n - 1].from + del[n - 1].len == from)
			del[n - 1].len += to - from;
		else
			del[n++] = (struct range){ from, to - from };
	}
	/* The index may come from the cache file (cache.h): every deleted
	 * range must start at a From_ line and end at one or where the scan
	 * ended, or nothing is removed. */
	st = MB_CHANGED;
	for (size_t k = 0; k < n; k++)
		if (!scan_at_boundary(mb->fd, del[k].from) ||
		    (del[k].from + del[k].len < ix->scanned &&
		     !scan_at_boundary(mb->fd, del[k].from + del[k].len)))
			goto out_free;
	switch (update_commit(mb->fd, &now, &lk, now.st_size, del, n)) {
	case UPD_OK:
		st = MB_OK;
		if (mb->cache != CACHE_OFF)
			cache_after_update(mb);
		break;
	case UPD_NOTHING:
		st = MB_SYSERR;
		break;
	case UPD_UNSURE:
		st = MB_UNSURE;
		break;
	case UPD_PENDING:
		st = MB_PENDING;
		break;
	}
out_free:
	free(del);
out:
	lock_release(&lk);
	return st;
}

void mailbox_close(struct mailbox *mb)
{
	if (mb->fd >= 0)
		close(mb->fd);
	index_free(&mb->ix);
	index_free(&mb->tail);
	cache_rest_drop(&mb->rest);
	free(mb->ahead.buf);
	mb->fd = -1;
	mb->ahead.buf = NULL;
	mb->ahead.len = 0;
}

const char *mailbox_strerror(enum mb_status s)
{
	switch (s) {
	case MB_OK: return "ok";
	case MB_NOTMBOX: return "not an mbox (does not start with \"From \")";
	case MB_UNSAFE: return unsafe_why;
	case MB_TOOBIG: return "too large";
	case MB_CHANGED: return "changed by another program";
	case MB_CUT: return "changed by another program while a message was "
	    "sent";
	case MB_SYSERR: return strerror(errno);
	case MB_INUSE: return "in use by another POP3 session";
	case MB_LOCKED: return "locked by another program";
	case MB_PENDING: return "an interrupted UPDATE is not finished yet";
	case MB_UNSURE: return "UPDATE done, but fsync failed";
	case MB_DAMAGED: return "its index cache was damaged after login, "
	    "and the mailbox no longer holds what login counted";
	}
	return "?";
}
