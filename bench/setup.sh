#!/usr/bin/env bash
# `make bench` set-up: the Debian packages the bench needs, installed when missing.
# restic is the peer itself, /usr/bin/time measures peak RSS, and borgbackup (pip, '.[bench]')
# builds from source against the -dev libraries below. Without root or apt-get it only says
# what is missing; the bench then skips the tools it cannot run (each with its reason).
set -euo pipefail

need=()
for pkg in restic time liblz4-dev libzstd-dev libxxhash-dev libacl1-dev libssl-dev pkg-config \
  build-essential; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
else
  echo "bench/setup.sh: missing system packages: ${need[*]} (install them with apt-get)" >&2
fi
