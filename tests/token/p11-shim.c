/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A PKCS#11 module for fault tests: it forwards every call to the real
 * module named by $SEVGATE_SHIM_MODULE and makes call number
 * $SEVGATE_SHIM_FAIL_AT (counting C_* calls from 1, C_GetFunctionList
 * excluded) return $SEVGATE_SHIM_FAIL_RV (default CKR_DEVICE_ERROR).
 * $SEVGATE_SHIM_FAIL_CALL=C_Sign (say) fails every call of that name
 * instead. $SEVGATE_SHIM_LOG=FILE appends one line per call.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST shim;
static unsigned long ncalls;

static CK_RV
fault(const char *name)
{
	const char *at = getenv("SEVGATE_SHIM_FAIL_AT"), *call = getenv("SEVGATE_SHIM_FAIL_CALL");
	const char *rv = getenv("SEVGATE_SHIM_FAIL_RV"), *log = getenv("SEVGATE_SHIM_LOG");
	CK_RV fail_rv = rv ? strtoul(rv, NULL, 0) : CKR_DEVICE_ERROR;

	ncalls++;
	if (log) {
		FILE *f = fopen(log, "a");

		if (f) {
			fprintf(f, "%lu %s\n", ncalls, name);
			fclose(f);
		}
	}
	if (at && strtoul(at, NULL, 0) == ncalls)
		return fail_rv;
	if (call && !strcmp(call, name))
		return fail_rv;
	return CKR_OK;
}

/* Each wrapper: count, maybe fail, else forward. */
#define WRAP(name, params, args)         \
	static CK_RV shim_##name params  \
	{                                \
		CK_RV rv = fault(#name); \
		if (rv != CKR_OK)        \
			return rv;       \
		return real->name args;  \
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
WRAP(C_Login, (CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d), (a, b, c, d))
WRAP(C_Logout, (CK_SESSION_HANDLE a), (a))
WRAP(C_CreateObject, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE_PTR d),
     (a, b, c, d))
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
		SET(C_Login);
		SET(C_Logout);
		SET(C_CreateObject);
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
