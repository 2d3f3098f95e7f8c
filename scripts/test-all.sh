#!/usr/bin/env bash
# The README's test command (`npm test`): brings up PostgreSQL, Redis and Kafka, builds, checks types,
# lint and layering, then runs every test tier against the real services. Last line: the totals.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
rm -rf packages/*/.jest apps/*/.jest

step() { printf '\n==> %s\n' "$*"; }
failed_steps=()
run() { local name=$1; shift; step "$name"; "$@" || failed_steps+=("$name"); }

if [ ! -d node_modules ]; then run "npm ci" npm ci --no-audit --no-fund; fi
run "services up" bash infra/services up
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export REDIS_URL_TEST="${REDIS_URL_TEST:-redis://127.0.0.1:6379}"
if [ -x apps/dashboard/scripts/install-browser.sh ]; then run "browser for e2e" bash apps/dashboard/scripts/install-browser.sh; fi

run "build" npx turbo run build --output-logs=errors-only
run "check-types" npx turbo run check-types --continue --output-logs=errors-only
run "lint" npx turbo run lint --continue --output-logs=errors-only
run "layering (dependency-cruiser)" npx depcruise --config .dependency-cruiser.cjs packages apps
run "unit tests" npx turbo run test:unit --continue --output-logs=new-only
run "integration tests" npx turbo run test:int --continue --concurrency=1 --output-logs=new-only
run "fault-injection tests" npx turbo run test:fault --continue --concurrency=1 --output-logs=new-only
if grep -q '"test:e2e"' apps/*/package.json 2>/dev/null; then
  run "browser tests" npx turbo run test:e2e --continue --concurrency=1 --output-logs=new-only
fi

node scripts/test-totals.js "${failed_steps[@]}"
