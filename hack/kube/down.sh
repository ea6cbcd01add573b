#!/usr/bin/env bash
# Stops the test cluster started by up.sh: kube-apiserver, then etcd (each by
# its pid file, and only a process whose /proc/<pid>/cmdline is our binary
# with this run dir), then removes its data, certificates and cluster.json.
# The logs stay in <run dir>/logs.
#
#   down.sh                 stop the cluster, whoever started it
#   down.sh --release PID   drop a test run's lease; stop the cluster only if
#                           a test run started it and no live lease is left
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

release=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --release) release="${2:?--release needs a pid}"; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) log "unknown argument: $1"; exit 2 ;;
  esac
done

if [[ ! -d "$RUN_DIR" ]]; then
  log "nothing to stop ($RUN_DIR does not exist)"
  exit 0
fi

take_lock

if [[ -n "$release" ]]; then
  rm -f "$LEASE_DIR/$release"
  mode="$(cat "$MODE_FILE" 2>/dev/null || echo none)"
  leases="$(live_leases | tr '\n' ' ')"
  if [[ "$mode" == manual ]]; then
    log "cluster kept: started by kube:up (stop it with npm run kube:down)"
    exit 0
  fi
  if [[ -n "$leases" ]]; then
    log "cluster kept: still used by test run(s) with pid ${leases% }"
    exit 0
  fi
fi

if [[ -z "$release" ]]; then
  leases="$(live_leases | tr '\n' ' ')"
  [[ -z "$leases" ]] || log "warning: test run(s) with pid ${leases% } were using this cluster"
fi
stop_component kube-apiserver
stop_component etcd
rm -rf "$DATA_DIR" "$PKI_DIR" "$LEASE_DIR" "$CLUSTER_JSON" "$CLUSTER_JSON.tmp" "$KUBECONFIG_FILE" \
  "$TOKEN_FILE" "$RUN_DIR/tokens.csv" "$MODE_FILE"
log "down (logs kept in $LOG_DIR)"
