#!/usr/bin/env bash
# The GPU check of issue 9, in one command that fits in 8 minutes on one GPU: profile a
# Llama-2-7B-shaped model (the 7B layer, 4 decoder layers), plan on the measured profile, calibrate,
# run the plan through `uniap launch`, and print predicted vs measured time and memory for the spec,
# measured and calibrated profiles (bench/gpu-check.ts). Needs Node 20, npm ci, and a Python with
# torch and CUDA ($UNIAP_PYTHON, else /usr/bin/python3), plus redis-server.
#
#   bash bench/gpu-check.sh [--layers 4] [--batch 8] [--steps 10] [--json]
# Without a GPU the same code runs on CPU: npx tsx bench/gpu-check.ts --cluster local-cpu:1 --model tiny-gpt
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no GPU here (nvidia-smi finds none); run it on a GPU machine, or the CPU version: npx tsx bench/gpu-check.ts --cluster local-cpu:1 --model tiny-gpt" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
exec timeout 480 node --import tsx bench/gpu-check.ts "$@"
