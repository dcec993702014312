#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run pop3d on its embedded
# demo configuration (loopback, ports 1110 and 1995, a demo user and Maildir).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi
npx tsc -b >&2
exec node runtime/bin/pop3d.js --demo "$@"
