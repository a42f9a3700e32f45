#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Create a throw-away SoftHSM2 token under DIR without touching system state.
#   hsm/softhsm-token.sh DIR [LABEL] [PIN]
# Writes DIR/softhsm2.conf, DIR/tokens/, DIR/pin (0600) and prints the
# environment and the token URI to use:
#   export SOFTHSM2_CONF=DIR/softhsm2.conf
#   pkcs11:token=LABEL?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:DIR/pin
set -euo pipefail

dir=${1:?usage: softhsm-token.sh DIR [LABEL] [PIN]}
label=${2:-sevgate-demo}
pin=${3:-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')}
module=${SEVGATE_SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

command -v softhsm2-util >/dev/null || { echo "softhsm2-util not found (apt-get install softhsm2)" >&2; exit 77; }
[ -e "$module" ] || { echo "SoftHSM module $module not found" >&2; exit 77; }

mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
cat > "$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF=$dir/softhsm2.conf
( umask 077; printf '%s' "$pin" > "$dir/pin" )
so_pin=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
softhsm2-util --init-token --free --label "$label" --pin "$pin" --so-pin "$so_pin" >/dev/null
echo "export SOFTHSM2_CONF=$dir/softhsm2.conf"
echo "pkcs11:token=$label?module-path=$module&pin-source=file:$dir/pin"
