#!/usr/bin/env bash
# The demo's SFT design choice (frozen vs trained perception towers), measured on the DEVELOPMENT split: fold 1's
# training clips on fold 2's list, which perception holds out and the cold-start file never contains. The fold-1
# test lists are not read. Needs a demo working folder whose shared stages are done (`ervlight demo` or `make demo`).
#   bash benchmarks/demo_sft_choice.sh [runs/demo]        # prints WAR per dataset for both variants
set -euo pipefail
WORK=$(cd "${1:-runs/demo}" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
E="$REPO/.venv/bin/ervlight"
C="$REPO/configs"
export OMP_NUM_THREADS=1
cd "$WORK"
OUT=runs/sft_choice
mkdir -p "$OUT"
"$E" fit --config "$C/sft/demo.yaml" --seed_everything 0 --trainer.limit_val_batches 0 \
  --model.init_args.policy.init_args.finetune '{"freeze": []}' \
  --model.init_args.policy_dir "$OUT/trained_towers/policy" --trainer.default_root_dir "$OUT/trained_towers" \
  --trainer.logger.init_args.save_dir "$OUT/trained_towers" --trainer.callbacks '[]' \
  --trainer.enable_checkpointing false --trainer.enable_progress_bar false > "$OUT.fit.log" 2>&1 || {
  echo "SFT with trained towers failed: see $WORK/$OUT.fit.log" >&2; exit 1; }
DEV='[{"kind": "dfew", "root": "demo_data/DFEW", "split": "test", "fold": 2},
      {"kind": "mafw", "root": "demo_data/MAFW", "split": "test", "fold": 2}]'
for variant in frozen_towers trained_towers; do
  policy=runs/sft_demo/policy
  [ "$variant" = trained_towers ] && policy="$OUT/trained_towers/policy"
  writer='[{"class_path": "ervlight.evaluation.predictions.PredictionWriter",
            "init_args": {"path": "'"$OUT/$variant"'/predictions.jsonl"}}]'
  "$E" test --config "$C/eval/demo.yaml" --seed_everything 0 --model.init_args.seed 0 \
    --model.init_args.policy.init_args.pretrained "$policy" --model.init_args.max_new_tokens 160 \
    --trainer.default_root_dir "$OUT/$variant" --data.init_args.cache_dir runs/clip_cache \
    --data.init_args.test "$DEV" --trainer.callbacks "$writer" --trainer.enable_progress_bar false \
    > "$OUT/$variant.log" 2>&1
  echo "$variant: $(grep -o -E 'test/(dfew|mafw)/war +│ +[0-9.]+' "$OUT/$variant.log" | tr -s ' │' ' ' | paste -sd ';')"
done
