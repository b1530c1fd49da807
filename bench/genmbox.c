/*
 * genmbox - deterministic mbox generator for the pop3d benchmark.
 *
 * usage: genmbox N SEED OUT.mbox [OUT.idx]
 *
 * Writes N messages in mbox format to OUT.mbox.  Each message is
 *   "From sender date\n" + headers + "\n" + body   (body ends with "\n")
 * followed by one blank line ("\n") that belongs to the separator.
 * Body lines that would begin with "From " are written as ">From ".
 *
 * Size mix: log-normal around a ~4 KiB median for plain messages, plus a
 * small fraction (0.5 %) with a base64 attachment whose size is log-uniform
 * between 64 KiB and 4 MiB (long tail).  Some messages are byte-identical
 * copies of earlier ones, some carry Status:/X-Status: headers, bodies
 * contain lines starting with "." (including a lone ".") and ">From "
 * lines.
 *
 * OUT.idx (optional) gets one line per message:
 *   "<content offset> <content length> <header length>\n"
 * where content = the bytes after the From_ line up to (not including) the
 * separator blank line, and header length counts the headers plus the empty
 * line that ends them.  The checker uses it as ground truth.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_s;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static double urand(void) /* [0,1) */
{
	return (rnd() >> 11) * (1.0 / 9007199254740992.0);
}

static unsigned rint_(unsigned n) { return (unsigned)(rnd() % n); }

static double nrand(void)
{
	double u1 = urand(), u2 = urand();
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
}

/* growable buffer for one message */
static char *buf;
static size_t blen, bcap;

static void put(const char *s, size_t n)
{
	if (blen + n > bcap) {
		while (blen + n > bcap)
			bcap = bcap ? bcap * 2 : 1 << 16;
		buf = realloc(buf, bcap);
		if (!buf) {
			perror("realloc");
			exit(1);
		}
	}
	memcpy(buf + blen, s, n);
	blen += n;
}

static void puts_(const char *s) { put(s, strlen(s)); }

static void putf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void putf(const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	put(tmp, (size_t)n);
}

static const char *words[] = {
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
	"was", "with", "be", "by", "on", "not", "he", "this", "are", "or",
	"his", "from", "at", "which", "but", "have", "an", "had", "they",
	"you", "were", "their", "one", "all", "we", "can", "her", "has",
	"there", "been", "if", "more", "when", "will", "would", "who", "so",
	"no", "mailbox", "server", "message", "protocol", "benchmark",
	"delivery", "quarterly", "report", "meeting", "tomorrow", "patch",
	"review", "kernel", "latency", "throughput", "invoice", "attached",
};
#define NWORDS (sizeof words / sizeof words[0])

static const char *names[] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
	"ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert",
	"sybil", "trent", "victor", "walter", "zoe",
};
#define NNAMES (sizeof names / sizeof names[0])

static const char *domains[] = {
	"example.com", "example.org", "example.net", "mail.example.com",
	"lists.example.org",
};
#define NDOMAINS (sizeof domains / sizeof domains[0])

