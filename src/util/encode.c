/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "encode.h"

#include <string.h>

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
sg_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

int
sg_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
sg_hex_decode(const char *hex, uint8_t *out, size_t len, struct sg_error *err)
{
	size_t n = strlen(hex);

	if (n != 2 * len)
		return sg_error_set(err, SG_E_FORMAT, "expected %zu hex digits, got %zu", 2 * len,
				    n);
	/* Check every digit before writing, so @out is untouched on failure. */
	for (size_t i = 0; i < n; i++)
		if (sg_hex_digit(hex[i]) < 0)
			return sg_error_set(err, SG_E_FORMAT, "invalid hex digit at position %zu",
					    i);
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(sg_hex_digit(hex[2 * i]) << 4 | sg_hex_digit(hex[2 * i + 1]));
	return 0;
}

void
sg_base64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0, i = 0;

	for (; len - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* The decoder; a malformed @in is reported as @code. */
static int
b64_decode(const char *in, uint8_t *out, size_t cap, size_t *ret_len, const char *what, int code,
	   struct sg_error *err)
{
	size_t n = strlen(in), pad = 0, outlen;

	if (n % 4 != 0)
		return sg_error_set(err, code,
				    "%s is not valid base64: length %zu is not a multiple of 4",
				    what, n);
	if (n >= 1 && in[n - 1] == '=')
		pad++;
	if (n >= 2 && in[n - 2] == '=')
		pad++;
	outlen = n / 4 * 3 - pad;
	if (outlen > cap)
		return sg_error_set(err, code, "%s decodes to more than %zu bytes", what, cap);

	/* Two passes: check everything, then write, so @out is untouched on failure. */
	for (int write = 0; write < 2; write++) {
		size_t o = 0;
		for (size_t i = 0; i < n; i += 4) {
			uint32_t v = 0;
			size_t valid = (i + 4 == n) ? 4 - pad : 4;

			for (size_t j = 0; j < 4; j++) {
				int d;

				if (j >= valid) {
					v <<= 6;
					continue;
				}
				d = b64_value(in[i + j]);
				if (d < 0)
					return sg_error_set(
						err, code,
						"%s is not valid base64: bad character at "
						"offset %zu",
						what, i + j);
				v = v << 6 | (uint32_t)d;
			}
			if (valid == 2 && (v & 0xffff) != 0)
				goto bad_bits;
			if (valid == 3 && (v & 0xff) != 0)
				goto bad_bits;
			if (!write)
				continue;
			out[o++] = v >> 16;
			if (valid > 2)
				out[o++] = (v >> 8) & 0xff;
			if (valid > 3)
				out[o++] = v & 0xff;
		}
	}
	*ret_len = outlen;
	return 0;

bad_bits:
	return sg_error_set(err, code, "%s is not valid base64: non-zero trailing bits", what);
}

int
sg_base64_decode(const char *in, uint8_t *out, size_t cap, size_t *ret_len, const char *what,
		 struct sg_error *err)
{
	return b64_decode(in, out, cap, ret_len, what, SG_E_FORMAT, err);
}

int
sg_base64_decode_arg(const char *in, uint8_t *out, size_t cap, size_t *ret_len, const char *what,
		     struct sg_error *err)
{
	return b64_decode(in, out, cap, ret_len, what, SG_E_USAGE, err);
}
