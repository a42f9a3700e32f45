/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "validate/fwcache.h"

#include "core/digest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * What one SHA-256 state costs: the EVP_MD_CTX, the provider's context and
 * our wrapper came to 240 bytes with glibc's malloc (measured with
 * mallinfo2 over 10,000 copies); rounded up.
 */
#define STATE_BYTES 256
/* Buckets of a new index; it doubles when it holds as many entries. */
#define NBUCKETS_MIN 64

/* What says a file is still the one read: changed content moves mtime or ctime. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

enum kind {
	FIRMWARE,
	CHAIN,
	FILE_HASH,
};

/* What every entry has: its place in the index and in the LRU list, and its cost. */
struct node {
	struct node *prev, *next; /* LRU list: the cache's lru.next is the most recent */
	struct node *hnext;	  /* index bucket; once unlinked, the list of entries to free */
	uint64_t key;
	size_t bytes;
	enum kind kind;
};

struct chain;

struct fw_node {
	struct node n;
	struct sg_fw_entry e;
	struct file_id id;
	/* One for the cache while linked, one per sg_fwcache_get not yet put. */
	atomic_uint refs;
	bool linked;	      /* under the lock */
	struct chain *chains; /* this firmware's chains: evicted with it */
};

/* A kernel or initrd: only its SHA-256 goes into the hashes table. */
struct hash_node {
	struct node n;
	struct file_id id;
	uint8_t sha256[SG_SHA256_LEN];
};

/* SHA-256 states along one launch: after the firmware and table, the BSP, and k AP pages. */
struct chain {
	struct node n;
	const struct fw_node *fw;
	struct chain *sib_prev, *sib_next; /* fw's chains */
	bool have_table;
	uint8_t table[SG_HASHES_TABLE_PADDED_LEN];
	bool have_bsp, have_ap;
	uint8_t bsp[SG_VMSA_SIZE], ap[SG_VMSA_SIZE];
	struct sg_sha256 *head;	   /* after firmware and table */
	struct sg_sha256 **states; /* states[k]: after the BSP and k AP pages */
	size_t nstates;
};

struct sg_fwcache {
	struct sg_crypto *crypto;
	pthread_mutex_t lock;
	struct node lru; /* sentinel */
	struct node **buckets;
	size_t nbuckets, count;
	size_t bytes, limit;
	size_t nkind[3];
	uint64_t hits, misses, evictions, uncached;
};

#define FW_NODE(ent) ((struct fw_node *)((char *)(ent)-offsetof(struct fw_node, e)))

