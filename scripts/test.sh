#!/usr/bin/env bash
# The whole test suite on the real local stack: brings the stack up (idempotent), runs the static
# checks (types, lint, format), then every test. The last line: how many passed and how many failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/stack.sh up
# shellcheck source=/dev/null
. .stack/env
echo "== static checks: tsc, eslint, prettier" >&2
npm run --silent typecheck
npm run --silent lint
npm run --silent format:check >/dev/null
echo "== tests" >&2
# One file at a time: integration tests stop and start real containers on one Docker engine.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
node --test --test-concurrency=1 --test-reporter=spec "${@:-test/**/*.test.ts}" | tee "$log" || status=$?
# The runner's totals end with its duration; the last line says what passed and what failed.
passed="$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$log" | tail -1)"
failed="$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$log" | tail -1)"
echo "tests: ${passed:-?} passed, ${failed:-?} failed"
exit "$status"
