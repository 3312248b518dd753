#!/usr/bin/env bash
# The disaster demo, end to end on this machine: two hosts (web1: nginx with user uploads and an app's
# state; db1: PostgreSQL) are built from their runbooks as podman containers, get some data, and are
# snapshotted into the append-only vault (restic's REST server, served by `lifeboat vault serve`), with an
# offsite copy in S3-compatible storage. An attacker on web1 then fails to delete web1's backups or read db1's.
# Both hosts are destroyed, recovered from code plus their data, checked, and drills prove web1's recovery
# again on an isolated throwaway machine, from the vault and from the offsite copy alone. Where /dev/kvm exists, a
# last leg drills web1 as a virtual machine (libvirt, runbooks/web1-vm.yaml).
#   LIFEBOAT_DEMO_DIR   where the demo's config, key, storage and reports live (default /var/tmp/lifeboat-demo)
set -euo pipefail
cd "$(dirname "$0")/.."
vm_leg=0
vm_packages=""
if [ -e /dev/kvm ]; then
  vm_leg=1
  vm_packages="qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients cloud-image-utils"
fi
LIFEBOAT_SETUP_EXTRA="${LIFEBOAT_SETUP_EXTRA:-} podman runc debootstrap $vm_packages" ./scripts/setup.sh
npm run -s build
./scripts/base-image.sh
[ "$vm_leg" -eq 0 ] || ./scripts/vm-image.sh >/dev/null

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

step "0. Storage: the vault on this controller, and an offsite copy in S3-compatible storage (s3rver, HTTPS)"
# Hosts run restic themselves and send their data straight to the vault (and a new machine restores from either
# store), so both must be reachable from them: this machine's address, not loopback.
address=$(ip -4 route get 1.1.1.1 | sed -n 's/.* src \([0-9.]*\).*/\1/p')
export AWS_ACCESS_KEY_ID="AKDEMO$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
export AWS_SECRET_ACCESS_KEY="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
S3_DIR="$demo/s3" S3_ACCESS_KEY="$AWS_ACCESS_KEY_ID" S3_SECRET_KEY="$AWS_SECRET_ACCESS_KEY" \
  S3_BUCKETS=lifeboat S3_ADDRESS=0.0.0.0 S3_CERT_IPS="$address" \
  "$node" "$repo/test/helpers/s3/server.cjs" > "$demo/s3/ready" 2> "$demo/s3/log" &
pids=$!
trap 'kill $pids 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$demo/s3/ready" ] && break; sleep 0.1; done
port=$("$node" -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).port)' "$demo/s3/ready")
vport=$("$node" -e 'const s = require("net").createServer().listen(0, () => { console.log(s.address().port); s.close(); })')
cat > "$demo/lifeboat.yaml" <<YAML
# The demo's settings: the example policies and runbooks of the repository, the vault and its offsite copy.
policies: $repo/policies
runbooks: $repo/runbooks
targets:
  vault:
    type: rest # restic's REST server, append-only: a host can add snapshots and nothing else
    url: https://$address:$vport
    path: $demo/vault
    replicate: { to: offsite } # every new snapshot is copied there too
  offsite:
    type: s3 # the controller copies into it; a drill or recovery --from offsite restores from it
    endpoint: https://$address:$port
    bucket: lifeboat
    pathStyle: true
    caFile: $demo/s3/cert.pem
defaults:
  repository: vault
YAML
export LIFEBOAT_CONFIG="$demo/lifeboat.yaml" LIFEBOAT_HOME="$demo/state"
# Not through the shell function: $! must be Lifeboat itself, which stops its REST server when it is stopped.
"$repo/bin/lifeboat.js" vault serve > "$demo/vault.log" 2>&1 &
pids="$pids $!"
for i in $(seq 100); do
  # (doctor exits non-zero until the hosts exist: read its output, not its status)
  grep -q "$address:$vport answers" <<<"$(lifeboat --json doctor 2>/dev/null || true)" && break
  [ "$i" -lt 100 ] || { cat "$demo/vault.log" >&2; echo "the vault did not start" >&2; exit 1; }
  sleep 0.2
done
echo "vault: https://$address:$vport (served by lifeboat vault serve from $demo/vault)"
echo "offsite: https://$address:$port (bucket lifeboat); config: $LIFEBOAT_CONFIG"

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

step "4. The nightly snapshot: only the irreplaceable data (uploads, app state, the database dump), copied offsite"
lifeboat --quiet snapshot --all
lifeboat --quiet snapshots
lifeboat --quiet status

