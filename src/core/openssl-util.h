/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cleanup helpers for the OpenSSL objects held on the stack (systemd's
 * openssl-util.h), for the files that use OpenSSL directly: core/crypto.c
 * owns the library context; the key back ends and the audit signer hold
 * keys and contexts of their own. Each frees (and so clears) what it holds.
 */
#pragma once

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "util/cleanup.h"

SG_DEFINE_CLEANUP_FUNC_NAMED(sg_evp_md_ctx_freep, EVP_MD_CTX *, EVP_MD_CTX_free)
SG_DEFINE_CLEANUP_FUNC_NAMED(sg_evp_mac_ctx_freep, EVP_MAC_CTX *, EVP_MAC_CTX_free)
SG_DEFINE_CLEANUP_FUNC_NAMED(sg_evp_cipher_ctx_freep, EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free)
SG_DEFINE_CLEANUP_FUNC_NAMED(sg_evp_pkey_freep, EVP_PKEY *, EVP_PKEY_free)
SG_DEFINE_CLEANUP_FUNC_NAMED(sg_evp_pkey_ctx_freep, EVP_PKEY_CTX *, EVP_PKEY_CTX_free)
SG_DEFINE_CLEANUP_FUNC_NAMED(sg_ecdsa_sig_freep, ECDSA_SIG *, ECDSA_SIG_free)
