#!/usr/bin/env bash
# A lab fleet on one machine, for trying examples/fleet: three mail hosts made
# of network namespaces on a test bridge (198.18.N.0/24, a range reserved for
# benchmarks and never routed), a real pop3d in each, mail1 and mail2 with the
# admin API on --admin-listen (mutual TLS), mail3 with only its admin socket
# and a real OpenSSH sshd to reach it through. Run as root (network
# namespaces need it).
#
#   ./lab.sh up <dir>     make the hosts; everything they use lives in <dir>
#   ./lab.sh down <dir>   stop them and remove the namespaces, the bridge and <dir>
#
# <dir> gets the certificates (deployers-ca.crt, deployer.crt/.key, the
# read-only drift.crt/.key), the SSH key (deployer_ed25519), hosts.json (the
# program's `hosts` list) and hosts.env (MAIL1=..., the addresses, for a shell).
# Each host serves alice (password secret) one message once a bind is applied.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
usage() {
  echo "usage: $0 up <dir> | down <dir>" >&2
  exit 2
}
[ $# -eq 2 ] || usage
action=$1
lab=$2

ADMIN_PORT=7443
HOSTS=(mail1 mail2 mail3)


down() {
  [ -f "$lab/lab.env" ] || {
    echo "lab.sh: $lab holds no lab (no lab.env)" >&2
    exit 1
  }
  # shellcheck source=/dev/null
  . "$lab/lab.env"
  for pidfile in "$lab"/*/pop3d.pid "$lab"/*/sshd.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  sleep 0.5
  for pidfile in "$lab"/*/pop3d.pid "$lab"/*/sshd.pid; do
    [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  done
  # Deleting a namespace deletes the veth end in it, and with it its peer on the bridge.
  for i in 1 2 3; do ip netns del "p3lab-$LAB_TAG-$i" 2>/dev/null || true; done
  ip link del "$LAB_BRIDGE" 2>/dev/null || true
  rm -rf "$lab"
  echo "lab.sh: removed the lab of $LAB_NET.0/24"
}

# The first 198.18.N.0/24 with no route on this machine.
free_subnet() {
  local n
  for n in $(seq 0 254); do
    if ! ip -4 route show | grep -q "^198\.18\.$n\.0/24 "; then
      echo "198.18.$n"
      return
    fi
  done
  echo "lab.sh: no free 198.18.N.0/24" >&2
  exit 1
}

wait_for() { # <file> <pattern> <what>
  for _ in $(seq 1 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "lab.sh: $3 did not start; its log ($1):" >&2
  cat "$1" >&2 || true
  exit 1
}

certificates() {
  cd "$lab"
  local ca_args=(-x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign)
  openssl req "${ca_args[@]}" -keyout deployers-ca.key -out deployers-ca.crt -subj '/CN=lab deployers CA' 2>/dev/null
  openssl req "${ca_args[@]}" -keyout readers-ca.key -out readers-ca.crt -subj '/CN=lab readers CA' 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  issue() { # <name> <ca> <ext file> <subject>
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" \
      -subj "$4" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 30 -extfile "$3" \
      -out "$1.crt" 2>/dev/null
    rm "$1.csr"
  }
  issue deployer deployers-ca client.ext '/CN=lab-deployer'
  issue drift readers-ca client.ext '/CN=lab-drift-check'
  local i
  for i in 1 2 3; do
    printf 'subjectAltName=IP:%s.1%s\nextendedKeyUsage=serverAuth\n' "$LAB_NET" "$i" >"mail$i/server.ext"
    issue "mail$i/pop3d" deployers-ca "mail$i/server.ext" "/CN=mail$i"
  done
  ssh-keygen -q -t ed25519 -N '' -C lab-deployer -f deployer_ed25519
  chmod 600 ./*.key mail*/pop3d.key deployer_ed25519
  cd - >/dev/null
}

# The host's namespace, on the bridge at <net>.1<i>, routed through the bridge's address.
make_host() { # <i>
  local i=$1 ns="p3lab-$LAB_TAG-$1"
  ip netns add "$ns"
  ip link add "p3lv$LAB_TAG$i" type veth peer name "p3ln$LAB_TAG$i"
  ip link set "p3lv$LAB_TAG$i" master "$LAB_BRIDGE" up
  ip link set "p3ln$LAB_TAG$i" netns "$ns"
  ip -n "$ns" addr add "$LAB_NET.1$i/24" dev "p3ln$LAB_TAG$i"
  ip -n "$ns" link set "p3ln$LAB_TAG$i" up
  ip -n "$ns" link set lo up
  ip -n "$ns" route add default via "$LAB_NET.1"
}

start_pop3d() { # <i>
  local i=$1 dir="$lab/mail$1" ns="p3lab-$LAB_TAG-$1"
  mkdir -p "$dir/mail/alice/Maildir/"{cur,new,tmp} "$dir/state"
  printf 'From: bob@example.net\r\nSubject: lab\r\n\r\nOne message on mail%s.\r\n' "$i" \
    >"$dir/mail/alice/Maildir/new/1.lab.mail$i"
  echo secret | node "$pop3ctl" user add "$dir/users" alice >/dev/null
  echo '{ "binds": [] }' >"$dir/seed.json"
  local admin=()
  if [ "$i" != 3 ]; then
    admin=(--admin-listen "$LAB_NET.1$i:$ADMIN_PORT" --admin-tls-cert "$dir/pop3d.crt"
      --admin-tls-key "$dir/pop3d.key" --admin-client-ca "$lab/deployers-ca.crt"
      --admin-reader-ca "$lab/readers-ca.crt")
  fi
  ip netns exec "$ns" node "$pop3d" --config "$dir/seed.json" --users "$dir/users" \
    --maildir-root "$dir/mail" --state-dir "$dir/state" --hostname "mail$i" "${admin[@]}" \
    >"$dir/pop3d.log" 2>&1 &
  echo $! >"$dir/pop3d.pid"
  wait_for "$dir/pop3d.log" '"pop3d.ready"' "pop3d on mail$i"
}

start_sshd() { # <i>: sshd in the host's namespace; root logs in with deployer_ed25519 only
  local i=$1 dir="$lab/mail$1" ns="p3lab-$LAB_TAG-$1"
  ssh-keygen -q -t ed25519 -N '' -C "mail$i" -f "$dir/ssh_host_ed25519_key"
  cp "$lab/deployer_ed25519.pub" "$dir/authorized_keys"
  mkdir -p /run/sshd
  cat >"$dir/sshd_config" <<EOF
ListenAddress $LAB_NET.1$i
Port 22
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
AllowStreamLocalForwarding local
AllowTcpForwarding local
X11Forwarding no
PermitTTY no
EOF
  ip netns exec "$ns" /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
  wait_for "$dir/sshd.pid" . "sshd on mail$i"
}

up() {
  command -v ip >/dev/null && command -v openssl >/dev/null && [ -x /usr/sbin/sshd ] || {
    echo 'lab.sh: needs ip (iproute2), openssl and /usr/sbin/sshd (openssh-server)' >&2
    exit 1
  }
  [ "$(id -u)" = 0 ] || {
    echo 'lab.sh: run as root (network namespaces need it)' >&2
    exit 1
  }
  mkdir -p "$lab"
  lab="$(cd "$lab" && pwd)"
  [ -z "$(ls -A "$lab")" ] || {
    echo "lab.sh: $lab is not empty" >&2
    exit 1
  }
  # pop3d and pop3ctl as npm installed them for this program.
  pop3d="$(cd "$here" && node -p "require.resolve('@pop3-iac/runtime/bin/pop3d.js')")"
  pop3ctl="$(cd "$here" && node -p "require.resolve('@pop3-iac/runtime/bin/pop3ctl.js')")"

  LAB_TAG="$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  LAB_BRIDGE="p3lab$LAB_TAG"
  LAB_NET="$(free_subnet)"
  printf 'LAB_TAG=%s\nLAB_BRIDGE=%s\nLAB_NET=%s\n' "$LAB_TAG" "$LAB_BRIDGE" "$LAB_NET" >"$lab/lab.env"
  trap 'echo "lab.sh: up failed; cleaning up" >&2; down' ERR
  ip link add "$LAB_BRIDGE" type bridge
  ip addr add "$LAB_NET.1/24" dev "$LAB_BRIDGE"
  ip link set "$LAB_BRIDGE" up
  # Two labs (or a test network) that chose the same N at once: give up rather than share it.
  [ "$(ip -4 route show "$LAB_NET.0/24" | wc -l)" = 1 ] || {
    echo "lab.sh: $LAB_NET.0/24 was taken meanwhile; run again" >&2
    false
  }
  for i in 1 2 3; do
    mkdir -p "$lab/mail$i"
    make_host "$i"
  done
  certificates
  for i in 1 2 3; do start_pop3d "$i"; done
  start_sshd 3
  trap - ERR

  cat >"$lab/hosts.json" <<EOF
[
  { "name": "mail1", "url": "https://$LAB_NET.11:$ADMIN_PORT", "binds": "$LAB_NET.11 110" },
  { "name": "mail2", "url": "https://$LAB_NET.12:$ADMIN_PORT", "binds": "$LAB_NET.12 110" },
  {
    "name": "mail3",
    "binds": "$LAB_NET.13 110",
    "ssh": {
      "host": "$LAB_NET.13",
      "username": "root",
      "socket": "$lab/mail3/state/admin.sock",
      "hostKey": "$(cut -d' ' -f1,2 "$lab/mail3/ssh_host_ed25519_key.pub")"
    }
  }
]
EOF
  printf 'MAIL1=%s.11\nMAIL2=%s.12\nMAIL3=%s.13\n' "$LAB_NET" "$LAB_NET" "$LAB_NET" >"$lab/hosts.env"
  echo "lab.sh: mail1 $LAB_NET.11 (mutual TLS on :$ADMIN_PORT), mail2 $LAB_NET.12 (mutual TLS)," \
    "mail3 $LAB_NET.13 (SSH); the hosts list is $lab/hosts.json"
}

case "$action" in
  up) up ;;
  down) down ;;
  *) usage ;;
esac
