#!/usr/bin/env bash
# Builds a Node 24 image for the controller's Dockerfile (its NODE_IMAGE) where no image registry can be reached:
# the debootstrapped base (scripts/base-image.sh) plus the Node 24 binary the node@24 devDependency brought, and
# npm from the npm registry (its package carries all its own dependencies). Prints the image's name.
#   LIFEBOAT_IMAGE_CACHE  where npm's tarball is kept (default /var/cache/lifeboat)
#   docker build --build-arg NODE_IMAGE="$(scripts/node-image.sh)" -t lifeboat .   (or podman build)
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${LIFEBOAT_IMAGE_CACHE:-/var/cache/lifeboat}
say() { printf '\033[1m[node-image]\033[0m %s\n' "$*" >&2; }
die() { printf '[node-image] error: %s\n' "$*" >&2; exit 1; }

node=node_modules/node/bin/node
[ -x "$node" ] || die "$node is missing: run scripts/setup.sh (npm ci brings Node 24)"
version=$("$node" --version)
version=${version#v}
image="localhost/lifeboat-node:$version"
if podman image exists "$image"; then echo "$image"; exit 0; fi

./scripts/base-image.sh
# npm's major version that Node 24 ships with.
npm_spec=npm@11
mkdir -p "$cache"
tarball=$(find "$cache" -maxdepth 1 -name 'npm-11.*.tgz' | sort -V | tail -n 1)
if [ -z "$tarball" ]; then
  say "fetching $npm_spec from the npm registry"
  name=$(npm pack --silent --pack-destination "$cache" "$npm_spec") || die "npm pack $npm_spec failed: is the npm registry reachable?"
  tarball="$cache/$name"
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$node" "$context/node"
mkdir "$context/npm"
tar -xzf "$tarball" -C "$context/npm" --strip-components=1
cat > "$context/Containerfile" <<'EOF'
FROM localhost/lifeboat-base:bookworm
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
EOF
say "building $image (Node $version, $(basename "$tarball" .tgz))"
podman build -q --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  -t "$image" -f "$context/Containerfile" "$context" >/dev/null
echo "$image"
