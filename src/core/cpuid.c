/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cpuid.h"

#include <string.h>

uint32_t
sg_cpuid_signature(uint32_t family, uint32_t model, uint32_t stepping)
{
	uint32_t sig;

	stepping &= 0xf;
	model &= 0xff;
	family &= 0xfff;
	sig = stepping;
	if (family > 0xf)
		sig |= 0xf00 | ((family - 0xf) << 20);
	else
		sig |= family << 8;
	sig |= ((model & 0xf) << 4) | ((model >> 4) << 16);
	return sig;
}

static const struct {
	const char *base;
	uint32_t family, model, stepping;
} models[] = {
	/* QEMU target/i386/cpu.c builtin x86 defs (family/model/stepping). */
	{ "EPYC", 23, 1, 2 },	    { "EPYC-IBPB", 23, 1, 2 },	 { "EPYC-Rome", 23, 49, 0 },
	{ "EPYC-Milan", 25, 1, 1 }, { "EPYC-Genoa", 25, 17, 0 }, { "EPYC-Turin", 26, 0, 0 },
};

/* Accept "NAME" or "NAME-vN" with N in 1..9. */
static int
match(const char *name, const char *base)
{
	size_t n = strlen(base);

	if (strncmp(name, base, n) != 0)
		return 0;
	if (name[n] == '\0')
		return 1;
	return name[n] == '-' && name[n + 1] == 'v' && name[n + 2] >= '1' && name[n + 2] <= '9' &&
	       name[n + 3] == '\0';
}

int
sg_cpuid_lookup(const char *name, uint32_t *ret, struct sg_error *err)
{
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (match(name, models[i].base)) {
			*ret = sg_cpuid_signature(models[i].family, models[i].model,
						  models[i].stepping);
			return 0;
		}
	return sg_error_set(err, SG_E_USAGE, "unknown --vcpu-type '%s' (known: %s)", name,
			    sg_cpuid_names());
}

const char *
sg_cpuid_names(void)
{
	return "EPYC, EPYC-IBPB, EPYC-Rome, EPYC-Milan, EPYC-Genoa, EPYC-Turin, each also "
	       "with a -vN suffix";
}
