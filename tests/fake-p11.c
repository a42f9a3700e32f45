/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An in-memory PKCS#11 module for the token layer's unit test (test-p11-token): one or two
 * slots, each with a token that needs a login, holding secret keys with a label, an ID and a
 * type. It does no cryptography: C_Verify accepts a MAC whose first byte is 0xAA, C_Sign and
 * C_Encrypt write 0xAA bytes. What a real HSM does to a client, the test makes it do through
 * fake_p11_ctl (looked up with dlsym on the same loaded library):
 *   reset      every session closed, the login lost, every object handle renumbered
 *   renumber   every object handle renumbered, sessions kept
 *   swap-slots the two tokens change slots (sessions closed, as an HSM restart may)
 *   twins      both tokens say they are fake0 (label and serial), as a copied token does
 *   weak       the key NAME becomes extractable and not sensitive
 *   fail       the next TIMES calls named NAME return RV
 *   add/remove keys while the client runs (another process importing or deleting)
 *   cant-lock  C_Initialize with CKF_OS_LOCKING_OK returns CKR_CANT_LOCK
 * and counts the calls, and the most calls it ever saw in progress at once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define MAX_KEYS 4096
#define MAX_SESSIONS 64
#define NSLOTS 2

struct key {
	bool used;
	CK_OBJECT_HANDLE handle;
	unsigned slot;
	char label[64];
	unsigned char id[16];
	CK_ULONG id_len;
	CK_KEY_TYPE type;
	bool weak;
};

