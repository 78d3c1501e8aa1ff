#!/usr/bin/env bash
# Builds the project's N-API addons (native/*/binding.gyp) with node-gyp (from
# the lockfile) against Node's own headers, each only when what it is built
# from changed since its last build: binding.gyp, its src/, the sources they
# share (native/common) and the Node it is built for (version and arch: the
# ABI and headers). The rule is a content hash kept in build/cachalot.stamp,
# not mtimes: a checkout, merge or copy that keeps the bytes keeps the build,
# and a Node upgrade rebuilds; the price is hashing ~100 KiB of sources per
# build (milliseconds). A clean clone has no stamp and builds everything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Node's headers ship with Debian's nodejs under the prefix of the node binary;
# without them node-gyp would try to download headers (no internet here).
prefix=$(dirname "$(dirname "$(command -v node)")")
nodedir=${npm_config_nodedir:-}
[ -z "$nodedir" ] && [ -f "$prefix/include/node/node_api.h" ] && nodedir=$prefix
target="$(node -v) $(uname -m)"
for gyp in "$root"/native/*/binding.gyp; do
  cd "$(dirname "$gyp")"
  stamp=build/cachalot.stamp
  want=$({ echo "$target"; find binding.gyp src ../common -type f -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && compgen -G 'build/Release/*.node' >/dev/null; then
    continue
  fi
  rm -f "$stamp"
  "$root"/node_modules/.bin/node-gyp rebuild ${nodedir:+--nodedir="$nodedir"} --loglevel=warn >/dev/null
  echo "$want" >"$stamp"
done
