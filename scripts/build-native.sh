#!/usr/bin/env bash
# Builds the project's N-API addons (native/*/binding.gyp) with node-gyp (from
# the lockfile) against Node's own headers, each when a source of it is newer
# than its built addon (or a source they share, native/common).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Node's headers ship with Debian's nodejs under the prefix of the node binary;
# without them node-gyp would try to download headers (no internet here).
prefix=$(dirname "$(dirname "$(command -v node)")")
nodedir=${npm_config_nodedir:-}
[ -z "$nodedir" ] && [ -f "$prefix/include/node/node_api.h" ] && nodedir=$prefix
for gyp in "$root"/native/*/binding.gyp; do
  cd "$(dirname "$gyp")"
  built=$(ls build/Release/*.node 2>/dev/null | head -1 || true)
  if [ -n "$built" ] && [ -z "$(find binding.gyp src ../common -newer "$built" -print -quit)" ]; then
    continue
  fi
  "$root"/node_modules/.bin/node-gyp rebuild ${nodedir:+--nodedir="$nodedir"} --loglevel=warn >/dev/null
done
