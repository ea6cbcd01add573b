#!/usr/bin/env bash
# Stops the dockerd that hack/docker/up.sh started (by its pid file). A Docker
# engine that up.sh did not start is left alone. Images stay in /var/lib/docker.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
take_lock
pid="$(cat "$DOCKERD_PID" 2>/dev/null)" || { log "no dockerd of ours is running"; exit 0; }
if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q dockerd; then
  log "stopping dockerd (pid $pid)"
  kill "$pid"
  for _ in $(seq 1 100); do [[ -e /proc/$pid ]] || break; sleep 0.2; done
  [[ -e /proc/$pid ]] && { log "dockerd still alive after 20s; SIGKILL"; kill -9 "$pid"; }
fi
rm -f "$DOCKERD_PID"
log "stopped"
