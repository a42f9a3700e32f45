#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sevgate inside the sandbox its systemd units give it (tests/deploy/sandbox.py:
# the units' system call filter, MemoryDenyWriteExecute, no core dumps): the
# demo (token keys, audit key in the token, releases, the drop-in, audit
# verify) and the manifest, audit and online test harnesses, with every
# sevgate and virt-qemu-sev-validate they run wrapped in it. A call the filter
# denies fails with EPERM, so whatever sevgate needs and the units forbid shows
# up here as a failed check.
#   sandbox_test.sh BUILD-DIR SOURCE-DIR PYTHON3 [smoke|full]
# smoke (the default; CTest deploy-sandbox): the demo and a subset of each harness
# that between them make every kind of call sevgate makes: a multi-threaded
# batch over a fleet (manifest: fleet+output), the signed log and its syslog copy
# (audit: format, syslog), libvirt directly and over a real libvirtd's unix
# socket, with secret injection (online: lookup-name, sevgate-json, e2e). full (CTest
# deploy-sandbox-long, label long): the three harnesses whole.
set -uo pipefail

usage="usage: sandbox_test.sh BUILD-DIR SOURCE-DIR PYTHON3 [smoke|full]"
build=${1:?$usage}
src=${2:?$usage}
py=${3:?$usage}
mode=${4:-smoke}
case $mode in
smoke | full) ;;
*)
	echo "$usage" >&2
	exit 2
	;;
esac
skip() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $1 and CI=true" >&2
		exit 1
	fi
	echo "SKIP: $1"
	exit 77
}
command -v systemd-analyze >/dev/null || skip "systemd-analyze not found (apt-get install systemd)"
/usr/bin/python3 -c 'import seccomp' 2>/dev/null || skip "python3-seccomp not installed"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The allowed calls, asked of systemd-analyze once, not at every exec.
/usr/bin/python3 "$src/tests/deploy/sandbox.py" --list >"$tmp/allowed" ||
	{ echo "FAIL: sandbox.py --list" >&2; exit 1; }
export SANDBOX_ALLOWED=$tmp/allowed
for prog in sevgate virt-qemu-sev-validate; do
	printf '#!/bin/sh\nexec /usr/bin/python3 %q %q "$@"\n' "$src/tests/deploy/sandbox.py" \
		"$build/src/$prog" >"$tmp/$prog"
	chmod +x "$tmp/$prog"
done
"$tmp/sevgate" --version >/dev/null || { echo "FAIL: sevgate does not start in the sandbox" >&2; exit 1; }
# The sandbox must bite: a call the units forbid fails.
if /usr/bin/python3 "$src/tests/deploy/sandbox.py" /usr/bin/python3 -c 'import os; os.setuid(0)' 2>/dev/null; then
	echo "FAIL: setuid(2) is allowed in the sandbox" >&2
	exit 1
fi

fail=0
part() {
	local name=$1 rc
	shift
	local t0=$SECONDS
	"$@" >"$tmp/$name.log" 2>&1
	rc=$?
	case $rc in
	0) echo "ok: $name in the sandbox ($((SECONDS - t0)) s)" ;;
	77) echo "skip: $name (its harness skipped: $(tail -1 "$tmp/$name.log"))" ;;
	*)
		echo "FAIL: $name in the sandbox: exit $rc; the end of its output:" >&2
		tail -40 "$tmp/$name.log" >&2
		fail=1
		;;
	esac
}
part demo env SEVGATE="$tmp/sevgate" SEVGATE_COMPAT="$tmp/virt-qemu-sev-validate" \
	"$src/config/examples/run-demo.sh" "$build"
m_only=() a_only=() o_only=()
if [ "$mode" = smoke ]; then
	m_only=(--only fleet+output)
	a_only=(--only format --only syslog)
	o_only=(--only '^lookup-name$|sevgate-json|e2e')
fi
part manifest "$py" "$src/tests/manifest/manifest_test.py" --sevgate "$tmp/sevgate" \
	--fixtures "$build/fixtures" --examples "$src/config/examples/manifests" "${m_only[@]}"
part audit "$py" "$src/tests/audit/audit_test.py" --sevgate "$tmp/sevgate" \
	--fixtures "$build/fixtures" --hsm-script "$src/hsm/softhsm-token.sh" "${a_only[@]}"
part online "$py" "$src/tests/virt/online_test.py" --ours "$tmp/virt-qemu-sev-validate" \
	--sevgate "$tmp/sevgate" --shim "$build/tests/virt/virt-shim.so" --fixtures "$build/fixtures" \
	"${o_only[@]}"
exit $fail