static const char *wd[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
			    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* a text line of roughly `len` chars (no newline) into tmp */
static size_t text_line(char *tmp, size_t len)
{
	size_t n = 0;
	while (n < len) {
		const char *w = words[rint_(NWORDS)];
		size_t wl = strlen(w);
		if (n + wl + 1 > 200)
			break;
		if (n)
			tmp[n++] = ' ';
		memcpy(tmp + n, w, wl);
		n += wl;
	}
	return n;
}

/* append a body line; quote "From " as mbox requires */
static void body_line(const char *s, size_t n)
{
	if (n >= 5 && memcmp(s, "From ", 5) == 0)
		put(">", 1);
	put(s, n);
	put("\n", 1);
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void gen_message(unsigned idx, int with_status)
{
	unsigned y = 2020 + rint_(5), mo = rint_(12), d = 1 + rint_(28);
	unsigned hh = rint_(24), mm = rint_(60), ss = rint_(60);
	const char *fn = names[rint_(NNAMES)], *fd = domains[rint_(NDOMAINS)];
	const char *tn = names[rint_(NNAMES)];
	int attach = urand() < 0.005;
	size_t target;
	if (attach) {
		/* log-uniform 64 KiB .. 4 MiB */
		target = (size_t)exp(log(65536.0) + urand() * log(64.0));
	} else {
		/* log-normal, median 4 KiB */
		double v = 4096.0 * exp(0.9 * nrand());
		if (v < 400)
			v = 400;
		if (v > 1 << 20)
			v = 1 << 20;
		target = (size_t)v;
	}

	blen = 0;
	putf("From %s@%s %s %s %2u %02u:%02u:%02u %u\n", fn, fd,
	     wd[rint_(7)], mon[mo], d, hh, mm, ss, y);
	size_t content_start = blen;
	putf("Return-Path: <%s@%s>\n", fn, fd);
	putf("Received: from mx%u.%s (mx%u.%s [192.0.2.%u])\n"
	     "\tby mail.example.com (Postfix) with ESMTP id %08X\n"
	     "\tfor <bench@example.com>; %s, %u %s %u %02u:%02u:%02u +0000\n",
	     rint_(9), fd, rint_(9), fd, 1 + rint_(254), (unsigned)rnd(),
	     wd[rint_(7)], d, mon[mo], y, hh, mm, ss);
	putf("Message-ID: <%u.%016llx@%s>\n", idx,
	     (unsigned long long)rnd(), fd);
	putf("Date: %s, %u %s %u %02u:%02u:%02u +0000\n", wd[rint_(7)], d,
	     mon[mo], y, hh, mm, ss);
	putf("From: %s <%s@%s>\n", fn, fn, fd);
	putf("To: %s <%s@example.com>\n", tn, tn);
	{
		char tmp[256];
		size_t n = text_line(tmp, 20 + rint_(40));
		puts_("Subject: ");
		put(tmp, n);
		put("\n", 1);
	}
	puts_("MIME-Version: 1.0\n");
	char boundary[64];
	snprintf(boundary, sizeof boundary, "=_bench_%08x", (unsigned)rnd());
	if (attach)
		putf("Content-Type: multipart/mixed; boundary=\"%s\"\n",
		     boundary);
	else
		puts_("Content-Type: text/plain; charset=us-ascii\n");
	if (with_status == 1)
		puts_("Status: RO\n");
	else if (with_status == 2)
		puts_("Status: O\nX-Status: A\n");
	puts_("\n");

	if (attach) {
		putf("This is a multi-part message in MIME format.\n\n--%s\n"
		     "Content-Type: text/plain; charset=us-ascii\n\n",
		     boundary);
	}
	size_t text_target = attach ? 1500 : target;
	size_t stop = blen + (text_target > blen - content_start
				      ? text_target - (blen - content_start)
				      : 64);
	if (attach)
		stop = blen + 1500;
	char tmp[256];
	while (blen < stop) {
		unsigned r = rint_(1000);
		if (r < 8) {
			body_line(".", 1); /* lone dot: must be stuffed */
		} else if (r < 20) {
			size_t n = text_line(tmp + 1, 10 + rint_(60));
			tmp[0] = '.';
			body_line(tmp, n + 1);
		} else if (r < 24) {
			body_line("..", 2);
		} else if (r < 32) {
			/* a body line "From ..." -> stored as ">From ..." */
			size_t n = text_line(tmp + 5, 10 + rint_(50));
			memcpy(tmp, "From ", 5);
			body_line(tmp, n + 5);
		} else if (r < 36) {
			/* already-quoted line, stored as is (mboxo) */
			size_t n = text_line(tmp + 6, 10 + rint_(50));
			memcpy(tmp, ">From ", 6);
			body_line(tmp, n + 6);
		} else if (r < 80) {
			body_line("", 0);
		} else {
			size_t n = text_line(tmp, 30 + rint_(45));
			body_line(tmp, n);
		}
	}
	if (attach) {
		putf("\n--%s\nContent-Type: application/octet-stream; "
		     "name=\"blob%u.bin\"\n"
		     "Content-Transfer-Encoding: base64\n"
		     "Content-Disposition: attachment; filename=\"blob%u.bin\"\n\n",
		     boundary, idx, idx);
		size_t enc = target / 76 + 1;
		char line[77];
		for (size_t i = 0; i < enc; i++) {
			for (int k = 0; k < 76; k++)
				line[k] = b64[rnd() & 63];
			line[76] = '\n';
			put(line, 77);
		}
		putf("\n--%s--\n", boundary);
	}
	(void)content_start;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s N SEED OUT.mbox [OUT.idx]\n",
			argv[0]);
		return 2;
	}
	unsigned long n = strtoul(argv[1], NULL, 10);
	rng_s = strtoull(argv[2], NULL, 10);
	FILE *out = fopen(argv[3], "w");
	FILE *ix = argc > 4 ? fopen(argv[4], "w") : NULL;
	if (!out || (argc > 4 && !ix)) {
		perror("fopen");
		return 1;
	}
	static char obuf[1 << 20];
	setvbuf(out, obuf, _IOFBF, sizeof obuf);

	/* keep copies of a few recent messages for byte-identical dups */
	enum { KEEP = 64 };
	char *keep[KEEP] = {0};
	size_t keeplen[KEEP] = {0};
	size_t nkeep = 0;
	unsigned long long off = 0;

	for (unsigned long i = 0; i < n; i++) {
		int dup = nkeep > 0 && urand() < 0.02;
		if (dup) {
			size_t k = rint_(nkeep < KEEP ? nkeep : KEEP);
			blen = 0;
			put(keep[k], keeplen[k]);
		} else {
			double s = urand();
			gen_message((unsigned)i, s < 0.05 ? 1 : s < 0.08 ? 2 : 0);
			size_t slot = nkeep % KEEP;
			if (blen < (1 << 16)) {
				free(keep[slot]);
				keep[slot] = malloc(blen);
				memcpy(keep[slot], buf, blen);
				keeplen[slot] = blen;
				nkeep++;
			}
		}
		/* locate content start (after the From_ line) and header end */
		char *nl = memchr(buf, '\n', blen);
		size_t cstart = (size_t)(nl - buf) + 1;
		char *he = memmem(buf + cstart, blen - cstart, "\n\n", 2);
		size_t hlen = (size_t)(he - (buf + cstart)) + 2;
		if (ix)
			fprintf(ix, "%llu %zu %zu\n", off + cstart,
				blen - cstart, hlen);
		fwrite(buf, 1, blen, out);
		fwrite("\n", 1, 1, out); /* separator blank line */
		off += blen + 1;
	}
	if (fclose(out) != 0 || (ix && fclose(ix) != 0)) {
		perror("write");
		return 1;
	}
	return 0;
}
