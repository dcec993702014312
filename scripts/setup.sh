#!/usr/bin/env bash
# Installs everything the tests need, idempotently: Debian packages for the
# real POP3 clients the tests drive, the npm workspace, and (with --pulumi)
# the pulumi CLI built from source. Fast when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_pulumi=false
[ "${1:-}" = "--pulumi" ] && want_pulumi=true

# What the tests drive, as "file or command -> Debian package": the real POP3
# clients (curl, openssl s_client, python3's poplib, mpop, fetchmail, getmail6),
# the real servers a feature meets (Dovecot's POP3, IMAP and LDA, HAProxy,
# PostgreSQL, Prometheus with promtool, OpenSSH's sshd), and tools (ss, setpriv,
# strace). Each test starts its own private instance of a server.
declare -A packages=(
  [curl]=curl
  [openssl]=openssl
  [python3]=python3
  [mpop]=mpop
  [fetchmail]=fetchmail
  [getmail]=getmail6
  [ss]=iproute2
  [setpriv]=util-linux
  [strace]=strace
  [/usr/lib/dovecot/pop3]=dovecot-pop3d
  [/usr/lib/dovecot/imap]=dovecot-imapd
  [/usr/sbin/haproxy]=haproxy
  [/usr/bin/prometheus]=prometheus
  [/usr/sbin/sshd]=openssh-server
  [/usr/lib/postgresql]=postgresql
)
missing=()
for need in "${!packages[@]}"; do
  case "$need" in
    /*) [ -e "$need" ] || missing+=("${packages[$need]}") ;;
    *) command -v "$need" >/dev/null 2>&1 || missing+=("${packages[$need]}") ;;
  esac
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # The packages' maintainer scripts would start system-wide Dovecot, PostgreSQL,
  # HAProxy, sshd and Prometheus on their standard ports; the tests run private
  # instances instead, so services are kept from starting during the install
  # (policy-rc.d exit 101 = "action forbidden"), unless a policy already exists.
  policy=/usr/sbin/policy-rc.d
  made_policy=false
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    made_policy=true
  fi
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  if $made_policy; then $sudo rm -f "$policy"; fi
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
