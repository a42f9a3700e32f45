#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The generated bash completion (src/cli/gen-options.c): source each program's
# file, complete a few command lines as bash would and compare COMPREPLY.
# usage: completion_test.sh COMPLETION_DIR OPTIONS_TSV
set -u
dir=$1 list=$2
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/fw.bin"
: >"$tmp/fx.txt"
mkdir "$tmp/fwdir"

# shellcheck source=/dev/null
source "$dir/sevgate" || { echo "FAIL: cannot source $dir/sevgate"; exit 1; }
# shellcheck source=/dev/null
source "$dir/virt-qemu-sev-validate" || { echo "FAIL: cannot source $dir/virt-qemu-sev-validate"; exit 1; }

# expect NAME WANT WORD... : complete WORDs (the last one is the word being
# completed) and compare the sorted COMPREPLY with WANT (space-separated).
expect() {
	local name=$1 want=$2 fn got
	shift 2
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	fn=$(complete -p "$1" 2>/dev/null | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
	if [[ -z $fn ]]; then
		echo "FAIL: $name: no completion for $1"
		fails=$((fails + 1))
		return
	fi
	"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2>/dev/null
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
	if [[ $got == "$want" ]]; then
		echo "ok: $name"
	else
		echo "FAIL: $name: want '$want', got '$got'"
		fails=$((fails + 1))
	fi
}

cd "$tmp" || exit 1
expect "sevgate val<TAB>" "validate" sevgate val
expect "sevgate v<TAB>" "validate vmsa" sevgate v
expect "sevgate validate --tik<TAB>" "--tik" sevgate validate --tik
expect "sevgate validate --allowed-<TAB>" "--allowed-firmware-sha256 --allowed-launch-digest" \
	sevgate validate --allowed-
expect "virt-qemu-sev-validate --dom<TAB>" "--domain" virt-qemu-sev-validate --dom
# The drop-in has no sevgate additions.
expect "virt-qemu-sev-validate --js<TAB>" "" virt-qemu-sev-validate --js
expect "virt-qemu-sev-validate --firmware f<TAB>" "fw.bin fwdir fx.txt" \
	virt-qemu-sev-validate --firmware f
expect "virt-qemu-sev-validate -f fw<TAB>" "fw.bin fwdir" virt-qemu-sev-validate -f fw
expect "sevgate validate --tik f<TAB> (a key file)" "fw.bin fwdir fx.txt" sevgate validate --tik f
# A value that is no file: nothing offered.
expect "sevgate validate --policy <TAB>" "" sevgate validate --policy ""
expect "sevgate validate --on-failure <TAB>" "destroy keep" sevgate validate --on-failure ""
expect "sevgate digest --format <TAB>" "base64 hex" sevgate digest --format ""
expect "sevgate batch --format <TAB>" "human json" sevgate batch --format ""
expect "sevgate batch fw<TAB> (manifests)" "fw.bin fwdir" sevgate batch fw
expect "sevgate vmsa <TAB>" "--help build show" sevgate vmsa ""
expect "sevgate keys <TAB>" "--help delete generate-audit-key import list prune store-secret" \
	sevgate keys ""
expect "sevgate keys store-secret --sh<TAB>" "--shred" sevgate keys store-secret --sh
expect "sevgate keys generate-audit-key --pub<TAB>" "--pubout" sevgate keys generate-audit-key --pub
expect "sevgate secret build --padding <TAB>" "align16 libvirt" sevgate secret build --padding ""
expect "sevgate secret open --i<TAB> (build only)" "" sevgate secret open --i
expect "sevgate audit show --<TAB>" "--guest --help --since" sevgate audit show --

# Every option of every command of the table, and nothing else.
declare -A want=()
# PROGRAM<TAB>COMMAND<TAB>--OPTION<TAB>METAVAR (COMMAND is empty for the drop-in)
while IFS= read -r line; do
	program=${line%%$'\t'*} rest=${line#*$'\t'}
	command=${rest%%$'\t'*} rest=${rest#*$'\t'}
	option=${rest%%$'\t'*}
	[[ -n $option ]] || continue
	want["$program|$command"]+=" $option"
done <"$list"
for key in "${!want[@]}"; do
	program=${key%%|*} command=${key#*|}
	# shellcheck disable=SC2206
	words=($program $command --)
	w=$(printf '%s\n' ${want[$key]} | sort | tr '\n' ' ' | sed 's/ $//')
	expect "every option of '$program $command'" "$w" "${words[@]}"
done >"$tmp/all.log"
grep -v '^ok' "$tmp/all.log"
n=$(grep -c '^ok' "$tmp/all.log")
echo "ok: every option of $n commands"
fails=$((fails + $(grep -c '^FAIL' "$tmp/all.log")))
[[ $n -ge 15 ]] || { echo "FAIL: only $n commands in $list"; fails=$((fails + 1)); }

if ((fails)); then
	echo "$fails failure(s)"
	exit 1
fi
echo "all completion checks passed"
