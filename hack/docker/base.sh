#!/usr/bin/env bash
# Builds the local base image procmgr-base:node24 without any registry: a
# rootfs with the project's pinned Node 24 binary (node_modules/node/bin/node),
# the glibc libraries it links against (per ldd, from this host), a static
# busybox as /bin/sh and the usual tools, /etc/passwd with a non-root user
# procmgr (10001), then `docker import`. It stands in for node:24-bookworm-slim
# (the Dockerfile's default BASE), which this machine cannot pull.
#
# Cached: the image carries a label with a hash of its inputs (this script,
# node, busybox, the libraries); when the existing image has the same hash,
# nothing is done. Prints the image name on stdout.
#
# Environment: PROCMGR_BASE_IMAGE (default procmgr-base:node24),
# PROCMGR_DOCKER_CACHE (staging dir, default /tmp/procmgr-image).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
  "") ;;
  *) log "unknown argument: $1"; exit 2 ;;
esac

docker_ok || bash "$docker_here/up.sh"
take_lock

node_bin="$(node24)"
busybox_bin=""
for b in /usr/bin/busybox /bin/busybox; do
  # static: ldd has no libraries to list
  if [[ -x "$b" ]] && ! ldd "$b" >/dev/null 2>&1; then busybox_bin="$b"; break; fi
done
[[ -n "$busybox_bin" ]] || { log "error: no static busybox (apt-get install busybox-static; up.sh does)"; exit 1; }

# The shared libraries node needs, as absolute paths (the loader included).
mapfile -t libs < <(ldd "$node_bin" | grep -o '/[^ ]*' | sort -u)
[[ ${#libs[@]} -gt 0 ]] || { log "error: ldd found no libraries for $node_bin"; exit 1; }

hash="$({
  # contents only, not paths: every checkout of the same tree shares one base image
  for f in "$0" "$node_bin" "$busybox_bin"; do sha256sum <"$f"; done
  for l in "${libs[@]}"; do printf '%s ' "$l"; sha256sum < "$(readlink -f "$l")"; done
} | short_hash)"

if [[ "$(image_label "$BASE_IMAGE" procmgr.base.hash)" == "$hash" ]]; then
  log "$BASE_IMAGE is up to date ($hash)"
  echo "$BASE_IMAGE"
  exit 0
fi

root="$CACHE_DIR/base-rootfs"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,tmp,root,home/procmgr,proc,sys,dev,var/tmp,app}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
cp "$busybox_bin" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [[ -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"
done
cp "$node_bin" "$root/usr/local/bin/node"
for l in "${libs[@]}"; do
  mkdir -p "$root$(dirname "$l")"
  cp -L "$l" "$root$l"
done
cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
procmgr:x:10001:10001:procmgr:/home/procmgr:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
procmgr:x:10001:
nogroup:x:65534:
GROUP
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
chown 10001:10001 "$root/home/procmgr"

log "importing $BASE_IMAGE ($(du -sh "$root" | cut -f1) rootfs, node $("$node_bin" --version))"
tar -C "$root" --numeric-owner -c . | docker import \
  -c 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin' \
  -c "LABEL procmgr.base.hash=$hash" \
  -c 'CMD ["node"]' \
  -m "procmgr base: node $("$node_bin" --version) + static busybox (hack/docker/base.sh)" \
  - "$BASE_IMAGE" >/dev/null
rm -rf "$root"
docker run --rm "$BASE_IMAGE" node -e 'process.stdout.write("")' \
  || { log "error: node does not run in $BASE_IMAGE"; exit 1; }
log "built $BASE_IMAGE ($hash)"
echo "$BASE_IMAGE"
