#!/usr/bin/env bash
# The main job on the local stack: demo services (two containers sharing two volumes, and a PostgreSQL
# server), a real backup of each through Temporal to S3, the listing, then `dockvault restore` into a
# fresh volume and a fresh PostgreSQL container, checked against the originals.
#
#   bash scripts/demo.sh          run it; running it again reuses the demo services
#   bash scripts/demo.sh clean    remove the demo services, their backups and .stack/demo
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/stack.sh up
# shellcheck source=/dev/null
. .stack/env

DEMO="$ROOT/.stack/demo"
LOG="$ROOT/.stack/logs/demo-worker.log"
CONFIG="$DEMO/dockvault.yml"
VOLUMES=(dockvault-demo-data dockvault-demo-uploads)
SERVICES=(dockvault-demo-web dockvault-demo-worker dockvault-demo-db)
DB_RESTORED=dockvault-demo-db-restored
dockvault() { node "$ROOT/bin/dockvault.js" "$@"; }

# The restore targets are created fresh by every run and removed when it succeeds.
remove_restored() {
  docker rm -f "$DB_RESTORED" >/dev/null 2>&1 || true
  for v in "${VOLUMES[@]}"; do docker volume rm -f "$v-restored" >/dev/null 2>&1 || true; done
}

if [ "${1:-}" = clean ]; then
  remove_restored
  docker rm -f "${SERVICES[@]}" >/dev/null 2>&1 || true
  docker volume rm -f "${VOLUMES[@]}" >/dev/null 2>&1 || true
  [ -f "$CONFIG" ] && node "$ROOT/scripts/demo-check.ts" delete-backups "$CONFIG"
  rm -rf "$DEMO"
  echo "removed the demo containers, volumes, backups and $DEMO"
  exit 0
fi

mkdir -p "$DEMO"
# An age identity for the demo (kept in the git-ignored .stack folder), and its public key.
[ -f "$DEMO/identity.txt" ] || dockvault keygen -o "$DEMO/identity.txt" >/dev/null
RECIPIENT="$(grep -o 'age1[0-9a-z]*' "$DEMO/identity.txt" | head -n1)"

echo "== demo services"
# A "web" and a "worker" container sharing two volumes, reused when present.
if ! docker volume inspect dockvault-demo-data >/dev/null 2>&1; then
  docker volume create dockvault-demo-data >/dev/null
  docker volume create dockvault-demo-uploads >/dev/null
  docker run --rm -v dockvault-demo-data:/data -v dockvault-demo-uploads:/uploads "$DOCKVAULT_BUSYBOX_IMAGE" sh -c '
    mkdir -p /data/db /uploads/images
    i=0; while [ $i -lt 500 ]; do echo "record $i: the quick brown fox jumps over the lazy dog" >> /data/db/records.txt; i=$((i+1)); done
    head -c 20971520 /dev/urandom > /uploads/images/photo.bin
    echo "secret=demo" > /data/app.conf; chmod 600 /data/app.conf; chown 1000:1000 /data/app.conf
    ln -s db/records.txt /data/latest'
fi
# They exit promptly on SIGTERM, as a well-behaved service does (docker stop waits 30 s otherwise).
for name in web worker; do
  docker rm -f "dockvault-demo-$name" >/dev/null 2>&1 || true
  docker run -d --name "dockvault-demo-$name" -v dockvault-demo-data:/data -v dockvault-demo-uploads:/uploads \
    "$DOCKVAULT_BUSYBOX_IMAGE" sh -c 'trap "exit 0" TERM; while true; do sleep 1; done' >/dev/null
done

# A PostgreSQL server from the local image: initdb on first start, then the server in the foreground.
start_postgres() {
  docker run -d --name "$1" --stop-signal SIGINT "$DOCKVAULT_POSTGRES_IMAGE" sh -c '
    set -e; export PGDATA=/var/lib/postgresql/data
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
      mkdir -p "$PGDATA"; chown postgres "$PGDATA"
      su postgres -c "initdb -D $PGDATA --auth-local=peer -E UTF8 --locale=C.UTF-8 >/dev/null"
    fi
    exec su postgres -c "exec postgres -D $PGDATA"' >/dev/null
  for _ in $(seq 1 120); do
    docker exec -u postgres "$1" pg_isready -q 2>/dev/null && return 0
    sleep 0.5
  done
  echo "PostgreSQL in $1 did not start" >&2
  docker logs --tail 20 "$1" >&2
  exit 1
}
psql_in() { docker exec -i -u postgres "$1" psql -X -q -At -v ON_ERROR_STOP=1 -d "$2"; }
if [ "$(docker inspect -f '{{.State.Running}}' dockvault-demo-db 2>/dev/null)" != true ]; then
  docker rm -f dockvault-demo-db >/dev/null 2>&1 || true
  start_postgres dockvault-demo-db
