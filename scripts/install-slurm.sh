#!/usr/bin/env bash
# Installs Slurm (controller, node daemon, client tools) and MUNGE, which
# Slurm uses to authenticate its daemons and clients, for scripts/slurm/ and
# scripts/test-slurm.sh. Idempotent and quiet: does nothing when both are
# already installed.
set -euo pipefail

PACKAGES=(slurm-wlm munge)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "install-slurm: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  # The packages' postinst scripts try to start services; without systemd
  # that fails harmlessly (invoke-rc.d just reports it), and the test script
  # starts the daemons itself.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
