# shellcheck shell=bash
# Shared by up.sh and down.sh: paths, ports, and process handling for the
# test cluster (etcd + kube-apiserver on 127.0.0.1). Sourced, not run.

kube_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

RUN_DIR="${PROCMGR_KUBE_DIR:-/tmp/procmgr-kube}"
APISERVER_PORT="${PROCMGR_KUBE_APISERVER_PORT:-16443}"
ETCD_PORT="${PROCMGR_KUBE_ETCD_PORT:-12379}"
ETCD_PEER_PORT="${PROCMGR_KUBE_ETCD_PEER_PORT:-12380}"
READY_TIMEOUT="${PROCMGR_KUBE_READY_TIMEOUT:-180}"
STALE_GRACE="${PROCMGR_KUBE_STALE_GRACE:-60}"

PKI_DIR="$RUN_DIR/pki"
DATA_DIR="$RUN_DIR/data"
LOG_DIR="$RUN_DIR/logs"
LEASE_DIR="$RUN_DIR/leases"
CLUSTER_JSON="$RUN_DIR/cluster.json"
KUBECONFIG_FILE="$RUN_DIR/kubeconfig"
TOKEN_FILE="$RUN_DIR/admin-token"
MODE_FILE="$RUN_DIR/mode"
SERVER_URL="https://127.0.0.1:$APISERVER_PORT"

log() { printf '[kube] %s\n' "$*" >&2; }

# Version of module $1 in go.mod (a single-line or block require).
mod_version() {
  awk -v m="$1" '{ for (i = 1; i < NF; i++) if ($i == m && $(i + 1) ~ /^v/) { print $(i + 1); exit } }' "$kube_here/go.mod"
}

# Serialize up/down on the run dir: concurrent test runs share one cluster.
# Children must not inherit fd 9 (launch them with 9>&-), or they would hold
# the lock for their whole life.
take_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  if ! flock -n 9; then
    log "waiting for another kube:up/kube:down on $RUN_DIR"
    flock 9
  fi
}

# Our process for component $1 (etcd | kube-apiserver) is pid $2 when its
# argv[0] ends with /$1 and its arguments name this run dir.
is_ours() {
  local name="$1" pid="$2" argv0="" args
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
  # argv[0] first, with builtins only: our_pids runs this for every process.
  IFS= read -r -d '' argv0 < "/proc/$pid/cmdline" 2>/dev/null || true
  [[ "$argv0" == */"$name" ]] || return 1
  args="$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null)" || return 1
  grep -qF -- "$RUN_DIR/" <<<"$args"
}

# Pid of component $1 from its pid file, if that process is ours and alive.
running_pid() {
  local name="$1" pid
  pid="$(cat "$RUN_DIR/$name.pid" 2>/dev/null)" || return 1
  is_ours "$name" "$pid" || return 1
  echo "$pid"
}

# Every live process of component $1 that belongs to this run dir: the one in
# the pid file plus any whose pid file was lost (scanned by /proc cmdline).
our_pids() {
  local name="$1" p pid
  for p in /proc/[0-9]*; do
    pid="${p#/proc/}"
    is_ours "$name" "$pid" && echo "$pid"
  done
  return 0
}

stop_component() {
  local name="$1" pid pids i
  pids="$(our_pids "$name")"
  if [[ -z "$pids" ]]; then
    rm -f "$RUN_DIR/$name.pid"
    return 0
  fi
  for pid in $pids; do
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
  done
  for ((i = 0; i < 100; i++)); do
    local alive=""
    for pid in $pids; do is_ours "$name" "$pid" && alive+=" $pid"; done
    [[ -z "$alive" ]] && break
    sleep 0.1
  done
  for pid in $pids; do
    if is_ours "$name" "$pid"; then
      log "$name (pid $pid) ignored SIGTERM for 10s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$RUN_DIR/$name.pid"
}

# Last lines of both logs, for failures.
show_logs() {
  local f
  for f in "$LOG_DIR/etcd.log" "$LOG_DIR/kube-apiserver.log"; do
    [[ -s "$f" ]] || continue
    printf '\n----- last 40 lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
  printf '\n' >&2
}

# HTTP status of an apiserver path with the admin token (000 when unreachable).
api_status() {
  local path="$1"
  [[ -r "$TOKEN_FILE" && -r "$PKI_DIR/ca.crt" ]] || { echo 000; return; }
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    --cacert "$PKI_DIR/ca.crt" -H "Authorization: Bearer $(cat "$TOKEN_FILE")" \
    "$SERVER_URL$path" || true
}

healthy() {
  running_pid etcd >/dev/null && running_pid kube-apiserver >/dev/null &&
    [[ -r "$CLUSTER_JSON" && "$(api_status /readyz)" == 200 ]]
}

# Leases: a test run that started the cluster (mode "auto") holds a lease by
# its pid; down --release drops it, and the cluster stops when no live lease
# is left. A cluster started by plain `up` (mode "manual") stays up until a
# plain `down`.
proc_start_time() { awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null; }

add_lease() {
  local pid="$1" start
  start="$(proc_start_time "$pid")" || true
  [[ -n "$start" ]] || { log "warning: lease pid $pid is not running; ignored"; return 0; }
  mkdir -p "$LEASE_DIR"
  echo "$start" > "$LEASE_DIR/$pid"
}

live_leases() {
  local f pid
  [[ -d "$LEASE_DIR" ]] || return 0
  for f in "$LEASE_DIR"/*; do
    [[ -e "$f" ]] || continue
    pid="${f##*/}"
    if [[ "$(proc_start_time "$pid")" == "$(cat "$f")" ]]; then echo "$pid"; else rm -f "$f"; fi
  done
}
