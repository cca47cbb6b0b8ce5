#!/usr/bin/env bash
# Chromium for the browser tests (tests/test_ui.py, tests/test_site.py), from Debian's packages.
# Installed when missing and this machine can (root with apt-get, as on CI). Elsewhere the
# browser tests are skipped with a note, except under CI=true, where they must run.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -n "${MESH_CHROMIUM:-}" ]; then
  exit 0
fi
bash "$(dirname "$0")/debian_package.sh" chromium "for the browser tests" \
  "no Chromium here, so the browser tests will be skipped (install Debian's chromium, or set MESH_CHROMIUM to a Chromium binary)"
