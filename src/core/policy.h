/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SEV guest policy bits (AMD SEV API, table 2). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define SG_POLICY_NODBG (1u << 0)
#define SG_POLICY_NOKS (1u << 1)
#define SG_POLICY_ES (1u << 2)
#define SG_POLICY_NOSEND (1u << 3)
#define SG_POLICY_DOMAIN (1u << 4)
#define SG_POLICY_SEV (1u << 5)

/* Whether @policy asks for SEV-ES (the ES bit). */
static inline bool
sg_policy_is_es(uint32_t policy)
{
	return policy & SG_POLICY_ES;
}