fi
if [ "$(psql_in dockvault-demo-db postgres <<<"SELECT 1 FROM pg_database WHERE datname = 'shop'")" != 1 ]; then
  psql_in dockvault-demo-db postgres <<<"CREATE ROLE shop_app LOGIN; CREATE DATABASE shop OWNER shop_app;"
  psql_in dockvault-demo-db shop <<'SQL'
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, city text);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers, total numeric(10, 2), placed timestamptz);
INSERT INTO customers (name, city) SELECT 'customer ' || g, (ARRAY['Berlin', 'Lyon', 'Porto'])[g % 3 + 1] FROM generate_series(1, 2000) g;
INSERT INTO orders (customer_id, total, placed)
  SELECT g % 2000 + 1, (g * 7 % 1000) / 10.0, timestamptz '2024-01-01' + g * interval '37 minutes' FROM generate_series(1, 20000) g;
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 90;
ALTER TABLE customers OWNER TO shop_app; ALTER TABLE orders OWNER TO shop_app;
SQL
fi
echo "dockvault-demo-web, dockvault-demo-worker (volumes ${VOLUMES[*]}), dockvault-demo-db (database shop)"

cat >"$CONFIG" <<EOF
# Written by scripts/demo.sh
s3:
  endpoint: \${DOCKVAULT_S3_ENDPOINT}
  bucket: \${DOCKVAULT_S3_BUCKET}
  prefix: demo
encryption:
  recipients: ["$RECIPIENT"]
  identityFile: $DEMO/identity.txt
staging:
  dir: $DEMO/staging
retention:
  keepLast: 3
backupDefinitions:
  - name: "demo-site"
    type: "standard"
    containers: ["dockvault-demo-web", "dockvault-demo-worker"]
    volumes: ["dockvault-demo-data", "dockvault-demo-uploads"]
  - name: "demo-db"
    type: "postgresqldatabase"
    containers: ["dockvault-demo-db"]
    volumes: []
EOF

echo "== config"
dockvault config check "$CONFIG"

echo "== worker (log: .stack/logs/demo-worker.log)"
node "$ROOT/bin/dockvault.js" worker --config "$CONFIG" --state-dir "$DEMO/state" >"$LOG" 2>&1 &
WORKER=$!
finish() {
  local status=$?
  kill "$WORKER" 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    echo "demo FAILED (worker log: .stack/logs/demo-worker.log); left for inspection, removed by the next run:" \
      "volumes ${VOLUMES[*]/%/-restored}, container $DB_RESTORED" >&2
  fi
}
trap finish EXIT
for _ in $(seq 1 120); do
  grep -q 'dockvault worker:' "$LOG" && break
  kill -0 $WORKER 2>/dev/null || {
    tail -n 30 "$LOG"
    exit 1
  }
  sleep 0.5
done

echo "== backup"
dockvault run demo-site demo-db --config "$CONFIG"

echo "== backups in storage"
dockvault list --config "$CONFIG"

echo "== restore the volumes into fresh ones"
remove_restored
dockvault restore demo-site --config "$CONFIG" \
  --to-volume dockvault-demo-data=dockvault-demo-data-restored \
  --to-volume dockvault-demo-uploads=dockvault-demo-uploads-restored

echo "== restore the database into a fresh PostgreSQL container"
start_postgres "$DB_RESTORED"
dockvault restore demo-db --config "$CONFIG" --to-container "$DB_RESTORED"

echo "== compare what was restored with the originals"
node "$ROOT/scripts/demo-check.ts" compare \
  --volume dockvault-demo-data=dockvault-demo-data-restored \
  --volume dockvault-demo-uploads=dockvault-demo-uploads-restored \
  --postgres dockvault-demo-db="$DB_RESTORED"

for name in web worker db; do
  [ "$(docker inspect -f '{{.State.Running}}' "dockvault-demo-$name")" = true ] || {
    echo "dockvault-demo-$name is not running" >&2
    exit 1
  }
done
echo "the demo services run again: ${SERVICES[*]}"
remove_restored
echo "removed the restored copies; the demo services stay (bash scripts/demo.sh clean removes them and the backups)"
echo "Temporal Web UI: ${DOCKVAULT_TEMPORAL_UI}/namespaces/default/workflows (backup-demo-..., restore-demo-...)"
