#!/usr/bin/env bash
# Debian packages the test suite needs: a PostgreSQL server (the tests start their own throwaway
# cluster with it), Chromium (the browser tests drive it headless with Playwright), the libraries
# WeasyPrint renders the management report's PDF with (Pango, HarfBuzz's subsetter, a font) and
# poppler-utils (the tests read the PDF back with pdftotext and pdftoppm). Installed only when
# missing, and only where we may (root with apt-get).
set -euo pipefail

have_postgres() {
    command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
}

missing=()
have_postgres || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
for package in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
        || missing+=("$package")
done
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)

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
