#!/usr/bin/env bash
# Container images for deploying dockvault with docker compose, built without a container registry:
# a Debian base from debootstrap, a Node base on it (the layout of the official node image), the
# dockvault image from the top-level Dockerfile on that base, and Temporal and versitygw images made
# from the binaries scripts/stack.sh installs. Bases are built once and reused; the dockvault image
# is rebuilt (docker's layer cache makes that quick when only the sources changed).
#
#   scripts/images.sh base               dockvault-debian:bookworm, dockvault-node-base:24
#   scripts/images.sh dockvault [TAG]    the Dockerfile on the local Node base (default dockvault:dev)
#   scripts/images.sh temporal           the temporal CLI (server start-dev, UI), like temporalio/temporal
#   scripts/images.sh s3                 versitygw, like versity/versitygw
#   scripts/images.sh all [TAG]          all of them; prints the variables docker-compose.yml reads
#
# Needs a Docker engine, debootstrap (installed with apt as root if missing), and Node 24, temporal and
# versitygw on PATH (`. .stack/env` after `scripts/stack.sh up`). Logs go to .stack/logs/images-*.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOGS="$ROOT/.stack/logs"
DEBIAN_IMAGE="${DOCKVAULT_DEBIAN_IMAGE:-dockvault-debian:bookworm}"
NODE_BASE_IMAGE="${DOCKVAULT_NODE_BASE_IMAGE:-dockvault-node-base:24}"
BUSYBOX_IMAGE="${DOCKVAULT_BUSYBOX_IMAGE:-dockvault-busybox:1}"
# What the worker runs besides node: bash (pipelines), GNU tar, zstd, gzip, coreutils' sync.
BASE_PACKAGES=zstd

