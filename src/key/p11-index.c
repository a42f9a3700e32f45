/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The per-token key index: which secret keys a URI names. The first lookup on a token asks
 * the token (one C_FindObjects); the next reads every key's label, ID, type and flags once,
 * sorted by ID and by label. After that a key the index lacks (imported by another process)
 * costs one targeted search, whose result is added; a key still missing is not searched for
 * again within SG_P11_MISS_INTERVAL, so a manifest naming it cannot cause a storm.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "key/p11-internal.h"
#include "util/cleanup.h"
#include "util/debug.h"

/* One C_FindObjects search with @tmpl: the handles into *@ret; a failed call's CK_RV in *@ret_rv. */
static int
search(struct sg_p11_op *op, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl, CK_OBJECT_HANDLE **ret,
       CK_ULONG *ret_n, CK_RV *ret_rv, struct sg_error *err)
{
	struct sg_p11_token *t = op->t;
	CK_ULONG got = 0, n = 0, cap = 64;
	_cleanup_(sg_freep) CK_OBJECT_HANDLE *objs = malloc(cap * sizeof(*objs));
	CK_RV rv;

	if (!objs)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	t->stats.find_calls++;
	rv = op->fl->C_FindObjectsInit(op->session, tmpl, ntmpl);
	if (rv != CKR_OK) {
		*ret_rv = rv;
		return sg_error_set(err, SG_E_TOKEN, "token '%s': C_FindObjectsInit failed: %s",
				    t->label, sg_p11_rv_name(rv));
	}
	for (;;) {
		if (n == cap) {
			CK_OBJECT_HANDLE *bigger = realloc(objs, 2 * cap * sizeof(*objs));

			if (!bigger) {
				op->fl->C_FindObjectsFinal(op->session);
				return sg_error_set(err, SG_E_NOMEM, "out of memory");
			}
			objs = bigger;
			cap *= 2;
		}
		rv = op->fl->C_FindObjects(op->session, objs + n, cap - n, &got);
		if (rv != CKR_OK) {
			op->fl->C_FindObjectsFinal(op->session);
			*ret_rv = rv;
			return sg_error_set(err, SG_E_TOKEN, "token '%s': C_FindObjects failed: %s",
					    t->label, sg_p11_rv_name(rv));
		}
		if (got == 0)
			break;
		n += got;
	}
	rv = op->fl->C_FindObjectsFinal(op->session);
	if (rv != CKR_OK) {
		*ret_rv = rv;
		return sg_error_set(err, SG_E_TOKEN, "token '%s': C_FindObjectsFinal failed: %s",
				    t->label, sg_p11_rv_name(rv));
	}
	*ret = SG_TAKE_PTR(objs);
	*ret_n = n;
	return 0;
}

void
sg_p11_index_clear(struct sg_p11_token *t)
{
	for (size_t i = 0; i < t->nkeys; i++)
		free(t->by_id[i]);
	free(t->by_id);
	free(t->by_label);
	t->by_id = t->by_label = NULL;
	t->nkeys = t->capkeys = 0;
	t->full = false;
	t->lookups = 0;
}

void
sg_p11_index_reset(struct sg_p11_token *t)
{
	bool full = t->full || t->lookups > 0;

	sg_p11_index_clear(t);
	t->lookups = full ? 1 : 0;
	memset(t->misses, 0, sizeof(t->misses));
}

/* Read one key's attributes: 1 when stored in @e, 0 to leave it out, negative on error. */
static int
read_entry(struct sg_p11_op *op, CK_OBJECT_HANDLE h, struct sg_p11_keyent *e, CK_RV *ret_rv,
	   struct sg_error *err)
{
	CK_ATTRIBUTE at[] = {
		{ CKA_LABEL, e->label, sizeof(e->label) },
		{ CKA_ID, e->id, sizeof(e->id) },
		{ CKA_KEY_TYPE, &e->type, sizeof(e->type) },
		{ CKA_VALUE_LEN, &e->value_len, sizeof(e->value_len) },
		{ CKA_SENSITIVE, &e->sensitive, sizeof(e->sensitive) },
		{ CKA_EXTRACTABLE, &e->extractable, sizeof(e->extractable) },
	};
	CK_RV rv = op->fl->C_GetAttributeValue(op->session, h, at, SG_ELEMENTSOF(at));