step "5. An attacker on web1: with everything web1's restic is given, try to destroy the backups"
# What web1's restic receives for a snapshot: its own vault login, its own restic key, the vault's certificate.
podman cp "$(command -v restic)" web1:/tmp/restic
podman cp "$LIFEBOAT_HOME/vault/vault/cert.pem" web1:/tmp/vault.pem
login=$(cat "$LIFEBOAT_HOME/keys/vault/vault/web1.login")
attack() { # the secrets go through the environment (podman exec -e NAME), never a command line
  RESTIC_REST_USERNAME=web1 RESTIC_REST_PASSWORD="$login" RESTIC_PASSWORD="$(cat "$LIFEBOAT_HOME/keys/hosts/web1.key")" \
    podman exec -i -e RESTIC_REST_USERNAME -e RESTIC_REST_PASSWORD -e RESTIC_PASSWORD web1 \
    /tmp/restic --cacert /tmp/vault.pem -r "rest:https://$address:$vport/$1/" "${@:2}"
}
snaps() { find "$demo/vault/web1/snapshots" -type f | wc -l; }
before=$(snaps)
snap=$(basename "$(find "$demo/vault/web1/snapshots" -type f | head -n 1)")
echo "\$ restic forget --prune ${snap:0:8}   (web1's own repository)"
attack web1 forget --prune "$snap" 2>&1 | tail -n 3 || true
echo "\$ restic snapshots   (db1's repository)"
attack db1 snapshots 2>&1 | tail -n 2 || true
echo "\$ DELETE /web1/snapshots/${snap:0:8}   (raw HTTP with web1's login; web1 has no curl, so sent from here)"
code=$(LOGIN="web1:$login" "$node" -e '
  const [url, ca] = process.argv.slice(1);
  const req = require("https").request(url, { method: "DELETE", ca: require("fs").readFileSync(ca), auth: process.env.LOGIN },
    (res) => { console.log(res.statusCode); res.resume(); });
  req.end();' "https://$address:$vport/web1/snapshots/$snap" "$LIFEBOAT_HOME/vault/vault/cert.pem")
echo "HTTP $code"
podman exec web1 rm -f /tmp/restic /tmp/vault.pem
[ "$code" = 403 ] && [ "$(snaps)" -eq "$before" ] || { echo "the vault let web1 delete a snapshot" >&2; exit 1; }
echo "web1's snapshots after the attack:"
lifeboat --quiet snapshots --host web1

step "6. Disaster: web1 and db1 are gone"
podman rm -f --time 0 web1 db1

step "7. Recover db1, then web1, from their runbooks and their data"
lifeboat --quiet recover --host db1
lifeboat --quiet recover --host web1

step "8. What came back"
on web1 'cd /srv/app/uploads && find . -type f ! -name .lifeboat-sentinel -exec sha256sum {} + | sort -k2' | diff "$demo/uploads.sha256" - &&
  echo "every upload is byte-identical (sha256)"
echo "select count(*) || ' orders: ' || string_agg(item, ', ' order by id) from orders" |
  podman exec -i db1 runuser -u postgres -- psql -At -d app
web1=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' web1)
echo "http://$web1/guestbook.txt says: $("$node" -e 'fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t))' "http://$web1/guestbook.txt")"

step "9. A drill: the same recovery on an isolated throwaway machine, removed afterwards"
lifeboat --quiet drill --host web1

step "10. The vault is gone too: a drill from the offsite copy alone"
lifeboat --quiet drill --host web1 --from offsite

if [ "$vm_leg" -eq 1 ]; then
  step "11. web1 as a virtual machine: a drill from runbooks/web1-vm.yaml (libvirt; nginx and the app as systemd services)"
  # The same host, data and storage; only its policy names the VM runbook.
  mkdir -p "$demo/policies-vm"
  cp "$repo"/policies/*.yaml "$demo/policies-vm/"
  echo "runbook: $repo/runbooks/web1-vm.yaml" >> "$demo/policies-vm/web1.yaml"
  sed "s|^policies: .*|policies: $demo/policies-vm|" "$demo/lifeboat.yaml" > "$demo/lifeboat-vm.yaml"
  LIFEBOAT_CONFIG="$demo/lifeboat-vm.yaml" lifeboat --quiet drill --host web1
fi

echo
echo "Demo finished. web1 and db1 run again as podman containers; the demo's vault, offsite storage, keys and config are in $demo."
echo "Remove them with: podman rm -f web1 db1; rm -rf $demo"
