/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The per-token key index: which secret keys a URI names, answered from
 * one C_FindObjects for a single lookup, and from an in-memory copy of
 * every key's label, ID, type and flags (sorted by ID and by label) once a
 * process looks up more than one key on a token.
 */
#include <stdlib.h>
#include <string.h>

#include "key/p11.h"
#include "util/cleanup.h"
#include "util/debug.h"

/* Run one C_FindObjects search with @tmpl; the handles into *ret. */
static int
search(struct sg_p11_token *t, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl, CK_OBJECT_HANDLE **ret,
       CK_ULONG *ret_n, struct sg_error *err)
{
	CK_ULONG got = 0, n = 0, cap = 64;
	_cleanup_(sg_freep) CK_OBJECT_HANDLE *objs = malloc(cap * sizeof(*objs));
	CK_RV rv;

	if (!objs)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	rv = t->fl->C_FindObjectsInit(t->session, tmpl, ntmpl);
	if (rv != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN, "token '%s': C_FindObjectsInit failed: %s",
				    t->label, sg_p11_rv_name(rv));
	for (;;) {
		if (n == cap) {
			CK_OBJECT_HANDLE *bigger = realloc(objs, 2 * cap * sizeof(*objs));

			if (!bigger) {
				t->fl->C_FindObjectsFinal(t->session);
				return sg_error_set(err, SG_E_NOMEM, "out of memory");
			}
			objs = bigger;
			cap *= 2;
		}
		rv = t->fl->C_FindObjects(t->session, objs + n, cap - n, &got);
		if (rv != CKR_OK) {
			t->fl->C_FindObjectsFinal(t->session);
			return sg_error_set(err, SG_E_TOKEN, "token '%s': C_FindObjects failed: %s",
					    t->label, sg_p11_rv_name(rv));
		}
		if (got == 0)
			break;
		n += got;
	}
	rv = t->fl->C_FindObjectsFinal(t->session);
	if (rv != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN, "token '%s': C_FindObjectsFinal failed: %s",
				    t->label, sg_p11_rv_name(rv));
	*ret = SG_TAKE_PTR(objs);
	*ret_n = n;
	return 0;
}

void
sg_p11_index_invalidate(struct sg_p11_token *t)
{
	free(t->keys);
	free(t->by_label);
	t->keys = NULL;
	t->by_label = NULL;
	t->nkeys = 0;
	t->indexed = false;
}