	/* A key whose label or ID does not fit is left out, never truncated. */
	if (rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    rv == CKR_ATTRIBUTE_SENSITIVE) {
		if (at[2].ulValueLen == (CK_ULONG)-1)
			return 0;
		/* -1 is "too long" or "none": a label or ID too long leaves the key out. */
		for (size_t i = 0; i < 2; i++) {
			CK_ATTRIBUTE len = { at[i].type, NULL, 0 };

			if (at[i].ulValueLen != (CK_ULONG)-1)
				continue;
			if (rv == CKR_BUFFER_TOO_SMALL &&
			    op->fl->C_GetAttributeValue(op->session, h, &len, 1) == CKR_OK &&
			    len.ulValueLen != (CK_ULONG)-1)
				return 0;
			at[i].ulValueLen = 0;
		}
		if (at[3].ulValueLen == (CK_ULONG)-1)
			e->value_len = (CK_ULONG)-1;
		/* Unknown sensitivity counts as exportable: fail closed. */
		if (at[4].ulValueLen == (CK_ULONG)-1)
			e->sensitive = CK_FALSE;
		if (at[5].ulValueLen == (CK_ULONG)-1)
			e->extractable = CK_TRUE;
		if (at[0].ulValueLen > sizeof(e->label) || at[1].ulValueLen > sizeof(e->id))
			return 0;
	} else if (rv == CKR_OBJECT_HANDLE_INVALID) {
		return 0; /* deleted by another process since the search */
	} else if (rv != CKR_OK) {
		*ret_rv = rv;
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s': reading key attributes failed: %s", op->t->label,
				    sg_p11_rv_name(rv));
	}
	e->handle = h;
	e->label_len = at[0].ulValueLen;
	e->id_len = at[1].ulValueLen;
	return 1;
}

static int
bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (alen > blen) - (alen < blen);
}

static int
cmp_id(const void *a, const void *b)
{
	const struct sg_p11_keyent *x = *(struct sg_p11_keyent *const *)a;
	const struct sg_p11_keyent *y = *(struct sg_p11_keyent *const *)b;

	return bytes_cmp(x->id, x->id_len, y->id, y->id_len);
}

static int
cmp_label(const void *a, const void *b)
{
	const struct sg_p11_keyent *x = *(struct sg_p11_keyent *const *)a;
	const struct sg_p11_keyent *y = *(struct sg_p11_keyent *const *)b;

	return bytes_cmp(x->label, x->label_len, y->label, y->label_len);
}

static int
reserve(struct sg_p11_token *t, size_t more)
{
	struct sg_p11_keyent **a, **b;
	size_t cap;

	if (t->nkeys + more <= t->capkeys)
		return 0;
	cap = t->capkeys ? 2 * t->capkeys : 16;
	while (cap < t->nkeys + more)
		cap *= 2;
	if (!(a = reallocarray(t->by_id, cap, sizeof(*a))))
		return SG_E_NOMEM;
	t->by_id = a;
	if (!(b = reallocarray(t->by_label, cap, sizeof(*b))))
		return SG_E_NOMEM;
	t->by_label = b;
	t->capkeys = cap;
	return 0;
}

/* Where @e goes in @arr (sorted by @cmp): after every entry that compares equal. */
static size_t
upper_bound(struct sg_p11_keyent **arr, size_t n, const struct sg_p11_keyent *e,
	    int (*cmp)(const void *, const void *))
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp(&arr[mid], &e) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
index_remove(struct sg_p11_token *t, CK_OBJECT_HANDLE h)
{
	struct sg_p11_keyent *gone = NULL;

	for (size_t i = 0; i < t->nkeys; i++)
		if (t->by_id[i]->handle == h) {
			gone = t->by_id[i];
			memmove(&t->by_id[i], &t->by_id[i + 1], (t->nkeys - i - 1) * sizeof(gone));
			break;
		}
	if (!gone)
		return;
	for (size_t i = 0; i < t->nkeys; i++)
		if (t->by_label[i] == gone) {
			memmove(&t->by_label[i], &t->by_label[i + 1],
				(t->nkeys - i - 1) * sizeof(gone));
			break;
		}
	t->nkeys--;
	free(gone);
}

