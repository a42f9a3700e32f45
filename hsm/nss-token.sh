#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Create a throw-away NSS softoken database under DIR, the second token sevgate
# is tested against. NSS needs C_Initialize arguments (its configdir) that a
# pkcs11: URI cannot carry, so this writes a sevgate.conf naming the module.
#   hsm/nss-token.sh DIR [PIN]
# Prints the --config file and the token URI:
#   --config DIR/sevgate.conf
#   pkcs11:token=NSS%20Certificate%20DB?module-name=nss&pin-source=file:DIR/pin
set -euo pipefail

dir=${1:?usage: nss-token.sh DIR [PIN]}
pin=${2:-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')}
module=${SEVGATE_NSS_MODULE:-/usr/lib/x86_64-linux-gnu/libsoftokn3.so}

command -v certutil >/dev/null || { echo "certutil not found (apt-get install libnss3-tools)" >&2; exit 77; }
[ -e "$module" ] || { echo "NSS softoken $module not found (apt-get install libnss3)" >&2; exit 77; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
( umask 077; printf '%s\n' "$pin" > "$dir/pin" )
certutil -N -d "sql:$dir" -f "$dir/pin" >/dev/null
cat > "$dir/sevgate.conf" <<CONF
# sevgate configuration: the NSS softoken module and its initialisation string.
pkcs11-modules:
  - name: nss
    path: $module
    init-args: "configdir='sql:$dir' certPrefix='' keyPrefix='' secmod='secmod.db' flags="
CONF
echo "--config $dir/sevgate.conf"
echo "pkcs11:token=NSS%20Certificate%20DB?module-name=nss&pin-source=file:$dir/pin"
