#!/usr/bin/env bash
# Builds the image the example runbooks start from when podman has none: Debian bookworm minbase made with
# debootstrap from Debian's mirror (no image registry needed), imported as localhost/lifeboat-base:bookworm.
# The tarball is cached, so a rebuild after `podman rmi` takes seconds.
#   LIFEBOAT_BASE_IMAGE   the image name (default localhost/lifeboat-base:bookworm)
#   LIFEBOAT_IMAGE_CACHE  where the tarball is kept (default /var/cache/lifeboat)
set -euo pipefail
image=${LIFEBOAT_BASE_IMAGE:-localhost/lifeboat-base:bookworm}
cache=${LIFEBOAT_IMAGE_CACHE:-/var/cache/lifeboat}
say() { printf '\033[1m[base-image]\033[0m %s\n' "$*" >&2; }

if podman image exists "$image"; then exit 0; fi
tarball="$cache/bookworm-minbase.tar"
if [ ! -f "$tarball" ]; then
  mkdir -p "$cache"
  rootfs=$(mktemp -d "$cache/rootfs-XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  say "debootstrap --variant=minbase bookworm (about a minute)"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  tar -C "$rootfs" -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
fi
say "podman import $tarball as $image"
podman import -q "$tarball" "$image" >/dev/null
