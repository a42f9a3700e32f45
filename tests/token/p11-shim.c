/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A PKCS#11 module for fault tests: it forwards every call to the real
 * module named by $SEVGATE_SHIM_MODULE and can make calls fail instead:
 *   SEVGATE_SHIM_FAIL_AT=N      call number N (counting C_* calls from 1,
 *                               C_GetFunctionList excluded) fails;
 *   SEVGATE_SHIM_FAIL_CALL=C_X  every call of that name fails; with
 *                               SEVGATE_SHIM_FAIL_TIMES=T only T of them, and
 *                               with SEVGATE_SHIM_FAIL_AT=N too, the T calls
 *                               of that name from its Nth on (N counts calls
 *                               of that name then); the others are forwarded;
 *   SEVGATE_SHIM_FAIL_RV=V      what a failed call returns (default
 *                               CKR_DEVICE_ERROR).
 * $SEVGATE_SHIM_EXEC=COMMAND runs COMMAND (sh -c, waited for) just before
 * the Nth call of name $SEVGATE_SHIM_EXEC_CALL (N = $SEVGATE_SHIM_EXEC_AT,
 * default 1) goes on: what another process does to the token at a known
 * point of a run (a key imported, the token directory swapped); what COMMAND
 * starts in the background happens while the run goes on.
 * $SEVGATE_SHIM_LOG=FILE appends one line per call, "N C_X RV" (RV in hex,
 * then "injected" for a failure made here), so a test sees what the real
 * module answered. Calls may come from many threads at once: the counters
 * are atomic, and each line is one append.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST shim;
static atomic_ulong ncalls; /* every C_* call */
static atomic_ulong nnamed; /* calls of $SEVGATE_SHIM_FAIL_CALL */
static atomic_ulong nexec;  /* calls of $SEVGATE_SHIM_EXEC_CALL */

/* The fault plan, read once from the environment when the module is loaded. */
static struct {
	unsigned long at, times;
	bool have_at, have_times;
	const char *call, *log;
	CK_RV rv;
	const char *exec, *exec_call;
	unsigned long exec_at;
} plan;

static void
plan_read(void)
{
	const char *at = getenv("SEVGATE_SHIM_FAIL_AT"), *times = getenv("SEVGATE_SHIM_FAIL_TIMES");
	const char *rv = getenv("SEVGATE_SHIM_FAIL_RV");

	plan.have_at = at != NULL;
	plan.at = at ? strtoul(at, NULL, 0) : 0;
	plan.have_times = times != NULL;
	plan.times = times ? strtoul(times, NULL, 0) : 0;
	plan.call = getenv("SEVGATE_SHIM_FAIL_CALL");
	plan.log = getenv("SEVGATE_SHIM_LOG");
	plan.rv = rv ? strtoul(rv, NULL, 0) : CKR_DEVICE_ERROR;
	plan.exec = getenv("SEVGATE_SHIM_EXEC");
	plan.exec_call = getenv("SEVGATE_SHIM_EXEC_CALL");
	plan.exec_at = getenv("SEVGATE_SHIM_EXEC_AT") ?
			       strtoul(getenv("SEVGATE_SHIM_EXEC_AT"), NULL, 0) :
			       1;
}

/* Whether this call fails here; *ret_n is its number among all calls. */
static bool
inject(const char *name, unsigned long *ret_n)
{
	unsigned long n = atomic_fetch_add(&ncalls, 1) + 1, k, first;

	*ret_n = n;
	if (!plan.call)
		return plan.have_at && plan.at == n;
	if (strcmp(plan.call, name))
		return false;
	k = atomic_fetch_add(&nnamed, 1) + 1;
	if (!plan.have_at && !plan.have_times)
		return true;
	first = plan.have_at ? plan.at : 1;
	return k >= first && (!plan.have_times || k - first < plan.times);
}

static void
log_call(unsigned long n, const char *name, CK_RV rv, bool injected)
{
	FILE *f;

	if (!plan.log || !(f = fopen(plan.log, "a")))
		return;
	/* One buffered line, written by fclose in one append. */
	fprintf(f, "%lu %s 0x%lx%s\n", n, name, (unsigned long)rv, injected ? " injected" : "");
	fclose(f);
}

static void
maybe_exec(const char *name)
{
	FILE *f;
	int st;

	if (!plan.exec || !plan.exec_call || strcmp(plan.exec_call, name) ||
	    atomic_fetch_add(&nexec, 1) + 1 != plan.exec_at)
		return;
	st = system(plan.exec);
	if (plan.log && (f = fopen(plan.log, "a"))) {
		fprintf(f, "- exec before %s #%lu: status %d\n", name, plan.exec_at, st);
		fclose(f);
	}
}

