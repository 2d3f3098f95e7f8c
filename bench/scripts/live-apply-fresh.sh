#!/usr/bin/env bash
# The projector's live apply path alone, on a fresh seeded and rebuilt 100,000-event history: prints
# events/s and the p50 per batch for 3,000 live events in 30- and 80-event batches, then drops the
# database. Needs PostgreSQL and a build (`npx turbo run build`). Usage: bench/scripts/live-apply-fresh.sh [label]
set -euo pipefail
cd "$(dirname "$0")/../.."
label=${1:-run}
url=$(node bench/dist/tools.js seed 100000 2>/dev/null | tail -1)
trap 'node bench/dist/tools.js drop "${url##*/}" >/dev/null 2>&1' EXIT
DATABASE_URL=$url node bench/dist/rebuild-runner.js >/dev/null
for b in 30 80; do
  out=$(DATABASE_URL=$url node bench/dist/live-apply.js 3000 "$b" | tail -1)
  echo "$label batch $b: $(grep -o '"eventsPerSecond":[0-9]*\|"p50":[0-9.]*' <<<"$out" | tr '\n' ' ')"
done
