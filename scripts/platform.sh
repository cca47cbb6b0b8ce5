#!/usr/bin/env bash
# Set up, then run the platform: Dagster UI and daemon on 127.0.0.1:3000 with every domain of workspace.yaml.
# The UI listens on this machine only; DAGSTER_HOST (e.g. 0.0.0.0) and DAGSTER_PORT say otherwise.
# Three processes, stopped together: the webserver, the daemon (schedules, sensors, automation,
# run queue) and a watcher that reloads the UI's code locations when workspace.yaml or a domain's
# files change, so a domain created with `mesh new domain` shows up without a restart.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/dagster_home}"
export MESH_WAREHOUSE="${MESH_WAREHOUSE:-$PWD/warehouse}"
host="${DAGSTER_HOST:-127.0.0.1}"
port="${DAGSTER_PORT:-3000}"
.venv/bin/mesh check || echo "mesh check found problems (above): those domains' code locations show them as load errors in the UI; every other domain runs."
echo "docs site (rebuilt whenever the catalog is): file://$MESH_WAREHOUSE/site/index.html (or: .venv/bin/mesh docs build)"
# The serving database people and BI tools read (docs/serving.md): the embedded PostgreSQL under
# $MESH_WAREHOUSE/serving, unless MESH_SERVING_URL names another or MESH_SERVING=off.
serving=0
if [ -z "${MESH_SERVING_URL:-}" ] && [ "${MESH_SERVING:-auto}" != off ]; then
  .venv/bin/mesh serving start && serving=1
fi

stop() {
  kill $(jobs -p) 2>/dev/null || true
  wait || true
  if [ "$serving" = 1 ]; then .venv/bin/mesh serving stop; fi
}
trap stop EXIT
trap 'exit 143' INT TERM
.venv/bin/dagster-daemon run -w workspace.yaml &
.venv/bin/python -m platform_core.dagster.reloader --url "http://$host:$port" -w workspace.yaml &
.venv/bin/dagster-webserver -w workspace.yaml -h "$host" -p "$port"