struct session {
	bool open;
	unsigned slot; /* the token it is on */
	CK_SLOT_ID slot_id;
	/* the current search */
	bool finding;
	CK_ATTRIBUTE tmpl[8];
	unsigned char tmplbuf[8][64];
	CK_ULONG ntmpl, next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct key keys[MAX_KEYS];
static struct session sessions[MAX_SESSIONS];
static CK_OBJECT_HANDLE next_handle = 100;
static bool logged_in[NSLOTS];
static bool cant_lock, twins;
static unsigned slot_token[NSLOTS] = { 0, 1 }; /* which token each slot holds */
static char fail_name[32];
static CK_RV fail_rv;
static int fail_times;
static unsigned long ncalls[64];
static const char *call_names[64];
static atomic_int in_call, max_in_call;

static void
enter(void)
{
	int now = atomic_fetch_add(&in_call, 1) + 1, seen = atomic_load(&max_in_call);

	while (now > seen && !atomic_compare_exchange_weak(&max_in_call, &seen, now))
		;
	usleep(200); /* long enough for another thread to come in, if the client lets it */
}

static void
leave(void)
{
	atomic_fetch_sub(&in_call, 1);
}

/* Count @name; the failure the test asked for, or CKR_OK. Under lock. */
static CK_RV
count(const char *name)
{
	for (size_t i = 0; i < 64; i++) {
		if (!call_names[i])
			call_names[i] = name;
		if (!strcmp(call_names[i], name)) {
			ncalls[i]++;
			break;
		}
	}
	if (fail_times > 0 && !strcmp(fail_name, name)) {
		fail_times--;
		return fail_rv;
	}
	return CKR_OK;
}

#define BEGIN(name)                          \
	CK_RV rv_;                           \
	enter();                             \
	pthread_mutex_lock(&lock);           \
	if ((rv_ = count(name)) != CKR_OK) { \
		pthread_mutex_unlock(&lock); \
		leave();                     \
		return rv_;                  \
	}
#define END(rv)                              \
	do {                                 \
		rv_ = (rv);                  \
		pthread_mutex_unlock(&lock); \
		leave();                     \
		return rv_;                  \
	} while (0)

static struct session *
session_of(CK_SESSION_HANDLE h)
{
	if (h < 1 || h > MAX_SESSIONS || !sessions[h - 1].open)
		return NULL;
	return &sessions[h - 1];
}

static struct key *
key_of(struct session *s, CK_OBJECT_HANDLE h)
{
	for (size_t i = 0; i < MAX_KEYS; i++)
		if (keys[i].used && keys[i].handle == h && keys[i].slot == s->slot)
			return &keys[i];
	return NULL;
}

/* ---- the control interface ---- */

void fake_p11_ctl(const char *what, const char *name, unsigned long arg, int times);
unsigned long fake_p11_calls(const char *name);
int fake_p11_max_concurrent(void);

void
fake_p11_ctl(const char *what, const char *name, unsigned long arg, int times)
{
	pthread_mutex_lock(&lock);
	if (!strcmp(what, "reset")) {
		for (size_t i = 0; i < MAX_SESSIONS; i++)
			sessions[i].open = false;
		memset(logged_in, 0, sizeof(logged_in));
		for (size_t i = 0; i < MAX_KEYS; i++)
			if (keys[i].used)
				keys[i].handle = next_handle++;
	} else if (!strcmp(what, "renumber")) {
		for (size_t i = 0; i < MAX_KEYS; i++)
			if (keys[i].used)
				keys[i].handle = next_handle++;
	} else if (!strcmp(what, "swap-slots")) {
		for (size_t i = 0; i < MAX_SESSIONS; i++)
			sessions[i].open = false;
		memset(logged_in, 0, sizeof(logged_in));
		slot_token[0] ^= 1;
		slot_token[1] ^= 1;
	} else if (!strcmp(what, "twins")) {
		twins = arg != 0;
	} else if (!strcmp(what, "weak")) {
		for (size_t i = 0; i < MAX_KEYS; i++)
			if (keys[i].used && !strcmp(keys[i].label, name))
				keys[i].weak = true;
	} else if (!strcmp(what, "fail")) {
		snprintf(fail_name, sizeof(fail_name), "%s", name);
		fail_rv = arg;
		fail_times = times;
	} else if (!strcmp(what, "add") || !strcmp(what, "add-aes")) {
		/* name = label; arg = the ID's first byte; times = the slot */
		for (size_t i = 0; i < MAX_KEYS; i++)
			if (!keys[i].used) {
				keys[i] = (struct key){ .used = true,
							.handle = next_handle++,
							.slot = (unsigned)times,
							.id_len = 16,
							.type = what[3] ? CKK_AES :
									  CKK_GENERIC_SECRET };
				snprintf(keys[i].label, sizeof(keys[i].label), "%s", name);
				keys[i].id[0] = (unsigned char)arg;
				keys[i].id[1] = (unsigned char)(arg >> 8);
				break;
			}
	} else if (!strcmp(what, "remove")) {
		for (size_t i = 0; i < MAX_KEYS; i++)
			if (keys[i].used && !strcmp(keys[i].label, name))
				keys[i].used = false;
	} else if (!strcmp(what, "cant-lock")) {
		cant_lock = arg != 0;
	} else if (!strcmp(what, "clear")) {
		memset(keys, 0, sizeof(keys));
		memset(ncalls, 0, sizeof(ncalls));
		slot_token[0] = 0;
		slot_token[1] = 1;
		twins = false;
		fail_times = 0;
		atomic_store(&max_in_call, 0);
	}
	pthread_mutex_unlock(&lock);
}

unsigned long
fake_p11_calls(const char *name)
{
	unsigned long n = 0;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < 64 && call_names[i]; i++)
		if (!strcmp(call_names[i], name))
			n = ncalls[i];
	pthread_mutex_unlock(&lock);
	return n;
}

int
fake_p11_max_concurrent(void)
{
	return atomic_load(&max_in_call);
}

/* ---- PKCS#11 ---- */

static void
pad(unsigned char *out, size_t n, const char *s)
{
	memset(out, ' ', n);
	memcpy(out, s, strlen(s) < n ? strlen(s) : n);
}

static CK_RV
f_Initialize(CK_VOID_PTR a)
{
	CK_C_INITIALIZE_ARGS *args = a;

	BEGIN("C_Initialize");
	if (args && (args->flags & CKF_OS_LOCKING_OK) && cant_lock)
		END(CKR_CANT_LOCK);
	END(CKR_OK);
}

static CK_RV
f_Finalize(CK_VOID_PTR a)
{
	(void)a;
	BEGIN("C_Finalize");
	END(CKR_OK);
}

static CK_RV
f_GetInfo(CK_INFO_PTR i)
{
	BEGIN("C_GetInfo");
	memset(i, 0, sizeof(*i));
	i->cryptokiVersion.major = 2;
	i->cryptokiVersion.minor = 40;
	pad(i->manufacturerID, sizeof(i->manufacturerID), "sevgate tests");
	pad(i->libraryDescription, sizeof(i->libraryDescription), "fake token");
	END(CKR_OK);
}

