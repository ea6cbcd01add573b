#!/usr/bin/env bash
# Makes a Docker engine answer on this machine. Idempotent: when `docker info`
# already works nothing is done. Otherwise installs Debian's docker.io (and the
# static busybox and tini the base image is made of) with apt when missing,
# then starts dockerd in the background with its log and pid file under the run
# dir and waits until `docker info` answers. The daemon stays up (for other
# test runs) until hack/docker/down.sh.
#
# Storage driver: overlay2, then vfs if dockerd does not come up with it.
# Network: the default bridge (tests map ports on 127.0.0.1); only when that
# fails is dockerd started with --bridge=none --iptables=false (no port maps).
#
# Environment: PROCMGR_DOCKER_DIR (run dir, default /tmp/procmgr-docker),
# PROCMGR_DOCKER_READY_TIMEOUT (seconds per attempt, 60),
# PROCMGR_DOCKERD_ARGS (extra dockerd flags, space-separated).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
  "") ;;
  *) log "unknown argument: $1"; exit 2 ;;
esac

if docker_ok; then
  log "docker engine already answers ($(docker info -f '{{.ServerVersion}} {{.Driver}}' 2>/dev/null))"
  exit 0
fi

take_lock
if docker_ok; then exit 0; fi

apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ "$(id -u)" == 0 ]] || { log "error: need root to apt-get install ${missing[*]}"; return 1; }
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Downloaded .debs stay in apt's cache (/var/cache/apt/archives); only
  # refresh the lists when apt does not know a package yet.
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$RUN_DIR/apt.log" 2>&1; then
    apt-get update -q >>"$RUN_DIR/apt.log" 2>&1
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$RUN_DIR/apt.log" 2>&1 \
      || { log "error: apt-get install failed, see $RUN_DIR/apt.log"; tail -5 "$RUN_DIR/apt.log" >&2; return 1; }
  fi
}

mkdir -p "$RUN_DIR"
# docker.io brings dockerd, containerd and runc; iptables is for the bridge.
# busybox-static and tini are read by base.sh (static binaries for the image).
apt_install docker.io iptables busybox-static tini
command -v docker >/dev/null || { log "error: no docker client on PATH"; exit 1; }

stop_ours() {
  local pid
  pid="$(cat "$DOCKERD_PID" 2>/dev/null)" || return 0
  if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q dockerd; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do [[ -e /proc/$pid ]] || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$DOCKERD_PID"
}

# A dockerd from an earlier run that is alive but not answering: restart it.
stop_ours

try_start() {
  local flags=("$@")
  # shellcheck disable=SC2206
  flags+=(${PROCMGR_DOCKERD_ARGS:-})
  log "starting dockerd ${flags[*]}"
  printf '%s\n' "${flags[*]}" >"$DOCKERD_FLAGS_FILE"
  # setsid: the daemon must outlive this script and the test run that called it.
  setsid dockerd --pidfile "$DOCKERD_PID" "${flags[@]}" >>"$DOCKERD_LOG" 2>&1 8>&- </dev/null &
  local dpid=$! i
  for ((i = 0; i < READY_TIMEOUT * 5; i++)); do
    if docker_ok; then return 0; fi
    if ! kill -0 "$dpid" 2>/dev/null; then
      log "dockerd exited: $(grep -iE 'level=(error|fatal)|failed' "$DOCKERD_LOG" | tail -1)"
      return 1
    fi
    sleep 0.2
  done
  log "dockerd did not answer within ${READY_TIMEOUT}s"
  kill "$dpid" 2>/dev/null || true
  return 1
}

: >"$DOCKERD_LOG"
if try_start --storage-driver overlay2 \
  || { stop_ours; try_start --storage-driver vfs; } \
  || { stop_ours; log "warning: no bridge network; containers cannot map ports"; try_start --storage-driver vfs --bridge=none --iptables=false; }; then
  log "ready: $(docker info -f 'engine {{.ServerVersion}}, storage {{.Driver}}, cgroup v{{.CgroupVersion}}' 2>/dev/null)"
  log "  log: $DOCKERD_LOG  pid: $(cat "$DOCKERD_PID" 2>/dev/null)"
else
  log "error: dockerd would not start; last lines of $DOCKERD_LOG:"
  tail -15 "$DOCKERD_LOG" >&2
  exit 1
fi
