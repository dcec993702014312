#!/usr/bin/env bash
# Ensures a working Pulumi toolchain exists and prints the directory holding it.
#
#   PATH="$(bash scripts/ensure-pulumi.sh | tail -1):$PATH"
#
# The pulumi CLI cannot be downloaded on our machines (no get.pulumi.com, no
# GitHub releases), but the Go module proxy is reachable, so we build it from
# source. The bin directory ends up holding the three executables a Pulumi
# TypeScript program with dynamic providers needs:
#   pulumi                         the CLI, from tools/pulumi-cli
#   pulumi-language-nodejs         the Node.js language host, from
#                                  tools/pulumi-language-nodejs (see its go.mod
#                                  for why it is an older version)
#   pulumi-resource-pulumi-nodejs  the dynamic-provider launcher; a shell script
#                                  shipped in the @pulumi/pulumi npm package
#
# The binaries are cached outside the clone (they are ~140 MB and take minutes
# to build on 2 cores), keyed by the CLI version, so every clone and every
# test run after the first reuses them. Idempotent; safe to run concurrently.
#
# Environment:
#   POP3_IAC_CACHE            cache root (default: $HOME/.cache/pop3-iac)
#   POP3_IAC_PULUMI_NODEJS_SDK
#                             an installed @pulumi/pulumi package directory to
#                             take the launcher from (default: the repo's
#                             node_modules/@pulumi/pulumi)
#
# Only the last stdout line is the bin directory; all build chatter goes to
# stderr so callers can capture stdout safely.
set -euo pipefail

# Keep stdout clean: everything (including go's output) goes to stderr, and the
# result is written to the saved stdout (fd 3) at the very end.
exec 3>&1 1>&2

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli_module="$repo_root/tools/pulumi-cli"
langhost_module="$repo_root/tools/pulumi-language-nodejs"

die() {
  echo "ensure-pulumi: error: $*"
  exit 1
}

# The versions come from the go.mod files so that bumping a version is a
# go.mod change only (plus the npm pin, which must match the CLI).
module_version() { # <go.mod> <module path>
  awk -v m="$2" '$1 == m { print $2; exit }' "$1"
}
pulumi_version="$(module_version "$cli_module/go.mod" github.com/pulumi/pulumi/pkg/v3)"
langhost_version="$(module_version "$langhost_module/go.mod" github.com/pulumi/pulumi/sdk/v3)"
[[ -n "$pulumi_version" ]] || die "no github.com/pulumi/pulumi/pkg/v3 requirement in $cli_module/go.mod"
[[ -n "$langhost_version" ]] || die "no github.com/pulumi/pulumi/sdk/v3 requirement in $langhost_module/go.mod"

cache_root="${POP3_IAC_CACHE:-$HOME/.cache/pop3-iac}"
bin_dir="$cache_root/pulumi-$pulumi_version/bin"

# Check the npm side first: without the launcher, dynamic providers fail only
# at `pulumi up` time ("no resource plugin 'pulumi-resource-pulumi-nodejs'
# found"), and it is better to say so now than after a multi-minute build.
sdk_dir="${POP3_IAC_PULUMI_NODEJS_SDK:-$repo_root/node_modules/@pulumi/pulumi}"
launcher="$sdk_dir/pulumi-resource-pulumi-nodejs"
if [[ ! -f "$launcher" ]]; then
  die "$launcher not found.
  The dynamic-provider launcher ships in the @pulumi/pulumi npm package.
  Run 'npm install' (or 'npm ci') in $repo_root first,
  or point POP3_IAC_PULUMI_NODEJS_SDK at an installed @pulumi/pulumi."
fi
sdk_version="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$sdk_dir/package.json" | head -1)"
if [[ "v$sdk_version" != "$pulumi_version" ]]; then
  # Not fatal (the wire protocol is compatible across 3.x), but the pins are
  # meant to move together.
  echo "ensure-pulumi: warning: @pulumi/pulumi is $sdk_version but the CLI is $pulumi_version"
fi

mkdir -p "$bin_dir"

# Two test runs starting at once must not both spend minutes building or
# overwrite each other's binaries.
if command -v flock >/dev/null; then
  exec 9>"$bin_dir/.lock"
  flock 9
fi

cli_ok() {
  [[ -x "$bin_dir/pulumi" ]] &&
    [[ "$(PULUMI_SKIP_UPDATE_CHECK=true "$bin_dir/pulumi" version 2>/dev/null)" == "$pulumi_version" ]]
}

# The language host has no --version flag, so a stamp file records which
# module version the cached binary was built from.
langhost_stamp="$bin_dir/.pulumi-language-nodejs.version"
langhost_ok() {
  [[ -x "$bin_dir/pulumi-language-nodejs" ]] &&
    [[ "$(cat "$langhost_stamp" 2>/dev/null)" == "$langhost_version" ]]
}

# go_build <module dir> <package> <version> <output name>
go_build() {
  local tmp="$bin_dir/.$4.tmp.$$"
  command -v go >/dev/null || die "go is not on PATH; it is needed to build $4 (once)"
  echo "ensure-pulumi: building $4 $3 (first run only; takes minutes)..."
  local start=$SECONDS
  # CGO_ENABLED=0: a static binary that runs on any Linux we cache it for.
  # -X ...version.Version: without it the binary reports no version, and
  #   `pulumi version` is what decides whether the cache is valid.
  # -s -w: drop symbol tables/DWARF (~45 MB smaller; stack traces still work).
  # -mod=readonly: build exactly what go.mod/go.sum pin, never re-resolve.
  (cd "$1" && CGO_ENABLED=0 go build -mod=readonly -buildvcs=false \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$3" \
    -o "$tmp" "$2") || {
    rm -f "$tmp"
    die "building $4 failed"
  }
  # Rename into place so an interrupted build never leaves a half-written
  # binary that a later run would mistake for a cached one.
  mv -f "$tmp" "$bin_dir/$4"
  echo "ensure-pulumi: built $4 in $((SECONDS - start))s"
}

if ! cli_ok; then
  go_build "$cli_module" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$pulumi_version" pulumi
  cli_ok || die "$bin_dir/pulumi does not report version $pulumi_version"
fi

if ! langhost_ok; then
  go_build "$langhost_module" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
    "$langhost_version" pulumi-language-nodejs
  echo "$langhost_version" >"$langhost_stamp"
fi

# The launcher resolves @pulumi/pulumi from the program's working directory at
# run time, so a copy works for any project; copying (not symlinking) keeps the
# cache usable when this clone's node_modules is deleted. Refreshed on every
# run in case the npm package changed it. It must sit beside `pulumi` (or on
# PATH): the CLI looks for plugins next to its own executable.
if ! cmp -s "$launcher" "$bin_dir/pulumi-resource-pulumi-nodejs"; then
  cp "$launcher" "$bin_dir/.pulumi-resource-pulumi-nodejs.tmp.$$"
  chmod 755 "$bin_dir/.pulumi-resource-pulumi-nodejs.tmp.$$"
  mv -f "$bin_dir/.pulumi-resource-pulumi-nodejs.tmp.$$" "$bin_dir/pulumi-resource-pulumi-nodejs"
fi

echo "$bin_dir" >&3
