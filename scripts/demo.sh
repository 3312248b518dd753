#!/usr/bin/env bash
# The quick-start demo: installs what it needs, validates the example policies, then classifies a small
# web host's data, snapshots only the irreplaceable part into a local repository, and restores it.
#   LIFEBOAT_DEMO_DIR   where the demo host, its repository and key live (default /var/tmp/lifeboat-demo)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
npm run -s build

repo=$PWD
lifeboat() { "$repo/bin/lifeboat.js" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Validate the example policies in policies/"
lifeboat validate

demo=${LIFEBOAT_DEMO_DIR:-/var/tmp/lifeboat-demo}
rm -rf "$demo"
mkdir -p "$demo/policies"
host="$demo/web1"   # stands in for the machine web1: its files live below this directory

step "2. A web host with data in every class ($host)"
mkdir -p "$host/srv/app/uploads/2026" "$host/srv/app/uploads/.thumbnails" "$host/srv/app/config/secrets" \
  "$host/srv/app/node_modules/express" "$host/var/cache/app"
head -c 3000000 /dev/urandom > "$host/srv/app/uploads/2026/holiday.jpg"
head -c 800000 /dev/urandom > "$host/srv/app/uploads/2026/contract.pdf"
echo "thumbnail" > "$host/srv/app/uploads/.thumbnails/holiday.jpg"
echo "half-written" > "$host/srv/app/uploads/upload-7f3a.tmp"
echo "-----BEGIN PRIVATE KEY----- demo" > "$host/srv/app/config/secrets/signing.key"
echo "listen = 8080" > "$host/srv/app/config/app.ini"
echo "module.exports = {}" > "$host/srv/app/node_modules/express/index.js"
echo "console.log('app')" > "$host/srv/app/server.js"
echo "cache" > "$host/var/cache/app/page.html"
cat > "$demo/policies/web1.yaml" <<YAML
host: web1
irreplaceable:
  - $host/srv/app/uploads           # user uploads: nothing can recreate them
  - $host/srv/app/config/secrets    # issued keys, inside the rebuildable config
rebuildable:
  - $host/srv/app                   # code and config: the runbook rebuilds them
ignored:
  - $host/srv/app/uploads/.thumbnails
  - $host/var/cache
exclude:
  - "*.tmp"
YAML
cat "$demo/policies/web1.yaml"

# No lifeboat.yaml here: Lifeboat uses its embedded default, a local directory repository.
cd "$demo"
export LIFEBOAT_HOME="$demo/state"

step "3. Snapshot only the irreplaceable data"
lifeboat --quiet snapshot --host web1
lifeboat --quiet snapshots --host web1

# Checksums of what must come back, taken before the disaster.
(cd / && find "${host#/}/srv/app/uploads" "${host#/}/srv/app/config/secrets" -type f ! -name '*.tmp' \
  ! -path '*/.thumbnails/*' -print0 | xargs -0 sha256sum) > "$demo/expected.sha256"

step "4. Disaster: web1's uploads are gone. Restore them into $demo/restored"
rm -rf "$host/srv/app/uploads/2026"
lifeboat --quiet restore --host web1 --target "$demo/restored"

step "5. What came back"
(cd "$demo/restored" && find . -type f | sort)
(cd "$demo/restored" && sha256sum --check --quiet "$demo/expected.sha256")
echo
echo "Every irreplaceable file came back byte-identical (sha256 checked)."
echo "Rebuildable and ignored files were never read: server.js, app.ini, node_modules, thumbnails, cache and *.tmp are not in the snapshot."
echo "Demo finished. The repository is in $LIFEBOAT_HOME/repositories, its key in $LIFEBOAT_HOME/keys."
