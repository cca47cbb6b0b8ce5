#!/usr/bin/env bash
# Set up, then run the platform: Dagster UI and daemon on 127.0.0.1:3000 with every domain of workspace.yaml.
# The UI listens on this machine only; DAGSTER_HOST (e.g. 0.0.0.0) and DAGSTER_PORT say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export DAGSTER_HOME="$PWD/dagster_home"
export MESH_WAREHOUSE="${MESH_WAREHOUSE:-$PWD/warehouse}"
.venv/bin/mesh check || echo "mesh check found problems (above): those domains' code locations show them as load errors in the UI; every other domain runs."
exec .venv/bin/dagster dev -w workspace.yaml -h "${DAGSTER_HOST:-127.0.0.1}" -p "${DAGSTER_PORT:-3000}"
