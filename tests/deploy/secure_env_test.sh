#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Defect 7 of issue 11: $SEVGATE_MODULE_DIR, $SEVGATE_CONFIG and $SEVGATE_DEBUG are
# read with secure_getenv, so a privileged exec (AT_SECURE) ignores them.
#   secure_env_test.sh SEVGATE VIRT-QEMU-SEV-VALIDATE PLANTED-MODULE [--sanitized]
# AT_SECURE without a setuid root program: a setgid copy of each program (group 1,
# which `nobody` is not in) run as nobody (setpriv): the kernel sets AT_SECURE
# because the effective gid differs from the real one. A setgid copy of env(1)
# shows it took effect (glibc drops TMPDIR from a secure process's environment).
# The positive control: the same copy without the setgid bit loads the module
# planted in $SEVGATE_MODULE_DIR (its constructor exits 99). Root and setpriv
# needed (exit 77, skipped, otherwise unless CI=true).
set -uo pipefail

sevgate=${1:?usage: secure_env_test.sh SEVGATE COMPAT PLANTED-MODULE}
compat=${2:?usage: secure_env_test.sh SEVGATE COMPAT PLANTED-MODULE}
planted=${3:?usage: secure_env_test.sh SEVGATE COMPAT PLANTED-MODULE}
sanitized=0
[ "${4:-}" = --sanitized ] && sanitized=1
skip() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $1 and CI=true" >&2
		exit 1
	fi
	echo "SKIP: $1"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "not root (a setgid copy and setpriv to nobody are needed)"
command -v setpriv >/dev/null || skip "setpriv not found (util-linux)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir "$tmp/bin" "$tmp/planted"
cp "$planted" "$tmp/planted/sevgate-virt.so"
cp "$planted" "$tmp/planted/sevgate-pkcs11.so"
head -c 32 /dev/urandom >"$tmp/tk"
chown 65534 "$tmp/tk"
chmod 600 "$tmp/tk"
for p in "$sevgate" "$compat" /usr/bin/env; do
	b=$(basename "$p")
	cp "$p" "$tmp/bin/$b-plain"
	cp "$p" "$tmp/bin/$b-sgid"
	chgrp 1 "$tmp/bin/$b-sgid"
	chmod 2755 "$tmp/bin/$b-sgid"
done
sevgate=$tmp/bin/$(basename "$sevgate")
compat=$tmp/bin/$(basename "$compat")
asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}
[ -z "$(asnobody env TMPDIR=/x "$tmp/bin/env-sgid" | grep '^TMPDIR=')" ] ||
	skip "the setgid copy does not run with AT_SECURE here (nosuid mount?)"

# run NAME EXPECTED-RC ENV... -- PROGRAM ARGS...: stderr in $err
run() {
	local name=$1 want=$2 rc
	shift 2
	err=$(cd "$tmp" && asnobody env "$@" 2>&1 >/dev/null)
	rc=$?
	# A sanitized build: a setgid (non-dumpable) process cannot read its own
	# /proc/self/environ, so the sanitizer gets no ASAN_OPTIONS, and LeakSanitizer
	# cannot stop the world (ptrace): it says so and exits 1 at the end.
	if [ "$sanitized" = 1 ] && grep -q 'LeakSanitizer has encountered a fatal error' <<<"$err"; then
		err=$(grep -v '^==[0-9]*==' <<<"$err")
		[ "$rc" = 1 ] && rc=6
	fi
	[ "$rc" = "$want" ] || bad "$name: exit $rc, want $want: $err"
	if [ "$want" != 99 ] && grep -q 'planted module loaded' <<<"$err"; then
		bad "$name: the planted module was loaded"
	fi
}
for p in "$sevgate" "$compat"; do
	n=$(basename "$p")
	online=(--domain x --connect test:///nonexistent --tk "$tmp/tk")
	[ "$p" = "$sevgate" ] && online=(validate "${online[@]}")
	run "$n without AT_SECURE (control)" 99 SEVGATE_MODULE_DIR="$tmp/planted" \
		"$p-plain" "${online[@]}"
	run "$n with AT_SECURE, \$SEVGATE_MODULE_DIR" 6 SEVGATE_MODULE_DIR="$tmp/planted" \
		"$p-sgid" "${online[@]}"
	grep -q "$tmp/planted" <<<"$err" && bad "$n with AT_SECURE: the error names \$SEVGATE_MODULE_DIR: $err"
	run "$n with AT_SECURE, \$SEVGATE_DEBUG" 6 SEVGATE_DEBUG=1 "$p-sgid" "${online[@]}"
	grep -q '^\[DEBUG\]' <<<"$err" && bad "$n with AT_SECURE: \$SEVGATE_DEBUG turned on debug lines: $err"
done
online=(validate --domain x --connect test:///nonexistent --tk "$tmp/tk")
run "sevgate without AT_SECURE, \$SEVGATE_CONFIG (control)" 6 \
	SEVGATE_CONFIG="$tmp/nonexistent.conf" "$sevgate-plain" "${online[@]}"
grep -q "nonexistent.conf" <<<"$err" || bad "sevgate: \$SEVGATE_CONFIG not read without AT_SECURE: $err"
run "sevgate with AT_SECURE, \$SEVGATE_CONFIG" 6 \
	SEVGATE_CONFIG="$tmp/nonexistent.conf" "$sevgate-sgid" "${online[@]}"
grep -q "nonexistent.conf" <<<"$err" && bad "sevgate with AT_SECURE: \$SEVGATE_CONFIG was read: $err"
[ $fail = 0 ] && echo "ok: with AT_SECURE \$SEVGATE_MODULE_DIR, \$SEVGATE_CONFIG and \$SEVGATE_DEBUG are ignored"
exit $fail
