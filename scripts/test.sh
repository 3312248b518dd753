#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine too: installs what it needs, then runs `npm test`
# (lint, typecheck, build, and vitest against the real restic).
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests also need an sshd (ssh transport peer) and podman, runc and debootstrap (the container fleet).
LIFEBOAT_SETUP_EXTRA="${LIFEBOAT_SETUP_EXTRA:-} openssh-server podman runc debootstrap" ./scripts/setup.sh
npm test
