#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install what sevgate needs to build, run its demo and (with --test) its test
# suite and benchmark, from Debian bookworm's own packages. Idempotent: when
# every package is already installed apt is not touched at all (and root is not
# needed). Otherwise, as root, `apt-get update` runs at most once, and only when
# the package lists are missing or older than a day.
#
#   deploy/install-deps.sh [--test] [--dry-run]
#     --test     also the reference tool for the differential tests and benchmark,
#                and the test suite's other tools (libvirtd, systemd-analyze, clang-format-14)
#     --dry-run  print the packages that are missing and exit (0: none missing, 1: some)
set -euo pipefail

usage() {
	sed -n '3,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
}

with_test=0
dry_run=0
for arg in "$@"; do
	case "$arg" in
	--test) with_test=1 ;;
	--dry-run) dry_run=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "install-deps: unknown option '$arg' (see --help)" >&2; exit 2 ;;
	esac
done

# Package: why it is here.
pkgs=(
	build-essential      # gcc, make, libc headers
	cmake pkg-config     # the build system; pkg-config finds the libraries below
	libssl-dev openssl   # OpenSSL 3: SHA-256, HMAC, AES-128-CTR; openssl(1) is the demo's independent HMAC
	libjson-c-dev        # sevgate --json output
	libp11-kit-dev p11-kit # PKCS#11 key back end: RFC 7512 URIs, module loading
	libyaml-dev          # guest manifests (checked at configure time)
	libvirt-dev          # online mode: the sevgate-virt.so module
	libxml2-dev          # online mode: the domain XML checks
	libcmocka-dev        # unit tests
	softhsm2             # a software PKCS#11 token (tests, hsm/softhsm-token.sh)
	libnss3 libnss3-tools # a second token: NSS softoken with certutil, for the key tests
	ovmf                 # Debian's OVMF firmware images, measured by the demo and the benchmark
	python3 python3-cryptography # CLI and token test drivers, their Python model
	python3-docutils     # rst2man: the man pages
	time                 # /usr/bin/time -v: peak RSS in the benchmark
)
test_pkgs=(
	libvirt-clients-qemu # /usr/bin/virt-qemu-sev-validate, the reference tool (differential tests, benchmark)
	python3-libvirt python3-lxml # what the reference tool imports
	libvirt-daemon       # libvirtd for the end-to-end online test (test driver over a unix socket)
	strace               # the online batch test counts the audit log's fdatasync calls
	systemd              # systemd-analyze: the units in deploy/systemd are verified and scored
	python3-seccomp      # tests/deploy/sandbox.py: sevgate under the units' system call filter
	clang-format-14      # make format-check (.ci/run): the tree against .clang-format
)
want=("${pkgs[@]}")
if [ "$with_test" = 1 ]; then
	want+=("${test_pkgs[@]}")
fi

installed() {
	# One line per architecture instance; any "installed" one will do.
	dpkg-query -W -f='${db:Status-Status}\n' "$1" 2>/dev/null | grep -qx installed
}

missing=()
for p in "${want[@]}"; do
	installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" = 0 ]; then
	echo "install-deps: all ${#want[@]} packages are installed"
	exit 0
fi
if [ "$dry_run" = 1 ]; then
	echo "install-deps: missing: ${missing[*]}"
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}" >&2
	echo "install-deps: run this script as root (Debian bookworm) to install them" >&2
	exit 1
fi
if ! grep -qs '^VERSION_CODENAME=bookworm$' /etc/os-release; then
	echo "install-deps: warning: this is not Debian bookworm; package names may differ" >&2
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600)
log=$(mktemp "${TMPDIR:-/tmp}/sevgate-install-deps.XXXXXX")
trap 'rm -f "$log"' EXIT

updated=0
apt_update() {
	echo "install-deps: apt-get update"
	if ! apt-get "${apt_opts[@]}" update >"$log" 2>&1; then
		cat "$log" >&2
		echo "install-deps: apt-get update failed" >&2
		exit 1
	fi
	updated=1
}

# Lists fresher than a day are used as they are. An update that found nothing new
# leaves the list files alone but still touches partial/.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null |
	head -n 1)" ] &&
	[ -z "$(find /var/lib/apt/lists/partial -maxdepth 0 -mmin -1440 2>/dev/null)" ]; then
	apt_update
fi

echo "install-deps: installing ${missing[*]}"
apt_install() {
	apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1
}
if ! apt_install; then
	if [ "$updated" = 0 ]; then
		# Fresh-looking lists can still point at versions the mirror dropped.
		apt_update
		if apt_install; then
			echo "install-deps: done"
			exit 0
		fi
	fi
	tail -n 40 "$log" >&2
	echo "install-deps: apt-get install failed" >&2
	exit 1
fi
echo "install-deps: done"
