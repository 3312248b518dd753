#!/usr/bin/env bash
# A fresh-machine rehearsal: removes what setup installs and what the tests create (the Debian packages of
# scripts/setup.sh and scripts/test.sh, restic's pinned trixie source, /run/sshd, the cached image tarballs,
# every podman image and container), then runs the README's test command from a fresh clone of HEAD, as a new
# user on a fresh Debian 12 machine would. Only what is committed is tested.
#   scripts/fresh-check.sh --yes            rehearse (destructive: purges those packages from this machine)
#   scripts/fresh-check.sh --yes --demo     the demo too, after the tests
#   FRESH_CHECK_DIR   where the clone goes (default: a new directory under /var/tmp)
# Run it before resolving an issue that touches setup, test helpers or CI. Needs root, like setup does.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

say() { printf '\033[1m[fresh-check]\033[0m %s\n' "$*" >&2; }
die() { printf '[fresh-check] error: %s\n' "$*" >&2; exit 2; }

yes=0
demo=0
for a in "$@"; do
  case "$a" in
    --yes) yes=1 ;;
    --demo) demo=1 ;;
    *) die "unknown option $a (see the comment at the top of $0)" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "run as root: it removes and reinstalls Debian packages"
if [ "$yes" -ne 1 ]; then
  cat >&2 <<'TXT'
This purges restic, openssh-server, podman, runc, debootstrap, ansible, chromium, libvirt and QEMU (and what
apt then autoremoves), restic's trixie apt source, every podman image, container and volume, every libvirt VM
and network, /run/sshd and the image caches (the VM base image's too), then runs ./scripts/test.sh from a fresh
clone. Run again with --yes to go ahead.
TXT
  exit 2
fi
[ -z "$(git status --porcelain --untracked-files=no)" ] || say "uncommitted changes are NOT part of the rehearsal (it clones HEAD)"

# The packages setup.sh and test.sh install (setup.sh's base list stays: ca-certificates, openssl, procps and
# openssh-client are on any Debian machine that can clone a repository over https).
packages=(restic restic-rest-server openssh-server podman runc catatonit debootstrap ansible chromium
  qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients libvirt-daemon cloud-image-utils)
installed=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && installed+=("$p")
done

if command -v podman >/dev/null 2>&1; then
  say "podman system reset (every image, container, volume and network)"
  podman system reset --force >/dev/null 2>&1 || say "podman system reset failed; removing its storage by hand"
fi
if command -v virsh >/dev/null 2>&1 && virsh -c qemu:///system version >/dev/null 2>&1; then
  say "removing every libvirt VM and network, stopping libvirtd"
  for d in $(virsh -q -c qemu:///system list --all --name); do
    virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
    virsh -q -c qemu:///system undefine "$d" >/dev/null 2>&1 || true
  done
  for n in $(virsh -q -c qemu:///system net-list --all --name); do
    virsh -q -c qemu:///system net-destroy "$n" >/dev/null 2>&1 || true
  done
fi
pkill -x libvirtd 2>/dev/null || true
pkill -x virtlogd 2>/dev/null || true
if [ "${#installed[@]}" -gt 0 ]; then
  say "purging ${installed[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${installed[@]}" >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get autoremove --purge -y -qq >/dev/null
fi
say "removing restic's trixie source, /run/sshd, container storage, image caches, restic's cache"
rm -f /etc/apt/sources.list.d/lifeboat-trixie.sources /etc/apt/preferences.d/lifeboat-trixie
rm -rf /run/sshd /var/lib/containers /run/containers /var/cache/lifeboat /var/cache/lifeboat-test /var/lib/lifeboat
rm -rf /etc/libvirt /var/lib/libvirt /run/libvirt
rm -rf "${HOME:-/root}/.cache/restic"
apt-get update -qq >/dev/null || true

dir=${FRESH_CHECK_DIR:-$(mktemp -d /var/tmp/lifeboat-fresh-XXXXXX)}
say "cloning HEAD ($(git rev-parse --short HEAD)) into $dir"
rm -rf "$dir"
git clone -q "$repo" "$dir"
cd "$dir"
start=$(date +%s)
status=0
./scripts/test.sh || status=$?
took=$(($(date +%s) - start))
say "./scripts/test.sh exited $status after ${took}s (setup included); per-file times: (cd $dir && npm run -s test:times -- --print test-artifacts/test-times.json)"
if [ "$demo" -eq 1 ] && [ "$status" -eq 0 ]; then
  start=$(date +%s)
  ./scripts/demo.sh || status=$?
  say "./scripts/demo.sh exited $status after $(($(date +%s) - start))s"
fi
exit "$status"
