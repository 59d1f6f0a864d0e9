#!/usr/bin/env bash
# Builds the Debian package (cpack -G DEB, configured in cmake/Packaging.cmake)
# from a Release build tree, by default build/ (the tree scripts/build.sh,
# scripts/test.sh and CI build): it brings that tree up to date (a no-op right
# after CI's build) instead of configuring another one. Prints the .deb's
# path and size.
#   scripts/package.sh [BUILD_DIR]      -> BUILD_DIR/package/dpsanitize_<version>_<arch>.deb
# Needs dpkg-dev and file (dpkg-shlibdeps computes the Depends line).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
"$ROOT/scripts/build.sh" "$BUILD"
BUILD="$(cd "$BUILD" && pwd)"
# A sanitizer or debug build must not become the package users install.
if ! grep -qx 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" ||
  grep -qx 'DPSANITIZE_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt"; then
  echo "package: $BUILD is not a plain Release build" >&2
  exit 1
fi
OUT="$BUILD/package"
mkdir -p "$OUT"
rm -f "$OUT"/dpsanitize_*.deb
if ! (cd "$BUILD" && cpack -G DEB -B "$OUT" --config CPackConfig.cmake >"$OUT/cpack.log" 2>&1); then
  cat "$OUT/cpack.log" >&2
  echo "package: cpack failed (log above: $OUT/cpack.log)" >&2
  exit 1
fi
DEB="$(ls "$OUT"/dpsanitize_*.deb)"
echo "$DEB ($(stat -c %s "$DEB") bytes, $(du -h "$DEB" | cut -f1))"