static CK_RV
f_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR n)
{
	(void)present;
	BEGIN("C_GetSlotList");
	if (list && *n < NSLOTS) {
		*n = NSLOTS;
		END(CKR_BUFFER_TOO_SMALL);
	}
	if (list)
		for (CK_SLOT_ID s = 0; s < NSLOTS; s++)
			list[s] = s + 1;
	*n = NSLOTS;
	END(CKR_OK);
}

static CK_RV
f_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR si)
{
	BEGIN("C_GetSlotInfo");
	if (slot < 1 || slot > NSLOTS)
		END(CKR_SLOT_ID_INVALID);
	memset(si, 0, sizeof(*si));
	pad(si->slotDescription, sizeof(si->slotDescription), "fake slot");
	pad(si->manufacturerID, sizeof(si->manufacturerID), "sevgate tests");
	si->flags = CKF_TOKEN_PRESENT;
	END(CKR_OK);
}

static CK_RV
f_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR ti)
{
	char label[8];

	BEGIN("C_GetTokenInfo");
	if (slot < 1 || slot > NSLOTS)
		END(CKR_SLOT_ID_INVALID);
	memset(ti, 0, sizeof(*ti));
	snprintf(label, sizeof(label), "fake%u", twins ? 0 : slot_token[slot - 1]);
	pad(ti->label, sizeof(ti->label), label);
	pad(ti->manufacturerID, sizeof(ti->manufacturerID), "sevgate tests");
	pad(ti->model, sizeof(ti->model), "fake");
	pad(ti->serialNumber, sizeof(ti->serialNumber), label);
	ti->flags = CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED;
	END(CKR_OK);
}

static CK_RV
f_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE m, CK_MECHANISM_INFO_PTR mi)
{
	(void)slot;
	(void)m;
	BEGIN("C_GetMechanismInfo");
	memset(mi, 0, sizeof(*mi));
	mi->ulMinKeySize = 16;
	mi->ulMaxKeySize = 64;
	END(CKR_OK);
}

static CK_RV
f_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
	      CK_SESSION_HANDLE_PTR ret)
{
	(void)flags;
	(void)app;
	(void)notify;
	BEGIN("C_OpenSession");
	if (slot < 1 || slot > NSLOTS)
		END(CKR_SLOT_ID_INVALID);
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		if (!sessions[i].open) {
			memset(&sessions[i], 0, sizeof(sessions[i]));
			sessions[i].open = true;
			sessions[i].slot = slot_token[slot - 1];
			sessions[i].slot_id = slot;
			*ret = i + 1;
			END(CKR_OK);
		}
	END(CKR_SESSION_COUNT);
}

static CK_RV
f_CloseSession(CK_SESSION_HANDLE h)
{
	struct session *s;
	bool any = false;

	BEGIN("C_CloseSession");
	if (!(s = session_of(h)))
		END(CKR_SESSION_HANDLE_INVALID);
	s->open = false;
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		any |= sessions[i].open && sessions[i].slot == s->slot;
	if (!any)
		logged_in[s->slot] = false; /* the last session closed logs the token out */
	END(CKR_OK);
}

static CK_RV
f_Login(CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	struct session *s;

	(void)u;
	BEGIN("C_Login");
	if (!(s = session_of(h)))
		END(CKR_SESSION_HANDLE_INVALID);
	if (len != 4 || memcmp(pin, "1234", 4))
		END(CKR_PIN_INCORRECT);
	if (logged_in[s->slot])
		END(CKR_USER_ALREADY_LOGGED_IN);
	logged_in[s->slot] = true;
	END(CKR_OK);
}

static CK_RV
f_Logout(CK_SESSION_HANDLE h)
{
	struct session *s;

	BEGIN("C_Logout");
	if (!(s = session_of(h)))
		END(CKR_SESSION_HANDLE_INVALID);
	logged_in[s->slot] = false;
	END(CKR_OK);
}

/* Under lock: the session, or the reason there is none to use for keys. */
static CK_RV
usable(CK_SESSION_HANDLE h, struct session **ret)
{
	if (!(*ret = session_of(h)))
		return CKR_SESSION_HANDLE_INVALID;
	if (!logged_in[(*ret)->slot])
		return CKR_USER_NOT_LOGGED_IN;
	return CKR_OK;
}

