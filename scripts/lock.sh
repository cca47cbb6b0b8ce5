#!/usr/bin/env bash
# Regenerate requirements.lock: the exact version of every package the project installs (its
# dependencies and the test extra), resolved afresh within pyproject.toml's bounds in a scratch
# virtualenv. scripts/bootstrap.sh installs from it, so every machine and CI run the versions
# that were tested. Run it after changing a dependency in pyproject.toml, then run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --upgrade pip
"$scratch/venv/bin/python" -m pip install --quiet ".[test]"
{
  echo "# The exact versions the project is tested with; scripts/bootstrap.sh installs from this file."
  echo "# Regenerate with: bash scripts/lock.sh (after changing a dependency in pyproject.toml)."
  "$scratch/venv/bin/python" -m pip freeze --exclude dagster-data-mesh | LC_ALL=C sort -f
} > requirements.lock
echo "wrote requirements.lock ($(grep -vc '^#' requirements.lock) packages)"
