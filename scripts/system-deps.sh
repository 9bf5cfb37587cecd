#!/usr/bin/env bash
# Debian packages the test suite needs: a PostgreSQL server (the tests start their own throwaway
# cluster with it) and Chromium (the browser tests drive it headless with Playwright). Installed
# only when missing, and only where we may (root with apt-get).
set -euo pipefail

have_postgres() {
    command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
}

missing=()
have_postgres || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "missing Debian packages: ${missing[*]} (install them with apt-get as root;" \
         "the PostgreSQL and browser tests are skipped without them)" >&2
fi
