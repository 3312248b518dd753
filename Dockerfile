# The Lifeboat controller: `lifeboat daemon` with Node 24, restic 0.18, the OpenSSH client and the podman CLI.
#   docker build -t lifeboat .        (podman build --format docker; NODE_IMAGE may name a local Node 24 image,
#                                      e.g. the one scripts/node-image.sh builds without any registry)
#   docker run -d --name lifeboat -v /srv/lifeboat/etc:/etc/lifeboat:ro -v lifeboat-state:/var/lib/lifeboat \
#     --env-file /srv/lifeboat/env -p 9469:9469 lifeboat
# Volumes: /etc/lifeboat (lifeboat.yaml with `daemon: { listen: 0.0.0.0:9469, tokenEnv: LIFEBOAT_METRICS_TOKEN }`,
# policies/, runbooks/, keys you mount read-only) and /var/lib/lifeboat (LIFEBOAT_HOME: generated keys, the
# record spool). Environment: AWS_*, the SMTP and passwordEnv variables, the metrics token. Container hosts: mount the engine's socket and run as root (--user 0).
ARG NODE_IMAGE=docker.io/library/node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
# Marks this stage's images, so that a build cache's stale ones can be found and pruned.
LABEL io.lifeboat.stage=build
# Behind a TLS-inspecting proxy: mount its CA bundle into the build and name it here, e.g.
#   --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/proxy-ca.crt:ro --build-arg NODE_EXTRA_CA_CERTS=/etc/ssl/proxy-ca.crt
ARG NODE_EXTRA_CA_CERTS=
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY biome.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund --loglevel=error

FROM ${NODE_IMAGE}
# restic 0.18 from Debian trixie, pinned so that nothing else comes from there (README: Installation).
RUN printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      > /etc/apt/sources.list.d/trixie.sources \
 && printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/trixie \
 && apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -t trixie restic \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates openssh-client podman \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/lifeboat --create-home lifeboat \
 && mkdir -p /etc/lifeboat && chown lifeboat: /var/lib/lifeboat
WORKDIR /opt/lifeboat
COPY --from=build /src/package.json ./
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist ./dist
COPY --from=build /src/node_modules ./node_modules
ENV LIFEBOAT_CONFIG=/etc/lifeboat/lifeboat.yaml LIFEBOAT_HOME=/var/lib/lifeboat NODE_ENV=production
VOLUME ["/var/lib/lifeboat"]
EXPOSE 9469
USER lifeboat
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9469/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/opt/lifeboat/bin/lifeboat.js"]
CMD ["daemon"]