/* Add a copy of @e (replacing an entry with its handle). */
static int
index_insert(struct sg_p11_token *t, const struct sg_p11_keyent *e)
{
	struct sg_p11_keyent *copy;
	size_t i;

	index_remove(t, e->handle);
	if (reserve(t, 1) < 0 || !(copy = malloc(sizeof(*copy))))
		return SG_E_NOMEM;
	*copy = *e;
	i = upper_bound(t->by_id, t->nkeys, copy, cmp_id);
	memmove(&t->by_id[i + 1], &t->by_id[i], (t->nkeys - i) * sizeof(copy));
	t->by_id[i] = copy;
	i = upper_bound(t->by_label, t->nkeys, copy, cmp_label);
	memmove(&t->by_label[i + 1], &t->by_label[i], (t->nkeys - i) * sizeof(copy));
	t->by_label[i] = copy;
	t->nkeys++;
	return 0;
}

/*
 * Search with @tmpl and read what it finds: copies in *@ret (may be NULL: only added to the
 * index), their number in *@ret_n.
 */
static int
search_entries(struct sg_p11_op *op, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl, struct sg_p11_keyent **ret,
	       CK_ULONG *ret_n, CK_RV *ret_rv, struct sg_error *err)
{
	_cleanup_(sg_freep) CK_OBJECT_HANDLE *objs = NULL;
	_cleanup_(sg_freep) struct sg_p11_keyent *out = NULL;
	CK_ULONG n = 0, kept = 0;
	int r;

	if ((r = search(op, tmpl, ntmpl, &objs, &n, ret_rv, err)) < 0)
		return r;
	if (!(out = calloc(n ? n : 1, sizeof(*out))))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	for (CK_ULONG i = 0; i < n; i++) {
		if ((r = read_entry(op, objs[i], &out[kept], ret_rv, err)) < 0)
			return r;
		if (r == 1 && index_insert(op->t, &out[kept]) < 0)
			return sg_error_set(err, SG_E_NOMEM, "out of memory");
		kept += (CK_ULONG)r;
	}
	if (ret)
		*ret = SG_TAKE_PTR(out);
	*ret_n = kept;
	return 0;
}

/* Read every secret key of the token into the index: appended, then sorted once. */
static int
build_full(struct sg_p11_op *op, CK_RV *ret_rv, struct sg_error *err)
{
	struct sg_p11_token *t = op->t;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) } };
	_cleanup_(sg_freep) CK_OBJECT_HANDLE *objs = NULL;
	CK_ULONG n = 0;
	int r;

	sg_p11_index_clear(t);
	t->lookups = 1;
	t->stats.index_builds++;
	if ((r = search(op, tmpl, 1, &objs, &n, ret_rv, err)) < 0)
		goto fail;
	if (reserve(t, n) < 0) {
		r = sg_error_set(err, SG_E_NOMEM, "out of memory");
		goto fail;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		struct sg_p11_keyent *e = malloc(sizeof(*e));

		if (!e) {
			r = sg_error_set(err, SG_E_NOMEM, "out of memory");
			goto fail;
		}
		if ((r = read_entry(op, objs[i], e, ret_rv, err)) <= 0) {
			free(e);
			if (r < 0)
				goto fail;
			continue;
		}
		t->by_id[t->nkeys] = t->by_label[t->nkeys] = e;
		t->nkeys++;
	}
	qsort(t->by_id, t->nkeys, sizeof(*t->by_id), cmp_id);
	qsort(t->by_label, t->nkeys, sizeof(*t->by_label), cmp_label);
	t->full = true;
	sg_debug("PKCS#11: token '%s': indexed %zu secret keys", t->label, t->nkeys);
	return 0;
fail:
	sg_p11_index_clear(t);
	t->lookups = 1;
	return r;
}

static bool
attr_matches(const struct sg_p11_keyent *e, const CK_ATTRIBUTE *a)
{
	switch (a->type) {
	case CKA_LABEL:
		return a->ulValueLen == e->label_len && !memcmp(a->pValue, e->label, e->label_len);
	case CKA_ID: return a->ulValueLen == e->id_len && !memcmp(a->pValue, e->id, e->id_len);
	case CKA_CLASS:
		return a->ulValueLen == sizeof(CK_OBJECT_CLASS) &&
		       *(const CK_OBJECT_CLASS *)a->pValue == CKO_SECRET_KEY;
	case CKA_KEY_TYPE:
		return a->ulValueLen == sizeof(CK_KEY_TYPE) &&
		       *(const CK_KEY_TYPE *)a->pValue == e->type;
	default: return false;
	}
}

static bool
all_match(const struct sg_p11_keyent *e, const CK_ATTRIBUTE *attrs, CK_ULONG nattrs)
{
	for (CK_ULONG i = 0; i < nattrs; i++)
		if (!attr_matches(e, &attrs[i]))
			return false;
	return true;
}