static bool
matches(const struct key *k, const struct session *s)
{
	for (CK_ULONG i = 0; i < s->ntmpl; i++) {
		const CK_ATTRIBUTE *a = &s->tmpl[i];

		switch (a->type) {
		case CKA_CLASS:
			if (*(CK_OBJECT_CLASS *)a->pValue != CKO_SECRET_KEY)
				return false;
			break;
		case CKA_LABEL:
			if (a->ulValueLen != strlen(k->label) ||
			    memcmp(a->pValue, k->label, a->ulValueLen))
				return false;
			break;
		case CKA_ID:
			if (a->ulValueLen != k->id_len || memcmp(a->pValue, k->id, k->id_len))
				return false;
			break;
		case CKA_KEY_TYPE:
			if (*(CK_KEY_TYPE *)a->pValue != k->type)
				return false;
			break;
		default: return false;
		}
	}
	return true;
}

static CK_RV
f_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	struct session *s;
	CK_RV rv;

	BEGIN("C_FindObjectsInit");
	if ((rv = usable(h, &s)) != CKR_OK)
		END(rv);
	if (n > 8)
		END(CKR_TEMPLATE_INCONSISTENT);
	for (CK_ULONG i = 0; i < n; i++) {
		if (t[i].ulValueLen > 64)
			END(CKR_ATTRIBUTE_VALUE_INVALID);
		s->tmpl[i] = t[i];
		memcpy(s->tmplbuf[i], t[i].pValue, t[i].ulValueLen);
		s->tmpl[i].pValue = s->tmplbuf[i];
	}
	s->ntmpl = n;
	s->next = 0;
	s->finding = true;
	END(CKR_OK);
}

static CK_RV
f_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR got)
{
	struct session *s;
	CK_RV rv;

	BEGIN("C_FindObjects");
	if ((rv = usable(h, &s)) != CKR_OK)
		END(rv);
	*got = 0;
	for (; s->next < MAX_KEYS && *got < max; s->next++)
		if (keys[s->next].used && keys[s->next].slot == s->slot &&
		    matches(&keys[s->next], s))
			out[(*got)++] = keys[s->next].handle;
	END(CKR_OK);
}

static CK_RV
f_FindObjectsFinal(CK_SESSION_HANDLE h)
{
	struct session *s;

	BEGIN("C_FindObjectsFinal");
	if (!(s = session_of(h)))
		END(CKR_SESSION_HANDLE_INVALID);
	s->finding = false;
	END(CKR_OK);
}

static CK_RV
put(CK_ATTRIBUTE *a, const void *v, CK_ULONG len)
{
	CK_ULONG want = len;

	if (!a->pValue) {
		a->ulValueLen = want;
		return CKR_OK;
	}
	if (a->ulValueLen < want) {
		a->ulValueLen = (CK_ULONG)-1;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(a->pValue, v, len);
	a->ulValueLen = len;
	return CKR_OK;
}

static CK_RV
f_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	struct session *s;
	struct key *k;
	CK_RV rv, out = CKR_OK;

	BEGIN("C_GetAttributeValue");
	if ((rv = usable(h, &s)) != CKR_OK)
		END(rv);
	if (!(k = key_of(s, o)))
		END(CKR_OBJECT_HANDLE_INVALID);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_ULONG vlen = 16;

		switch (t[i].type) {
		case CKA_LABEL: rv = put(&t[i], k->label, strlen(k->label)); break;
		case CKA_ID: rv = put(&t[i], k->id, k->id_len); break;
		case CKA_KEY_TYPE: rv = put(&t[i], &k->type, sizeof(k->type)); break;
		case CKA_VALUE_LEN: rv = put(&t[i], &vlen, sizeof(vlen)); break;
		case CKA_SENSITIVE: rv = put(&t[i], k->weak ? &no : &yes, sizeof(yes)); break;
		case CKA_EXTRACTABLE: rv = put(&t[i], k->weak ? &yes : &no, sizeof(no)); break;
		case CKA_PRIVATE: rv = put(&t[i], &yes, sizeof(yes)); break;
		default: t[i].ulValueLen = (CK_ULONG)-1; rv = CKR_ATTRIBUTE_TYPE_INVALID;
		}
		if (rv != CKR_OK)
			out = rv;
	}
	END(out);
}

static CK_RV
f_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
	struct session *s;
	struct key *k;
	CK_RV rv;

	BEGIN("C_DestroyObject");
	if ((rv = usable(h, &s)) != CKR_OK)
		END(rv);
	if (!(k = key_of(s, o)))
		END(CKR_OBJECT_HANDLE_INVALID);
	k->used = false;
	END(CKR_OK);
}

