#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries (initdb, pg_ctl) are on this
# machine: installs them with apt-get when they are missing and we are root,
# otherwise says how to get them. A server that is already running is not
# needed: the tests and the demo start their own.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then exit 0; fi
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then exit 0; fi
if [ -n "${UNO_TEST_DATABASE_URL:-}" ] || [ -n "${DATABASE_URL:-}" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL server binaries not found; installing them with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  exit 0
fi
cat >&2 <<'MSG'
PostgreSQL server binaries (initdb, pg_ctl) not found.
Install them (Debian: sudo apt-get install postgresql), or set
UNO_TEST_DATABASE_URL (tests) / DATABASE_URL (demo) to a server you may use.
MSG
exit 1
