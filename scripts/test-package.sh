#!/usr/bin/env bash
# Builds the Debian package (scripts/package.sh) from a Release tree (default
# build/) and checks it as a user gets it, unpacked with dpkg -x into a
# temporary root (no root rights, nothing installed on the machine):
#   - it holds exactly the installed files (no test or benchmark binary);
#   - its Depends line names the libraries the binary links;
#   - the unpacked binary prints the build tree's --version and writes, for
#     the same seed, byte for byte the build tree binary's output on
#     tests/golden/corpus.txt (fixture embedding, prepared by the unpacked
#     binary), with a ledger that records that version;
#   - the man page renders with `man -l` without a warning, the bash
#     completion completes, and dpsanitize-fetch-embedding finds its binary.
#   scripts/test-package.sh [BUILD_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
start=$SECONDS
fail() {
  echo "test-package: FAIL: $*" >&2
  exit 1
}

DEB="$("$ROOT/scripts/package.sh" "$BUILD" | tail -n 1 | cut -d' ' -f1)"
BUILD="$(cd "$BUILD" && pwd)"
[ -f "$DEB" ] || fail "package.sh made no .deb"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dpsanitize-test-package.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
dpkg -x "$DEB" "$WORK/root"
PKG_BIN="$WORK/root/usr/bin/dpsanitize"
TREE_BIN="$BUILD/apps/dpsanitize/dpsanitize"

# Contents: the install() rules' files and nothing else.
expected="$(
  {
    printf '%s\n' ./usr/bin/dpsanitize ./usr/bin/dpsanitize-fetch-embedding \
      ./usr/share/man/man1/dpsanitize.1.gz ./usr/share/bash-completion/completions/dpsanitize \
      ./usr/share/doc/dpsanitize/README.md
    for f in "$ROOT"/docs/*.md; do echo "./usr/share/doc/dpsanitize/docs/$(basename "$f")"; done
  } | sort
)"
actual="$(cd "$WORK/root" && find . -type f -o -type l | sort)"
[ "$actual" = "$expected" ] || fail "package contents differ from the install rules:
$(diff <(echo "$expected") <(echo "$actual") || true)"

# Depends (dpkg-shlibdeps): every library the binary links, by its Debian package.
depends="$(dpkg-deb -f "$DEB" Depends)"
for p in libc6 libstdc++6 libgomp1 'libblas3 | libblas.so.3' 'liblapack3 | liblapack.so.3' \
  libsodium23 libutf8proc2 libsimdjson14 libfmt9 libspdlog1 zlib1g libzstd1 libcsv3; do
  grep -qF "$p" <<<"$depends" || fail "Depends lacks $p: $depends"
done
grep -qx 'libopenblas0-pthread' <<<"$(dpkg-deb -f "$DEB" Recommends)" ||
  fail "Recommends is not libopenblas0-pthread"

# The runs see a clean environment: no default embedding, caches in $WORK.
mkdir -p "$WORK/home" "$WORK/cache"
run() {
  env -u DPSANITIZE_EMBEDDING -u XDG_DATA_HOME HOME="$WORK/home" XDG_CACHE_HOME="$WORK/cache" "$@"
}
version="$(run "$PKG_BIN" --version)"
[ "$version" = "$(run "$TREE_BIN" --version)" ] || fail "--version differs: $version"
[[ $version =~ ^dpsanitize\ [0-9]+\.[0-9]+\.[0-9]+\ \(git\ ([0-9a-f]{12}|unknown) ]] ||
  fail "--version: $version"

EMB="$WORK/fixture.dpsemb"
run "$PKG_BIN" prepare -q "$ROOT/data/fixture/glove.6B.100d.top5000.vec" "$EMB"
args=(--eps 3 --seed 1 --embedding "$EMB" -q "$ROOT/tests/golden/corpus.txt")
run "$PKG_BIN" "${args[@]}" "$WORK/out.package.txt"
run "$TREE_BIN" "${args[@]}" "$WORK/out.tree.txt"
cmp -s "$WORK/out.package.txt" "$WORK/out.tree.txt" ||
  fail "the packaged binary's output differs from the build tree's"
cmp -s "$WORK/out.package.txt" "$ROOT/tests/golden/corpus.txt" &&
  fail "the output equals the input: nothing was perturbed"
grep -qF "\"version\": \"${version#dpsanitize }\"" "$WORK/out.package.txt.ledger.json" ||
  fail "the ledger's tool.version is not the --version line"

# The man page: renders without a warning, with the option groups and the
# sections of dpsanitize.h2m.
MAN="$WORK/root/usr/share/man/man1/dpsanitize.1.gz"
LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$MAN" >"$WORK/man.txt" 2>"$WORK/man.err" ||
  fail "man -l failed: $(cat "$WORK/man.err")"
[ ! -s "$WORK/man.err" ] || fail "man -l warned: $(cat "$WORK/man.err")"
for section in NAME SYNOPSIS OPTIONS SUBCOMMANDS 'EXIT STATUS' ENVIRONMENT FILES 'SEE ALSO'; do
  grep -qx "$section" "$WORK/man.txt" || fail "man page lacks the section $section"
done
for text in '   Input:' '   Privacy:' '--mechanism' 'dpsanitize-fetch-embedding'; do
  grep -qF -- "$text" "$WORK/man.txt" || fail "man page lacks '$text'"
done

# The bash completion: completes an option name and its choices.
COMPLETION="$WORK/root/usr/share/bash-completion/completions/dpsanitize"
got="$(bash -c 'source "$1"; COMP_WORDS=(dpsanitize --mech); COMP_CWORD=1; _dpsanitize
  echo "${COMPREPLY[*]}"' _ "$COMPLETION")"
[ "$got" = "--mechanism" ] || fail "completion of --mech: '$got'"

# dpsanitize-fetch-embedding, installed, uses the dpsanitize beside it: with a
# prepared embedding already at the default place it only checks it (an npm
# that fails stands in, so that the test can never download).
mkdir -p "$WORK/data/dpsanitize" "$WORK/fakebin"
cp "$EMB" "$WORK/data/dpsanitize/glove.6B.100d.dpsemb"
printf '#!/bin/sh\necho "npm must not run here" >&2\nexit 1\n' >"$WORK/fakebin/npm"
chmod +x "$WORK/fakebin/npm"
env HOME="$WORK/home" XDG_DATA_HOME="$WORK/data" PATH="$WORK/fakebin:$PATH" \
  "$WORK/root/usr/bin/dpsanitize-fetch-embedding" || fail "dpsanitize-fetch-embedding failed"

echo "test-package: ok: $(basename "$DEB") ($(stat -c %s "$DEB") bytes), $version," \
  "$((SECONDS - start)) s"
