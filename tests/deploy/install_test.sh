#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build hygiene of what `cmake --install` ships (issue 11):
#   - no build-tree path in the installed programs and modules (their loaded
#     sections: debug info, which a package splits off, is stripped first);
#   - full RELRO (GNU_RELRO and BIND_NOW) in each; _FORTIFY_SOURCE (__*_chk
#     calls) in the programs, unless told it is off (--no-fortify: sanitizers);
#   - no static archive installed;
#   - an install with DESTDIR, then moved elsewhere, finds its modules beside
#     the programs (${bindir}/../lib/sevgate): --domain against a connect URI
#     that does not exist fails with libvirt's error, not "... need ...so".
#   install_test.sh BUILD-DIR [--no-fortify]
set -uo pipefail

build=$(cd "${1:?usage: install_test.sh BUILD-DIR [--no-fortify]}" && pwd)
fortify=${2:-}
for t in readelf objcopy; do
	command -v $t >/dev/null || { echo "FAIL: $t not found (binutils)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}

DESTDIR=$tmp/stage cmake --install "$build" --prefix /opt/sevgate >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; echo "FAIL: cmake --install" >&2; exit 1; }
root=$tmp/stage/opt/sevgate
archives=$(find "$root" -name '*.a')
[ -z "$archives" ] || bad "static archives installed: $archives"
files=("$root"/bin/sevgate "$root"/bin/virt-qemu-sev-validate)
mods=("$root"/lib*/sevgate/sevgate-virt.so "$root"/lib*/sevgate/sevgate-pkcs11.so)
for f in "${files[@]}" "${mods[@]}"; do
	[ -f "$f" ] || { bad "not installed: ${f#"$tmp"/stage}"; continue; }
	n=${f#"$root"/}
	objcopy --strip-debug "$f" "$tmp/stripped"
	grep -qaF "$build" "$tmp/stripped" && bad "$n contains the build directory $build"
	grep -q GNU_RELRO <<<"$(readelf -lW "$f")" || bad "$n: no GNU_RELRO segment"
	grep -Eq 'BIND_NOW|FLAGS.*NOW' <<<"$(readelf -dW "$f")" || bad "$n: not linked with -z now"
done
if [ "$fortify" != --no-fortify ]; then
	for f in "${files[@]}"; do
		grep -q '__[a-z]*_chk' <<<"$(readelf -sW --dyn-syms "$f")" ||
			bad "${f#"$root"/}: no __*_chk call (_FORTIFY_SOURCE not in effect)"
	done
fi

# Relocated: the staged tree moved to another prefix still finds its modules.
mv "$root" "$tmp/moved"
k=$tmp/tk.bin
head -c 32 /dev/urandom >"$k"
chmod 600 "$k"
for p in sevgate virt-qemu-sev-validate; do
	args=(--domain x --connect test:///nonexistent --tk "$k")
	[ $p = sevgate ] && args=(validate "${args[@]}")
	err=$(env -u SEVGATE_MODULE_DIR "$tmp/moved/bin/$p" "${args[@]}" 2>&1 >/dev/null)
	rc=$?
	[ $rc = 6 ] || bad "moved install: $p --domain: exit $rc, want 6: $err"
	grep -q "failed to parse xml document '/nonexistent'" <<<"$err" ||
		bad "moved install: $p --domain did not reach libvirt: $err"
done
[ $fail = 0 ] && echo "ok: ${#files[@]} programs and ${#mods[@]} modules: no build path, full RELRO; the moved install finds its modules"
exit $fail