/* Each wrapper: count, maybe fail, else forward; then log the answer. */
#define WRAP(name, params, args)                                 \
	static CK_RV shim_##name params                          \
	{                                                        \
		unsigned long n;                                 \
		bool injected;                                   \
		maybe_exec(#name);                               \
		injected = inject(#name, &n);                    \
		CK_RV rv = injected ? plan.rv : real->name args; \
		log_call(n, #name, rv, injected);                \
		return rv;                                       \
	}

WRAP(C_Initialize, (CK_VOID_PTR a), (a))
WRAP(C_Finalize, (CK_VOID_PTR a), (a))
WRAP(C_GetInfo, (CK_INFO_PTR a), (a))
WRAP(C_GetSlotList, (CK_BBOOL a, CK_SLOT_ID_PTR b, CK_ULONG_PTR c), (a, b, c))
WRAP(C_GetSlotInfo, (CK_SLOT_ID a, CK_SLOT_INFO_PTR b), (a, b))
WRAP(C_GetTokenInfo, (CK_SLOT_ID a, CK_TOKEN_INFO_PTR b), (a, b))
WRAP(C_GetMechanismInfo, (CK_SLOT_ID a, CK_MECHANISM_TYPE b, CK_MECHANISM_INFO_PTR c), (a, b, c))
WRAP(C_OpenSession, (CK_SLOT_ID a, CK_FLAGS b, CK_VOID_PTR c, CK_NOTIFY d, CK_SESSION_HANDLE_PTR e),
     (a, b, c, d, e))
WRAP(C_CloseSession, (CK_SESSION_HANDLE a), (a))
WRAP(C_CloseAllSessions, (CK_SLOT_ID a), (a))
WRAP(C_GetSessionInfo, (CK_SESSION_HANDLE a, CK_SESSION_INFO_PTR b), (a, b))
WRAP(C_Login, (CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d), (a, b, c, d))
WRAP(C_Logout, (CK_SESSION_HANDLE a), (a))
WRAP(C_CreateObject, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE_PTR d),
     (a, b, c, d))
WRAP(C_CopyObject,
     (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
      CK_OBJECT_HANDLE_PTR e),
     (a, b, c, d, e))
WRAP(C_DestroyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b))
WRAP(C_GetAttributeValue, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d),
     (a, b, c, d))
WRAP(C_FindObjectsInit, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c), (a, b, c))
WRAP(C_FindObjects, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c, CK_ULONG_PTR d),
     (a, b, c, d))
WRAP(C_FindObjectsFinal, (CK_SESSION_HANDLE a), (a))
WRAP(C_EncryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c))
WRAP(C_Encrypt, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),
     (a, b, c, d, e))
WRAP(C_SignInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c))
WRAP(C_Sign, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),
     (a, b, c, d, e))
WRAP(C_SignUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))
WRAP(C_SignFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c))
WRAP(C_VerifyInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c))
WRAP(C_Verify, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG e),
     (a, b, c, d, e))
WRAP(C_VerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))
WRAP(C_VerifyFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	if (!real) {
		const char *path = getenv("SEVGATE_SHIM_MODULE");
		CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
		void *h;

		if (!path || !(h = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
			return CKR_GENERAL_ERROR;
		get = (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(h, "C_GetFunctionList");
		if (!get || get(&real) != CKR_OK)
			return CKR_GENERAL_ERROR;
		plan_read();
		/* Start from the real table so calls we do not wrap still work. */
		shim = *real;
#define SET(name) shim.name = shim_##name
		SET(C_Initialize);
		SET(C_Finalize);
		SET(C_GetInfo);
		SET(C_GetSlotList);
		SET(C_GetSlotInfo);
		SET(C_GetTokenInfo);
		SET(C_GetMechanismInfo);
		SET(C_OpenSession);
		SET(C_CloseSession);
		SET(C_CloseAllSessions);
		SET(C_GetSessionInfo);
		SET(C_Login);
		SET(C_Logout);
		SET(C_CreateObject);
		SET(C_CopyObject);
		SET(C_DestroyObject);
		SET(C_GetAttributeValue);
		SET(C_FindObjectsInit);
		SET(C_FindObjects);
		SET(C_FindObjectsFinal);
		SET(C_EncryptInit);
		SET(C_Encrypt);
		SET(C_SignInit);
		SET(C_Sign);
		SET(C_SignUpdate);
		SET(C_SignFinal);
		SET(C_VerifyInit);
		SET(C_Verify);
		SET(C_VerifyUpdate);
		SET(C_VerifyFinal);
#undef SET
	}
	*list = &shim;
	return CKR_OK;
}
