#!/usr/bin/env bash
# Installs what Lifeboat needs on Debian 12 (bookworm), idempotently: Node.js/npm to bootstrap,
# restic >= 0.17 (Debian trixie's package, pinned so nothing else changes), and the npm dependencies
# (which bring Node 24 through the node@24 devDependency), and restic's REST server for the vault. Safe to run again: each step checks first.
#   LIFEBOAT_SETUP_EXTRA="pkg ..."   extra Debian packages to install as well
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "installing $1 needs root (apt-get). Run as root, or install $1 yourself and rerun."
}

apt_updated=0
apt_update() {
  [ "$apt_updated" -eq 1 ] && return 0
  say "apt-get update"
  # A broken third-party source makes update fail while Debian's own lists are fine: go on and let the
  # install itself say what is missing.
  apt-get update -qq >/dev/null || say "apt-get update reported errors (see 'apt-get update'); continuing"
  apt_updated=1
}

# restic 0.17 is the oldest with exit codes 10/11/12, --stdin-from-command and restore --json.
restic_ok() {
  command -v restic >/dev/null 2>&1 || return 1
  local v
  v=$(restic version 2>/dev/null | awk '{print $2}')
  [ -n "$v" ] || return 1
  dpkg --compare-versions "$v" ge 0.17.0
}

# The mirror this machine already uses, so the trixie suite comes from the same place.
debian_mirror() {
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $0 ~ /bookworm/ && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# Debian trixie as an extra source, pinned at priority 100: only what is asked for with -t trixie comes from it.
add_trixie_source() {
  [ -f /etc/apt/sources.list.d/lifeboat-trixie.sources ] && [ -f /etc/apt/preferences.d/lifeboat-trixie ] && return 0
  local mirror
  mirror=$(debian_mirror)
  say "adding Debian trixie ($mirror) as a source pinned at priority 100"
  cat > /etc/apt/sources.list.d/lifeboat-trixie.sources <<SRC
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cat > /etc/apt/preferences.d/lifeboat-trixie <<PIN
# Added by Lifeboat's setup: trixie only for what is asked for explicitly (restic, its REST server).
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  apt_updated=0
}

install_restic() {
  if restic_ok; then return 0; fi
  need_root restic
  add_trixie_source
  apt_update
  say "installing restic 0.18 from Debian trixie"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie restic >/dev/null
  restic_ok || die "restic >= 0.17 is still missing after install; see 'apt-cache policy restic'"
}

# The vault (`lifeboat vault serve`) runs restic's REST server: Debian trixie's restic-rest-server (0.13).
install_rest_server() {
  if command -v restic-rest-server >/dev/null 2>&1 || command -v rest-server >/dev/null 2>&1; then return 0; fi
  need_root restic-rest-server
  add_trixie_source
  apt_update
  say "installing restic-rest-server from Debian trixie"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie restic-rest-server >/dev/null
  command -v restic-rest-server >/dev/null 2>&1 || die "restic-rest-server is still missing after install"
}

install_debian_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  need_root "${missing[*]}"
  apt_update
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_node() {
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then return 0; fi
  # Only to bootstrap npm; the project itself runs on Node 24 from the node@24 devDependency.
  install_debian_packages nodejs npm
}

install_npm_deps() {
  local stamp=node_modules/.lifeboat-lock
  if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp" && [ -x node_modules/.bin/node ]; then return 0; fi
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
}

# apt installs services without starting them where systemd is not PID 1, so nothing makes their runtime
# directories: what a started sshd would have had (its privilege separation directory), setup makes.
prepare_services() {
  if [ -x /usr/sbin/sshd ] && [ ! -d /run/sshd ] && [ "$(id -u)" -eq 0 ]; then
    say "creating /run/sshd (sshd's privilege separation directory; no service manager made it)"
    install -d -m 0755 /run/sshd
  fi
}

# The vm provider drives libvirt: where no service manager started libvirtd (systemd is not PID 1), setup does,
# as it makes sshd's directory. Nothing happens where libvirt is not installed.
start_libvirt() {
  command -v libvirtd >/dev/null 2>&1 || return 0
  [ "$(id -u)" -eq 0 ] || return 0
  virsh -c qemu:///system version >/dev/null 2>&1 && return 0
  if [ -d /run/systemd/system ]; then
    say "starting libvirtd"
    systemctl start libvirtd
  else
    say "starting virtlogd and libvirtd (no service manager runs them here)"
    pgrep -x virtlogd >/dev/null || virtlogd -d
    pgrep -x libvirtd >/dev/null || libvirtd -d
  fi
  for _ in $(seq 100); do
    virsh -c qemu:///system version >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "libvirtd did not answer after starting it; run 'libvirtd -v' to see why"
}

# ca-certificates for HTTPS; openssl makes the S3 test server's certificate; procps (pkill) for the crash tests;
# openssh-client for the ssh transport (the tests add openssh-server for their sshd on loopback); nftables keeps
# drill machines off production's network.
install_debian_packages ca-certificates openssl procps openssh-client nftables
install_restic
install_rest_server
install_node
# shellcheck disable=SC2086
[ -n "${LIFEBOAT_SETUP_EXTRA:-}" ] && install_debian_packages ${LIFEBOAT_SETUP_EXTRA}
prepare_services
start_libvirt
install_npm_deps
say "ready: $(restic version | awk '{print "restic", $2}'), node $(node_modules/.bin/node --version)"
