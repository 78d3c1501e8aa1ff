#!/usr/bin/env bash
# Installs what cachalot needs on Debian, where missing: fuse3 (FUSE at run
# time), libfuse3-dev, libnghttp2-dev, liblz4-dev and a C++ toolchain
# (native/fuse and native/peer are built here), then
# npm packages from the lockfile, then builds. systemd is only for
# `systemd-analyze verify` of the units in the tests (nothing is started).
# Idempotent. `--bench` also installs rclone and s3fs for `npm run bench`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node first: everything below (npm ci, the addons' headers, the build) needs
# Node >= 20, and Debian 12's own nodejs package is 18.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  found=$(node -v 2>/dev/null || echo "no node on PATH")
  echo "setup: Node.js >= 20 is required (found: $found); install Node 20 or later (https://nodejs.org/en/download, or nvm install 20), then run setup again" >&2
  exit 1
fi

packages=(fuse3 libfuse3-dev libnghttp2-dev liblz4-dev pkg-config g++ make python3 systemd)
[ "${1:-}" = "--bench" ] && packages+=(rclone s3fs)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -e /dev/fuse ] || { echo "setup: /dev/fuse is missing; load the fuse module (modprobe fuse)" >&2; exit 1; }

# Again when the lockfile or a patch of a package (patches/, applied at install) changed since.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ -n "$(find patches -newer node_modules/.package-lock.json 2>/dev/null)" ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
echo "setup: ready (daemon/cachalot --help)"
