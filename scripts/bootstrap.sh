#!/usr/bin/env bash
# Install what the twin needs and is missing, idempotently: Debian packages, .venv, web/ npm.
# A second run installs nothing and takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="postgresql-15 postgresql-15-postgis-3 gdal-bin chromium libegl1 libgl1-mesa-dri nodejs npm"
# WeasyPrint (plan reports as PDF): Pango, HarfBuzz (with font subsetting), fontconfig and
# DejaVu Sans, which covers the Kazakh letters; the viewer's label glyphs are built from the
# same DejaVu fonts (twin/glyphs.py, with fontnik from web/'s npm dev dependencies)
APT_PACKAGES="$APT_PACKAGES fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b"
APT_PACKAGES="$APT_PACKAGES libharfbuzz-subset0 libfontconfig1"
# MapLibre Native (mapli, twin/maps): Mesa's EGL (surfaceless llvmpipe, no display), libcurl
APT_PACKAGES="$APT_PACKAGES libegl-mesa0 libgl1 libcurl4"
# PgBouncer in transaction mode in front of PostgreSQL (`twin db pooler`, docs/scaling.md)
APT_PACKAGES="$APT_PACKAGES pgbouncer"
# the MQTT broker of SensorThings (`twin up` and the tests start it; twin/sensors)
APT_PACKAGES="$APT_PACKAGES mosquitto"
# its ACL plugin (twin/sensors/mqtt_acl_plugin.c), compiled at the broker's first start
APT_PACKAGES="$APT_PACKAGES mosquitto-dev libmosquitto-dev gcc libc6-dev"
missing=""
for pkg in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
# nodejs/npm may come from elsewhere than Debian: accept any working node and npm.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=$(echo "$missing" | tr ' ' '\n' | grep -vxE 'nodejs|npm' | tr '\n' ' ')
fi
if [ -n "$(echo "$missing" | tr -d ' ')" ]; then
  echo "bootstrap: installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  $PY -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  echo "bootstrap: pip install -e '.[test,bench]'"
  # pip's chatter goes to a log, shown only when the install fails.
  if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e '.[test,bench]'; } \
      > .venv/pip.log 2>&1; then
    grep -v '^WARNING: Location' .venv/pip.log >&2
    echo "bootstrap: pip install failed (log: .venv/pip.log)" >&2
    exit 1
  fi
  touch .venv/.installed
fi

if [ -f web/package-lock.json ]; then
  if [ ! -f web/node_modules/.installed ] || [ web/package-lock.json -nt web/node_modules/.installed ]; then
    echo "bootstrap: npm ci in web/"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    touch web/node_modules/.installed
  fi
fi
