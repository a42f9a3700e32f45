/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vmsa.h"

#include <string.h>

#include "util/cursor.h"

/* Segment records: selector u16, attrib u16, limit u32, base u64. */
enum {
	SEG_ES = 0x000,
	SEG_CS = 0x010,
	SEG_SS = 0x020,
	SEG_DS = 0x030,
	SEG_FS = 0x040,
	SEG_GS = 0x050,
	SEG_GDTR = 0x060,
	SEG_LDTR = 0x070,
	SEG_IDTR = 0x080,
	SEG_TR = 0x090
};

static void
put_seg(uint8_t *page, unsigned off, uint16_t sel, uint16_t attrib, uint32_t limit, uint64_t base)
{
	sg_put_u16le(page + off, sel);
	sg_put_u16le(page + off + 2, attrib);
	sg_put_u32le(page + off + 4, limit);
	sg_put_u64le(page + off + 8, base);
}

int
sg_vmsa_profile_parse(const char *s, enum sg_vmsa_profile *ret, struct sg_error *err)
{
	if (!strcmp(s, "legacy") || !strcmp(s, "nofpu")) {
		*ret = SG_VMSA_PROFILE_LEGACY;
		return 0;
	}
	if (!strcmp(s, "init2") || !strcmp(s, "fpu")) {
		*ret = SG_VMSA_PROFILE_INIT2;
		return 0;
	}
	return sg_error_set(err, SG_E_USAGE,
			    "unknown VMSA profile '%s' (use legacy|nofpu or init2|fpu)", s);
}

const char *
sg_vmsa_profile_name(enum sg_vmsa_profile p)
{
	return p == SG_VMSA_PROFILE_INIT2 ? "init2" : "legacy";
}

static void
build(const struct sg_vmsa_params *p, uint64_t cs_base, uint64_t rip, uint8_t page[SG_VMSA_SIZE])
{
	memset(page, 0, SG_VMSA_SIZE);
	/*
	 * Three layers, the later one winning: the APM's state after INIT,
	 * then KVM (cr4, efer, system segments, g_pat), then QEMU's
	 * x86_cpu_reset (segment attributes; TR as a busy 32-bit TSS).
	 */
	put_seg(page, SEG_ES, 0, 0x93, 0xffff, 0);
	put_seg(page, SEG_CS, 0xf000, 0x9b, 0xffff, cs_base);
	put_seg(page, SEG_SS, 0, 0x93, 0xffff, 0);
	put_seg(page, SEG_DS, 0, 0x93, 0xffff, 0);
	put_seg(page, SEG_FS, 0, 0x93, 0xffff, 0);
	put_seg(page, SEG_GS, 0, 0x93, 0xffff, 0);
	put_seg(page, SEG_GDTR, 0, 0, 0xffff, 0);
	put_seg(page, SEG_LDTR, 0, 0x82, 0xffff, 0);
	put_seg(page, SEG_IDTR, 0, 0, 0xffff, 0);
	put_seg(page, SEG_TR, 0, 0x8b, 0xffff, 0);
	sg_put_u64le(page + 0x0d0, 0x1000);	/* efer: SVME */
	sg_put_u64le(page + 0x148, 0x40);	/* cr4: MCE */
	sg_put_u64le(page + 0x158, 0x10);	/* cr0: ET */
	sg_put_u64le(page + 0x160, 0x400);	/* dr7 */
	sg_put_u64le(page + 0x168, 0xffff0ff0); /* dr6 */
	sg_put_u64le(page + 0x170, 0x2);	/* rflags */
	sg_put_u64le(page + SG_VMSA_OFF_RIP, rip);
	sg_put_u64le(page + 0x268, 0x0007040600070406ull); /* g_pat */
	sg_put_u64le(page + SG_VMSA_OFF_RDX, p->cpu_sig);
	sg_put_u64le(page + SG_VMSA_OFF_SEV_FEATURES, p->sev_features);
	sg_put_u64le(page + 0x3e8, 0x1); /* xcr0 */
	if (p->profile == SG_VMSA_PROFILE_INIT2) {
		sg_put_u32le(page + SG_VMSA_OFF_MXCSR, 0x1f80);
		sg_put_u16le(page + SG_VMSA_OFF_X87_FCW, 0x37f);
	}
}

void
sg_vmsa_build_bsp(const struct sg_vmsa_params *p, uint8_t page[SG_VMSA_SIZE])
{
	build(p, 0xffff0000, 0xfff0, page);
}

