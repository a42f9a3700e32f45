/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The initial SEV-ES VMSA page of a vCPU as KVM and QEMU set it up (spec
 * 4), in two named profiles, since the kernel's VM type decides the FPU
 * fields and silently changes the measurement.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

#define SG_VMSA_SIZE 4096

/* Offsets of the fields the builder sets or the tools print. */
#define SG_VMSA_OFF_CS 0x010
#define SG_VMSA_OFF_EFER 0x0d0
#define SG_VMSA_OFF_RIP 0x178
#define SG_VMSA_OFF_RDX 0x310
#define SG_VMSA_OFF_SEV_FEATURES 0x3b0
#define SG_VMSA_OFF_MXCSR 0x408
#define SG_VMSA_OFF_X87_FCW 0x410

enum sg_vmsa_profile {
	/* KVM_SEV_ES_INIT: no FPU state (the reference's, sevctl's; the default). */
	SG_VMSA_PROFILE_LEGACY = 0,
	/* KVM_SEV_INIT2: MXCSR 0x1f80 and x87 FCW 0x37f (Linux >= 6.10 with QEMU 9.0, or legacy-vm-type=off). */
	SG_VMSA_PROFILE_INIT2 = 1,
};

struct sg_vmsa_params {
	uint32_t cpu_sig; /* CPUID(1).EAX of the guest CPU (rdx) */
	enum sg_vmsa_profile profile;
	uint64_t sev_features; /* 0x3b0; 0x20 = DebugSwap */
};

/*
 * Parse "legacy"/"nofpu" or "init2"/"fpu" into *@ret: 0, or reports
 * SG_E_USAGE in @err naming the profiles.
 */
SG_NODISCARD int
sg_vmsa_profile_parse(const char *s, enum sg_vmsa_profile *ret, struct sg_error *err);
/* The profile's name ("legacy", "init2"), static. */
const char *sg_vmsa_profile_name(enum sg_vmsa_profile p);

/* The boot CPU's page: CS.base 0xffff0000, RIP 0xfff0. */
void sg_vmsa_build_bsp(const struct sg_vmsa_params *p, uint8_t page[SG_VMSA_SIZE]);
/* An AP's page: CS.base and RIP from the OVMF SEV-ES reset address. */
void
sg_vmsa_build_ap(const struct sg_vmsa_params *p, uint32_t reset_addr, uint8_t page[SG_VMSA_SIZE]);

/* Field table for decoding a page ("vmsa show"). */
enum sg_vmsa_field_kind {
	SG_VMSA_SEGMENT,
	SG_VMSA_U64,
	SG_VMSA_U32,
	SG_VMSA_U16,
	SG_VMSA_U8
};

struct sg_vmsa_field {
	const char *name;
	uint16_t offset;
	enum sg_vmsa_field_kind kind;
};

extern const struct sg_vmsa_field sg_vmsa_fields[];
extern const unsigned sg_vmsa_nfields;
