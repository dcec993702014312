#!/usr/bin/env bash
# Installs everything the tests need, idempotently: Debian packages for the
# real POP3 clients the tests drive, the npm workspace, and (with --pulumi)
# the pulumi CLI built from source. Fast when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_pulumi=false
[ "${1:-}" = "--pulumi" ] && want_pulumi=true

# command -> Debian package. curl, openssl s_client, python3 (poplib), mpop,
# ss (iproute2) and setpriv (util-linux) are the real clients the tests use.
declare -A packages=(
  [curl]=curl
  [openssl]=openssl
  [python3]=python3
  [mpop]=mpop
  [ss]=iproute2
  [setpriv]=util-linux
)
missing=()
for cmd in "${!packages[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${packages[$cmd]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# npm ci only when the lockfile changed since the last install (npm writes
# node_modules/.package-lock.json on every install).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

if $want_pulumi; then
  bash scripts/ensure-pulumi.sh >/dev/null
fi
