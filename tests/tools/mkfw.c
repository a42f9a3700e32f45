/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Write the synthetic inputs of spec section 13 into a directory:
 *   fw_synth.bin  8192 bytes, byte i = i mod 251, with an OVMF footer table
 *                 (hash-table area 0x80c000/0x400, SEV-ES reset 0x80b004)
 *   kernel.bin    "KERNEL" x 1000
 *   initrd.bin    "INITRD" x 500
 *   cmdline.txt   "console=ttyS0 root=/dev/vda1" (no newline)
 * The firmware's last 120 bytes are checked against the spec's hex before
 * anything is written. No dependencies beyond libc.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FW_LEN 8192

static const char tail120_hex[] =
	"28292a2b2c2d2e2f303132333435363738393a3b3c3d00c08000000400001a001f3755723b3a044b"
	"927b1da6efa8d45404b080001600de71f7007e1acb4f890e68c77e2fb44e4200de82b596b21ff745"
	"baeaa366c55a082d9090909090909090909090909090909000000000000000000000000000000000";

static const uint8_t guid_hash_area[16] = { 0x1f, 0x37, 0x55, 0x72, 0x3b, 0x3a, 0x04, 0x4b,
					    0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54 };
static const uint8_t guid_reset[16] = { 0xde, 0x71, 0xf7, 0x00, 0x7e, 0x1a, 0xcb, 0x4f,
					0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e };
static const uint8_t guid_footer[16] = { 0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
					 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d };

static uint8_t *
put_le(uint8_t *p, uint32_t v, int n)
{
	for (int i = 0; i < n; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static void
build_fw(uint8_t fw[FW_LEN])
{
	uint8_t *p = fw + FW_LEN - 98;

	for (size_t i = 0; i < FW_LEN; i++)
		fw[i] = (uint8_t)(i % 251);
	p = put_le(p, 0x0080c000, 4); /* hash-table area: base, size, entry length, GUID */
	p = put_le(p, 0x400, 4);
	p = put_le(p, 26, 2);
	memcpy(p, guid_hash_area, 16);
	p += 16;
	p = put_le(p, 0x0080b004, 4); /* SEV-ES reset block */
	p = put_le(p, 22, 2);
	memcpy(p, guid_reset, 16);
	p += 16;
	p = put_le(p, 66, 2); /* total table length, footer included */
	memcpy(p, guid_footer, 16);
	p += 16;
	memset(p, 0x90, 16);
	memset(p + 16, 0x00, 16);
}

static int
check_tail(const uint8_t fw[FW_LEN])
{
	const uint8_t *t = fw + FW_LEN - 120;

	if (strlen(tail120_hex) != 240)
		return -1;
	for (size_t i = 0; i < 120; i++) {
		unsigned v;

		if (sscanf(tail120_hex + 2 * i, "%2x", &v) != 1 || t[i] != v) {
			fprintf(stderr, "mkfw: byte %zu of the tail is %02x, spec says %.2s\n", i,
				t[i], tail120_hex + 2 * i);
			return -1;
		}
	}
	return 0;
}

static int
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		fprintf(stderr, "mkfw: path too long\n");
		return -1;
	}
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "mkfw: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (len && fwrite(data, 1, len, f) != len) {
		fprintf(stderr, "mkfw: %s: short write\n", path);
		fclose(f);
		return -1;
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "mkfw: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static char *
repeat(const char *s, size_t times, size_t *ret_len)
{
	size_t n = strlen(s);
	char *buf = malloc(n * times);

	if (!buf)
		return NULL;
	for (size_t i = 0; i < times; i++)
		memcpy(buf + i * n, s, n);
	*ret_len = n * times;
	return buf;
}

int
main(int argc, char **argv)
{
	static uint8_t fw[FW_LEN];
	static const char cmdline[] = "console=ttyS0 root=/dev/vda1";
	char *kernel, *initrd;
	size_t klen = 0, ilen = 0;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
		return 2;
	}
	build_fw(fw);
	if (check_tail(fw) < 0)
		return 1;
	kernel = repeat("KERNEL", 1000, &klen);
	initrd = repeat("INITRD", 500, &ilen);
	if (kernel && initrd && write_file(argv[1], "fw_synth.bin", fw, sizeof(fw)) == 0 &&
	    write_file(argv[1], "kernel.bin", kernel, klen) == 0 &&
	    write_file(argv[1], "initrd.bin", initrd, ilen) == 0 &&
	    write_file(argv[1], "cmdline.txt", cmdline, strlen(cmdline)) == 0)
		rc = 0;
	free(kernel);
	free(initrd);
	return rc;
}
