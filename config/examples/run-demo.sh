#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sevgate demo: a simulated host launches the example guests of
# config/examples/guests/*.conf and reports their launch measurements; one host
# misbehaves (it boots a guest on another firmware image). The guest owner moves
# every guest's TIK/TEK into a throw-away SoftHSM2 token (sevgate keys import
# --shred: the key files are gone) and generates an audit signing key there,
# then validates every guest with `sevgate validate`, releasing a disk key to
# each trusted one under a signed, hash-chained audit log, runs the drop-in
# `virt-qemu-sev-validate` on one with a secret, checks that packet with
# `sevgate secret open`, and verifies the audit log: all with the keys in the
# token. Without SoftHSM2 the demo says so and uses key files.
#
#   config/examples/run-demo.sh [BUILD_DIR]      (default: build)
#
# The host side computes each measurement independently of sevgate's HMAC code:
#   HMAC-SHA256(TIK, 0x04 || api_major || api_minor || build_id || policy_le32 || LD || mnonce)
# with `openssl mac`, a fresh random 16-byte mnonce, and reports
# base64(measurement || mnonce). For plain SEV without a kernel the launch
# digest LD is `openssl dgst -sha256` of the firmware; otherwise (VMSAs, the
# kernel-hashes table) it comes from `sevgate digest`.
#
# Exit 0 iff exactly the tampered guest failed with exit 1, every other guest
# was trusted, and the secret packet verified.
#
# Environment: SEVGATE, SEVGATE_COMPAT (binaries), OVMF_DIR (Debian's OVMF
# images), SEVGATE_DEMO_TAMPER="GUEST KEY=VALUE" (what the host changes; the
# default boots ci-es-milan on OVMF_CODE.fd instead of OVMF_CODE_4M.fd).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
SEVGATE=${SEVGATE:-$build/src/sevgate}
SEVGATE_COMPAT=${SEVGATE_COMPAT:-$build/src/virt-qemu-sev-validate}
FIXTURES=$build/fixtures
guests_dir=$here/guests

die() {
	echo "demo: $*" >&2
	exit 2
}

for b in "$SEVGATE" "$SEVGATE_COMPAT"; do
	[ -x "$b" ] || die "$b not found: build first (make demo, or cmake -S . -B build && cmake --build build)"
done
command -v openssl >/dev/null || die "openssl(1) not found (apt-get install openssl)"

# Debian's OVMF images: the ovmf package, or the copy in ../shared/vectors.
if [ -z "${OVMF_DIR:-}" ]; then
	for d in /usr/share/OVMF "$root/../shared/vectors/debian-ovmf/usr/share/OVMF"; do
		if [ -f "$d/OVMF_CODE_4M.fd" ] && [ -f "$d/OVMF_CODE.fd" ]; then
			OVMF_DIR=$d
			break
		fi
	done
fi
[ -n "${OVMF_DIR:-}" ] || die "Debian's OVMF images not found (apt-get install ovmf, or set OVMF_DIR)"
OVMF_DIR=$(cd "$OVMF_DIR" && pwd)

