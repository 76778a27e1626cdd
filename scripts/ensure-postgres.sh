#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup)
# and PgBouncer are on this machine: installs them with apt-get when they
# are missing and we are root, otherwise says how to get them. A server that
# is already running is not needed: the tests and the demo start their own
# (PgBouncer included, in front of a test cluster).
set -euo pipefail

have_postgres() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then return 0; fi
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
have_pgbouncer() {
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]
}

missing=()
if ! have_postgres && [ -z "${UNO_TEST_DATABASE_URL:-}" ] && [ -z "${DATABASE_URL:-}" ]; then
  missing+=(postgresql)
fi
if ! have_pgbouncer; then
  missing+=(pgbouncer)
fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "not found: ${missing[*]}; installing with apt-get" >&2
  apt-get update -qq
  # Install the binaries only: the packages' own services stay stopped.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet pgbouncer 2>/dev/null; then
    systemctl stop pgbouncer || true
  fi
  exit 0
fi
cat >&2 <<MSG
Not found: ${missing[*]}.
Install them (Debian: sudo apt-get install ${missing[*]}). The tests need the
PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) and pgbouncer; they
start their own servers. For PostgreSQL alone you may instead set
UNO_TEST_DATABASE_URL (tests) / DATABASE_URL (demo) to a server you may use.
MSG
exit 1
