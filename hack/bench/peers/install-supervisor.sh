#!/usr/bin/env bash
# Installs Debian's supervisor for the peers benchmark (hack/bench/peers.ts), once: a no-op when
# supervisord is already on PATH. The package's own service is never started: the benchmark runs
# its own supervisord in the foreground with a config, socket and logs in a temp dir.
set -euo pipefail

if command -v supervisord >/dev/null 2>&1 && command -v supervisorctl >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-supervisor: supervisord is not installed; run as root, or: apt-get install -y supervisor" >&2
  exit 1
fi

# policy-rc.d exit 101 tells invoke-rc.d (which the package's postinst calls) to start nothing.
policy=/usr/sbin/policy-rc.d
had_policy=0
if [ -e "$policy" ]; then had_policy=1; cp -p "$policy" "$policy.procmgr-bench"; fi
restore() {
  if [ "$had_policy" = 1 ]; then mv -f "$policy.procmgr-bench" "$policy"; else rm -f "$policy"; fi
}
trap restore EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends supervisor; then
  apt-get update
  apt-get install -y --no-install-recommends supervisor
fi

# Where systemd runs, the unit is enabled at install: keep the system's copy off.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now supervisor >/dev/null 2>&1 || true
fi
