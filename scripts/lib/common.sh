# Shared by scripts/run, scripts/test and bench/report: Debian packages,
# CMake builds and a private PostgreSQL 15 cluster inside the checkout.
# Source it; it defines functions only (and ROOT).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PGBIN=/usr/lib/postgresql/15/bin

# Packages every build needs (Debian 12).
BUILD_PACKAGES=(g++ cmake make pkg-config libcaf-dev libpistache-dev
  libpqxx-dev rapidjson-dev prometheus-cpp-dev libboost-test-dev
  libcurl4-openssl-dev libssl-dev ca-certificates)
POSTGRES_PACKAGES=(postgresql-15 postgresql-client-15)

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_packages PKG...: installs the Debian packages that are missing.
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
      || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    # policy-rc.d keeps packaged services (postgresql, nginx, prometheus)
    # from starting system-wide daemons we do not use.
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
      as_root chmod +x "$policy"; created=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
    if [ "$created" = 1 ]; then as_root rm -f "$policy"; fi
  fi
}

# cmake_build PRESET [CMAKE_ARGS...]: configures build/PRESET as
# CMakePresets.json says (the build type and options of each script's build
# live there) and builds it.
cmake_build() {
  local preset=$1; shift
  (cd "$ROOT" && cmake --preset "$preset" "$@" >/dev/null &&
     cmake --build --preset "$preset" -j "$(nproc)")
}

# -- private PostgreSQL --------------------------------------------------------

# as_pg CMD...: runs CMD as the postgres user (when root). From /: the
# current directory may be one postgres cannot enter (a checkout in /root),
# so every path given must be absolute.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# pg_dir_for NAME: prints the real path (no symlink in it) of a directory
# for a cluster that the postgres user can reach. It is .local/NAME, or, when
# the checkout lies below a directory postgres cannot traverse (e.g. /root,
# mode 700), a directory in /tmp that .local/NAME links to (reused while it
# exists). Callers pass the printed path on (to pg_*, pgctl, initdb): the
# link itself goes through the checkout, which postgres cannot traverse.
pg_dir_for() {
  local name=$1
  local dir="$ROOT/.local/$name"
  mkdir -p "$ROOT/.local"
  if [ -L "$dir" ] && [ ! -d "$dir" ]; then rm -f "$dir"; fi
  if [ ! -e "$dir" ]; then
    if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$ROOT/.local"; then
      local real
      real=$(mktemp -d "/tmp/miyabi-$name.XXXXXX")
      ln -s "$real" "$dir"
    else
      mkdir -p "$dir"
    fi
  fi
  local resolved
  resolved=$(readlink -f "$dir")
  if [ "$(id -u)" = 0 ]; then chown postgres: "$resolved"; fi
  printf '%s\n' "$resolved"
}

# pg_init DIR: creates a cluster in DIR/data unless one exists.
pg_init() {
  local dir=$1
  [ -f "$dir/data/PG_VERSION" ] && return 0
  as_pg mkdir -p "$dir/data" "$dir/sock"
  as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 --no-sync >/dev/null
}

# pg_start DIR [SERVER_OPTIONS...]: starts the cluster on a free port (tried
# at random) and writes the port to DIR/port.
pg_start() {
  local dir=$1; shift
  local port attempt
  as_pg mkdir -p "$dir/sock"
  for attempt in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
         -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 $*" \
         start >/dev/null 2>&1; then
      echo "$port" > "$dir/port.tmp" && mv "$dir/port.tmp" "$dir/port"
      return 0
    fi
  done
  log "PostgreSQL did not start; see $dir/server.log"
  return 1
}

pg_stop() {
  local dir=$1
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
      || true
  fi
}

# pg_createdb DIR NAME: creates database NAME unless it exists.
pg_createdb() {
  local dir=$1 name=$2 port
  port=$(cat "$dir/port")
  if ! psql -h 127.0.0.1 -p "$port" -U postgres -Atqc \
       "SELECT 1 FROM pg_database WHERE datname = '$name'" postgres | grep -q 1; then
    psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE \"$name\"" \
      postgres >/dev/null
  fi
}
