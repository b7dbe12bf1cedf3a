#!/usr/bin/env bash
# A checkout below a directory the postgres user cannot traverse (root's
# home is mode 700): the private-cluster helpers of scripts/lib must still
# create, start, query, copy and stop a cluster. Simulates such a checkout
# by copying scripts/lib into a fresh mode-700 directory and sourcing the
# helpers from there. Usage: cluster_in_private_dir_test.sh SOURCE_DIR
set -euo pipefail

source_dir=${1:?usage: $0 SOURCE_DIR}
fail() { echo "FAIL: $*" >&2; exit 1; }

private=$(mktemp -d /tmp/miyabi-private-checkout.XXXXXX)
chmod 700 "$private"
checkout="$private/checkout"
mkdir -p "$checkout/scripts/lib"
cp "$source_dir/scripts/lib/common.sh" "$source_dir/scripts/lib/pgctl" \
  "$checkout/scripts/lib/"

# shellcheck source=/dev/null
source "$checkout/scripts/lib/common.sh"
[ "$ROOT" = "$checkout" ] || fail "ROOT is $ROOT, not the simulated checkout"

cluster=""
copy=""
cleanup() {
  set +e
  [ -n "$copy" ] && "$checkout/scripts/lib/pgctl" destroy "$copy" >/dev/null 2>&1
  if [ -n "$cluster" ]; then
    pg_stop "$cluster"
    local real
    real=$(readlink -f "$cluster")
    case "$real" in "$private"/*) ;; *) rm -rf "$real" ;; esac
  fi
  cd /
  rm -rf "$private"
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ]; then
  # The premise: postgres cannot reach anything inside the checkout.
  if runuser -u postgres -- test -x "$private"; then
    fail "postgres can traverse $private; the test would prove nothing"
  fi
else
  echo "note: not root; PostgreSQL runs as $(id -un), who owns the checkout"
fi

cluster=$(pg_dir_for t)
[ -n "$cluster" ] || fail "pg_dir_for printed nothing"
[ "$(pg_dir_for t)" = "$cluster" ] || fail "pg_dir_for t is not stable"
as_pg test -w "$cluster" \
  || fail "postgres cannot write $cluster (a path through the checkout?)"

# Run from inside the checkout, as scripts/run is: nothing may complain
# about a directory postgres cannot enter.
cd "$checkout"
pg_init "$cluster" 2>"$private/init.err" || { cat "$private/init.err" >&2; fail "pg_init"; }
[ -f "$cluster/data/PG_VERSION" ] || fail "initdb made no cluster"
pg_start "$cluster" 2>"$private/start.err" || { cat "$private/start.err" >&2; fail "pg_start"; }
if grep -i "permission denied\|could not change directory" "$private"/*.err >&2; then
  fail "PostgreSQL's tools complained about the checkout"
fi
port=$(cat "$cluster/port")
pg_createdb "$cluster" miyabi # as scripts/run does
answer=$(psql -h 127.0.0.1 -p "$port" -U postgres -Atqc 'SELECT 40 + 2' miyabi)
[ "$answer" = 42 ] || fail "query answered '$answer'"
pg_stop "$cluster"
[ ! -f "$cluster/data/postmaster.pid" ] || fail "pg_stop left the server running"

# Tests copy the template cluster with pgctl (MIYABI_TEST_PG_TEMPLATE is
# what pg_dir_for printed).
copy=$(mktemp -d /tmp/miyabi-private-copy.XXXXXX)
rmdir "$copy"
MIYABI_TEST_PG_TEMPLATE="$cluster" "$checkout/scripts/lib/pgctl" create "$copy"
copy_port=$("$checkout/scripts/lib/pgctl" start "$copy")
answer=$(psql -h 127.0.0.1 -p "$copy_port" -U postgres -Atqc 'SELECT 6 * 7' postgres)
[ "$answer" = 42 ] || fail "query on the copy answered '$answer'"
"$checkout/scripts/lib/pgctl" destroy "$copy"
[ ! -e "$copy" ] || fail "pgctl destroy left $copy"
copy=""
echo "ok: cluster $cluster created, started, queried, copied and stopped"
