#!/usr/bin/env bash
# Runs podbay's tests: unit tests (no root, no host state) then end-to-end tests (root, real
# kubectl and real host tools). `scripts/test.sh unit` or `scripts/test.sh e2e` runs one half.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

npm run -s build
# imports that break the layering of docs/design.md fail the run before any test
node scripts/check-layers.mjs

unit=$(find dist/src -name '*.test.js' | sort)
e2e=$(find dist/test/e2e -name '*.test.js' 2>/dev/null | sort)

files=()
case "$what" in
  unit) files=($unit) ;;
  e2e) files=($e2e) ;;
  all) files=($unit $e2e) ;;
  *) echo "usage: scripts/test.sh [unit|e2e|all]" >&2; exit 2 ;;
esac
# One file at a time for e2e (each owns a server and ports); unit files in parallel.
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
