#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine too: installs what it needs, then runs `npm test`
# (lint, typecheck, build, and vitest against the real restic).
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests also need an sshd (ssh transport peer), podman, runc and debootstrap (the container fleet) and
# ansible (runbook steps; Debian's package has the podman connection plugin) and chromium (renders the
# HTML report in a test); libvirt, QEMU and cloud-init's seed tool for the vm provider's real VMs.
LIFEBOAT_SETUP_EXTRA="${LIFEBOAT_SETUP_EXTRA:-} openssh-server podman runc debootstrap ansible chromium qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients cloud-image-utils" ./scripts/setup.sh
npm test
