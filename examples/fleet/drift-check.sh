#!/usr/bin/env bash
# A drift check that holds no key able to apply: for each host reached over
# mutual TLS, reads the running configuration's ETag with a read-only
# identity (a certificate from the daemons' --admin-reader-ca) and compares
# it with the ETag the stack recorded (the `applied` output). It needs read
# access to the stack's state, not its secrets: no passphrase, no deployer key.
#
#   ./drift-check.sh <ca.crt> <reader.crt> <reader.key>    (in this directory, the stack selected)
#
# Exits 0 when every host runs what Pulumi applied, 1 naming each host that
# drifted, 2 when a host cannot be read. SSH hosts are not checked here (SSH
# reaches the admin socket, which has no read-only role): `pulumi refresh
# --preview-only --expect-no-changes` checks every host, with the stack's own identity.
set -euo pipefail
[ $# -eq 3 ] || {
  echo "usage: $0 <ca.crt> <reader.crt> <reader.key>" >&2
  exit 2
}
ca=$1 cert=$2 key=$3

# The stack's outputs as stored, without decrypting anything (`pulumi stack output` would want the passphrase).
state="$(pulumi stack export)"
drifted=0 unreadable=0
while IFS=$'\t' read -r name url etag; do
  if ! live="$(curl --silent --show-error --fail --max-time 20 --cacert "$ca" --cert "$cert" --key "$key" \
    --output /dev/null --write-out '%header{etag}' "$url/v1/config")"; then
    echo "$name: cannot read $url (see above)" >&2
    unreadable=1
  elif [ "$live" != "$etag" ]; then
    echo "$name: drifted: $url runs ETag $live, Pulumi applied $etag"
    drifted=1
  else
    echo "$name: as applied ($etag)"
  fi
done < <(node -e '
  const { resources } = JSON.parse(process.argv[1]).deployment;
  const stack = resources.find((resource) => resource.type === "pulumi:pulumi:Stack");
  for (const [name, { url, etag }] of Object.entries(stack?.outputs?.applied ?? {}))
    console.log([name, url, etag].join("\t"));' "$state")
[ $unreadable = 0 ] || exit 2
exit $drifted
