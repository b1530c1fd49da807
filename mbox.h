/*
 * mbox.h: the mbox format's rule for where a message starts and where a
 * line ends, one definition for the scanner (scan.c), the output
 * (mailbox.c) and the UPDATE (update.c).  Inline functions over bytes in
 * memory, called by whichever process runs those (the user's session).
 *
 * A line ends at an LF; a CR right before that LF is part of the line end
 * (a file stored with CRLF line ends), any other CR is data.  A blank line
 * is "\n" or "\r\n".  A message starts at a "From " line at the start of
 * the file or right after a blank line; "From " after any other line is
 * message text.
 *
 *   is_from(p, n)          does a "From " line start at p (n bytes there)?
 *   is_blank(p, n)         does a blank line start at p (n bytes there)?
 *   blank_length(p, lf)    the length (1 or 2) of the blank line ending with
 *                          the LF at lf, or 0 if that line is not blank;
 *                          p <= lf is a line start, or lf - p >= 2
 *   from_after_blank(p, before)  does a message start at p, a "From " line
 *                          after a blank line?  The `before` bytes before p
 *                          are in memory: from a line start, or at least
 *                          MBOX_LOOKBEHIND of them; 5 bytes at p are
 *   sent_octets(n, eol)    what a line of n stored bytes, eol of them its
 *                          line end (2 CRLF, 1 LF, 0 none: the last line of
 *                          the file), is sent as: the rest and one CRLF
 *                          (RFC 1939 section 3; sizes, section 11)
 */
#ifndef POP3D_MBOX_H
#define POP3D_MBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The bytes before a From_ line that from_after_blank() looks at: the
 * LF ending the line before the blank line, and the blank line "\r\n". */
#define MBOX_LOOKBEHIND	3

static inline bool is_from(const char *p, size_t n)
{
	return n >= 5 && memcmp(p, "From ", 5) == 0;
}

static inline bool is_blank(const char *p, size_t n)
{
	return (n >= 1 && p[0] == '\n') ||
	    (n >= 2 && p[0] == '\r' && p[1] == '\n');
}

static inline size_t blank_length(const char *p, const char *lf)
{
	if (lf == p || lf[-1] == '\n')
		return 1;
	if (lf[-1] == '\r' && (lf - 1 == p || lf[-2] == '\n'))
		return 2;
	return 0;
}

static inline bool from_after_blank(const char *p, size_t before)
{
	return before >= 1 && p[-1] == '\n' && memcmp(p, "From ", 5) == 0 &&
	    blank_length(p - before, p - 1) > 0;
}

static inline uint64_t sent_octets(uint64_t n, size_t eol)
{
	return n - eol + 2;
}

#endif
