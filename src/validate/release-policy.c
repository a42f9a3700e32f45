/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "validate/release-policy.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/policy.h"
#include "util/encode.h"
#include "util/numparse.h"

static const struct {
	const char *name;
	uint32_t bit;
} bits[] = {
	{ "nodbg", SG_POLICY_NODBG },	{ "noks", SG_POLICY_NOKS },	{ "es", SG_POLICY_ES },
	{ "nosend", SG_POLICY_NOSEND }, { "domain", SG_POLICY_DOMAIN }, { "sev", SG_POLICY_SEV },
};

int
sg_release_require_parse(const char *list, uint32_t *ret_bits, struct sg_error *err)
{
	uint32_t v = 0;
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ", ");
		bool found = false;

		for (size_t i = 0; n && i < sizeof(bits) / sizeof(bits[0]); i++)
			if (strlen(bits[i].name) == n && !strncasecmp(p, bits[i].name, n)) {
				v |= bits[i].bit;
				found = true;
			}
		if (n && !found)
			return sg_error_set(err, SG_E_USAGE,
					    "unknown policy bit '%.*s' (nodbg, noks, es, nosend, "
					    "domain, sev)",
					    (int)(n > 32 ? 32 : n), p);
		p += n;
		p += strspn(p, ", ");
	}
	*ret_bits = v;
	return 0;
}

int
sg_release_min_api_parse(const char *s, uint8_t *ret_major, uint8_t *ret_minor,
			 struct sg_error *err)
{
	const char *dot = strchr(s, '.');
	char major[8];
	uint64_t a, b;

	if (!dot || dot == s || (size_t)(dot - s) >= sizeof(major))
		return sg_error_set(err, SG_E_USAGE, "min-api must be MAJOR.MINOR, e.g. 0.24");
	memcpy(major, s, (size_t)(dot - s));
	major[dot - s] = '\0';
	if (sg_parse_uint(major, 0xff, "min-api", &a) < 0 ||
	    sg_parse_uint(dot + 1, 0xff, "min-api", &b) < 0)
		return sg_error_set(err, SG_E_USAGE, "min-api must be MAJOR.MINOR, each 0 to 255");
	*ret_major = (uint8_t)a;
	*ret_minor = (uint8_t)b;
	return 0;
}

int
sg_release_allow_add(uint8_t list[][SG_SHA256_LEN], size_t *n, const char *hex, const char *what,
		     struct sg_error *err)
{
	if (*n == SG_RELEASE_ALLOWED_MAX)
		return sg_error_set(err, SG_E_USAGE, "more than %d %s entries",
				    SG_RELEASE_ALLOWED_MAX, what);
	if (sg_hex_decode(hex, list[*n], SG_SHA256_LEN, NULL) < 0)
		return sg_error_set(err, SG_E_USAGE, "%s must be 64 hex digits", what);
	(*n)++;
	return 0;
}

static bool
listed(const uint8_t list[][SG_SHA256_LEN], size_t n, const uint8_t *h)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(list[i], h, SG_SHA256_LEN))
			return true;
	return false;
}

int
sg_release_policy_check(const struct sg_release_policy *p, const struct sg_platform *plat,
			const struct sg_validate_result *res, struct sg_error *err)
{
	uint32_t missing = p->require_bits & ~plat->policy;

	if (!(plat->policy & SG_POLICY_NODBG) && !p->allow_debug)
		return sg_error_set(err, SG_E_POLICY,
				    "release refused: guest policy 0x%x allows debugging (NODBG "
				    "clear); set allow-debug to release anyway",
				    plat->policy);
	for (size_t i = 0; missing && i < sizeof(bits) / sizeof(bits[0]); i++)
		if (missing & bits[i].bit)
			return sg_error_set(err, SG_E_POLICY,
					    "release refused: guest policy 0x%x lacks required "
					    "bit %s",
					    plat->policy, bits[i].name);
	if (p->have_min_api &&
	    (plat->api_major < p->min_api_major ||
	     (plat->api_major == p->min_api_major && plat->api_minor < p->min_api_minor)))
		return sg_error_set(err, SG_E_POLICY,
				    "release refused: SEV API %u.%u is older than min-api %u.%u",
				    plat->api_major, plat->api_minor, p->min_api_major,
				    p->min_api_minor);
	if (p->have_min_build && plat->build_id < p->min_build)
		return sg_error_set(err, SG_E_POLICY,
				    "release refused: firmware build %u is older than min-build %u",
				    plat->build_id, p->min_build);
	if (p->nallowed_firmware &&
	    (!res->firmware.present ||
	     !listed(p->allowed_firmware, p->nallowed_firmware, res->firmware.sha256)))
		return sg_error_set(err, SG_E_POLICY,
				    "release refused: firmware is not in allowed-firmware-sha256");
	if (p->nallowed_digests &&
	    (!res->have_launch_digest ||
	     !listed(p->allowed_digests, p->nallowed_digests, res->launch_digest)))
		return sg_error_set(
			err, SG_E_POLICY,
			"release refused: launch digest is not in allowed-launch-digests");
	return 0;
}
