/*
 * index.c: the message index's records: growing, their memory, numbering
 * identical messages, and the index a completed UPDATE leaves.  See index.h.
 * Runs in: the user's session.
 */
#include "index.h"
#include "params.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE	((size_t)2 << 20)

struct message *index_add(struct index *ix, size_t max)
{
	if (ix->count == ix->alloc) {
		if (ix->alloc >= max) {
			errno = E2BIG;
			return NULL;
		}
		size_t n = ix->alloc ? ix->alloc * 2 : 64;
		if (n > max)
			n = max;
		/* Large arrays are mmap()ed by malloc and grown by mremap():
		 * pages beyond the last message are never touched and cost no
		 * memory. */
		struct message *p = realloc(ix->msg, n * sizeof(*p));
		if (!p)
			return NULL;
		ix->msg = p;
		if (ix->uidl != UIDL_OWN) {
			char (*a)[UIDL_MAX + 1] = realloc(ix->alt, n * sizeof(*a));
			if (!a)
				return NULL;
			ix->alt = a;
		}
		ix->alloc = n;
	}
	struct message *m = &ix->msg[ix->count++];
	*m = (struct message){ 0 };
	return m;
}

/* Memory for n records.  A large index is aligned to and asks for huge
 * pages where the system has them: the copy of 100,000 records then costs a
 * few page faults instead of 1,400, each a trap to the hypervisor on a
 * virtual machine. */
struct message *index_records(size_t n)
{
	size_t size = n > 0 ? n * sizeof(struct message) : 1;
#ifdef MADV_HUGEPAGE
	if (size >= HUGE_PAGE) {
		void *p;
		if (posix_memalign(&p, HUGE_PAGE, size) != 0)
			return NULL;
		madvise(p, size - size % HUGE_PAGE, MADV_HUGEPAGE);
		return p;
	}
#endif
	return malloc(size);
}

/* An open-addressing table of messages by digest: in each slot a message
 * number + 1, or 0 when free; 2 to 4 slots a message.  The slot comes from
 * the digest keyed with a per-process secret, so that mail crafted for
 * colliding digest bits cannot make a pass quadratic. */
static uint32_t *twin_table(size_t count, size_t *mask)
{
	int bits = 6;
	while (bits < 40 && (size_t)1 << bits < 2 * count)
		bits++;
	*mask = ((size_t)1 << bits) - 1;
	return calloc(*mask + 1, sizeof(uint32_t));
}

/* The slot of m's digest: the one holding it, or the free one it goes to. */
static size_t twin_slot(const uint32_t *t, size_t mask,
    const struct message *msg, const struct message *m)
{
	static uint64_t key;
	if (key == 0 && getentropy(&key, sizeof(key)) < 0)
		key = (uint64_t)getpid() * 0x9e3779b97f4a7c15u;
	uint64_t h;
	memcpy(&h, m->digest, sizeof(h));
	size_t k = (size_t)(((h ^ key) * 0x9e3779b97f4a7c15u) >>
	    (64 - __builtin_popcountll(mask)));
	for (;; k = (k + 1) & mask)
		if (t[k] == 0 || memcmp(msg[t[k] - 1].digest, m->digest,
		    DIGEST_BYTES) == 0)
			return k;
}

/* A message's occurrence is one more than that of the last earlier message
 * with the same digest.  A few new messages after the numbered ones are
 * numbered against them directly; else one pass with a table. */
bool index_number(struct index *ix, size_t fresh)
{
	if (fresh > 0 && ix->count - fresh <= CACHE_RENUMBER_MAX) {
		for (size_t j = fresh; j < ix->count; j++) {
			struct message *m = &ix->msg[j];
			m->occurrence = 1;
			for (size_t i = j; i-- > 0; )
				if (memcmp(ix->msg[i].digest, m->digest,
				    DIGEST_BYTES) == 0) {
					m->occurrence = ix->msg[i].occurrence + 1;
					break;
				}
		}
		return true;
	}
	size_t mask;
	uint32_t *t = twin_table(ix->count, &mask);
	if (!t)
		return false;
	for (size_t i = 0; i < ix->count; i++) {
		struct message *m = &ix->msg[i];
		size_t k = twin_slot(t, mask, ix->msg, m);
		m->occurrence = t[k] ? ix->msg[t[k] - 1].occurrence + 1 : 1;
		t[k] = (uint32_t)(i + 1);
	}
	free(t);
	return true;
}

bool index_walk_begin(struct index_walk *w, const struct index *ix,
    bool update)
{
	*w = (struct index_walk){ .ix = ix, .update = update,
	    .count = ix->count, .left = ix->count, .scanned = ix->scanned };
	if (!update)
		return true;
	/* The file after the UPDATE: each deleted message went with the
	 * separator after it. */
	size_t kept = 0, deleted = 0;
	off_t gone = 0, last = 0;
	bool twins = false;
	for (size_t i = 0; i < ix->count; i++) {
		const struct message *m = &ix->msg[i];
		off_t next = i + 1 < ix->count ? m[1].start : ix->scanned;
		twins |= m->occurrence > 1;
		if (m->deleted) {
			gone += next - m->start;
			deleted++;
		} else {
			kept++;
			last = m->start - gone;
		}
	}
	w->count = w->left = kept > 0 ? kept - 1 : 0;
	w->scanned = last;
	/* Nothing to hand out (everything deleted, or all but one kept
	 * message): no tables, 1 MiB at 100,000 deleted messages. */
	if (!twins || deleted == 0 || w->count == 0)
		return true;
	/* An identical message deleted before a kept one counts no more:
	 * twin holds the deleted messages' digests, seen[] how many of each
	 * the walk has passed. */
	w->twin = twin_table(deleted, &w->mask);
	w->seen = calloc(w->mask + 1, sizeof(*w->seen));
	if (!w->twin || !w->seen)
		return false;
	for (size_t i = 0; i < ix->count; i++)
		if (ix->msg[i].deleted)
			w->twin[twin_slot(w->twin, w->mask, ix->msg,
			    &ix->msg[i])] = (uint32_t)(i + 1);
	return true;
}

size_t index_walk_next(struct index_walk *w, struct message *out, size_t n)
{
	const struct index *ix = w->ix;
	size_t k = 0;
	for (; k < n && w->left > 0 && w->i < ix->count; w->i++) {
		const struct message *m = &ix->msg[w->i];
		uint32_t *seen = NULL;	/* deleted twins passed */
		if (w->twin) {
			size_t t = twin_slot(w->twin, w->mask, ix->msg, m);
			seen = w->twin[t] ? &w->seen[t] : NULL;
		}
		if (w->update && m->deleted) {
			off_t next = w->i + 1 < ix->count ? m[1].start :
			    ix->scanned;
			w->gone += next - m->start;
			if (seen)
				(*seen)++;
			continue;
		}
		out[k] = *m;
		out[k].deleted = 0;
		out[k].start -= w->gone;
		out[k].data -= w->gone;
		out[k].end -= w->gone;
		if (seen)	/* a forged cache may have numbered it too low */
			out[k].occurrence = out[k].occurrence > *seen ?
			    out[k].occurrence - *seen : 1;
		k++;
		w->left--;
	}
	return k;
}

void index_walk_end(struct index_walk *w)
{
	free(w->twin);
	free(w->seen);
	w->twin = w->seen = NULL;
}

void index_free(struct index *ix)
{
	free(ix->msg);
	free(ix->alt);
	*ix = (struct index){ .uidl = ix->uidl };
}
