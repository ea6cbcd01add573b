#!/usr/bin/env bash
# Builds the container image procmgr:dev from deploy/Dockerfile. Prepares the
# build context on this host (the Dockerfile's header says what is in it):
# dist/ compiled with the project's TypeScript on the pinned Node 24, and
# production node_modules from `npm ci --omit=dev --ignore-scripts` of the
# project's package-lock.json. Starts dockerd (up.sh) and builds the base
# image (base.sh) when needed.
#
# Cached: the context's parts are rebuilt only when their inputs change (src/
# and the tsconfigs; package.json and the lockfile), and the image carries a
# label with a hash of the context, the Dockerfile and the base image's id, so
# an unchanged tree builds nothing. Prints the image's name and size.
#
# Environment: PROCMGR_IMAGE (default procmgr:dev), PROCMGR_IMAGE_BASE (the
# Dockerfile's BASE; default: procmgr-base:node24 from base.sh),
# PROCMGR_DOCKER_CACHE (staging dir, default /tmp/procmgr-image).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
  "") ;;
  *) log "unknown argument: $1"; exit 2 ;;
esac

docker_ok || bash "$docker_here/up.sh"
base="${PROCMGR_IMAGE_BASE:-}"
if [[ -z "$base" ]]; then
  base="$(bash "$docker_here/base.sh")"
fi
take_lock

node_bin="$(node24)"
node_dir="$(dirname "$node_bin")"
cd "$repo_root"
ctx="$CACHE_DIR/ctx"
app="$ctx/app"
mkdir -p "$app"

tree_hash() { # files under the given paths (recursively), names and contents
  find "$@" -type f -print0 | sort -z | xargs -0 sha256sum | short_hash
}

# dist/: compiled and bundled (what `npm run build` makes) into the staging dir, so the checkout's
# own dist/ is untouched. The image runs the bundle (dist/bundle, see hack/bundle-cli.mjs).
dist_hash="$(tree_hash src tsconfig.json tsconfig.build.json package-lock.json hack/bundle-cli.mjs)"
if [[ "$(cat "$CACHE_DIR/dist.hash" 2>/dev/null)" != "$dist_hash" || ! -d "$app/dist" ]]; then
  log "compiling dist/ (tsc -p tsconfig.build.json, then hack/bundle-cli.mjs)"
  rm -rf "$app/dist"
  "$node_bin" node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir "$app/dist"
  "$node_bin" hack/bundle-cli.mjs "$app/dist"
  echo "$dist_hash" >"$CACHE_DIR/dist.hash"
fi

# node_modules/: production dependencies only.
deps_hash="$(cat package.json package-lock.json | short_hash)"
if [[ "$(cat "$CACHE_DIR/deps.hash" 2>/dev/null)" != "$deps_hash" || ! -d "$app/node_modules" ]]; then
  log "installing production dependencies (npm ci --omit=dev)"
  rm -rf "$app/node_modules"
  cp package.json package-lock.json "$app/"
  # npm itself runs on the pinned Node 24 (first on PATH).
  (cd "$app" && PATH="$node_dir:$PATH" npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error 8>&- >&2)
  rm -f "$app/package-lock.json"
  echo "$deps_hash" >"$CACHE_DIR/deps.hash"
fi

# The rest of the package (what package.json "files" ships) and tini.
cp package.json "$app/package.json"
rm -rf "$app/bin" "$app/examples" "$app/schema"
mkdir -p "$app/examples"
cp -r bin schema "$app/"
cp -r examples/procmgr.yaml examples/apps "$app/examples/"
tini_bin=/usr/bin/tini-static
[[ -x "$tini_bin" ]] || { log "error: $tini_bin missing (apt-get install tini; up.sh does)"; exit 1; }
cp "$tini_bin" "$ctx/tini"
chmod 0755 "$ctx/tini"
chmod -R a+rX "$app"

base_id="$(docker image inspect -f '{{.Id}}' "$base" 2>/dev/null)" \
  || { log "error: base image $base is not here (docker pull it, or unset PROCMGR_IMAGE_BASE)"; exit 1; }
hash="$({ (cd "$ctx" && tree_hash app tini); sha256sum <deploy/Dockerfile; echo "$base_id"; } | short_hash)"

if [[ "$(image_label "$IMAGE" procmgr.image.hash)" == "$hash" ]]; then
  log "$IMAGE is up to date ($hash)"
else
  log "building $IMAGE from deploy/Dockerfile (BASE=$base)"
  # The classic builder: it needs no buildx plugin and works with any engine.
  DOCKER_BUILDKIT=0 docker build -q -f deploy/Dockerfile --build-arg "BASE=$base" \
    --label "procmgr.image.hash=$hash" -t "$IMAGE" "$ctx" 8>&- >/dev/null 2>"$CACHE_DIR/build.err" \
    || { cat "$CACHE_DIR/build.err" >&2; log "error: docker build failed"; exit 1; }
  docker image prune -f --filter "label=procmgr.image.hash" >/dev/null 2>&1 || true
fi
size="$(docker image inspect -f '{{.Size}}' "$IMAGE")"
log "$IMAGE: $((size / 1024 / 1024)) MiB ($size bytes), base $base"
echo "$IMAGE"
