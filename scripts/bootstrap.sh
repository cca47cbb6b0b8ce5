#!/usr/bin/env bash
# Set up everything the platform needs from nothing but python3: a virtualenv with the
# project installed at the versions of requirements.lock (re-installed only when pyproject.toml or
# the lock changes) and the sample data.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "installing the project into .venv (the log: .venv/install.log)..."
  # pip and the build backend talk a lot; their log is shown only when the install fails.
  if ! { .venv/bin/python -m pip install --quiet --upgrade pip &&
         .venv/bin/python -m pip install --quiet --constraint requirements.lock -e ".[test]"; } > .venv/install.log 2>&1; then
    cat .venv/install.log >&2
    echo "installing the project failed (above)" >&2
    exit 1
  fi
  rm -f .venv/.installed-* && touch "$stamp"
fi
# DuckDB cannot download extensions on a closed network: the lake's come from their wheels
# into DuckDB's extension folder (where any DuckDB client on the machine finds them).
.venv/bin/python -m platform_core.storage.extensions ducklake sqlite_scanner postgres_scanner httpfs >/dev/null
# Installed packages come compiled by pip; the project's own modules are compiled here, so that every
# command starts from bytecode even where PYTHONDONTWRITEBYTECODE is set (container images often set it).
.venv/bin/python -m compileall -q platform_core domains >/dev/null

# The key that masks personal data for consumers without a grant: a secret of this machine's,
# kept outside the repository and never committed (MESH_MASKING_KEY or MESH_MASKING_KEY_FILE
# take its place where set).
key_file="${MESH_MASKING_KEY_FILE:-${XDG_CONFIG_HOME:-$HOME/.config}/dagster-data-mesh/masking.key}"
if [ -z "${MESH_MASKING_KEY:-}" ] && [ ! -s "$key_file" ]; then
  mkdir -p "$(dirname "$key_file")"
  (umask 077 && .venv/bin/python -c "import secrets; print(secrets.token_hex(32))" > "$key_file")
  echo "created the masking key $key_file (keep it secret; every run that masks personal data reads it)"
fi

# PostgreSQL with TLS for the serving database, where this machine can install it.
bash scripts/postgres.sh

# Sample data is committed; regenerate only what is missing (the generators are deterministic).
for generator in domains/*/sample_data.py; do
  [ -f "$generator" ] || continue
  domain=$(basename "$(dirname "$generator")")
  if [ -z "$(ls -A "domains/$domain/data" 2>/dev/null)" ]; then
    .venv/bin/python -m "domains.$domain.sample_data"
  fi
done
mkdir -p dagster_home
