#!/usr/bin/env bash
# A Debian-based Python base image for the project's Dockerfile (its PYTHON_IMAGE build argument),
# made from Debian's own packages because no image registry can be reached here:
#   debootstrap (minbase + python3, python3-pip, ca-certificates) into a folder -> a tarball
#   (cached in $CACHE_DIR, keyed by suite and package list) -> `docker import`.
# It stands in for python:3.11-slim: `python`/`pip` in /usr/local/bin, pip allowed to install
# (no PEP 668 marker), the host's extra CA certificates trusted (a TLS-inspecting proxy between
# this machine and the package registries), SSL_CERT_FILE set so uv uses that bundle.
# Usage: base_image.sh <tag>     (DOCKER_HOST must point at the daemon to import into)
set -euo pipefail

TAG=${1:?usage: base_image.sh <tag>}
CACHE_DIR=${PORTAL_CI_CACHE:-/var/cache/portal-ci}
SUITE=${BASE_SUITE:-bookworm}
PACKAGES=python3,python3-pip,ca-certificates
HERE=$(cd "$(dirname "$0")" && pwd)

# The mirror apt already uses on this machine (first deb822 URIs or one-line `deb` entry).
mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}')
  [ -n "$uri" ] || uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk '$1 == "deb" && $3 ~ /\/debian\/?$/ {print $3; exit}' | head -n1)
  echo "${uri:-http://deb.debian.org/debian}"
}

# Bump RECIPE when the steps below change what the tarball holds (the cache key includes it).
RECIPE=2
key=$(printf '%s %s %s' "$SUITE" "$PACKAGES" "$RECIPE" | sha256sum | cut -c1-16)
tarball="$CACHE_DIR/base/debian-$SUITE-python-$key.tar"
mkdir -p "$CACHE_DIR/base"

if [ ! -s "$tarball" ]; then
  rootfs=$(mktemp -d "$CACHE_DIR/base/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  echo "base image: debootstrap $SUITE from $(mirror) (cached afterwards in $tarball)"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$(mirror)" \
    > "$CACHE_DIR/base/debootstrap.log" 2>&1 \
    || { tail -n 20 "$CACHE_DIR/base/debootstrap.log" >&2; exit 1; }
  ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
  ln -sf /usr/bin/pip3 "$rootfs/usr/local/bin/pip"
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  # CA certificates the host trusts beyond Debian's bundle become local ones in the image.
  python3 "$HERE/extra_cas.py" /etc/ssl/certs/ca-certificates.crt \
    "$rootfs/etc/ssl/certs/ca-certificates.crt" "$rootfs/usr/local/share/ca-certificates"
  chroot "$rootfs" update-ca-certificates >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
         "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
         "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/root/.cache
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'C.*' -exec rm -rf {} +
  chmod 0755 "$rootfs"  # mktemp made it 0700: the image's / would be closed to non-root users
  tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  find "$CACHE_DIR/base" -maxdepth 1 -name 'debian-*.tar' ! -name "$(basename "$tarball")" -delete
fi

# Imported once per tarball: a new import would be a new image id, and the project image's layer
# cache (keyed by its parent) would start over.
comment="debootstrap $SUITE minbase + $PACKAGES (recipe $RECIPE, import 2, $key)"
if [ "$(docker image inspect --format '{{.Comment}}' "$TAG" 2>/dev/null)" = "$comment" ]; then
  echo "base image: $TAG already imported from $tarball"
  exit 0
fi
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["python3"]' \
  --message "$comment" \
  "$tarball" "$TAG" >/dev/null
echo "base image: $TAG from $tarball"
