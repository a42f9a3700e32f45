/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CPU SKU -> CPUID(1).EAX signature, the value KVM/QEMU put in a VMSA's rdx. */
#pragma once

#include <stdint.h>

#include "util/error.h"

/* The reference's formula (spec 4.4); inputs are masked as it masks them. */
uint32_t sg_cpuid_signature(uint32_t family, uint32_t model, uint32_t stepping);

/*
 * Signature (*@ret) of a QEMU CPU model name (EPYC, EPYC-v1..v4, EPYC-IBPB,
 * EPYC-Rome[-vN], EPYC-Milan[-vN], EPYC-Genoa[-vN], EPYC-Turin[-vN]).
 * Returns 0, or reports SG_E_USAGE in @err naming the known models.
 */
SG_NODISCARD int sg_cpuid_lookup(const char *name, uint32_t *ret, struct sg_error *err);

/* Names for --help and error messages: "EPYC, EPYC-Rome, ...". */
const char *sg_cpuid_names(void);
