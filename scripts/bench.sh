#!/usr/bin/env bash
# Runs one benchmark on the local stack, installing first what it compares with (restic, aws CLI):
#   bash scripts/bench.sh backup-throughput 1 3
# Benchmarks are not part of the test suite; see each bench/*.ts header for its arguments.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
name="${1:?usage: $0 BENCHMARK [ARGS...]  (see bench/)}"
shift
[ -f "bench/$name.ts" ] || {
  echo "no benchmark bench/$name.ts" >&2
  exit 2
}
bash scripts/stack.sh up
bash scripts/stack.sh bench-tools
# shellcheck source=/dev/null
. .stack/env
exec node "bench/$name.ts" "$@"
