#!/usr/bin/env bash
# Starts the k8s test tier's cluster: etcd + a real kube-apiserver on
# 127.0.0.1, built by build.sh (cached). Idempotent: a cluster that is already
# up and ready is left alone. Writes <run dir>/cluster.json and a kubeconfig.
#
#   up.sh               start (or keep) the cluster; it stays up until down.sh
#   up.sh --lease PID   the same for a test run: a cluster this starts stops at
#                       `down.sh --release PID` once no other live lease is left
#
# Environment: PROCMGR_KUBE_DIR (run dir, default /tmp/procmgr-kube),
# PROCMGR_KUBE_CACHE (build cache), PROCMGR_KUBE_APISERVER_PORT (16443),
# PROCMGR_KUBE_ETCD_PORT (12379), PROCMGR_KUBE_ETCD_PEER_PORT (12380),
# PROCMGR_KUBE_READY_TIMEOUT (seconds, 180), PROCMGR_KUBE_APISERVER_ARGS
# (extra kube-apiserver flags, space-separated), PROCMGR_KUBE_STALE_GRACE
# (seconds a running but unready cluster gets before it is restarted, 60).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lease=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --lease) lease="${2:?--lease needs a pid}"; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) log "unknown argument: $1"; exit 2 ;;
  esac
done

for tool in curl openssl flock setsid; do
  command -v "$tool" >/dev/null || { log "error: '$tool' is needed"; exit 1; }
done

take_lock

print_ready() {
  log "ready: $SERVER_URL"
  log "  KUBECONFIG=$KUBECONFIG_FILE"
  log "  cluster info for tests: $CLUSTER_JSON"
  log "  logs: $LOG_DIR"
  if [[ "$(cat "$MODE_FILE" 2>/dev/null)" == auto ]]; then
    log "  started for test runs: stops when the last one holding a lease ends"
  else
    log "  stays up until: npm run kube:down"
  fi
}

record_owner() {
  if [[ -n "$lease" ]]; then
    add_lease "$lease"
    [[ -f "$MODE_FILE" ]] || echo auto > "$MODE_FILE"
  else
    echo manual > "$MODE_FILE" # a plain up keeps the cluster until a plain down
  fi
}

already_up() {
  log "already up (etcd pid $(running_pid etcd), kube-apiserver pid $(running_pid kube-apiserver))"
  record_owner
  print_ready
  exit 0
}

healthy && already_up

# A cluster that came up once and whose etcd still runs may only be busy, or
# its apiserver restarting (a k8s test does that): other test runs may be using
# it, so give it time before declaring it stale.
if [[ -r "$CLUSTER_JSON" ]] && running_pid etcd >/dev/null; then
  log "the cluster is running but not ready; waiting up to ${STALE_GRACE}s before starting it anew"
  deadline=$((SECONDS + STALE_GRACE))
  while ((SECONDS < deadline)); do
    healthy && already_up
    sleep 1
  done
  log "still not ready: starting anew"
fi

# Whatever is left of an earlier cluster is stale: start from scratch. Leases
# and mode stay: the test runs holding them use the new cluster.
stop_component kube-apiserver
stop_component etcd
rm -rf "$DATA_DIR" "$PKI_DIR" "$CLUSTER_JSON" "$KUBECONFIG_FILE" "$TOKEN_FILE" "$RUN_DIR/tokens.csv"
live_leases >/dev/null # prunes the dead ones

bin_dir="$("$kube_here/build.sh" | tail -n1)"
k8s_version="$(mod_version k8s.io/kubernetes)"
etcd_version="$(mod_version go.etcd.io/etcd/server/v3)"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$APISERVER_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT"; do
  if port_busy "$port"; then
    log "error: 127.0.0.1:$port is already in use by another process; pick other ports with"
    log "  PROCMGR_KUBE_APISERVER_PORT / PROCMGR_KUBE_ETCD_PORT / PROCMGR_KUBE_ETCD_PEER_PORT"
    exit 1
  fi
done

mkdir -p "$PKI_DIR" "$DATA_DIR" "$LOG_DIR"
for name in etcd kube-apiserver; do # one start per log; the one before stays as .prev.log
  if [[ -f "$LOG_DIR/$name.log" ]]; then mv -f "$LOG_DIR/$name.log" "$LOG_DIR/$name.prev.log"; fi
done
chmod 700 "$RUN_DIR" "$PKI_DIR" "$DATA_DIR"

log "generating certificates, service-account key pair and admin token in $PKI_DIR"
(
  cd "$PKI_DIR"
  exec 2>openssl.log
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -keyout ca.key -out ca.crt -subj "/CN=procmgr-kube-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver"
  cat > apiserver.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
  openssl x509 -req -sha256 -days 3650 -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -extfile apiserver.ext -out apiserver.crt
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
  openssl pkey -in sa.key -pubout -out sa.pub
) || { log "error: openssl failed:"; cat "$PKI_DIR/openssl.log" >&2; exit 1; }

token="$(openssl rand -hex 32)"
echo "$token" > "$TOKEN_FILE"
# token,user,uid,"groups": system:masters is cluster-admin, bypassing RBAC.
echo "$token,procmgr-admin,procmgr-admin,\"system:masters\"" > "$RUN_DIR/tokens.csv"
chmod 600 "$TOKEN_FILE" "$RUN_DIR/tokens.csv"

