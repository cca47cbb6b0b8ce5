#!/usr/bin/env bash
# Set up, then run the platform: Dagster UI and daemon on 127.0.0.1:3000 with every domain of workspace.yaml.
# The UI listens on this machine only; DAGSTER_HOST (e.g. 0.0.0.0) and DAGSTER_PORT say otherwise.
# The webserver, and a watcher that runs the daemon (schedules, sensors, automation, run queue)
# and keeps both in step with workspace.yaml and the domains' files, so a domain created with
# `mesh new domain` shows up without a restart, in the UI and the daemon at once
# (platform_core/dagster/reloader.py). The terminal shows what happens, with times: reloads, runs
# started and ended, errors; everything else is in $DAGSTER_HOME/platform-logs (and run events in the UI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/dagster_home}"
export MESH_WAREHOUSE="${MESH_WAREHOUSE:-$PWD/warehouse}"
host="${DAGSTER_HOST:-127.0.0.1}"
port="${DAGSTER_PORT:-3000}"
export MESH_UI_URL="${MESH_UI_URL:-http://$host:$port}"  # where alerts link to
.venv/bin/mesh check || echo "mesh check found problems (above): those domains' code locations show them as load errors in the UI; every other domain runs."
echo "docs site (rebuilt whenever the catalog is): file://$MESH_WAREHOUSE/site/index.html (or: .venv/bin/mesh docs build)"
# The serving database people and BI tools read (docs/serving.md): the embedded PostgreSQL under
# $MESH_WAREHOUSE/serving, unless MESH_SERVING_URL names another or MESH_SERVING=off.
serving=0
if [ -z "${MESH_SERVING_URL:-}" ] && [ "${MESH_SERVING:-auto}" != off ]; then
  .venv/bin/mesh serving start && serving=1
fi

logs="$DAGSTER_HOME/platform-logs"  # not logs/: Dagster moves what is there away for its telemetry
mkdir -p "$logs"
# the instance's storage made (or brought up to date) once, before the webserver, the daemon and
# their code servers all start and would race to make it
.venv/bin/dagster instance migrate >>"$logs/instance.log" 2>&1
stop() {
  echo "$(date +%H:%M:%S) stopping..."
  kill $(jobs -p) 2>/dev/null || true
  wait || true
  if [ "$serving" = 1 ]; then .venv/bin/mesh serving stop; fi
  echo "$(date +%H:%M:%S) stopped"
}
trap stop EXIT
trap 'exit 143' INT TERM
.venv/bin/python -m platform_core.dagster.webserver -w workspace.yaml -h "$host" -p "$port" --code-server-log-level warning \
  >>"$logs/webserver.log" 2>&1 &
webserver=$!
.venv/bin/python -m platform_core.dagster.reloader --url "http://$host:$port" -w workspace.yaml --daemon --logs "$logs" &
for _ in $(seq 1 300); do  # the UI answers once its code locations are loaded
  # a webserver that ended (it failed, or it was stopped while it started) ends the platform; a
  # signal this shell was started ignoring (as some process managers do) would not
  if ! kill -0 "$webserver" 2>/dev/null; then
    echo "$(date +%H:%M:%S) the webserver ended before the UI answered (its log: $logs/webserver.log)"
    exit 1
  fi
  if .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
      "http://$host:$port/server_info" 2>/dev/null; then break; fi
  sleep 1
done
echo "$(date +%H:%M:%S) Dagster UI: http://$host:$port (logs: $logs; Ctrl-C stops everything)"
wait -n  # the first of them to end (Ctrl-C, or a crash) stops the others
