#!/usr/bin/env bash
# Rewrites the golden outputs under tests/golden/ from the current code. Only
# on purpose: look at `git diff tests/golden` afterwards and commit the change
# with its reason (tests/e2e/golden_test.cpp explains what they pin).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/build.sh" "$ROOT/build"
DPS_UPDATE_GOLDEN=1 "$ROOT/build/tests/e2e_tests" --gtest_filter='*Golden*'
git -C "$ROOT" status --short tests/golden
