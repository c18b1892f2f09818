#!/usr/bin/env bash
# Installs the Debian packages given that are not installed yet (as root), saying which on
# stderr; installs nothing, and says nothing, when all are there. The test set-up scripts
# share it, so a machine that has the packages (a CI machine's second run) skips apt-get.
#
#   scripts/apt-install.sh PACKAGE...
set -euo pipefail
missing=()
for package in "$@"; do
    dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
[ ${#missing[@]} -gt 0 ] || exit 0
echo "apt-install: installing ${missing[*]}" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
