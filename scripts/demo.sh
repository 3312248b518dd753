#!/usr/bin/env bash
# The disaster demo, end to end on this machine: two hosts (web1: nginx with user uploads and an app's
# state; db1: PostgreSQL) are built from their runbooks as podman containers, get some data, and are
# snapshotted into S3-compatible storage. Then both are destroyed, recovered from code plus their data, checked,
# and a drill proves web1's recovery again on an isolated throwaway machine.
#   LIFEBOAT_DEMO_DIR   where the demo's config, key, storage and reports live (default /var/tmp/lifeboat-demo)
set -euo pipefail
cd "$(dirname "$0")/.."
LIFEBOAT_SETUP_EXTRA="${LIFEBOAT_SETUP_EXTRA:-} podman runc debootstrap" ./scripts/setup.sh
npm run -s build
./scripts/base-image.sh

repo=$PWD
node="$repo/node_modules/.bin/node"
lifeboat() { "$repo/bin/lifeboat.js" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
on() { podman exec -i "$1" sh -c "$2"; }

demo=${LIFEBOAT_DEMO_DIR:-/var/tmp/lifeboat-demo}
# Containers left by an earlier demo (only Lifeboat's own: they carry its label).
for h in web1 db1; do
  if podman container exists "$h"; then
    [ "$(podman inspect -f '{{index .Config.Labels "lifeboat.host"}}' "$h")" = "$h" ] ||
      { echo "a container named $h exists and is not the demo's; remove or rename it first" >&2; exit 1; }
    podman rm -f --time 0 "$h" >/dev/null
  fi
done
rm -rf "$demo"
mkdir -p "$demo/s3"

step "0. Object storage: an S3-compatible server (s3rver over HTTPS) at this machine's address"
# Hosts run restic themselves and send their data straight to the storage, so it must be reachable from them.
address=$(ip -4 route get 1.1.1.1 | sed -n 's/.* src \([0-9.]*\).*/\1/p')
export AWS_ACCESS_KEY_ID="AKDEMO$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
export AWS_SECRET_ACCESS_KEY="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
S3_DIR="$demo/s3" S3_ACCESS_KEY="$AWS_ACCESS_KEY_ID" S3_SECRET_KEY="$AWS_SECRET_ACCESS_KEY" \
  S3_BUCKETS=lifeboat S3_ADDRESS=0.0.0.0 S3_CERT_IPS="$address" \
  "$node" "$repo/test/helpers/s3/server.cjs" > "$demo/s3/ready" 2> "$demo/s3/log" &
s3pid=$!
trap 'kill $s3pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$demo/s3/ready" ] && break; sleep 0.1; done
port=$("$node" -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).port)' "$demo/s3/ready")
cat > "$demo/lifeboat.yaml" <<YAML
# The demo's settings: the example policies and runbooks of the repository, and the demo's object storage.
policies: $repo/policies
runbooks: $repo/runbooks
targets:
  offsite:
    type: s3
    endpoint: https://$address:$port
    bucket: lifeboat
    pathStyle: true
    caFile: $demo/s3/cert.pem
defaults:
  repository: offsite
YAML
export LIFEBOAT_CONFIG="$demo/lifeboat.yaml" LIFEBOAT_HOME="$demo/state"
echo "https://$address:$port (bucket lifeboat); config: $LIFEBOAT_CONFIG"

step "1. Validate the example policies and runbooks"
lifeboat validate

step "2. Build web1 and db1 from their runbooks (the first build of a new host: no data yet)"
lifeboat --quiet recover --host web1 --no-data
lifeboat --quiet recover --host db1 --no-data

step "3. Production life: users upload files, sign the guestbook, place orders"
on web1 'mkdir -p /srv/app/uploads/2026 /var/lib/app &&
  head -c 2000000 /dev/urandom > /srv/app/uploads/2026/holiday.jpg &&
  head -c 50000 /dev/urandom > /srv/app/uploads/logo.png &&
  echo "first entry: hello from the demo" > /var/lib/app/guestbook.txt &&
  chown -R www-data: /srv/app/uploads'
on db1 'runuser -u postgres -- createuser app && runuser -u postgres -- createdb -O app app'
podman exec -i db1 runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -d app <<'SQL'
create table orders (id serial primary key, item text not null);
insert into orders (item) values ('boat'), ('oar'), ('life vest');
alter table orders owner to app;
SQL
on web1 'cd /srv/app/uploads && find . -type f ! -name .lifeboat-sentinel -exec sha256sum {} + | sort -k2' > "$demo/uploads.sha256"
cat "$demo/uploads.sha256"

step "4. The nightly snapshot: only the irreplaceable data (uploads, app state, the database dump)"
lifeboat --quiet snapshot --all
lifeboat --quiet snapshots

step "5. Disaster: web1 and db1 are gone"
podman rm -f --time 0 web1 db1

step "6. Recover db1, then web1, from their runbooks and their data"
lifeboat --quiet recover --host db1
lifeboat --quiet recover --host web1

step "7. What came back"
on web1 'cd /srv/app/uploads && find . -type f ! -name .lifeboat-sentinel -exec sha256sum {} + | sort -k2' | diff "$demo/uploads.sha256" - &&
  echo "every upload is byte-identical (sha256)"
echo "select count(*) || ' orders: ' || string_agg(item, ', ' order by id) from orders" |
  podman exec -i db1 runuser -u postgres -- psql -At -d app
web1=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' web1)
echo "http://$web1/guestbook.txt says: $("$node" -e 'fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t))' "http://$web1/guestbook.txt")"

step "8. A drill: the same recovery on an isolated throwaway machine, removed afterwards"
lifeboat --quiet drill --host web1

echo
echo "Demo finished. web1 and db1 run again as podman containers; the demo's storage, key and config are in $demo."
echo "Remove them with: podman rm -f web1 db1; rm -rf $demo"
