#!/usr/bin/env bash
# Set up, then run every test. Tests use temporary DAGSTER_HOME and warehouse folders only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/browser.sh
# Governance first, as in any CI of the project: every descriptor loads and keeps every policy
# in force (exit 1 on any error). A fresh warehouse: no test depends on what this machine published.
scratch="$(mktemp -d)"
MESH_WAREHOUSE="$scratch/warehouse" .venv/bin/mesh check
rm -rf "$scratch"
# The habits of a maintained codebase, configured in pyproject.toml: lint, format, types.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadgroup "$@"
