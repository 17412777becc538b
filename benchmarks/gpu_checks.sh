#!/usr/bin/env bash
# GPU checks in one go (run on a CUDA machine from the repository root): every gpu-marked test, then the GRPO step
# benchmark on CUDA at a realistic size (against TRL when `trl` is installed, ervlight alone otherwise). Each part
# runs even when an earlier one fails; the script prints the figures the README's GPU section quotes.
set -uo pipefail
export PYTHONPATH="${PWD}/src:${PYTHONPATH:-}"
status=0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || status=1
python -m pytest -m gpu -q -s -p no:cacheprovider tests/ || status=1
size=(--device cuda --hidden 512 --layers 8 --completion-length 256)
if python -c "import trl" 2>/dev/null; then
    python benchmarks/grpo_step.py "${size[@]}" || status=1
else
    echo "trl is not installed: ervlight's side of the benchmark only"
    python benchmarks/grpo_step.py --framework ervlight "${size[@]}" || status=1
fi
exit "$status"