/* One-part operations on a key: the session and key must be valid, nothing else is checked. */
static CK_RV
key_op(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
	struct session *s;
	CK_RV rv;

	if ((rv = usable(h, &s)) != CKR_OK)
		return rv;
	return key_of(s, o) ? CKR_OK : CKR_KEY_HANDLE_INVALID;
}

static CK_SESSION_HANDLE op_key[MAX_SESSIONS + 1];

static CK_RV
f_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE o)
{
	CK_RV rv;

	(void)m;
	BEGIN("C_VerifyInit");
	if ((rv = key_op(h, o)) == CKR_OK)
		op_key[h] = o;
	END(rv);
}

static CK_RV
f_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR sig, CK_ULONG sl)
{
	struct session *s;
	CK_RV rv;

	(void)d;
	(void)dl;
	BEGIN("C_Verify");
	if ((rv = usable(h, &s)) != CKR_OK)
		END(rv);
	END(sl == 32 && sig[0] == 0xAA ? CKR_OK : CKR_SIGNATURE_INVALID);
}

static CK_RV
f_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE o)
{
	(void)m;
	BEGIN("C_SignInit");
	END(key_op(h, o));
}

static CK_RV
f_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl)
{
	struct session *s;

	(void)d;
	(void)dl;
	BEGIN("C_SignUpdate");
	END(usable(h, &s));
}

static CK_RV
f_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR len)
{
	struct session *s;
	CK_RV rv;

	BEGIN("C_SignFinal");
	if ((rv = usable(h, &s)) != CKR_OK)
		END(rv);
	memset(out, 0xAA, 32);
	*len = 32;
	END(CKR_OK);
}

static CK_RV
f_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE o)
{
	(void)m;
	BEGIN("C_EncryptInit");
	END(key_op(h, o));
}

static CK_RV
f_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG len, CK_BYTE_PTR out, CK_ULONG_PTR olen)
{
	struct session *s;
	CK_RV rv;

	(void)in;
	BEGIN("C_Encrypt");
	if ((rv = usable(h, &s)) != CKR_OK)
		END(rv);
	memset(out, 0xAA, len);
	*olen = len;
	END(CKR_OK);
}

static CK_RV
f_CloseAllSessions(CK_SLOT_ID slot)
{
	BEGIN("C_CloseAllSessions");
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].slot_id == slot)
			sessions[i].open = false;
	if (slot >= 1 && slot <= NSLOTS)
		logged_in[slot_token[slot - 1]] = false;
	END(CKR_OK);
}

static CK_RV
f_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
	struct session *s;

	BEGIN("C_GetSessionInfo");
	if (!(s = session_of(h)))
		END(CKR_SESSION_HANDLE_INVALID);
	memset(info, 0, sizeof(*info));
	info->slotID = s->slot_id;
	info->flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
	END(CKR_OK);
}

static CK_FUNCTION_LIST functions;

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret)
{
	functions.version.major = 2;
	functions.version.minor = 40;
	functions.C_Initialize = f_Initialize;
	functions.C_Finalize = f_Finalize;
	functions.C_GetInfo = f_GetInfo;
	functions.C_GetFunctionList = C_GetFunctionList;
	functions.C_GetSlotList = f_GetSlotList;
	functions.C_GetSlotInfo = f_GetSlotInfo;
	functions.C_GetTokenInfo = f_GetTokenInfo;
	functions.C_GetMechanismInfo = f_GetMechanismInfo;
	functions.C_OpenSession = f_OpenSession;
	functions.C_CloseSession = f_CloseSession;
	functions.C_CloseAllSessions = f_CloseAllSessions;
	functions.C_GetSessionInfo = f_GetSessionInfo;
	functions.C_Login = f_Login;
	functions.C_Logout = f_Logout;
	functions.C_GetAttributeValue = f_GetAttributeValue;
	functions.C_DestroyObject = f_DestroyObject;
	functions.C_FindObjectsInit = f_FindObjectsInit;
	functions.C_FindObjects = f_FindObjects;
	functions.C_FindObjectsFinal = f_FindObjectsFinal;
	functions.C_VerifyInit = f_VerifyInit;
	functions.C_Verify = f_Verify;
	functions.C_SignInit = f_SignInit;
	functions.C_SignUpdate = f_SignUpdate;
	functions.C_SignFinal = f_SignFinal;
	functions.C_EncryptInit = f_EncryptInit;
	functions.C_Encrypt = f_Encrypt;
	*ret = &functions;
	return CKR_OK;
}
