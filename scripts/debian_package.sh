#!/usr/bin/env bash
# Install one of Debian's packages when this machine can (root with apt-get, as on CI); else
# print what that means. Usage: debian_package.sh PACKAGE "what it is for" "what happens without it"
set -euo pipefail
package="$1" purpose="$2" without="$3"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing $package from Debian's packages $purpose..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null
else
  echo "note: $without"
fi
