#!/usr/bin/env bash
# Builds the project's N-API code in native/ with node-gyp (from the lockfile)
# against Node's own headers, when a source is newer than the built addon.
set -euo pipefail
cd "$(dirname "$0")/../native/fuse"
addon=build/Release/cachalot_fuse.node
if [ -f "$addon" ] && [ -z "$(find binding.gyp src -newer "$addon" -print -quit)" ]; then
  exit 0
fi
# Node's headers ship with Debian's nodejs under the prefix of the node binary;
# without them node-gyp would try to download headers (no internet here).
prefix=$(dirname "$(dirname "$(command -v node)")")
nodedir=${npm_config_nodedir:-}
[ -z "$nodedir" ] && [ -f "$prefix/include/node/node_api.h" ] && nodedir=$prefix
../../node_modules/.bin/node-gyp rebuild ${nodedir:+--nodedir="$nodedir"} --loglevel=warn >/dev/null
