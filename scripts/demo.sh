#!/usr/bin/env bash
# The main job on the local stack: demo containers with volumes, a real backup through Temporal to S3,
# the listing, and a check that the backup restores to exactly what was in the volumes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/stack.sh up
# shellcheck source=/dev/null
. .stack/env

DEMO="$ROOT/.stack/demo"
mkdir -p "$DEMO"
dockvault() { node "$ROOT/bin/dockvault.js" "$@"; }

# An age identity for the demo (kept in the git-ignored .stack folder), and its public key.
[ -f "$DEMO/identity.txt" ] || dockvault keygen -o "$DEMO/identity.txt" >/dev/null
RECIPIENT="$(grep -o 'age1[0-9a-z]*' "$DEMO/identity.txt" | head -n1)"

# Demo services: a "web" and a "worker" container sharing two volumes, reused when present.
if ! docker volume inspect dockvault-demo-data >/dev/null 2>&1; then
  docker volume create dockvault-demo-data >/dev/null
  docker volume create dockvault-demo-uploads >/dev/null
  docker run --rm -v dockvault-demo-data:/data -v dockvault-demo-uploads:/uploads "$DOCKVAULT_BUSYBOX_IMAGE" sh -c '
    mkdir -p /data/db /uploads/images
    i=0; while [ $i -lt 500 ]; do echo "record $i: the quick brown fox jumps over the lazy dog" >> /data/db/records.txt; i=$((i+1)); done
    head -c 20971520 /dev/urandom > /uploads/images/photo.bin
    echo "secret=demo" > /data/app.conf; chmod 600 /data/app.conf
    ln -s db/records.txt /data/latest'
fi
# They exit promptly on SIGTERM, as a well-behaved service does (docker stop waits 30 s otherwise).
for name in web worker; do
  docker rm -f "dockvault-demo-$name" >/dev/null 2>&1 || true
  docker run -d --name "dockvault-demo-$name" -v dockvault-demo-data:/data -v dockvault-demo-uploads:/uploads \
    "$DOCKVAULT_BUSYBOX_IMAGE" sh -c 'trap "exit 0" TERM; while true; do sleep 1; done' >/dev/null
done

cat >"$DEMO/dockvault.yml" <<EOF
# Written by scripts/demo.sh
s3:
  endpoint: \${DOCKVAULT_S3_ENDPOINT}
  bucket: \${DOCKVAULT_S3_BUCKET}
  prefix: demo
encryption:
  recipients: ["$RECIPIENT"]
staging:
  dir: $DEMO/staging
backupDefinitions:
  - name: "demo-site"
    type: "standard"
    containers: ["dockvault-demo-web", "dockvault-demo-worker"]
    volumes: ["dockvault-demo-data", "dockvault-demo-uploads"]
EOF

echo "== config"
dockvault config check "$DEMO/dockvault.yml"

echo "== worker (log: .stack/logs/demo-worker.log)"
node "$ROOT/bin/dockvault.js" worker --config "$DEMO/dockvault.yml" --state-dir "$DEMO/state" \
  >"$ROOT/.stack/logs/demo-worker.log" 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  grep -q 'dockvault worker:' "$ROOT/.stack/logs/demo-worker.log" && break
  kill -0 $WORKER 2>/dev/null || {
    tail -n 30 "$ROOT/.stack/logs/demo-worker.log"
    exit 1
  }
  sleep 0.5
done

echo "== backup"
dockvault run demo-site --config "$DEMO/dockvault.yml"

echo "== backups in storage"
dockvault list --config "$DEMO/dockvault.yml"

echo "== restore check: every object opened with age | zstd | tar and compared with its volume"
BACKUP_ID="$(dockvault list --config "$DEMO/dockvault.yml" --json | node -e '
  const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
  process.stdout.write(rows[0].backupId)')"
node "$ROOT/scripts/demo-check.ts" "$DEMO/dockvault.yml" "$BACKUP_ID" "$DEMO/identity.txt"

for name in web worker; do
  [ "$(docker inspect -f '{{.State.Running}}' "dockvault-demo-$name")" = true ] || {
    echo "dockvault-demo-$name is not running" >&2
    exit 1
  }
done
echo "containers running again: dockvault-demo-web, dockvault-demo-worker"
echo "Temporal Web UI: ${DOCKVAULT_TEMPORAL_UI}/namespaces/default/workflows (the run is backup-demo-site-...)"
