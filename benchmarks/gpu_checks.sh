#!/usr/bin/env bash
# GPU checks in one go (run on a CUDA machine from the repository root): every gpu-marked test, then the GRPO step
# benchmark on CUDA at a realistic size. Prints the figures the README's GPU section quotes.
set -euo pipefail
export PYTHONPATH="${PWD}/src:${PYTHONPATH:-}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python -m pytest -m gpu -q -s -p no:cacheprovider tests/ 2>&1 | tail -n 30
python benchmarks/grpo_step.py --device cuda --hidden 512 --layers 8 --completion-length 256 2>&1 | tail -n 40
