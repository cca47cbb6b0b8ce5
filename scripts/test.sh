#!/usr/bin/env bash
# Set up, then run every test. Tests use temporary DAGSTER_HOME and warehouse folders only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/browser.sh
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadgroup "$@"
