/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PIN memory scan of the token tests, shared by p11-probe --pin-scan (a
 * test program) and pin-scan-shim (preloaded into sevgate itself): header
 * only, so the shim stays a standalone unsanitized object.
 *
 * Every readable mapping of this process is read through /proc/self/mem,
 * XORed and searched for every PINSCAN_WINDOW-byte piece of the XORed PIN;
 * the buffer holds only XORed bytes and is wiped after each search, so the
 * scan itself never puts the PIN in memory.
 */
#ifndef SG_TEST_PINSCAN_H
#define SG_TEST_PINSCAN_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define PINSCAN_XOR 0x5a
#define PINSCAN_WINDOW 12 /* any 12 consecutive bytes of the PIN count as a copy */

static unsigned char pinscan_chunk[1 << 20];

/*
 * The number of mappings that hold a piece of the @n-byte XORed PIN @xpin,
 * each hit written to @out; bytes in [@skip_lo, @skip_hi) (the caller's
 * command line) are not searched. -1 when /proc cannot be read.
 */
static int
pinscan(const unsigned char *xpin, size_t n, unsigned long skip_lo, unsigned long skip_hi,
	FILE *out)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	char line[512];
	int found = 0;

	if (!maps || mem < 0) {
		if (maps)
			fclose(maps);
		if (mem >= 0)
			close(mem);
		return -1;
	}
	while (fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[5], name[256] = "";
		int hit = 0;

		if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %255[^\n]", &lo, &hi, perms, name) < 3 ||
		    perms[0] != 'r' || strstr(name, "[vvar") || strstr(name, "[vsyscall]"))
			continue;
		for (unsigned long off = lo; off < hi && !hit;) {
			size_t want =
				hi - off < sizeof(pinscan_chunk) ? hi - off : sizeof(pinscan_chunk);
			ssize_t got = pread(mem, pinscan_chunk, want, (off_t)off);

			if (got <= 0)
				break;
			for (ssize_t i = 0; i < got; i++)
				if (off + (unsigned long)i >= skip_lo &&
				    off + (unsigned long)i < skip_hi)
					pinscan_chunk[i] = 0;
				else
					pinscan_chunk[i] ^= PINSCAN_XOR;
			for (size_t w = 0; w + PINSCAN_WINDOW <= n && !hit; w++) {
				unsigned char *at = memmem(pinscan_chunk, (size_t)got, xpin + w,
							   PINSCAN_WINDOW);

				if (at) {
					fprintf(out,
						"PIN piece %zu found at %lx in %lx-%lx %s %s\n", w,
						off + (unsigned long)(at - pinscan_chunk), lo, hi,
						perms, name);
					hit = 1;
				}
			}
			memset(pinscan_chunk, 0, (size_t)got);
			/* overlap the next chunk, so a copy across the boundary is seen */
			off += (size_t)got > 64 && (size_t)got == want && off + want < hi ?
				       (size_t)got - 64 :
				       (size_t)got;
		}
		found += hit;
	}
	fclose(maps);
	close(mem);
	return found;
}

#endif