int
sg_fwcache_new(struct sg_crypto *c, struct sg_fwcache **ret, struct sg_error *err)
{
	struct sg_fwcache *fc = calloc(1, sizeof(*fc));

	if (!fc || !(fc->buckets = calloc(NBUCKETS_MIN, sizeof(*fc->buckets)))) {
		free(fc);
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	fc->crypto = c;
	fc->nbuckets = NBUCKETS_MIN;
	fc->limit = SG_FWCACHE_DEFAULT_LIMIT;
	fc->lru.prev = fc->lru.next = &fc->lru;
	pthread_mutex_init(&fc->lock, NULL);
	*ret = fc;
	return 0;
}

static void
fw_unref(struct fw_node *fw)
{
	if (atomic_fetch_sub(&fw->refs, 1) != 1)
		return;
	sg_file_free(fw->e.file);
	sg_sha256_free(fw->e.state);
	free(fw);
}

static void
chain_free(struct chain *ch)
{
	if (!ch)
		return;
	sg_sha256_free(ch->head);
	for (size_t k = 0; k < ch->nstates; k++)
		sg_sha256_free(ch->states[k]);
	free(ch->states);
	free(ch);
}

/* Free what unlink() collected, after the lock is dropped: a firmware loses the cache's reference. */
static void
bury(struct node *dead)
{
	while (dead) {
		struct node *next = dead->hnext;

		switch (dead->kind) {
		case FIRMWARE: fw_unref((struct fw_node *)dead); break;
		case CHAIN: chain_free((struct chain *)dead); break;
		case FILE_HASH: free(dead); break;
		}
		dead = next;
	}
}

static void
lru_remove(struct node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

static void
lru_front(struct sg_fwcache *fc, struct node *n)
{
	n->prev = &fc->lru;
	n->next = fc->lru.next;
	fc->lru.next->prev = n;
	fc->lru.next = n;
}

static void
touch(struct sg_fwcache *fc, struct node *n)
{
	lru_remove(n);
	lru_front(fc, n);
}

/* Double the index; on failure it keeps its size (longer buckets, still correct). */
static void
grow(struct sg_fwcache *fc)
{
	size_t nb = 2 * fc->nbuckets;
	struct node **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < fc->nbuckets; i++)
		for (struct node *n = fc->buckets[i], *next; n; n = next) {
			next = n->hnext;
			n->hnext = b[n->key & (nb - 1)];
			b[n->key & (nb - 1)] = n;
		}
	free(fc->buckets);
	fc->buckets = b;
	fc->nbuckets = nb;
}

/* Insert @n, whose room make_room() made, as the most recent entry. */
static void
link_node(struct sg_fwcache *fc, struct node *n)
{
	struct node **b;

	if (fc->count >= fc->nbuckets)
		grow(fc);
	b = &fc->buckets[n->key & (fc->nbuckets - 1)];
	n->hnext = *b;
	*b = n;
	lru_front(fc, n);
	fc->count++;
	fc->nkind[n->kind]++;
	fc->bytes += n->bytes;
}

/* Take @n out of the index and the list, onto *@dead; a firmware takes its chains along. */
static void
unlink_node(struct sg_fwcache *fc, struct node *n, struct node **dead)
{
	struct node **p = &fc->buckets[n->key & (fc->nbuckets - 1)];

	while (*p != n)
		p = &(*p)->hnext;
	*p = n->hnext;
	lru_remove(n);
	fc->count--;
	fc->nkind[n->kind]--;
	fc->bytes -= n->bytes;
	if (n->kind == FIRMWARE) {
		struct fw_node *fw = (struct fw_node *)n;

		fw->linked = false;
		while (fw->chains)
			unlink_node(fc, &fw->chains->n, dead);
	} else if (n->kind == CHAIN) {
		struct chain *ch = (struct chain *)n;
		struct fw_node *fw = (struct fw_node *)ch->fw;

		if (ch->sib_prev)
			ch->sib_prev->sib_next = ch->sib_next;
		else
			fw->chains = ch->sib_next;
		if (ch->sib_next)
			ch->sib_next->sib_prev = ch->sib_prev;
	}
	n->hnext = *dead;
	*dead = n;
}

/*
 * Evict least recently used entries until @need more bytes fit. @keep_a
 * and @keep_b (or NULL) must stay: the caller moved them to the front, so
 * reaching one means nothing else is left. Returns whether the room is
 * there; nothing is evicted for what is larger than the whole budget.
 */
static bool
make_room(struct sg_fwcache *fc, size_t need, const struct node *keep_a, const struct node *keep_b,
	  struct node **dead)
{
	if (need > fc->limit)
		return false;
	while (fc->bytes > fc->limit - need) {
		struct node *t = fc->lru.prev;

		if (t == &fc->lru || t == keep_a || t == keep_b)
			return false;
		size_t before = fc->count;

		unlink_node(fc, t, dead);
		fc->evictions += before - fc->count; /* a firmware's chains count too */
	}
	return true;
}

void
sg_fwcache_free(struct sg_fwcache *fc)
{
	struct node *dead = NULL;

	if (!fc)
		return;
	while (fc->lru.next != &fc->lru)
		unlink_node(fc, fc->lru.next, &dead);
	bury(dead);
	free(fc->buckets);
	pthread_mutex_destroy(&fc->lock);
	free(fc);
}

void
sg_fwcache_set_limit(struct sg_fwcache *fc, size_t bytes)
{
	struct node *dead = NULL;

	pthread_mutex_lock(&fc->lock);
	fc->limit = bytes;
	(void)make_room(fc, 0, NULL, NULL, &dead);
	pthread_mutex_unlock(&fc->lock);
	bury(dead);
}

void
sg_fwcache_stats(struct sg_fwcache *fc, struct sg_fwcache_stats *ret)
{
	pthread_mutex_lock(&fc->lock);
	*ret = (struct sg_fwcache_stats){
		.bytes = fc->bytes,
		.limit = fc->limit,
		.firmware = fc->nkind[FIRMWARE],
		.chains = fc->nkind[CHAIN],
		.files = fc->nkind[FILE_HASH],
		.hits = fc->hits,
		.misses = fc->misses,
		.evictions = fc->evictions,
		.uncached = fc->uncached,
	};
	pthread_mutex_unlock(&fc->lock);
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

/* An index key over @len bytes (not a digest: every hit is confirmed by comparing). */
static uint64_t
mix_bytes(uint64_t h, const uint8_t *p, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = mix(h, w);
	}
	for (; i < len; i++)
		h = mix(h, p[i]);
	return mix(h, len);
}

static void
set_id(struct file_id *id, const struct stat *st)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

static bool
same_id(const struct file_id *s, const struct stat *st)
{
	return s->dev == st->st_dev && s->ino == st->st_ino && s->size == st->st_size &&
	       s->mtime.tv_sec == st->st_mtim.tv_sec && s->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       s->ctime.tv_sec == st->st_ctim.tv_sec && s->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static uint64_t
id_key(enum kind kind, const struct stat *st)
{
	uint64_t h = mix(kind, (uint64_t)st->st_dev);

	h = mix(h, (uint64_t)st->st_ino);
	h = mix(h, (uint64_t)st->st_size);
	h = mix(h, (uint64_t)st->st_mtim.tv_sec);
	h = mix(h, (uint64_t)st->st_mtim.tv_nsec);
	h = mix(h, (uint64_t)st->st_ctim.tv_sec);
	return mix(h, (uint64_t)st->st_ctim.tv_nsec);
}

/* The firmware or file-hash entry (by @kind) for the file identity @st, or NULL. */
static struct node *
find_file(const struct sg_fwcache *fc, enum kind kind, const struct stat *st)
{
	uint64_t key = id_key(kind, st);

	for (struct node *n = fc->buckets[key & (fc->nbuckets - 1)]; n; n = n->hnext) {
		const struct file_id *id;

		if (n->key != key || n->kind != kind)
			continue;
		id = kind == FIRMWARE ? &((struct fw_node *)n)->id : &((struct hash_node *)n)->id;
		if (same_id(id, st))
			return n;
	}
	return NULL;
}

static int
fill(struct sg_fwcache *fc, const char *path, struct fw_node **ret, struct sg_error *err)
{
	_cleanup_(sg_file_freep) struct sg_file *f = NULL;
	_cleanup_(sg_sha256_freep) struct sg_sha256 *h = NULL, *fin = NULL;
	struct fw_node *fw;
	uint8_t sha256[SG_SHA256_LEN];
	int r;

	if ((r = sg_file_map(path, SG_FILE_MAX, "firmware", &f, err)) < 0 ||
	    (r = sg_sha256_new(fc->crypto, &h, err)) < 0 ||
	    (r = sg_sha256_update(h, f->data, f->len, err)) < 0 ||
	    (r = sg_sha256_dup(h, &fin, err)) < 0 || (r = sg_sha256_final(fin, sha256, err)) < 0)
		return r;
	if (!(fw = calloc(1, sizeof(*fw))))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	fw->n.kind = FIRMWARE;
	fw->n.key = id_key(FIRMWARE, &f->st);
	fw->n.bytes = sizeof(*fw) + STATE_BYTES + f->len;
	/* Keyed by what was read, not by the earlier stat(): no race with a rewrite. */
	set_id(&fw->id, &f->st);
	memcpy(fw->e.sha256, sha256, SG_SHA256_LEN);
	atomic_init(&fw->refs, 1);
	fw->e.file = SG_TAKE_PTR(f);
	fw->e.state = SG_TAKE_PTR(h);
	*ret = fw;
	return 0;
}

int
sg_fwcache_get(struct sg_fwcache *fc, const char *path, const struct sg_fw_entry **ret,
	       struct sg_error *err)
{
	struct fw_node *fresh = NULL, *hit = NULL;
	struct node *dead = NULL;
	struct stat st;
	int r;

	/* stat() failing is reported by the read below, with the usual message. */
	if (stat(path, &st) == 0) {
		pthread_mutex_lock(&fc->lock);
		if ((hit = (struct fw_node *)find_file(fc, FIRMWARE, &st))) {
			atomic_fetch_add(&hit->refs, 1);
			touch(fc, &hit->n);
			fc->hits++;
		}
		pthread_mutex_unlock(&fc->lock);
		if (hit) {
			*ret = &hit->e;
			return 0;
		}
	}
	if ((r = fill(fc, path, &fresh, err)) < 0)
		return r;
	pthread_mutex_lock(&fc->lock);
	fc->misses++;
	if ((hit = (struct fw_node *)find_file(fc, FIRMWARE, &fresh->e.file->st))) {
		/* Another thread filled it meanwhile. */
		atomic_fetch_add(&hit->refs, 1);
		touch(fc, &hit->n);
	} else if (make_room(fc, fresh->n.bytes, NULL, NULL, &dead)) {
		atomic_fetch_add(&fresh->refs, 1);
		fresh->linked = true;
		link_node(fc, &fresh->n);
	} else {
		fc->uncached++; /* the caller's reference is the only one */
	}
	pthread_mutex_unlock(&fc->lock);
	bury(dead);
	if (hit) {
		fw_unref(fresh);
		fresh = hit;
	}
	*ret = &fresh->e;
	return 0;
}

void
sg_fwcache_put(struct sg_fwcache *fc, const struct sg_fw_entry *e)
{
	(void)fc;
	if (e)
		fw_unref(FW_NODE(e));
}

/*
 * A chain's index key: its firmware and table, not its VMSA pages. Hashing
 * 8 KiB of pages cost more than the whole hit; the few page sets of one
 * firmware and table (CPU types, profiles) share a bucket, and memcmp()
 * tells them apart, mostly at their first bytes.
 */
static uint64_t
chain_key(const struct fw_node *fw, const uint8_t *table)
{
	uint64_t h = mix(CHAIN, (uint64_t)(uintptr_t)fw);

	return table ? mix_bytes(h, table, SG_HASHES_TABLE_PADDED_LEN) : mix(h, 0);
}

/*
 * The chain for these inputs, or NULL. @fw is compared by address: its
 * chains go when it goes, so no chain outlives the firmware it names.
 */
static struct chain *
chain_find(const struct sg_fwcache *fc, uint64_t key, const struct fw_node *fw,
	   const uint8_t *table, const uint8_t *bsp, const uint8_t *ap)
{
	for (struct node *n = fc->buckets[key & (fc->nbuckets - 1)]; n; n = n->hnext) {
		const struct chain *ch = (const struct chain *)n;

		if (n->key == key && n->kind == CHAIN && ch->fw == fw &&
		    ch->have_table == !!table &&
		    (!table || !memcmp(ch->table, table, sizeof(ch->table))) &&
		    ch->have_bsp == !!bsp && (!bsp || !memcmp(ch->bsp, bsp, SG_VMSA_SIZE)) &&
		    ch->have_ap == !!ap && (!ap || !memcmp(ch->ap, ap, SG_VMSA_SIZE)))
			return (struct chain *)n;
	}
	return NULL;
}

static size_t
chain_bytes(size_t nstates)
{
	return sizeof(struct chain) + (1 + nstates) * (STATE_BYTES + sizeof(struct sg_sha256 *));
}

/* A chain not yet linked, taking @head; NULL (@head still the caller's) when out of memory. */
static struct chain *
chain_new(const struct fw_node *fw, uint64_t key, const uint8_t *table, const uint8_t *bsp,
	  const uint8_t *ap, struct sg_sha256 *head)
{
	struct chain *ch = calloc(1, sizeof(*ch));

	if (!ch)
		return NULL;
	ch->n.kind = CHAIN;
	ch->n.key = key;
	ch->fw = fw;
	if ((ch->have_table = table != NULL))
		memcpy(ch->table, table, sizeof(ch->table));
	if ((ch->have_bsp = bsp != NULL))
		memcpy(ch->bsp, bsp, SG_VMSA_SIZE);
	if ((ch->have_ap = ap != NULL))
		memcpy(ch->ap, ap, SG_VMSA_SIZE);
	ch->head = head;
	return ch;
}

/*
 * Under the lock: keep what a digest computed outside it. *@fresh (or
 * NULL) is a new chain with its head; @states[0..n) are the states after
 * index @first. Whatever is kept is taken (NULLed); a chain evicted or
 * extended meanwhile, or no room, keeps the rest out.
 */
static void
chain_store(struct sg_fwcache *fc, struct fw_node *fw, uint64_t key, const uint8_t *table,
	    const uint8_t *bsp, const uint8_t *ap, struct chain **fresh, struct sg_sha256 **states,
	    size_t first, size_t n, struct node **dead)
{
	struct chain *ch;
	size_t skip, add;
	struct sg_sha256 **grown;

	if (!fw->linked)
		return;
	touch(fc, &fw->n);
	if (!(ch = chain_find(fc, key, fw, table, bsp, ap))) {
		if (!*fresh || !make_room(fc, chain_bytes(0), &fw->n, NULL, dead))
			return;
		ch = SG_TAKE_PTR(*fresh);
		ch->n.bytes = chain_bytes(0);
		ch->sib_next = fw->chains;
		if (fw->chains)
			fw->chains->sib_prev = ch;
		fw->chains = ch;
		link_node(fc, &ch->n);
	}
	touch(fc, &ch->n);
	if (ch->nstates < first || ch->nstates >= first + n)
		return;
	skip = ch->nstates - first;
	add = n - skip;
	if (!make_room(fc, chain_bytes(ch->nstates + add) - ch->n.bytes, &ch->n, &fw->n, dead))
		return;
	if (!(grown = realloc(ch->states, (ch->nstates + add) * sizeof(*grown))))
		return;
	ch->states = grown;
	for (size_t i = 0; i < add; i++)
		ch->states[ch->nstates++] = SG_TAKE_PTR(states[skip + i]);
	fc->bytes += chain_bytes(ch->nstates) - ch->n.bytes;
	ch->n.bytes = chain_bytes(ch->nstates);
}

int
sg_fwcache_digest(struct sg_fwcache *fc, const struct sg_fw_entry *e, const uint8_t *table,
		  unsigned vcpus, const uint8_t *bsp, const uint8_t *ap, uint8_t out[SG_SHA256_LEN],
		  struct sg_error *err)
{
	struct fw_node *fw = FW_NODE(e);
	_cleanup_(sg_sha256_freep) struct sg_sha256 *h = NULL;
	struct sg_sha256 *head = NULL, **states = NULL;
	struct chain *ch, *fresh = NULL;
	struct node *dead = NULL;
	size_t first = 0, n = 0;
	bool keep, found;
	uint64_t key;
	int r = 0;

	if (vcpus > SG_MAX_VCPUS || (vcpus >= 1 && !bsp) || (vcpus >= 2 && !ap))
		return sg_error_set(err, SG_E_INTERNAL, "launch digest: bad VMSA arguments");
	bsp = vcpus ? bsp : NULL;
	ap = vcpus >= 2 ? ap : NULL;
	key = chain_key(fw, table);

	/* Only a copy of the longest state kept is taken under the lock; the rest is hashed outside. */
	pthread_mutex_lock(&fc->lock);
	ch = (keep = fw->linked) ? chain_find(fc, key, fw, table, bsp, ap) : NULL;
	if ((found = ch != NULL)) {
		first = ch->nstates < vcpus ? ch->nstates : vcpus;
		r = sg_sha256_dup(first ? ch->states[first - 1] : ch->head, &h, err);
		touch(fc, &fw->n);
		touch(fc, &ch->n);
		fc->hits++;
	} else if (keep) {
		fc->misses++;
	}
	pthread_mutex_unlock(&fc->lock);
	if (r < 0)
		return r;
	if (!found &&
	    ((r = sg_sha256_dup(e->state, &h, err)) < 0 ||
	     (table && (r = sg_sha256_update(h, table, SG_HASHES_TABLE_PADDED_LEN, err)) < 0) ||
	     (keep && (r = sg_sha256_dup(h, &head, err)) < 0)))
		goto out;
	if (keep && !found) {
		if (!(fresh = chain_new(fw, key, table, bsp, ap, head))) {
			r = sg_error_set(err, SG_E_NOMEM, "out of memory");
			goto out;
		}
		head = NULL;
	}
	if (keep && vcpus > first && !(states = calloc(vcpus - first, sizeof(*states)))) {
		r = sg_error_set(err, SG_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t k = first; k < vcpus; k++) {
		if ((r = sg_sha256_update(h, k ? ap : bsp, SG_VMSA_SIZE, err)) < 0 ||
		    (states && (r = sg_sha256_dup(h, &states[n], err)) < 0))
			goto out;
		n += states != NULL;
	}
	if ((r = sg_sha256_final(h, out, err)) < 0)
		goto out;
	if (fresh || n) {
		pthread_mutex_lock(&fc->lock);
		chain_store(fc, fw, key, table, bsp, ap, &fresh, states, first, n, &dead);
		pthread_mutex_unlock(&fc->lock);
		bury(dead);
	}
out:
	sg_sha256_free(head);
	chain_free(fresh);
	for (size_t i = 0; i < n; i++)
		sg_sha256_free(states[i]);
	free(states);
	return r;
}

int
sg_fwcache_file_sha256(struct sg_fwcache *fc, const char *path, const char *what,
		       uint8_t out[SG_SHA256_LEN], struct sg_error *err)
{
	_cleanup_(sg_file_freep) struct sg_file *f = NULL;
	_cleanup_(sg_sha256_freep) struct sg_sha256 *h = NULL;
	struct hash_node *hn = NULL;
	struct node *dead = NULL;
	struct stat st;
	int r;

	if (stat(path, &st) == 0) {
		pthread_mutex_lock(&fc->lock);
		if ((hn = (struct hash_node *)find_file(fc, FILE_HASH, &st))) {
			memcpy(out, hn->sha256, SG_SHA256_LEN);
			touch(fc, &hn->n);
			fc->hits++;
		}
		pthread_mutex_unlock(&fc->lock);
		if (hn)
			return 0;
	}
	if ((r = sg_file_map(path, SG_FILE_MAX, what, &f, err)) < 0 ||
	    (r = sg_sha256_new(fc->crypto, &h, err)) < 0 ||
	    (r = sg_sha256_update(h, f->data, f->len, err)) < 0 ||
	    (r = sg_sha256_final(h, out, err)) < 0)
		return r;
	/* Not remembered when there is no memory for it: the next guest hashes again. */
	hn = calloc(1, sizeof(*hn));
	pthread_mutex_lock(&fc->lock);
	fc->misses++;
	if (hn && !find_file(fc, FILE_HASH, &f->st) &&
	    make_room(fc, sizeof(*hn), NULL, NULL, &dead)) {
		hn->n.kind = FILE_HASH;
		hn->n.key = id_key(FILE_HASH, &f->st);
		hn->n.bytes = sizeof(*hn);
		/* Keyed by what was read, not by the earlier stat(): no race with a rewrite. */
		set_id(&hn->id, &f->st);
		memcpy(hn->sha256, out, SG_SHA256_LEN);
		link_node(fc, &hn->n);
		hn = NULL;
	}
	pthread_mutex_unlock(&fc->lock);
	bury(dead);
	free(hn);
	return 0;
}
