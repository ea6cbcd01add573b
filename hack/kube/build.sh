#!/usr/bin/env bash
# Builds the k8s test tier's binaries with this machine's Go toolchain, from the
# Go module proxy (see README.md): kube-apiserver and kubectl from
# k8s.io/kubernetes, and etcd (its own etcdmain) at the version kubernetes'
# go.mod requires.
#
# Cached: binaries go to $PROCMGR_KUBE_CACHE/<k8s version>/bin (default
# ~/.cache/procmgr-kube) with a stamp of go.mod, go.sum, the etcd main and the
# Go version; a run whose stamp matches builds nothing. Concurrent runs
# serialize on a lock, so two test runs never build twice.
#
# Prints the bin directory as its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

log() { printf '[kube:build] %s\n' "$*" >&2; }

command -v go >/dev/null || { log "error: no 'go' on PATH (Go >= 1.26 is needed to build kube-apiserver)"; exit 1; }

# Version of module $1 in go.mod (a single-line or block require).
mod_version() {
  awk -v m="$1" '{ for (i = 1; i < NF; i++) if ($i == m && $(i + 1) ~ /^v/) { print $(i + 1); exit } }' go.mod
}
k8s_version="$(mod_version k8s.io/kubernetes)"
etcd_version="$(mod_version go.etcd.io/etcd/server/v3)"
[[ "$k8s_version" =~ ^v1\.([0-9]+)\.[0-9]+$ ]] || { log "error: cannot read the k8s.io/kubernetes version from go.mod"; exit 1; }
k8s_minor="${BASH_REMATCH[1]}"
go_version="$(go env GOVERSION)"

cache_root="${PROCMGR_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/procmgr-kube}"
version_dir="$cache_root/$k8s_version"
bin_dir="$version_dir/bin"
stamp_file="$version_dir/stamp"
binaries=(kube-apiserver kubectl etcd)

# Bump when the go build command below changes (flags, packages), so cached
# binaries built the old way are rebuilt.
build_rev=2
key="$( { cat go.mod go.sum cmd/etcd/main.go; echo "$go_version build $build_rev"; } | sha256sum | cut -c1-16)"

cached() {
  [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$key" ]] || return 1
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin_dir/$b" ]] || return 1; done
}

if cached; then
  log "cached: kube-apiserver/kubectl $k8s_version, etcd $etcd_version in $bin_dir"
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$version_dir"
exec 9>"$version_dir/.build.lock"
if ! flock -n 9; then
  log "another build of $k8s_version is running; waiting for it"
  flock 9
fi
if cached; then
  log "cached (built by a concurrent run): $bin_dir"
  echo "$bin_dir"
  exit 0
fi

log "building kube-apiserver + kubectl $k8s_version and etcd $etcd_version with $go_version"
log "a cold build takes tens of minutes on 2 cores; later runs are cache hits (key $key)"

# Wait for the module download separately: its progress is otherwise silent.
start=$SECONDS
log "go mod download ..."
go mod download

tmp="$version_dir/bin.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
# go build is silent for many minutes: say that it is alive, so a CI log or a
# test run's global setup does not look hung.
# (Its sleep is killed with it, and it holds neither stdout nor the lock, so
# nothing waits on it after the build.)
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  while :; do
    sleep 60 & nap=$!
    wait "$nap"
    log "still building ($((SECONDS - start))s) ..."
  done
) >/dev/null 9>&- &
heartbeat=$!
trap 'kill "$heartbeat" 2>/dev/null; rm -rf "$tmp"' EXIT

# The same version stamps as kubernetes' hack/lib/version.sh, so /version and
# `kubectl version` report the real release instead of v0.0.0-master.
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

# A private Go build cache: this build leaves gigabytes of compiled packages
# that nothing else reuses. It is dropped after a successful build (the binaries
# are the cache) and kept after a failed one, so a retry resumes.
# PROCMGR_KUBE_KEEP_GOCACHE=1 keeps it.
gocache="$version_dir/go-build"

# CGO off, like the release binaries: static, and no C toolchain needed.
# nice: this is a long, CPU-heavy build and must not disturb other work.
log "go build (nice -n ${PROCMGR_KUBE_NICE:-10}, GOCACHE=$gocache) ..."
GOCACHE="$gocache" CGO_ENABLED=0 nice -n "${PROCMGR_KUBE_NICE:-10}" \
  go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kubectl \
  ./cmd/etcd

for b in "${binaries[@]}"; do [[ -x "$tmp/$b" ]] || { log "error: go build produced no $b"; exit 1; }; done
kill "$heartbeat" 2>/dev/null || true
trap - EXIT
rm -rf "$bin_dir"
mv "$tmp" "$bin_dir"
echo "$key" > "$stamp_file"
[[ "${PROCMGR_KUBE_KEEP_GOCACHE:-}" == 1 ]] || rm -rf "$gocache"
log "built in $((SECONDS - start))s: $(du -sh "$bin_dir" | cut -f1) in $bin_dir"
echo "$bin_dir"
