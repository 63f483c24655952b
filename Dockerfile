# The dockvault image: `docker run IMAGE` runs the worker, `docker run IMAGE <command> ...` any other
# dockvault command (run, list, restore, ...). Runs as root: it talks to the Docker socket, reads
# volumes as their owners and restores ownership. Mounts: see "Deploy with docker compose" in README.md.
#
# BASE is any Node 24 image with npm on Debian; scripts/images.sh builds one without a registry.
# Only features of Docker's classic builder are used, so it builds with or without BuildKit.
ARG BASE=node:24.22.3-bookworm-slim

FROM ${BASE} AS deps
# PEM certificates of a TLS-intercepting proxy in front of the npm registry, if there is one; they
# stay in this stage.
ARG EXTRA_CA_CERTS=""
WORKDIR /app
COPY package.json package-lock.json ./
RUN if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" >/tmp/extra-ca.pem \
      && export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi \
  && npm ci --omit=dev --no-audit --no-fund && npm cache clean --force && rm -f /tmp/extra-ca.pem
# Temporal's core bridge ships native libraries for five platforms (35 MB each): keep this one's.
RUN keep="$(node -p '({ x64: "x86_64", arm64: "aarch64" })[process.arch]')-unknown-linux-gnu" \
  && find node_modules/@temporalio/core-bridge/releases -mindepth 1 -maxdepth 1 ! -name "$keep" -exec rm -rf {} + \
  && test -d "node_modules/@temporalio/core-bridge/releases/$keep"

FROM ${BASE}
# The worker runs bash pipelines, GNU tar, zstd, gzip and coreutils' sync; Debian's slim images lack zstd.
RUN command -v zstd >/dev/null || { apt-get update && apt-get install -y --no-install-recommends zstd \
  && rm -rf /var/lib/apt/lists/*; }
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
# The help of each command loads its modules: this fills Node's compile cache (bin/dockvault.js), so
# the worker starts without the type stripper and its memory.
RUN ln -s /app/bin/dockvault.js /usr/local/bin/dockvault && dockvault --help >/dev/null \
  && for c in worker run list restore verify prune schedules config keygen health; do dockvault "$c" --help >/dev/null || exit 1; done
ENV DOCKVAULT_STATE_DIR=/var/lib/dockvault/state \
    DOCKVAULT_CONFIG=/etc/dockvault/dockvault.yml
# Healthy while the worker's last self-check (every 10 s) found it connected to Temporal and polling.
HEALTHCHECK --interval=15s --timeout=10s --start-period=120s --retries=3 CMD ["dockvault", "health"]
ENTRYPOINT ["dockvault"]
CMD ["worker"]
