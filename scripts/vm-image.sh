#!/usr/bin/env bash
# Builds the base disk the example VM runbooks start from: Debian bookworm made with debootstrap from Debian's
# mirror (no cloud image download), with a kernel, systemd, openssh-server and cloud-init (NoCloud). The disk has
# no partition table and no bootloader: the VM boots the kernel and initrd kept beside it (libvirt's direct
# kernel boot), so nothing needs a loop device or a mount. Cached: a second run returns at once.
#   LIFEBOAT_VM_IMAGE_DIR  where the disk, kernel and initrd go (default /var/lib/lifeboat/images)
#   LIFEBOAT_VM_IMAGE_SIZE the root filesystem's size (default 3G; a VM's disk may be larger, cloud-init grows it)
# Prints the disk's path. Needs root, debootstrap, e2fsprogs and qemu-utils.
set -euo pipefail
dir=${LIFEBOAT_VM_IMAGE_DIR:-/var/lib/lifeboat/images}
size=${LIFEBOAT_VM_IMAGE_SIZE:-3G}
name=bookworm
say() { printf '\033[1m[vm-image]\033[0m %s\n' "$*" >&2; }
die() { printf '[vm-image] error: %s\n' "$*" >&2; exit 1; }

disk="$dir/$name.qcow2"
if [ -f "$disk" ] && [ -f "$dir/$name.vmlinuz" ] && [ -f "$dir/$name.initrd" ]; then
  echo "$disk"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "building the VM image needs root (debootstrap)"
for tool in debootstrap mkfs.ext4 qemu-img; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: apt-get install debootstrap e2fsprogs qemu-utils"
done

# libvirt's QEMU runs as its own user: it must be able to reach the files (not list the directory).
install -d -m 0711 "$dir"
work=$(mktemp -d "$dir/build-XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
mirror=${LIFEBOAT_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# The container base image's debootstrap tarball when scripts/base-image.sh made one; else debootstrap now.
mkdir -p "$rootfs"
if [ -f /var/cache/lifeboat/bookworm-minbase.tar ]; then
  say "unpacking the cached bookworm minbase"
  tar -C "$rootfs" -xf /var/cache/lifeboat/bookworm-minbase.tar
else
  say "debootstrap --variant=minbase bookworm (about a minute)"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
fi
# Packages go in with apt inside the tree (debootstrap's own resolver trips over cloud-init's dependencies);
# nothing is started while they install.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod +x "$rootfs/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
mount -t proc proc "$rootfs/proc"
trap 'umount "$rootfs/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
say "installing a kernel, systemd, openssh-server and cloud-init (a few minutes)"
chroot "$rootfs" apt-get update -qq >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log" >&2; die "apt-get update failed (log above)"; }
DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get install -y -qq --no-install-recommends \
  systemd-sysv udev dbus linux-image-amd64 initramfs-tools openssh-server cloud-init ifupdown isc-dhcp-client \
  iproute2 netbase e2fsprogs procps less >>"$work/apt.log" 2>&1 ||
  { tail -20 "$work/apt.log" >&2; die "installing the VM's packages failed (log above)"; }
umount "$rootfs/proc"
rm -f "$rootfs/usr/sbin/policy-rc.d"
: >"$rootfs/etc/resolv.conf"

say "configuring for NoCloud"
cat >"$rootfs/etc/fstab" <<'FSTAB'
LABEL=lifeboat-root / ext4 defaults,errors=remount-ro 0 1
FSTAB
# cloud-init reads only the seed disk Lifeboat attaches (label cidata), never a metadata service on the network.
cat >"$rootfs/etc/cloud/cloud.cfg.d/90-lifeboat.cfg" <<'CFG'
datasource_list: [ NoCloud, None ]
disable_root: false
ssh_pwauth: false
CFG
# Only the mirror: a drill's machine reaches what its runbook allows (drill.allow), and one host is easy to allow.
# A runbook that wants security updates adds the security suite (and allows its host).
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
SOURCES
# apt's daily timers would take dpkg's lock in the middle of a runbook's apt step.
ln -sf /dev/null "$rootfs/etc/systemd/system/apt-daily.timer"
ln -sf /dev/null "$rootfs/etc/systemd/system/apt-daily-upgrade.timer"
# Every VM made from the disk is its own machine: its id and host keys are made at first boot (cloud-init).
: >"$rootfs/etc/machine-id"
rm -f "$rootfs"/etc/ssh/ssh_host_* "$rootfs/var/lib/dbus/machine-id"
chroot "$rootfs" passwd -l root >/dev/null
echo localhost >"$rootfs/etc/hostname"
chroot "$rootfs" apt-get clean

kernel=$(find "$rootfs/boot" -name 'vmlinuz-*' | sort | tail -1)
initrd=$(find "$rootfs/boot" -name 'initrd.img-*' | sort | tail -1)
[ -n "$kernel" ] && [ -n "$initrd" ] || die "the kernel or its initrd is missing from the debootstrapped tree"
cp "$kernel" "$work/$name.vmlinuz"
cp "$initrd" "$work/$name.initrd"

say "making the root filesystem ($size) and the qcow2 disk"
mkfs.ext4 -q -L lifeboat-root -d "$rootfs" "$work/root.raw" "$size"
qemu-img convert -O qcow2 "$work/root.raw" "$work/$name.qcow2"
chmod 0644 "$work/$name.qcow2" "$work/$name.vmlinuz" "$work/$name.initrd"
mv "$work/$name.vmlinuz" "$work/$name.initrd" "$dir/"
mv "$work/$name.qcow2" "$disk"
say "ready: $disk (boots with $dir/$name.vmlinuz and $dir/$name.initrd)"
echo "$disk"
