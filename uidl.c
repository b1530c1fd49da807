/*
 * uidl.c: UIDLs of other servers, for migrations.  See uidl.h.
 * Runs in: the user's session.
 */
#include "uidl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool uidl_parse_mode(const char *s, enum uidl_mode *mode)
{
	static const struct { const char *name; enum uidl_mode m; } t[] = {
		{ "pop3d", UIDL_OWN }, { "xuidl", UIDL_XUIDL }, { "uw", UIDL_UW },
		{ "dovecot", UIDL_DOVECOT }, { "popa3d", UIDL_POPA3D },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].name) == 0) {
			*mode = t[i].m;
			return true;
		}
	return false;
}

void uidl_begin(struct uidl_state *u)
{
	*u = (struct uidl_state){ 0 };
	MD5Init(&u->md5);
}

static bool has(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);
	return n >= k && strncasecmp(line, name, k) == 0;
}

/* The header's value, blanks trimmed, if it is all in memory. */
static bool value(const char *line, size_t n, size_t skip, const char **v,
    size_t *len)
{
	const char *lf = memchr(line, '\n', n);
	if (!lf)
		return false;
	const char *p = line + skip, *e = lf;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*v = p;
	*len = (size_t)(e - p);
	return true;
}

/* A decimal number in 1..2^32-1, the first word of the value. */
static uint32_t number(const char *v, size_t len)
{
	unsigned long long x = 0;
	size_t i = 0;
	for (; i < len && i < 11 && v[i] >= '0' && v[i] <= '9'; i++)
		x = x * 10 + (unsigned)(v[i] - '0');
	if (i == 0 || i == 11 || (i < len && v[i] != ' ') || x > 0xffffffffu)
		return 0;
	return (uint32_t)x;
}

bool uidl_header(struct uidl_state *u, enum uidl_mode mode, const char *line,
    size_t n)
{
	const char *v;
	size_t len;
	switch (mode) {
	case UIDL_OWN:
		return false;
	case UIDL_XUIDL:
		if (has(line, n, "X-UIDL:") && !u->have) {
			u->have = true;
			if (value(line, n, 7, &v, &len) && len <= UIDL_MAX) {
				memcpy(u->value, v, len);
				u->value[len] = '\0';
			}
		}
		return false;
	case UIDL_UW:
	case UIDL_DOVECOT:
		if (has(line, n, "X-UID:") && !u->have) {
			u->have = true;
			if (value(line, n, 6, &v, &len))
				u->uid = number(v, len);
		} else if (has(line, n, "X-IMAPbase:") && value(line, n, 11,
		    &v, &len)) {
			u->uidvalidity = number(v, len);
		} else if (has(line, n, "X-IMAP:") && value(line, n, 7, &v,
		    &len)) {
			u->uidvalidity = number(v, len);
		}
		return false;
	case UIDL_POPA3D:
		/* Continuation lines inherit the decision (popa3d's "fixed"). */
		if (n > 0 && (line[0] == ' ' || line[0] == '\t'))
			return u->fixed;
		if (has(line, n, "Received:"))
			u->fixed = !u->received, u->received = true;
		else if (has(line, n, "Date:") || has(line, n, "Message-ID:"))
			u->fixed = !u->received;
		else
			u->fixed = has(line, n, "Delivered-To:") ||
			    has(line, n, "X-Delivery-ID:");
		return u->fixed;
	}
	return false;
}

void uidl_feed(struct uidl_state *u, const char *p, size_t n)
{
	MD5Update(&u->md5, (const uint8_t *)p, n);
}

static bool valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > UIDL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

void uidl_end(struct uidl_state *u, enum uidl_mode mode, uint32_t uidvalidity,
    char *out)
{
	uint8_t h[MD5_DIGEST_LENGTH];
	out[0] = '\0';
	switch (mode) {
	case UIDL_OWN:
		return;
	case UIDL_XUIDL:
		snprintf(out, UIDL_MAX + 1, "%s", u->value);
		break;
	case UIDL_UW:
		if (u->uid && uidvalidity)
			snprintf(out, UIDL_MAX + 1, "%08lx%08lx",
			    (unsigned long)uidvalidity, (unsigned long)u->uid);
		break;
	case UIDL_DOVECOT:
		if (u->uid && uidvalidity)
			snprintf(out, UIDL_MAX + 1, "%08lX%08lX",
			    (unsigned long)u->uid, (unsigned long)uidvalidity);
		break;
	case UIDL_POPA3D:
		MD5Final(h, &u->md5);
		snprintf(out, UIDL_MAX + 1, "%02x%02x%02x%02x%02x%02x%02x%02x",
		    h[3], h[2], h[1], h[0], h[7], h[6], h[5], h[4]);
		break;
	}
	if (!valid(out))
		out[0] = '\0';
}

static int cmp_id(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	return strcmp(x, y);
}

void uidl_unique(char (*ids)[UIDL_MAX + 1], size_t n)
{
	char **order = malloc((n ? n : 1) * sizeof(*order));
	bool *dup = calloc(n ? n : 1, sizeof(*dup));
	if (!order || !dup) {
		for (size_t i = 0; i < n; i++)	/* no memory: ours, all */
			ids[i][0] = '\0';
	} else {
		for (size_t i = 0; i < n; i++)
			order[i] = ids[i];
		qsort(order, n, sizeof(*order), cmp_id);
		for (size_t i = 1; i < n; i++)
			if (order[i][0] && strcmp(order[i - 1], order[i]) == 0) {
				dup[(order[i - 1] - ids[0]) / (UIDL_MAX + 1)] = true;
				dup[(order[i] - ids[0]) / (UIDL_MAX + 1)] = true;
			}
		for (size_t i = 0; i < n; i++)
			if (dup[i])
				ids[i][0] = '\0';
	}
	free(order);
	free(dup);
}