void
sg_vmsa_build_ap(const struct sg_vmsa_params *p, uint32_t reset_addr, uint8_t page[SG_VMSA_SIZE])
{
	build(p, reset_addr & 0xffff0000u, reset_addr & 0xffffu, page);
}

const struct sg_vmsa_field sg_vmsa_fields[] = {
	{ "es", 0x000, SG_VMSA_SEGMENT },
	{ "cs", 0x010, SG_VMSA_SEGMENT },
	{ "ss", 0x020, SG_VMSA_SEGMENT },
	{ "ds", 0x030, SG_VMSA_SEGMENT },
	{ "fs", 0x040, SG_VMSA_SEGMENT },
	{ "gs", 0x050, SG_VMSA_SEGMENT },
	{ "gdtr", 0x060, SG_VMSA_SEGMENT },
	{ "ldtr", 0x070, SG_VMSA_SEGMENT },
	{ "idtr", 0x080, SG_VMSA_SEGMENT },
	{ "tr", 0x090, SG_VMSA_SEGMENT },
	{ "cpl", 0x0cb, SG_VMSA_U8 },
	{ "efer", 0x0d0, SG_VMSA_U64 },
	{ "xss", 0x140, SG_VMSA_U64 },
	{ "cr4", 0x148, SG_VMSA_U64 },
	{ "cr3", 0x150, SG_VMSA_U64 },
	{ "cr0", 0x158, SG_VMSA_U64 },
	{ "dr7", 0x160, SG_VMSA_U64 },
	{ "dr6", 0x168, SG_VMSA_U64 },
	{ "rflags", 0x170, SG_VMSA_U64 },
	{ "rip", 0x178, SG_VMSA_U64 },
	{ "rsp", 0x1d8, SG_VMSA_U64 },
	{ "rax", 0x1f8, SG_VMSA_U64 },
	{ "star", 0x200, SG_VMSA_U64 },
	{ "lstar", 0x208, SG_VMSA_U64 },
	{ "cstar", 0x210, SG_VMSA_U64 },
	{ "sfmask", 0x218, SG_VMSA_U64 },
	{ "kernel_gs_base", 0x220, SG_VMSA_U64 },
	{ "sysenter_cs", 0x228, SG_VMSA_U64 },
	{ "sysenter_esp", 0x230, SG_VMSA_U64 },
	{ "sysenter_eip", 0x238, SG_VMSA_U64 },
	{ "cr2", 0x240, SG_VMSA_U64 },
	{ "g_pat", 0x268, SG_VMSA_U64 },
	{ "dbgctl", 0x270, SG_VMSA_U64 },
	{ "br_from", 0x278, SG_VMSA_U64 },
	{ "br_to", 0x280, SG_VMSA_U64 },
	{ "last_excp_from", 0x288, SG_VMSA_U64 },
	{ "last_excp_to", 0x290, SG_VMSA_U64 },
	{ "spec_ctrl", 0x2e0, SG_VMSA_U32 },
	{ "pkru", 0x2e8, SG_VMSA_U32 },
	{ "rcx", 0x308, SG_VMSA_U64 },
	{ "rdx", 0x310, SG_VMSA_U64 },
	{ "rbx", 0x318, SG_VMSA_U64 },
	{ "rbp", 0x328, SG_VMSA_U64 },
	{ "rsi", 0x330, SG_VMSA_U64 },
	{ "rdi", 0x338, SG_VMSA_U64 },
	{ "r8", 0x340, SG_VMSA_U64 },
	{ "r9", 0x348, SG_VMSA_U64 },
	{ "r10", 0x350, SG_VMSA_U64 },
	{ "r11", 0x358, SG_VMSA_U64 },
	{ "r12", 0x360, SG_VMSA_U64 },
	{ "r13", 0x368, SG_VMSA_U64 },
	{ "r14", 0x370, SG_VMSA_U64 },
	{ "r15", 0x378, SG_VMSA_U64 },
	{ "sev_features", 0x3b0, SG_VMSA_U64 },
	{ "xcr0", 0x3e8, SG_VMSA_U64 },
	{ "x87_dp", 0x400, SG_VMSA_U64 },
	{ "mxcsr", 0x408, SG_VMSA_U32 },
	{ "x87_ftw", 0x40c, SG_VMSA_U16 },
	{ "x87_fsw", 0x40e, SG_VMSA_U16 },
	{ "x87_fcw", 0x410, SG_VMSA_U16 },
};

const unsigned sg_vmsa_nfields = sizeof(sg_vmsa_fields) / sizeof(sg_vmsa_fields[0]);