/* [lo, hi) of the index entries whose ID (or label) equals @a's value. */
static void
equal_range(const struct sg_p11_token *t, const CK_ATTRIBUTE *a, size_t *ret_lo, size_t *ret_hi)
{
	struct sg_p11_keyent *const *arr = a->type == CKA_ID ? t->by_id : t->by_label;
	size_t lo = 0, hi = t->nkeys;

#define CMP(i)                                                                     \
	(a->type == CKA_ID ?                                                       \
		 bytes_cmp(arr[i]->id, arr[i]->id_len, a->pValue, a->ulValueLen) : \
		 bytes_cmp(arr[i]->label, arr[i]->label_len, a->pValue, a->ulValueLen))
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (CMP(mid) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret_lo = lo;
	for (hi = lo; hi < t->nkeys && CMP(hi) == 0; hi++)
		;
	*ret_hi = hi;
#undef CMP
}

/* Copies of the index entries matching @attrs. */
static int
from_index(struct sg_p11_token *t, const CK_ATTRIBUTE *attrs, CK_ULONG nattrs,
	   const CK_ATTRIBUTE *key, struct sg_p11_keyent **ret, CK_ULONG *ret_n,
	   struct sg_error *err)
{
	struct sg_p11_keyent *const *arr = key && key->type == CKA_LABEL ? t->by_label : t->by_id;
	_cleanup_(sg_freep) struct sg_p11_keyent *out = NULL;
	size_t lo = 0, hi = t->nkeys;
	CK_ULONG n = 0;

	if (key)
		equal_range(t, key, &lo, &hi);
	/* Size the answer by the candidate range, not the whole token. */
	if (!(out = calloc(hi > lo ? hi - lo : 1, sizeof(*out))))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	for (size_t k = lo; k < hi; k++)
		if (all_match(arr[k], attrs, nattrs))
			out[n++] = *arr[k];
	*ret = SG_TAKE_PTR(out);
	*ret_n = n;
	return 0;
}

/* The query's attributes as bytes, for the miss table; 0 when they do not fit. */
static size_t
query_key(const CK_ATTRIBUTE *attrs, CK_ULONG nattrs, uint8_t out[256])
{
	size_t n = 0;

	for (CK_ULONG i = 0; i < nattrs; i++) {
		if (n + sizeof(CK_ULONG) * 2 + attrs[i].ulValueLen > 256)
			return 0;
		memcpy(out + n, &attrs[i].type, sizeof(CK_ULONG));
		memcpy(out + n + sizeof(CK_ULONG), &attrs[i].ulValueLen, sizeof(CK_ULONG));
		n += 2 * sizeof(CK_ULONG);
		memcpy(out + n, attrs[i].pValue, attrs[i].ulValueLen);
		n += attrs[i].ulValueLen;
	}
	return n;
}

static bool
missed_lately(struct sg_p11_token *t, const uint8_t *q, size_t len, double now)
{
	for (size_t i = 0; len && i < SG_P11_MISS_SLOTS; i++)
		if (t->misses[i].len == len && !memcmp(t->misses[i].query, q, len) &&
		    now - t->misses[i].when < SG_P11_MISS_INTERVAL)
			return true;
	return false;
}

static void
note_miss(struct sg_p11_token *t, const uint8_t *q, size_t len, double now)
{
	struct sg_p11_miss *m = &t->misses[t->nextmiss++ % SG_P11_MISS_SLOTS];

	if (!len)
		return;
	memcpy(m->query, q, len);
	m->len = len;
	m->when = now;
}

/* Under the operation: the lookup, by the index's state (see the top of this file). */
static int
lookup(struct sg_p11_op *op, CK_ATTRIBUTE *attrs, CK_ULONG nattrs, const CK_ATTRIBUTE *key,
       struct sg_p11_keyent **ret, CK_ULONG *ret_n, CK_RV *ret_rv, struct sg_error *err)
{
	struct sg_p11_token *t = op->t;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[8];
	CK_ULONG ntmpl = 0;
	uint8_t q[256];
	size_t qlen = query_key(attrs, nattrs, q);
	double now = sg_p11_now();
	bool fresh = false;
	int r;

	if (!t->full && t->lookups++ > 0) {
		if ((r = build_full(op, ret_rv, err)) < 0)
			return r;
		fresh = true;
	}
	if (t->full) {
		if ((r = from_index(t, attrs, nattrs, key, ret, ret_n, err)) < 0 || *ret_n || !key)
			return r;
		if (fresh) {
			note_miss(t, q, qlen, now); /* the token was just read in full */
			return 0;
		}
		free(*ret);
		*ret = NULL;
	}
	/* Not in the index (or no index yet): ask the token, unless it said no just now. */
	if (t->full && missed_lately(t, q, qlen, now)) {
		t->stats.misses_limited++;
		if (!(*ret = calloc(1, sizeof(**ret))))
			return sg_error_set(err, SG_E_NOMEM, "out of memory");
		*ret_n = 0;
		return 0;
	}
	for (CK_ULONG i = 0; i < nattrs && ntmpl < SG_ELEMENTSOF(tmpl) - 1; i++)
		if (attrs[i].type != CKA_CLASS)
			tmpl[ntmpl++] = attrs[i];
	tmpl[ntmpl].type = CKA_CLASS;
	tmpl[ntmpl].pValue = &cls;
	tmpl[ntmpl++].ulValueLen = sizeof(cls);
	if ((r = search_entries(op, tmpl, ntmpl, ret, ret_n, ret_rv, err)) < 0)
		return r;
	if (*ret_n == 0)
		note_miss(t, q, qlen, now);
	return 0;
}

int
sg_p11_find_keys(struct sg_p11_token *t, P11KitUri *uri, struct sg_p11_keyent **ret,
		 CK_ULONG *ret_n, uint64_t *ret_gen, struct sg_error *err)
{
	CK_ULONG nattrs = 0, n = 0;
	CK_ATTRIBUTE *attrs = p11_kit_uri_get_attributes(uri, &nattrs);
	const CK_ATTRIBUTE *by_id = NULL, *by_label = NULL;
	struct sg_p11_keyent *out = NULL;
	struct sg_p11_op op;
	uint64_t gen;
	struct sg_error e = { 0 };
	CK_RV rv;
	int r;

	for (CK_ULONG i = 0; i < nattrs; i++) {
		if (attrs[i].type == CKA_ID)
			by_id = &attrs[i];
		else if (attrs[i].type == CKA_LABEL)
			by_label = &attrs[i];
		else if (attrs[i].type != CKA_CLASS && attrs[i].type != CKA_KEY_TYPE)
			return sg_error_set(err, SG_E_USAGE,
					    "key URIs may name only token, object, id and type");
	}
	if ((r = sg_p11_begin(t, 0, &op, err)) < 0)
		return r;
	do {
		rv = CKR_OK;
		sg_error_clear(&e); /* a retry reports its own failure */
		r = lookup(&op, attrs, nattrs, by_id ? by_id : by_label, &out, &n, &rv, &e);
	} while (r < 0 && sg_p11_again(&op, rv));
	gen = t->gen;
	sg_debug("PKCS#11: token '%s': %lu of %zu secret keys match", t->label, (unsigned long)n,
		 t->nkeys);
	if ((r = sg_p11_finish(&op, r, &e, err)) < 0)
		return r;
	*ret_gen = gen;
	*ret = out;
	*ret_n = n;
	return 0;
}

/*
 * Whether @now is the key @was was: 1 when it has the same ID, label, type and length and
 * custody no weaker (sensitive, not extractable, where @was was), 0 when it is another key,
 * -1 when it is the key with its custody weakened.
 */
static int
same_key(const struct sg_p11_keyent *was, const struct sg_p11_keyent *now)
{
	if (now->id_len != was->id_len || memcmp(now->id, was->id, was->id_len) ||
	    now->label_len != was->label_len || memcmp(now->label, was->label, was->label_len) ||
	    now->type != was->type)
		return 0;
	if (now->value_len != was->value_len ||
	    (was->sensitive == CK_TRUE && now->sensitive != CK_TRUE) ||
	    (was->extractable == CK_FALSE && now->extractable != CK_FALSE))
		return -1;
	return 1;
}

static int
changed(const struct sg_p11_token *t, const struct sg_p11_keyent *e, struct sg_error *err)
{
	return sg_error_set(err, SG_E_KEY,
			    "key '%.*s' on token '%s' changed: it is not the key that was opened",
			    (int)e->label_len, e->label, t->label);
}

/*
 * Of the @n candidates, the one that is @e: 1 and its handle in @e, 0 for none; else reports
 * SG_E_KEY (one changed, or more than one alike).
 */
static int
pick(const struct sg_p11_token *t, struct sg_p11_keyent *e, const struct sg_p11_keyent *cand,
     CK_ULONG n, struct sg_error *err)
{
	CK_ULONG good = 0, at = 0;

	for (CK_ULONG i = 0; i < n; i++) {
		int k = same_key(e, &cand[i]);

		if (k < 0)
			return changed(t, e, err);
		if (k > 0 && good++ == 0)
			at = i;
	}
	if (good > 1)
		return sg_error_set(err, SG_E_KEY, "key '%.*s' matches %lu keys on token '%s' now",
				    (int)e->label_len, e->label, (unsigned long)good, t->label);
	if (good == 1)
		e->handle = cand[at].handle;
	return good == 1;
}

int
sg_p11_resolve(struct sg_p11_op *op, struct sg_p11_keyent *e, uint64_t *gen, CK_RV *ret_rv,
	       struct sg_error *err)
{
	struct sg_p11_token *t = op->t;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE want[] = {
		{ CKA_ID, e->id, e->id_len },
		{ CKA_LABEL, e->label, e->label_len },
		{ CKA_KEY_TYPE, &e->type, sizeof(e->type) },
		{ CKA_CLASS, &cls, sizeof(cls) },
	};
	_cleanup_(sg_freep) struct sg_p11_keyent *found = NULL;
	CK_ULONG n = 0;
	int r = 0;

	if (*gen == t->gen && !op->stale)
		return 0;
	if (op->stale)
		index_remove(t, e->handle);
	/* After a reset the index is read again (once); a stale handle alone costs one search. */
	if (!op->stale && !t->full && t->lookups > 0 && (r = build_full(op, ret_rv, err)) < 0)
		return r;
	if (t->full && !op->stale &&
	    ((r = from_index(t, want, 3, &want[0], &found, &n, err)) < 0 ||
	     (r = pick(t, e, found, n, err)) < 0))
		return r;
	/*
	 * A handle the token refused a moment ago: the key may be gone, renumbered (found again
	 * by a search), or the token briefly without its objects. SoftHSM, while its token
	 * directory is replaced, refuses the handles, and its searches find nothing until its
	 * directory's contents change, but the old handles work again. So the old handle is
	 * tried, then a search, again for a while (10 ms, doubling, 630 ms in all), before the
	 * key counts as gone. Whatever is found must be the key that was opened.
	 */
	for (useconds_t wait = 10000; r == 0; wait *= 2) {
		struct sg_p11_keyent now;
		CK_RV ignored;

		if (op->stale && read_entry(op, e->handle, &now, &ignored, NULL) == 1) {
			if ((r = pick(t, e, &now, 1, err)) < 0)
				return r;
			if (r > 0) {
				if (index_insert(t, &now) < 0)
					return sg_error_set(err, SG_E_NOMEM, "out of memory");
				break;
			}
		}
		free(found);
		found = NULL;
		if ((r = search_entries(op, want, SG_ELEMENTSOF(want), &found, &n, ret_rv, err)) <
			    0 ||
		    (r = pick(t, e, found, n, err)) != 0)
			break;
		/* Only a refused handle waits: after a reset the index just read says it all. */
		if (!op->stale || wait > SG_P11_GONE_WAIT_US)
			return sg_error_set(err, SG_E_KEY, "key '%.*s' is no longer on token '%s'",
					    (int)e->label_len, e->label, t->label);
		usleep(wait);
	}
	if (r < 0)
		return r;
	sg_debug("PKCS#11: token '%s': key '%.*s' found again", t->label, (int)e->label_len,
		 e->label);
	*gen = t->gen;
	op->stale = false;
	return 0;
}

void
sg_p11_index_added(struct sg_p11_op *op, CK_OBJECT_HANDLE h)
{
	struct sg_p11_keyent e = { 0 };
	CK_RV rv = CKR_OK;

	/* A partial or empty index learns of it at its next search. */
	if (op->t->full && read_entry(op, h, &e, &rv, NULL) == 1 && index_insert(op->t, &e) < 0)
		sg_p11_index_clear(op->t); /* out of memory: read it all again later */
}

void
sg_p11_index_removed(struct sg_p11_op *op, CK_OBJECT_HANDLE h)
{
	index_remove(op->t, h);
}

CK_RV
sg_p11_get_bool(struct sg_p11_op *op, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE a, bool *ret)
{
	CK_BBOOL b = CK_FALSE;
	CK_ATTRIBUTE at = { a, &b, sizeof(b) };
	CK_RV rv = op->fl->C_GetAttributeValue(op->session, o, &at, 1);

	if (rv == CKR_OK)
		*ret = b == CK_TRUE;
	return rv;
}
