#!/usr/bin/env bash
# Runs scripts/smoke against a local instance of the service, and checks that
# it fails against broken ones. Usage: smoke_test.sh MIYABI_API_BINARY [SOURCE_DIR]
#
# 1. Starts the binary in telegram-only mode (no DATABASE_URL) on 127.0.0.1
#    with PORT=0, reads its port from the "listening" log line, runs
#    scripts/smoke http://127.0.0.1:PORT and checks its output format.
# 2. Stops the service with SIGTERM (bounded wait).
# 3. Broken instances: scripts/smoke must exit non-zero against the port the
#    service no longer listens on, and against an HTTP server that is not the
#    service (python3 -m http.server).
# Exits with the smoke script's status when it failed, 1 when a check of this
# test failed, 0 otherwise. SMOKE_MAX_LATENCY (default 5 s here: ctest runs
# tests in parallel and under sanitizers) bounds the latencies.
set -uo pipefail

binary=${1:?usage: $0 MIYABI_API_BINARY [SOURCE_DIR]}
source_dir=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
smoke="$source_dir/scripts/smoke"
[ -x "$binary" ] || { echo "FAIL: $binary is not executable" >&2; exit 1; }
[ -x "$smoke" ] || { echo "FAIL: $smoke is not executable" >&2; exit 1; }
export SMOKE_MAX_LATENCY=${SMOKE_MAX_LATENCY:-5}
export SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-10}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/miyabi-smoke-test.XXXXXX")
pid=""
other=""
cleanup() {
  [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null
  [ -z "$other" ] || kill -KILL "$other" 2>/dev/null
  rm -rf -- "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A clean environment: telegram-only (no DATABASE_URL), no webhook secret, no
# CORS list; sanitizer options are passed through.
envs=(PATH="$PATH" HOME="${HOME:-/tmp}" ENVIRONMENT=test PORT=0
  SERVER_ADDRESS=127.0.0.1:0 LOG_LEVEL=info)
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS; do
  [ -z "${!v:-}" ] || envs+=("$v=${!v}")
done
env -i "${envs[@]}" "$binary" >"$tmp/out.log" 2>"$tmp/err.log" &
pid=$!

port=""
for _ in $(seq 1 300); do            # at most 30 s
  port=$(sed -n 's/.*"message":"listening".*"port":\([0-9][0-9]*\).*/\1/p' "$tmp/out.log" | head -n 1)
  [ -n "$port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$tmp/out.log" "$tmp/err.log" >&2
    pid=""
    fail "the service exited before listening"
  fi
  sleep 0.1
done
if [ -z "$port" ]; then
  cat "$tmp/out.log" "$tmp/err.log" >&2
  fail "no \"listening\" line with a port within 30 s"
fi
grep -q '"mode":"telegram-only"' "$tmp/out.log" || echo "note: the listening line does not say telegram-only" >&2
echo "service pid $pid listening on 127.0.0.1:$port"

"$smoke" "http://127.0.0.1:$port" >"$tmp/smoke.out" 2>"$tmp/smoke.err"
status=$?
cat "$tmp/smoke.out"
cat "$tmp/smoke.err" >&2

# Stop the service: SIGTERM, then at most 15 s.
kill -TERM "$pid"
stopped=0
for _ in $(seq 1 150); do
  if ! kill -0 "$pid" 2>/dev/null; then stopped=1; break; fi
  sleep 0.1
done
if [ "$stopped" = 1 ]; then
  wait "$pid"
  service_status=$?
  pid=""
  echo "service stopped on SIGTERM (exit $service_status)"
else
  fail "the service did not stop within 15 s of SIGTERM"
fi

problems=0
check() { if (eval "$2"); then echo "ok   test: $1"; else echo "FAIL test: $1" >&2; problems=$((problems + 1)); fi; }

# The output contract: only "ok   ..." / "FAIL ...: ..." lines, then the summary.
check "smoke output has one ok/FAIL line per check and a summary line" \
  '! sed "\$d" "$tmp/smoke.out" | grep -Ev "^(ok   |FAIL [^:]+: )" | grep -q . &&
   tail -n 1 "$tmp/smoke.out" | grep -Eq "^[0-9]+ passed, [0-9]+ failed$"'
check "smoke exit status matches its summary" \
  '{ [ $status -eq 0 ] && tail -n 1 "$tmp/smoke.out" | grep -q " 0 failed$"; } ||
   { [ $status -ne 0 ] && ! tail -n 1 "$tmp/smoke.out" | grep -q " 0 failed$"; }'
check "smoke ran the checks of every group" \
  'for w in "health shape" "liveness" "webhook GET" "webhook non-JSON" "webhook malformed" "CORS preflight" \
            "404 envelope" "HEAD /api/v1/auth/github" "GET /api/v1/repositories is 503" "concurrent health p95" \
            "security headers"; do grep -q "$w" "$tmp/smoke.out" || exit 1; done'

# Broken instance 1: nothing listens on the port any more.
SMOKE_TIMEOUT=3 "$smoke" "http://127.0.0.1:$port" >"$tmp/down.out" 2>&1
down_status=$?
check "smoke fails (exit $down_status) when nothing listens" \
  '[ $down_status -ne 0 ] && grep -q "^FAIL health" "$tmp/down.out" && tail -n 1 "$tmp/down.out" | grep -q "^0 passed, 1 failed$"'

# Broken instance 2: an HTTP server that is not the service.
if command -v python3 >/dev/null; then
  mkdir -p "$tmp/www"
  (cd "$tmp/www" && exec python3 -u -m http.server 0 --bind 127.0.0.1) >"$tmp/www.log" 2>&1 &
  other=$!
  wport=""
  for _ in $(seq 1 100); do
    wport=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$tmp/www.log" | head -n 1)
    [ -n "$wport" ] && break
    sleep 0.1
  done
  if [ -n "$wport" ]; then
    SMOKE_TIMEOUT=3 SMOKE_REQUESTS=5 "$smoke" "http://127.0.0.1:$wport" >"$tmp/wrong.out" 2>&1
    wrong_status=$?
    check "smoke fails (exit $wrong_status) against a server that is not the service" \
      '[ $wrong_status -ne 0 ] && grep -q "^FAIL health" "$tmp/wrong.out" && grep -q "^FAIL security headers" "$tmp/wrong.out"'
  else
    echo "FAIL test: python3 -m http.server did not start" >&2
    problems=$((problems + 1))
  fi
  kill -TERM "$other" 2>/dev/null
  wait "$other" 2>/dev/null
  other=""
fi

if [ "$status" -ne 0 ]; then
  echo "FAIL: scripts/smoke against the local instance exited $status" >&2
  exit "$status"
fi
[ "$problems" -eq 0 ] || exit 1
echo "smoke test passed"
