#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd units as built: systemd-analyze verifies them (syntax, the
# executable exists) and scores their hardening offline; the exposure level
# must stay at or under 0.4 (its level on bookworm's systemd 252), so a
# setting dropped by mistake fails.
#   units_test.sh BUILT-UNIT-DIR SEVGATE-BINARY [CMAKE-BUILD-DIR]
# With CMAKE-BUILD-DIR, the build is also installed into a staging directory
# with another prefix: the installed units must name the installed binary.
set -euo pipefail

units=${1:?usage: units_test.sh BUILT-UNIT-DIR SEVGATE-BINARY}
sevgate=${2:?usage: units_test.sh BUILT-UNIT-DIR SEVGATE-BINARY}
if ! command -v systemd-analyze >/dev/null; then
	if [ "${CI:-}" = true ]; then
		echo "FAIL: systemd-analyze not found (apt-get install systemd) and CI=true" >&2
		exit 1
	fi
	echo "SKIP: systemd-analyze not found (apt-get install systemd)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
# The units name the installed binary; here it is the one just built.
for u in sevgate-batch.service sevgate-validate@.service; do
	[ -f "$units/$u" ] || { echo "FAIL: $units/$u was not built" >&2; exit 1; }
	grep -q '@[A-Z_]*@' "$units/$u" && { echo "FAIL: $u has an unsubstituted @VAR@" >&2; fail=1; }
	sed "s#^ExecStart=[^ ]*/sevgate #ExecStart=$sevgate #" "$units/$u" >"$tmp/$u"
done
cp "$tmp/sevgate-validate@.service" "$tmp/sevgate-validate@db1.service"
for u in sevgate-batch.service sevgate-validate@db1.service; do
	if out=$(cd "$tmp" && systemd-analyze verify --man=false "$u" 2>&1) && [ -z "$out" ]; then
		echo "ok: $u verifies"
	else
		echo "FAIL: systemd-analyze verify $u: $out" >&2
		fail=1
	fi
	score=$(cd "$tmp" && systemd-analyze security --offline=true "$u" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 0.4) }'; then
		echo "ok: $u exposure $score (at most 0.4)"
	else
		echo "FAIL: $u exposure '${score:-none}', want at most 0.4" >&2
		(cd "$tmp" && systemd-analyze security --offline=true "$u" | grep '✗') >&2 || true
		fail=1
	fi
done
# What each unit runs: the batch over the guests directory, one manifest per instance.
grep -q '^ExecStart=.*/sevgate batch --report /var/lib/sevgate/[^ ]* /etc/sevgate/guests$' \
	"$units/sevgate-batch.service" || { echo "FAIL: sevgate-batch.service ExecStart" >&2; fail=1; }
grep -q '^ExecStart=.*/sevgate validate --manifest /etc/sevgate/guests/%i.yaml$' \
	"$units/sevgate-validate@.service" || { echo "FAIL: sevgate-validate@.service ExecStart" >&2; fail=1; }
# Secrets stay in memory: no core dumps, and nothing the unit writes is readable by others.
for u in sevgate-batch.service sevgate-validate@.service; do
	for want in LimitCORE=0 UMask=0077 User=sevgate NoNewPrivileges=yes CapabilityBoundingSet= \
		ProtectSystem=strict PrivateDevices=yes MemoryDenyWriteExecute=yes \
		SystemCallFilter=@system-service; do
		grep -qx "$want" "$units/$u" || { echo "FAIL: $u lacks $want" >&2; fail=1; }
	done
done
if [ -n "${3:-}" ]; then
	stage=$tmp/stage
	if ! DESTDIR=$stage cmake --install "$3" --prefix /opt/sg >"$tmp/install.log" 2>&1; then
		echo "FAIL: cmake --install: $(tail -3 "$tmp/install.log")" >&2
		exit 1
	fi
	for u in sevgate-batch.service sevgate-validate@.service; do
		f=$stage/opt/sg/lib/systemd/system/$u
		if [ -f "$f" ] && grep -q '^ExecStart=/opt/sg/bin/sevgate ' "$f" &&
			[ -x "$stage/opt/sg/bin/sevgate" ] && ! grep -q '@[A-Z_]*@' "$f" &&
			grep -qx 'ProtectSystem=strict' "$f"; then
			echo "ok: $u installed under the install-time prefix, naming its sevgate"
		else
			echo "FAIL: installed $u: $(grep '^ExecStart' "$f" 2>&1)" >&2
			fail=1
		fi
	done
	[ -f "$stage/opt/sg/lib/sysusers.d/sevgate.conf" ] ||
		{ echo "FAIL: sysusers.d/sevgate.conf not installed" >&2; fail=1; }
fi
exit $fail
