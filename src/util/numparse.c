/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "numparse.h"

int
sg_parse_uint_code(const char *s, uint64_t max, const char *what, int code, uint64_t *ret,
		   struct sg_error *err)
{
	uint64_t v = 0;
	unsigned base = 10;
	const char *p = s;

	if (!s || !*s)
		return sg_error_set(err, code, "%s: empty value", what);
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
		if (!*p)
			return sg_error_set(err, code, "%s: '%s' has no digits after 0x", what, s);
	}
	for (; *p; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			return sg_error_set(err, code,
					    "%s: '%s' is not a decimal or 0x-hex integer", what, s);
		if (d > max || v > (max - d) / base)
			return sg_error_set(err, code, "%s: %s is out of range (max %llu)", what, s,
					    (unsigned long long)max);
		v = v * base + d;
	}
	*ret = v;
	return 0;
}

int
sg_parse_uint_err(const char *s, uint64_t max, const char *what, uint64_t *ret,
		  struct sg_error *err)
{
	return sg_parse_uint_code(s, max, what, SG_E_USAGE, ret, err);
}

int
sg_parse_uint(const char *s, uint64_t max, const char *what, uint64_t *ret)
{
	return sg_parse_uint_err(s, max, what, ret, NULL);
}
