#!/usr/bin/env bash
# Installs a built checkout of cachalot (bash scripts/setup.sh first):
#   PREFIX (default /opt/cachalot)       the program: dist/, daemon/, native addons, node_modules
#   /usr/local/bin/cachalot              the command
#   /sbin/mount.fuse.cachalot            the mount helper: `mount -t fuse.cachalot` and /etc/fstab
#   /etc/cachalot/cachalot.toml          from systemd/cachalot.toml.example, only if missing
#   /var/cache/cachalot (0700)           the mounts' caches; /var/lib/cachalot-meta (0700) meta's state
#   /etc/systemd/system/cachalot@.service, cachalot-meta.service
# Idempotent: run it again to upgrade (the config and the caches are kept).
# --uninstall removes what it installed and keeps the config and the caches.
# DESTDIR=DIR installs into DIR as the root (packaging, tests): nothing else
# is touched then (no systemctl). Units and the helper name PREFIX as the
# target system sees it.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-/opt/cachalot}
root=${DESTDIR:-}
unitdir=${UNITDIR:-/etc/systemd/system}
action=install
for arg in "$@"; do
  case $arg in
    --uninstall) action=uninstall ;;
    --prefix=*) prefix=${arg#--prefix=} ;;
    *) echo "install: unknown argument $arg (usage: install.sh [--prefix=DIR] [--uninstall])" >&2; exit 2 ;;
  esac
done
case $prefix in /*) ;; *) echo "install: --prefix must be absolute" >&2; exit 2 ;; esac

units=(cachalot@.service cachalot-meta.service)
reload_systemd() {
  # Only on the live system, and only where systemd runs.
  if [ -z "$root" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
}

if [ "$action" = uninstall ]; then
  rm -rf "$root$prefix"
  rm -f "$root/usr/local/bin/cachalot" "$root/sbin/mount.fuse.cachalot"
  for unit in "${units[@]}"; do rm -f "$root$unitdir/$unit"; done
  reload_systemd
  echo "install: removed cachalot from ${root:-/}; kept /etc/cachalot, /var/cache/cachalot and /var/lib/cachalot-meta"
  exit 0
fi

[ -f "$src/dist/daemon/cli-main.js" ] || { echo "install: not built; run 'bash scripts/setup.sh' first" >&2; exit 1; }

# The program: a fresh copy next to the old one, then swapped in, so that a
# running daemon keeps its files until it restarts.
mkdir -p "$(dirname "$root$prefix")"
stage=$(mktemp -d "$root$prefix.new.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp -a "$src/package.json" "$src/package-lock.json" "$stage/"
mkdir -p "$stage/dist" "$stage/bin"
cp -a "$src/dist/src" "$src/dist/daemon" "$stage/dist/"
cp -a "$src/daemon" "$src/proto" "$src/docs" "$src/systemd" "$stage/"
for addon in "$src"/native/*/build/Release/*.node; do
  rel=${addon#"$src"/}
  mkdir -p "$stage/$(dirname "$rel")"
  cp -a "$addon" "$stage/$rel"
done
cp -a "$src/node_modules" "$stage/"
ln -s ../daemon/cachalot "$stage/bin/cachalot"
chmod -R go-w "$stage"
chmod 0755 "$stage"
rm -rf "$root$prefix.old"
[ -e "$root$prefix" ] && mv "$root$prefix" "$root$prefix.old"
mv "$stage" "$root$prefix"
rm -rf "$root$prefix.old"
trap - EXIT

# What names the prefix: the units and the mount helper.
install -d -m 0755 "$root/usr/local/bin" "$root/sbin" "$root$unitdir" "$root/etc/cachalot"
ln -sfn "$prefix/bin/cachalot" "$root/usr/local/bin/cachalot"
sed "s#@PREFIX@#$prefix#g" "$src/scripts/mount.fuse.cachalot" > "$root/sbin/mount.fuse.cachalot"
chmod 0755 "$root/sbin/mount.fuse.cachalot"
for unit in "${units[@]}"; do
  sed "s#/opt/cachalot/#$prefix/#g" "$src/systemd/$unit" > "$root$unitdir/$unit"
  chmod 0644 "$root$unitdir/$unit"
done

# Config and state: made once, never overwritten.
[ -e "$root/etc/cachalot/cachalot.toml" ] || install -m 0644 "$src/systemd/cachalot.toml.example" "$root/etc/cachalot/cachalot.toml"
install -d -m 0700 "$root/var/cache/cachalot" "$root/var/lib/cachalot-meta"
reload_systemd
echo "install: cachalot in ${root}$prefix; edit /etc/cachalot/cachalot.toml, then: systemctl enable --now cachalot@NAME (docs/DEPLOY.md)"
