/*
 * uidl.h: UIDLs reused from the server a user migrates from (--uidl), so
 * that clients do not download everything again.  Off by default: a sender
 * can forge the headers these come from.  The scanner feeds each message's
 * header lines; a value that is not a valid UIDL (RFC 1939 section 7: 1 to
 * 70 characters 0x21-0x7E) gives "" and pop3d's own id is used instead
 * (uidl_unique() does the same for values that repeat).
 *
 *   xuidl    the X-UIDL: header (qpopper, GNU pop3d)
 *   uw       %08lx%08lx of UIDVALIDITY (X-IMAPbase:/X-IMAP: of the first
 *            message) and X-UID: (UW ipop3d)
 *   dovecot  %08X%08X of X-UID: and UIDVALIDITY (Dovecot 2.3's default
 *            pop3_uidl_format %08Xu%08Xv)
 *   popa3d   popa3d's MD5 of the first Received:, Delivered-To:,
 *            X-Delivery-ID: and, before the first Received:, Date: and
 *            Message-ID:, as its 16 hex digits
 *
 *   uidl_begin(u)                       a new message
 *   uidl_header(u, mode, line, n)       a header line starts (n bytes of it
 *                                       in memory, up to its LF if it fits);
 *                                       returns whether to feed its bytes
 *                                       to uidl_feed (popa3d)
 *   uidl_feed(u, p, n)                  bytes of such a line
 *   uidl_end(u, mode, uidvalidity, out) the id, or "" to use pop3d's own
 *   uidl_unique(ids, n)                 blank out every value that repeats
 */
#ifndef POP3D_UIDL_H
#define POP3D_UIDL_H

#include <md5.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UIDL_MAX	70	/* RFC 1939 section 7 */

/* --uidl: whose UIDLs to reuse when users migrate (see README). */
enum uidl_mode { UIDL_OWN, UIDL_XUIDL, UIDL_UW, UIDL_DOVECOT, UIDL_POPA3D };

struct uidl_state {
	MD5_CTX md5;
	bool received, fixed;
	bool have;		/* a value was seen */
	char value[UIDL_MAX + 1];
	uint32_t uid;
	uint32_t uidvalidity;	/* X-IMAPbase/X-IMAP of this message, or 0 */
};

bool uidl_parse_mode(const char *s, enum uidl_mode *mode);
void uidl_begin(struct uidl_state *u);
bool uidl_header(struct uidl_state *u, enum uidl_mode mode, const char *line,
    size_t n);
void uidl_feed(struct uidl_state *u, const char *p, size_t n);
void uidl_end(struct uidl_state *u, enum uidl_mode mode, uint32_t uidvalidity,
    char *out);
void uidl_unique(char (*ids)[UIDL_MAX + 1], size_t n);

#endif