/* Read one key's attributes: 1 when stored in @e, 0 to leave it out, negative on error. */
static int
read_entry(struct sg_p11_token *t, CK_OBJECT_HANDLE h, struct sg_p11_keyent *e,
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
	CK_RV rv = t->fl->C_GetAttributeValue(t->session, h, at, SG_ELEMENTSOF(at));

	/* A key whose label or ID does not fit is left out, never truncated. */
	if (rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    rv == CKR_ATTRIBUTE_SENSITIVE) {
		if (at[2].ulValueLen == (CK_ULONG)-1)
			return 0;
		if (at[0].ulValueLen == (CK_ULONG)-1)
			at[0].ulValueLen = 0;
		if (at[1].ulValueLen == (CK_ULONG)-1)
			at[1].ulValueLen = 0;
		if (at[3].ulValueLen == (CK_ULONG)-1)
			e->value_len = (CK_ULONG)-1;
		/* Unknown sensitivity counts as exportable: fail closed. */
		if (at[4].ulValueLen == (CK_ULONG)-1)
			e->sensitive = CK_FALSE;
		if (at[5].ulValueLen == (CK_ULONG)-1)
			e->extractable = CK_TRUE;
		if (at[0].ulValueLen > sizeof(e->label) || at[1].ulValueLen > sizeof(e->id))
			return 0;
	} else if (rv != CKR_OK) {
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s': reading key attributes failed: %s", t->label,
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
	const struct sg_p11_keyent *x = a, *y = b;

	return bytes_cmp(x->id, x->id_len, y->id, y->id_len);
}

static int
cmp_label(const void *a, const void *b)
{
	const struct sg_p11_keyent *x = *(struct sg_p11_keyent *const *)a;
	const struct sg_p11_keyent *y = *(struct sg_p11_keyent *const *)b;

	return bytes_cmp(x->label, x->label_len, y->label, y->label_len);
}

/* Read the secret keys @tmpl matches into the index (all of them for a full index). */
static int
build_index(struct sg_p11_token *t, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl, bool full,
	    struct sg_error *err)
{
	_cleanup_(sg_freep) CK_OBJECT_HANDLE *objs = NULL;
	CK_ULONG n = 0;
	int r;

	if ((r = search(t, tmpl, ntmpl, &objs, &n, err)) < 0)
		return r;
	sg_p11_index_invalidate(t);
	t->keys = calloc(n ? n : 1, sizeof(*t->keys));
	t->by_label = calloc(n ? n : 1, sizeof(*t->by_label));
	if (!t->keys || !t->by_label) {
		sg_p11_index_invalidate(t);
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	for (CK_ULONG i = 0; i < n; i++) {
		r = read_entry(t, objs[i], &t->keys[t->nkeys], err);
		if (r < 0) {
			sg_p11_index_invalidate(t);
			return r;
		}
		t->nkeys += (size_t)r;
	}
	qsort(t->keys, t->nkeys, sizeof(*t->keys), cmp_id);
	for (size_t i = 0; i < t->nkeys; i++)
		t->by_label[i] = &t->keys[i];
	qsort(t->by_label, t->nkeys, sizeof(*t->by_label), cmp_label);
	t->indexed = full;
	sg_debug("PKCS#11: token '%s': %s %zu secret keys", t->label,
		 full ? "indexed" : "looked up", t->nkeys);
	return 0;
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

/* [lo, hi) of the index entries whose ID (or label) equals @a's value. */
static void
equal_range(const struct sg_p11_token *t, const CK_ATTRIBUTE *a, size_t *ret_lo, size_t *ret_hi)
{
	size_t lo = 0, hi = t->nkeys;
	bool id = a->type == CKA_ID;

#define KEY_AT(i) (id ? &t->keys[i] : t->by_label[i])
#define CMP(i)                                                                        \
	(id ? bytes_cmp(KEY_AT(i)->id, KEY_AT(i)->id_len, a->pValue, a->ulValueLen) : \
	      bytes_cmp(KEY_AT(i)->label, KEY_AT(i)->label_len, a->pValue, a->ulValueLen))
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
#undef KEY_AT
}

int
sg_p11_find_keys(struct sg_p11_token *t, P11KitUri *uri, const struct sg_p11_keyent ***ret,
		 CK_ULONG *ret_n, struct sg_error *err)
{
	CK_ULONG nattrs = 0, n = 0;
	CK_ATTRIBUTE *attrs = p11_kit_uri_get_attributes(uri, &nattrs);
	const CK_ATTRIBUTE *by_id = NULL, *by_label = NULL;
	_cleanup_(sg_freep) const struct sg_p11_keyent **out = NULL;
	size_t lo = 0, hi;
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
	if (!t->indexed) {
		if (t->lookups++ == 0) {
			/* One lookup: let the token search, as a single validation does. */
			CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
			CK_ATTRIBUTE tmpl[8];
			CK_ULONG ntmpl = 0;

			for (CK_ULONG i = 0; i < nattrs && ntmpl < SG_ELEMENTSOF(tmpl) - 1; i++)
				if (attrs[i].type != CKA_CLASS)
					tmpl[ntmpl++] = attrs[i];
			tmpl[ntmpl].type = CKA_CLASS;
			tmpl[ntmpl].pValue = &cls;
			tmpl[ntmpl++].ulValueLen = sizeof(cls);
			r = build_index(t, tmpl, ntmpl, false, err);
		} else {
			/* More lookups on this token: read every key once, resolve in memory. */
			CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
			CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) } };

			r = build_index(t, tmpl, 1, true, err);
		}
		if (r < 0)
			return r;
	}
	hi = t->nkeys;
	if (by_id || by_label)
		equal_range(t, by_id ? by_id : by_label, &lo, &hi);
	/* Size the answer by the candidate range, not the whole token. */
	out = calloc(hi > lo ? hi - lo : 1, sizeof(*out));
	if (!out)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	for (size_t k = lo; k < hi; k++) {
		const struct sg_p11_keyent *e = by_id || !by_label ? &t->keys[k] : t->by_label[k];
		bool ok = true;

		for (CK_ULONG i = 0; i < nattrs && ok; i++)
			ok = attr_matches(e, &attrs[i]);
		if (ok)
			out[n++] = e;
	}
	sg_debug("PKCS#11: token '%s': %lu of %zu secret keys match", t->label, (unsigned long)n,
		 t->nkeys);
	*ret = SG_TAKE_PTR(out);
	*ret_n = n;
	return 0;
}

CK_RV
sg_p11_get_ulong(struct sg_p11_token *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE a, CK_ULONG *ret)
{
	CK_ATTRIBUTE at = { a, ret, sizeof(*ret) };

	return t->fl->C_GetAttributeValue(t->session, o, &at, 1);
}

CK_RV
sg_p11_get_bool(struct sg_p11_token *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE a, bool *ret)
{
	CK_BBOOL b = CK_FALSE;
	CK_ATTRIBUTE at = { a, &b, sizeof(b) };
	CK_RV rv = t->fl->C_GetAttributeValue(t->session, o, &at, 1);

	if (rv == CKR_OK)
		*ret = b == CK_TRUE;
	return rv;
}