tamper=${SEVGATE_DEMO_TAMPER-"ci-es-milan firmware=\${OVMF_DIR}/OVMF_CODE.fd"}
tamper_guest=${tamper%% *}
tamper_kv=${tamper#* }
tamper_key=${tamper_kv%%=*}
tamper_val=${tamper_kv#*=}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sevgate-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 700 "$tmp"

# --- small helpers -------------------------------------------------------------
hex() { od -An -v -tx1 "$@" | tr -d ' \n'; }
hex2bin() { printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }
le32() { # u32 little-endian as hex
	local v
	v=$(printf '%08x' "$1")
	printf '%s' "${v:6:2}${v:4:2}${v:2:2}${v:0:2}"
}
is_num() { [[ $1 =~ ^(0x[0-9a-fA-F]+|[0-9]+)$ ]]; }
expand() { # the two placeholders, nothing else
	local v=$1
	# shellcheck disable=SC2016 # the literal texts ${OVMF_DIR} and ${FIXTURES}
	{
		v=${v//'${OVMF_DIR}'/$OVMF_DIR}
		v=${v//'${FIXTURES}'/$FIXTURES}
	}
	printf '%s' "$v"
}
newkey() { (umask 077 && head -c 16 /dev/urandom >"$1"); }

# Read one guest file into the associative array G (known keys only).
keys_allowed=" name description firmware kernel initrd cmdline policy num_cpus vcpu_type"
keys_allowed+=" cpu_family cpu_model cpu_stepping vmsa_profile sev_features api_major"
keys_allowed+=" api_minor build_id inject_secret expect_digest "
declare -A G
load_guest() {
	local file=$1 line key val n=0
	G=()
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		[[ $line =~ ^[[:space:]]*(#|$) ]] && continue
		[[ $line =~ ^([a-z_0-9]+)=(.*)$ ]] || die "$file:$n: expected KEY=VALUE"
		key=${BASH_REMATCH[1]}
		val=${BASH_REMATCH[2]}
		[[ $keys_allowed == *" $key "* ]] || die "$file:$n: unknown key '$key'"
		[ -z "${G[$key]+x}" ] || die "$file:$n: duplicate key '$key'"
		G[$key]=$(expand "$val")
	done <"$file"
	: "${G[name]:=$(basename "$file" .conf)}"
	[[ ${G[name]} =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "$file: name: use letters, digits, . _ -"
	for key in policy api_major api_minor build_id; do
		[ -n "${G[$key]:-}" ] || die "$file: $key is required"
	done
	for key in policy num_cpus cpu_family cpu_model cpu_stepping sev_features api_major \
		api_minor build_id; do
		[ -z "${G[$key]:-}" ] || is_num "${G[$key]}" || die "$file: $key: not a number"
	done
	[ -n "${G[firmware]:-}" ] || die "$file: firmware is required"
}

# The guest-config options shared by digest, validate and the drop-in, from G
# (or from the host's copy H when it is given as $1).
guest_args() {
	local -n c=${1:-G}
	local pol=${c[policy]}
	args=(--firmware "${c[firmware]}")
	[ -z "${c[kernel]:-}" ] || args+=(--kernel "${c[kernel]}")
	[ -z "${c[initrd]:-}" ] || args+=(--initrd "${c[initrd]}")
	[ -z "${c[cmdline]+x}" ] || args+=(--cmdline "${c[cmdline]}")
	if ((pol & 4)); then
		args+=(--num-cpus "${c[num_cpus]:-1}")
		if [ -n "${c[vcpu_type]:-}" ]; then
			args+=(--vcpu-type "${c[vcpu_type]}")
		elif [ -n "${c[cpu_family]:-}" ]; then
			args+=(--cpu-family "${c[cpu_family]}" --cpu-model "${c[cpu_model]}"
				--cpu-stepping "${c[cpu_stepping]}")
		fi
		[ -z "${c[vmsa_profile]:-}" ] || args+=(--vmsa-profile "${c[vmsa_profile]}")
		[ -z "${c[sev_features]:-}" ] || args+=(--sev-features "${c[sev_features]}")
	fi
}

mode_of() { # SEV or SEV-ES, from the policy's ES bit (a checked number)
	local pol=$1
	if ((pol & 4)); then echo SEV-ES; else echo SEV; fi
}

# The simulated host: launch digest of what it actually booted, then the PSP's
# LAUNCH_MEASURE. Prints base64(measurement || mnonce).
host_measure() {
	local name=$1 ld mnonce msg mac
	local -n h=H
	local major=${h[api_major]} minor=${h[api_minor]} build_id=${h[build_id]} pol=${h[policy]}
	if [ "$(mode_of "${h[policy]}")" = SEV ] && [ -z "${h[kernel]:-}" ]; then
		ld=$(openssl dgst -sha256 -r "${h[firmware]}" | cut -d' ' -f1)
	else
		guest_args H
		ld=$("$SEVGATE" digest "${args[@]}")
	fi
	[[ $ld =~ ^[0-9a-f]{64}$ ]] || die "$name: host could not compute the launch digest"
	head -c 16 /dev/urandom >"$tmp/$name.mnonce"
	mnonce=$(hex "$tmp/$name.mnonce")
	msg=04$(printf '%02x%02x%02x' $((major)) $((minor)) $((build_id)))
	msg+=$(le32 $((pol)))$ld$mnonce
	hex2bin "$msg" >"$tmp/$name.msg"
	[ "$(stat -c %s "$tmp/$name.msg")" = 56 ] || die "$name: measured message is not 56 bytes"
	mac=$(openssl mac -digest SHA256 -macopt "hexkey:$(hex "$tmp/$name.tik")" \
		-in "$tmp/$name.msg" HMAC | tr 'A-F' 'a-f')
	[[ $mac =~ ^[0-9a-f]{64}$ ]] || die "$name: openssl mac failed"
	{ hex2bin "$mac"; cat "$tmp/$name.mnonce"; } | base64 -w0
}

# --- the run -------------------------------------------------------------------
shopt -s nullglob
confs=("$guests_dir"/*.conf)
((${#confs[@]})) || die "no guests in $guests_dir"

echo "sevgate demo: ${#confs[@]} guests from ${guests_dir#"$root"/}, firmware from $OVMF_DIR"
echo "guest owner: fresh 16-byte TIK/TEK per guest from /dev/urandom (thrown away at exit)"
echo

# The guest owner's token: a throw-away SoftHSM2 token in $tmp, no system state touched.
token=
if out=$("$root/hsm/softhsm-token.sh" "$tmp/token" sevgate-demo 2>/dev/null); then
	export SOFTHSM2_CONF=${out%%$'\n'*}
	SOFTHSM2_CONF=${SOFTHSM2_CONF#export SOFTHSM2_CONF=}
	token=${out##*$'\n'}
	echo "guest owner: keys go into SoftHSM2 token 'sevgate-demo' (${token%%\?*})"
else
	echo "guest owner: SoftHSM2 is not installed (apt-get install softhsm2): keys stay in files"
fi
echo
declare -A ktik ktek

declare -A expect got exitcode measurement skipped
names=()
fail=0
secret_ok=0
secret_guest=

echo "== host: launch the guests and report their measurements"
for conf in "${confs[@]}"; do
	load_guest "$conf"
	name=${G[name]}
	names+=("$name")
	mode=$(mode_of "${G[policy]}")
	missing=
	for f in firmware kernel initrd; do
		[ -n "$missing" ] || [ -z "${G[$f]:-}" ] || [ -e "${G[$f]}" ] || missing=${G[$f]}
	done
	if [ -n "$missing" ]; then
		skipped[$name]="missing $missing (built by the test suite into build/fixtures)"
		printf '  %-14s skipped: %s\n' "$name" "${skipped[$name]}"
		continue
	fi
	newkey "$tmp/$name.tik"
	newkey "$tmp/$name.tek"
	# The host's copy of the guest config, changed where it misbehaves.
	unset H
	declare -A H
	for k in "${!G[@]}"; do H[$k]=${G[$k]}; done
	note=
	expect[$name]=trusted
	if [ "$name" = "$tamper_guest" ]; then
		[[ $keys_allowed == *" $tamper_key "* ]] || die "SEVGATE_DEMO_TAMPER: unknown key '$tamper_key'"
		H[$tamper_key]=$(expand "$tamper_val")
		case $tamper_key in
		policy | num_cpus | cpu_* | sev_features | api_* | build_id)
			is_num "${H[$tamper_key]}" || die "SEVGATE_DEMO_TAMPER: $tamper_key: not a number"
			;;
		esac
		expect[$name]=mismatch
		note="  <- TAMPERED: host set $tamper_key=${H[$tamper_key]##*/}"
	fi
	measurement[$name]=$(host_measure "$name")
	cpus=
	[ "$mode" = SEV ] || cpus=" ${G[num_cpus]:-1} vCPU"
	printf '  %-14s %-6s%-8s %-16s %s%s\n' "$name" "$mode" "$cpus" "${G[firmware]##*/}" \
		"${measurement[$name]:0:24}..." "$note"
done
echo

if [ -n "$token" ]; then
	echo "== guest owner: move the keys into the token (sevgate keys import --shred)"
fi
for name in "${names[@]}"; do
	[ -z "${skipped[$name]:-}" ] || continue
	ktik[$name]=$tmp/$name.tik
	ktek[$name]=$tmp/$name.tek
	[ -n "$token" ] || continue
	out=$("$SEVGATE" keys import --tik "$tmp/$name.tik" --tek "$tmp/$name.tek" \
		--token "$token" --label "$name" --shred) || die "$name: keys import failed"
	ktik[$name]=$(printf '%s\n' "$out" | sed -n 's/^tik: //p')
	ktek[$name]=$(printf '%s\n' "$out" | sed -n 's/^tek: //p')
	[ ! -e "$tmp/$name.tik" ] || die "$name: the TIK file is still there after --shred"
	printf '  %-14s %s\n' "$name" "${ktik[$name]%%\?*}"
done
[ -z "$token" ] || echo

# Every release is recorded first, in a signed, hash-chained audit log.
audit_log=$tmp/audit.log
if [ -n "$token" ]; then
	out=$("$SEVGATE" keys generate-audit-key --token "$token" --label sevgate-audit \
		--pubout "$tmp/audit-pub.pem") || die "keys generate-audit-key failed"
	audit_key=$(printf '%s\n' "$out" | sed -n 's/^audit-key: //p')
	echo "== guest owner: audit key generated in the token (${audit_key%%\?*})"
else
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/audit.pem" 2>/dev/null
	openssl pkey -in "$tmp/audit.pem" -pubout -out "$tmp/audit-pub.pem"
	audit_key=$tmp/audit.pem
	echo "== guest owner: audit key in a PEM file (no token)"
fi
echo

echo "== guest owner: sevgate validate, releasing each trusted guest's disk key (audited)"
for conf in "${confs[@]}"; do
	load_guest "$conf"
	name=${G[name]}
	[ -z "${skipped[$name]:-}" ] || continue
	guest_args
	if [ -n "${G[expect_digest]:-}" ]; then
		ld=$("$SEVGATE" digest "${args[@]}")
		if [ "$ld" = "${G[expect_digest]}" ]; then
			echo "  (launch digest of $name equals the known vector ${ld:0:16}...)"
		else
			echo "  launch digest of $name is $ld, expected ${G[expect_digest]}" >&2
			fail=1
		fi
	fi
	(umask 077 && head -c 32 /dev/urandom >"$tmp/$name.disk-key")
	set +e
	"$SEVGATE" validate --guest "$name" --measurement "${measurement[$name]}" \
		--api-major "${G[api_major]}" --api-minor "${G[api_minor]}" \
		--build-id "${G[build_id]}" --policy "${G[policy]}" \
		--tik "${ktik[$name]}" --tek "${ktek[$name]}" "${args[@]}" \
		--inject-secret "luks-key:$tmp/$name.disk-key" \
		--secret-header "$tmp/$name.sg-hdr" --secret-payload "$tmp/$name.sg-payload" \
		--audit-log "$audit_log" --audit-key "$audit_key" 2>&1 | sed 's/^/  /'
	rc=${PIPESTATUS[0]}
	set -e
	exitcode[$name]=$rc
	case $rc in
	0) got[$name]=trusted ;;
	1) got[$name]=mismatch ;;
	*) got[$name]="error" ;;
	esac
done
echo

# The drop-in on the guest that wants a secret, then the PSP's view of the packet.
for conf in "${confs[@]}"; do
	load_guest "$conf"
	name=${G[name]}
	if [ -z "${G[inject_secret]:-}" ] || [ -n "${skipped[$name]:-}" ] ||
		[ "${expect[$name]}" != trusted ]; then
		continue
	fi
	secret_guest=$name
	echo "== guest owner: virt-qemu-sev-validate (the drop-in) on $name, releasing ${G[inject_secret]}"
	(umask 077 && head -c 24 /dev/urandom | base64 -w0 | tr -d '\n' >"$tmp/$name.secret")
	guest_args
	set +e
	(
		cd "$tmp"
		"$SEVGATE_COMPAT" --measurement "${measurement[$name]}" \
			--api-major "${G[api_major]}" --api-minor "${G[api_minor]}" \
			--build-id "${G[build_id]}" --policy "${G[policy]}" \
			--tik "${ktik[$name]}" --tek "${ktek[$name]}" "${args[@]}" \
			--inject-secret "${G[inject_secret]}:$name.secret" \
			--secret-header "$name.hdr" --secret-payload "$name.payload"
	) 2>&1 | sed 's/^/  /'
	rc=${PIPESTATUS[0]}
	set -e
	if [ "$rc" != 0 ]; then
		echo "  drop-in exited $rc" >&2
		fail=1
		break
	fi
	echo "  header $(stat -c '%s bytes, mode %a' "$tmp/$name.hdr"), payload $(stat -c '%s bytes, mode %a' "$tmp/$name.payload")"
	echo
	echo "== guest owner: sevgate secret open (checks the packet's MAC and decrypts it, as the PSP does)"
	set +e
	out=$("$SEVGATE" secret open --tik "${ktik[$name]}" --tek "${ktek[$name]}" \
		--measurement "${measurement[$name]}" --header "$tmp/$name.hdr" \
		--payload "$tmp/$name.payload" 2>&1)
	rc=$?
	set -e
	echo "  $out"
	want_len=$(stat -c %s "$tmp/$name.secret")
	# GUID and length only: a hash of a decrypted secret would be guessable offline.
	if [ "$rc" = 0 ] && [[ $out == *"\"length\":$want_len}"* && $out != *sha256* ]]; then
		echo "  the packet verifies and holds one $want_len-byte secret"
		secret_ok=1
	else
		echo "  the packet did not verify (exit $rc)" >&2
		fail=1
	fi
	echo
	break
done
if [ -z "$secret_guest" ]; then
	echo "== no trusted guest asks for a secret: drop-in and secret steps skipped"
	echo
fi

echo "== auditor: sevgate audit verify (every signature and the hash chain)"
set +e
"$SEVGATE" audit show "$audit_log" | sed 's/^/  /'
"$SEVGATE" audit verify "$audit_log" --pubkey "$tmp/audit-pub.pem" 2>&1 | sed 's/^/  /'
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || fail=1
released=$(grep -c '"event":"released"' "$audit_log" || true)
echo "  $released secrets released, each after its release-intent record"
echo

echo "== summary"
printf '  %-14s %-10s %-10s %s\n' guest expected result exit
for name in "${names[@]}"; do
	if [ -n "${skipped[$name]:-}" ]; then
		printf '  %-14s %-10s %-10s %s\n' "$name" - skipped -
		continue
	fi
	printf '  %-14s %-10s %-10s %s\n' "$name" "${expect[$name]}" "${got[$name]}" \
		"${exitcode[$name]}"
	want_rc=0
	[ "${expect[$name]}" = trusted ] || want_rc=1
	[ "${exitcode[$name]}" = "$want_rc" ] || fail=1
done
if [ -n "$tamper_guest" ] && [ -z "${expect[$tamper_guest]:-}" ]; then
	echo "  the tampered guest '$tamper_guest' was not run" >&2
	fail=1
fi
[ -z "$secret_guest" ] || [ "$secret_ok" = 1 ] || fail=1
echo
if [ "$fail" = 0 ]; then
	if [ -n "$tamper_guest" ]; then
		msg="demo: OK: the tampered guest $tamper_guest was refused, the others were trusted"
	else
		msg="demo: OK: no host tampered (SEVGATE_DEMO_TAMPER is empty) and every guest was trusted"
	fi
	[ -z "$secret_guest" ] || msg+=", and the secret packet for $secret_guest verifies"
	echo "$msg"
	exit 0
fi
echo "demo: FAILED: see above" >&2
exit 1
