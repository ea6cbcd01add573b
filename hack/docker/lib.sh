# shellcheck shell=bash
# Shared by the hack/docker scripts: paths and helpers. Sourced, not run.

docker_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$docker_here/../.." && pwd)"

RUN_DIR="${PROCMGR_DOCKER_DIR:-/tmp/procmgr-docker}"
DOCKERD_LOG="$RUN_DIR/dockerd.log"
DOCKERD_PID="$RUN_DIR/dockerd.pid"
DOCKERD_FLAGS_FILE="$RUN_DIR/dockerd.flags"
READY_TIMEOUT="${PROCMGR_DOCKER_READY_TIMEOUT:-60}"

BASE_IMAGE="${PROCMGR_BASE_IMAGE:-procmgr-base:node24}"
IMAGE="${PROCMGR_IMAGE:-procmgr:dev}"
# Where the build context and the base rootfs are staged (cached between runs).
CACHE_DIR="${PROCMGR_DOCKER_CACHE:-/tmp/procmgr-image}"

log() { printf '[docker] %s\n' "$*" >&2; }

# Serialize the scripts on the run dir: concurrent test runs share one daemon
# and one image. Children must not inherit fd 8 (launch them with 8>&-).
take_lock() {
  mkdir -p "$RUN_DIR"
  exec 8>"$RUN_DIR/.lock"
  if ! flock -n 8; then
    log "waiting for another hack/docker script on $RUN_DIR"
    flock 8
  fi
}

docker_ok() { docker info >/dev/null 2>&1; }

# sha256 of everything on stdin, first 16 hex digits.
short_hash() { sha256sum | cut -c1-16; }

# Label value $2 of image $1, empty when the image or the label is missing.
image_label() {
  docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# The Node 24 binary the project pins as a devDependency.
node24() {
  local n="$repo_root/node_modules/node/bin/node"
  [[ -x "$n" ]] || { log "error: $n missing (npm ci in the repo first)"; return 1; }
  echo "$n"
}
