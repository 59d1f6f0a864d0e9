#!/usr/bin/env bash
# The generated bash completion (apps/dpsanitize/CMakeLists.txt): sourced in
# bash, it completes option names, IsMember choices (also after "--opt="),
# subcommands and file names; per command, the options it offers are exactly
# those the command's --help lists; and the built file is what the binary
# generates now (not stale).
#   tests/e2e/completion_test.sh DPSANITIZE_BINARY COMPLETION_FILE
set -euo pipefail
BIN="$(realpath "$1")"
SCRIPT="$(realpath "$2")"
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

[ -f "$SCRIPT" ] || {
  echo "FAIL: no completion file $SCRIPT" >&2
  exit 1
}
cmp -s "$SCRIPT" <("$BIN" completion bash) || fail "$SCRIPT is not the binary's current output"
bash -n "$SCRIPT" || fail "$SCRIPT: bash syntax error"

# shellcheck source=/dev/null
source "$SCRIPT"
# complete WORD... : the completions of the last word (the cursor) as bash
# would ask for them, sorted, one line, space-separated.
complete_words() {
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _dpsanitize
  if ((${#COMPREPLY[@]} > 0)); then printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'; fi
}
expect() {
  local want="$1"
  shift
  local got
  got="$(complete_words "$@")"
  [ "$got" = "$want" ] || fail "completing '$*': got '$got', want '$want'"
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dps-completion.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
touch fixture.dpsemb corpus.txt

expect "--mechanism" dpsanitize --mech
expect "bem em mahalanobis mvl tem tg vickrey" dpsanitize --mechanism ""
expect "tem tg" dpsanitize --eps 3 --mechanism t
expect "bem em mahalanobis mvl tem tg vickrey" dpsanitize --mechanism = # bash splits "--mechanism=" at '='
expect "tem tg" dpsanitize --mechanism = t
expect "auto csv jsonl text tsv" dpsanitize --format ""
expect "gzip" dpsanitize --compress g
expect "" dpsanitize --eps ""                    # a number: nothing to offer
expect "" dpsanitize --vickrey-t ""              # a mechanism's number too
expect "" dpsanitize calibrate --lambda ""
expect "fixture.dpsemb" dpsanitize --embedding f # a path: file names
expect "audit calibrate corpus.txt fixture.dpsemb ledger prepare verify" dpsanitize ""
expect "corpus.txt" dpsanitize --eps 3 c # IN: files, no subcommand after an option
expect "bem" dpsanitize calibrate --mechanism b
expect "--lambda" dpsanitize calibrate --lam # mechanism options: calibrate and audit take them
expect "exact hnsw" dpsanitize calibrate --mvl-search ""
expect "--tem-gamma" dpsanitize audit --tem
expect "bem em mahalanobis mvl tem tg vickrey" dpsanitize audit --mechanism ""
expect "merge show verify" dpsanitize ledger ""
expect "--output" dpsanitize ledger merge --o
expect "corpus.txt" dpsanitize ledger show c
expect "--tail-clusters" dpsanitize prepare --tail
expect "" dpsanitize prepare --eps # prepare has no --eps

# Per command, the option names --help lists (CLI11: an indented line
# starting with "-", names before the first space, comma-separated) are
# exactly the ones completion offers after "-".
help_options() {
  "$BIN" "$@" --help | sed -n 's/^ \{1,\}\(-[^ ]*\).*/\1/p' | tr ',' '\n' | sort -u | tr '\n' ' ' |
    sed 's/ $//'
}
for command in "" prepare verify calibrate ledger audit "ledger show" "ledger verify" "ledger merge"; do
  # shellcheck disable=SC2086 # command splits into its words on purpose
  want="$(help_options $command)"
  [ -n "$want" ] || fail "dpsanitize $command --help lists no option"
  # shellcheck disable=SC2086
  got="$(complete_words dpsanitize $command - | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/ $//')"
  [ "$got" = "$want" ] || fail "dpsanitize $command: --help lists '$want', completion offers '$got'"
done

if ((failures > 0)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "completion: ok"