on_failure() {
  log "error: the cluster did not come up; stopping what was started"
  show_logs
  stop_component kube-apiserver
  stop_component etcd
}

# launch NAME ARGS...: detached (own session, all fds closed or to the log),
# so it outlives this script, npm and the test runner that started it.
launch() {
  local name="$1"; shift
  printf '\n===== %s: %s\n' "$(date -u +%FT%TZ)" "$*" >> "$LOG_DIR/$name.log"
  setsid "$@" < /dev/null >> "$LOG_DIR/$name.log" 2>&1 9>&- &
  local pid=$!
  echo "$pid" > "$RUN_DIR/$name.pid"
  sleep 0.2
  if ! is_ours "$name" "$pid"; then
    log "error: $name exited at once"
    on_failure
    exit 1
  fi
  log "started $name (pid $pid), log $LOG_DIR/$name.log"
}

# etcd: one member, plain HTTP on loopback; fsync off because the data is
# thrown away with the cluster (and fsync dominates etcd latency on a busy disk).
launch etcd "$bin_dir/etcd" \
  --name procmgr \
  --data-dir "$DATA_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "procmgr=http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster-state new \
  --unsafe-no-fsync \
  --log-level warn

deadline=$((SECONDS + 60))
until [[ "$(curl -s --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" || true)" == *'"health":"true"'* ]]; do
  if ! running_pid etcd >/dev/null || ((SECONDS > deadline)); then
    log "error: etcd is not healthy on 127.0.0.1:$ETCD_PORT"
    on_failure
    exit 1
  fi
  sleep 0.3
done
log "etcd $etcd_version healthy on 127.0.0.1:$ETCD_PORT"

# kube-apiserver: no controller-manager, scheduler or kubelet run, so the
# ServiceAccount admission plugin is off (it rejects pods in namespaces whose
# "default" ServiceAccount the controller-manager never created); TokenRequest
# (POST .../serviceaccounts/<sa>/token) needs only the signing key and issuer.
# The endpoint reconciler is off: it would publish 127.0.0.1 as the
# "kubernetes" Service endpoint, which validation rejects (loopback).
# shellcheck disable=SC2086 # PROCMGR_KUBE_APISERVER_ARGS is a list of flags
launch kube-apiserver "$bin_dir/kube-apiserver" \
  --bind-address=127.0.0.1 \
  --advertise-address=127.0.0.1 \
  --secure-port="$APISERVER_PORT" \
  --cert-dir="$PKI_DIR" \
  --tls-cert-file="$PKI_DIR/apiserver.crt" \
  --tls-private-key-file="$PKI_DIR/apiserver.key" \
  --client-ca-file="$PKI_DIR/ca.crt" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --token-auth-file="$RUN_DIR/tokens.csv" \
  --authorization-mode=Node,RBAC \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI_DIR/sa.pub" \
  --service-account-signing-key-file="$PKI_DIR/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --endpoint-reconciler-type=none \
  --disable-admission-plugins=ServiceAccount \
  --allow-privileged=true \
  --profiling=false \
  ${PROCMGR_KUBE_APISERVER_ARGS:-}

log "waiting for $SERVER_URL/readyz (up to ${READY_TIMEOUT}s)"
deadline=$((SECONDS + READY_TIMEOUT))
last=""
until [[ "$(api_status /readyz)" == 200 && "$(api_status /api/v1/namespaces/default)" == 200 ]]; do
  if ! running_pid kube-apiserver >/dev/null; then
    log "error: kube-apiserver exited"
    on_failure
    exit 1
  fi
  if ((SECONDS > deadline)); then
    log "error: kube-apiserver not ready after ${READY_TIMEOUT}s; /readyz says:"
    curl -s --max-time 5 --cacert "$PKI_DIR/ca.crt" -H "Authorization: Bearer $token" \
      "$SERVER_URL/readyz?verbose" 2>&1 | grep -v '\[+\]' >&2 || true
    on_failure
    exit 1
  fi
  now="$(api_status /readyz)"
  [[ "$now" != "$last" ]] && log "  /readyz: $now" && last="$now"
  sleep 0.5
done

cat > "$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: procmgr-kube
    cluster:
      server: $SERVER_URL
      certificate-authority: $PKI_DIR/ca.crt
users:
  - name: procmgr-admin
    user:
      token: $token
contexts:
  - name: procmgr-kube
    context:
      cluster: procmgr-kube
      user: procmgr-admin
      namespace: default
current-context: procmgr-kube
EOF
chmod 600 "$KUBECONFIG_FILE"

# Written last and atomically: its presence means "up and ready".
cat > "$CLUSTER_JSON.tmp" <<EOF
{
  "server": "$SERVER_URL",
  "token": "$token",
  "caFile": "$PKI_DIR/ca.crt",
  "kubeconfig": "$KUBECONFIG_FILE",
  "kubectl": "$bin_dir/kubectl",
  "namespace": "default",
  "kubernetesVersion": "$k8s_version",
  "etcdVersion": "$etcd_version",
  "etcdServer": "http://127.0.0.1:$ETCD_PORT",
  "runDir": "$RUN_DIR"
}
EOF
chmod 600 "$CLUSTER_JSON.tmp"
mv "$CLUSTER_JSON.tmp" "$CLUSTER_JSON"
record_owner
log "kube-apiserver $k8s_version ready"
print_ready