log() { printf '%s\n' "images: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
# Runs a step with its output in a log file; on failure the log's end is shown.
logged() {
  local name="$1"
  shift
  "$@" >"$LOGS/images-$name.log" 2>&1 || {
    log "ERROR: $name failed; last lines of $LOGS/images-$name.log:"
    tail -n 25 "$LOGS/images-$name.log" >&2
    exit 1
  }
}
apt_mirror() {
  local uri
  uri="$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources | head -n1 | awk '{print $2}')"
  [ -n "$uri" ] || uri="$(grep -hs '^deb ' /etc/apt/sources.list | head -n1 | awk '{print $2}')"
  echo "${uri:-http://deb.debian.org/debian}"
}
# A build context holding only the given files, so nothing else of the host is sent to the engine.
TEMP_DIRS=()
trap 'rm -rf "${TEMP_DIRS[@]}"' EXIT
context_dir() {
  CONTEXT="$(mktemp -d)"
  TEMP_DIRS+=("$CONTEXT")
}

ensure_debian_image() {
  image_exists "$DEBIAN_IMAGE" && return
  if ! have debootstrap; then
    { [ "$(id -u)" = 0 ] && have apt-get; } || die "debootstrap is missing; install it and rerun"
    logged apt bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap'
  fi
  log "building $DEBIAN_IMAGE with debootstrap (about a minute)"
  local rootfs
  rootfs="$(mktemp -d)"
  TEMP_DIRS+=("$rootfs")
  logged debootstrap debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$(apt_mirror)"
  # What Debian's slim images drop too: package caches, manuals, translations; copyrights stay.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  tar -C "$rootfs" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["bash"]' - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

# node and npm where the official image has them (/usr/local), from this machine's Node 24 and npm.
ensure_node_base_image() {
  image_exists "$NODE_BASE_IMAGE" && return
  ensure_debian_image
  { have node && [ "$(node -p 'process.versions.node.split(".")[0]')" = 24 ]; } || die "Node 24 is not on PATH (. .stack/env)"
  log "building $NODE_BASE_IMAGE (node $(node --version), npm $(npm --version))"
  context_dir
  mkdir -p "$CONTEXT/usr/local/bin" "$CONTEXT/usr/local/lib"
  cp "$(command -v node)" "$CONTEXT/usr/local/bin/node"
  cp -r "$(npm root -g)/npm" "$CONTEXT/usr/local/lib/npm" 2>/dev/null ||
    cp -r "$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" "$CONTEXT/usr/local/lib/npm"
  cat >"$CONTEXT/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
COPY usr/local/bin/node /usr/local/bin/node
COPY usr/local/lib/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
CMD ["node"]
EOF
  logged node-base docker build -t "$NODE_BASE_IMAGE" "$CONTEXT"
}

# The CAs added to this machine (update-ca-certificates' local directory), for a TLS-intercepting
# proxy between the build and the npm registry; they reach only the Dockerfile's build stage.
local_ca_certs() {
  local f
  for f in /usr/local/share/ca-certificates/*.crt; do [ -f "$f" ] && cat "$f"; done
  return 0
}

build_dockvault_image() {
  local tag="$1"
  ensure_node_base_image
  log "building $tag from the Dockerfile on $NODE_BASE_IMAGE"
  logged dockvault docker build --build-arg "BASE=$NODE_BASE_IMAGE" --build-arg "EXTRA_CA_CERTS=$(local_ca_certs)" \
    -t "$tag" "$ROOT"
}

# An image holding one binary at PATH_IN_IMAGE as its entrypoint: on busybox when the binary is
# static, else on the Debian base (its glibc).
binary_image() {
  local image="$1" binary="$2" path="$3" base="$DEBIAN_IMAGE"
  image_exists "$image" && return
  if ! ldd "$binary" >/dev/null 2>&1; then
    base="$BUSYBOX_IMAGE"
    image_exists "$base" || die "$base is missing (scripts/stack.sh up builds it)"
  else
    ensure_debian_image
  fi
  log "building $image on $base"
  context_dir
  cp "$binary" "$CONTEXT/binary"
  printf 'FROM %s\nCOPY binary %s\nENTRYPOINT ["%s"]\n' "$base" "$path" "$path" >"$CONTEXT/Dockerfile"
  logged "$(basename "$path")" docker build -t "$image" "$CONTEXT"
}

# The same entrypoint as temporalio/temporal (/temporal), so docker-compose.yml passes the same arguments.
ensure_temporal_image() {
  have temporal || die "temporal is not on PATH (. .stack/env)"
  TEMPORAL_IMAGE="dockvault-temporal:$(temporal --version | awk '{print $3}')"
  binary_image "$TEMPORAL_IMAGE" "$(command -v temporal)" /temporal
}

# versity/versitygw has the binary at /usr/local/bin/versitygw and a shell; docker-compose.yml uses both.
ensure_s3_image() {
  have versitygw || die "versitygw is not on PATH (. .stack/env)"
  local version
  # `go install` builds carry their module version, not a -X version string.
  version="$(go version -m "$(command -v versitygw)" 2>/dev/null | awk '$1 == "mod" {print $3}')"
  S3_IMAGE="dockvault-versitygw:${version:-local}"
  binary_image "$S3_IMAGE" "$(command -v versitygw)" /usr/local/bin/versitygw
}

mkdir -p "$LOGS"
case "${1:-}" in
base) ensure_node_base_image ;;
dockvault) build_dockvault_image "${2:-dockvault:dev}" ;;
temporal) ensure_temporal_image && echo "$TEMPORAL_IMAGE" ;;
s3) ensure_s3_image && echo "$S3_IMAGE" ;;
all)
  tag="${2:-dockvault:dev}"
  build_dockvault_image "$tag"
  ensure_temporal_image
  ensure_s3_image
  printf 'DOCKVAULT_IMAGE=%s\nTEMPORAL_IMAGE=%s\nS3_IMAGE=%s\n' "$tag" "$TEMPORAL_IMAGE" "$S3_IMAGE"
  ;;
*)
  echo "usage: $0 base|dockvault [TAG]|temporal|s3|all [TAG]" >&2
  exit 2
  ;;
esac
