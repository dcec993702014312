#!/usr/bin/env bash
# The project's test command (`npm test` = all). Installs what is missing,
# builds, lints, checks generated files, then runs one suite or all of them:
#   unit         schema, Maildir and users (no daemon)
#   integration  real pop3d processes, real sockets and real clients
#   e2e          the real pulumi CLI driving the provider against pop3d
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:-all}"
shopt -s nullglob

case "$suite" in
  e2e | all) bash scripts/setup.sh --pulumi ;;
  *) bash scripts/setup.sh ;;
esac
npx tsc -b
node scripts/generate-json-schema.js --check >/dev/null
node scripts/generate-crlf-kernel.js --check
if [ "$suite" = all ]; then
  npx eslint .
  npx prettier --check . >/dev/null || { npx prettier --check . ; exit 1; }
fi

unit=(schema/dist/test/*.test.js runtime/dist/test/maildir-*.test.js runtime/dist/test/users-*.test.js)
integration=()
for file in runtime/dist/test/*.test.js; do
  case "$file" in */maildir-*|*/users-*) ;; *) integration+=("$file") ;; esac
done
e2e=(provider/dist/test/*.test.js)

case "$suite" in
  unit) files=("${unit[@]}") ;;
  integration) files=("${integration[@]}") ;;
  e2e) files=("${e2e[@]}") ;;
  all) files=("${unit[@]}" "${integration[@]}" "${e2e[@]}") ;;
  *) echo "usage: scripts/test.sh [unit|integration|e2e|all]" >&2; exit 2 ;;
esac
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files for suite $suite" >&2
  exit 1
fi
# Each test file starts its own daemons on ports the OS picked, so files run side by side.
exec node --test --test-concurrency=4 "${files[@]}"
