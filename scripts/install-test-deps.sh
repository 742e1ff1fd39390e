#!/usr/bin/env bash
# Installs the system packages the tests need on Debian 12 (a no-op when they are present):
# PyTorch for the executor and profiler (CPU, Gloo), pytest for python/tests, OpenBLAS (without it a
# layer step is ~38x slower), and redis-server for the runtime's job store. Runs apt-get as root, or through sudo.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || need+=(python3-torch)
/usr/bin/python3 -m pytest --version >/dev/null 2>&1 || need+=(python3-pytest)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -eq 0 ]; then
  echo "test dependencies present: python3-torch, python3-pytest, libopenblas0-pthread, redis-server"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${need[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts redis-server as a service on install; the tests start their own on free ports.
$SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
echo "installed: ${need[*]}"
