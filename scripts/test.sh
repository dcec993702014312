#!/usr/bin/env bash
# The project's test command: build, lint, check generated files, then run a
# subset of the tests (unit, integration, e2e) or all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:-all}"

npx tsc -b
node schema/dist/src/write-json-schema.js --check
if [ "$suite" = all ]; then
  npx eslint .
  npx prettier --check . >/dev/null || { npx prettier --check . ; exit 1; }
fi

unit=(schema/dist/test)
integration=()
e2e=()
case "$suite" in
  unit) files=("${unit[@]}") ;;
  integration) files=("${integration[@]}") ;;
  e2e) files=("${e2e[@]}") ;;
  all) files=("${unit[@]}" "${integration[@]}" "${e2e[@]}") ;;
  *) echo "usage: scripts/test.sh [unit|integration|e2e|all]" >&2; exit 2 ;;
esac
# Test files start their own daemons on ports the OS picks, so they can run side by side.
exec node --test --test-concurrency=4 "${files[@]}"
