"""``ervlight humanomni``: check a released checkpoint against this implementation without a GPU.

* ``keys CHECKPOINT [--vision F --audio F --bert F]``: the safetensors-header key comparison: every released key is
  mapped (or on the ignore list) and every parameter of the model built from ``config.json`` is present, with equal
  shapes. Nothing is loaded but headers.
* ``compare-encoders CHECKPOINT --vision F --audio F``: per tensor, how far the checkpoint's SigLIP and Whisper
  copies are from the original releases (max |diff| and relative L2), and a one-line verdict per encoder.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from ervlight.policy.humanomni.checkpoint import (
    checkpoint_keys,
    is_ignored,
    read_tensors,
    to_module_key,
)
from ervlight.policy.humanomni.config import HumanOmniConfig

__all__ = ["compare_encoders", "compare_keys", "main"]

_ENCODERS = {
    "vision": ("model.vision_tower.vision_tower.vision_model.", "vision_model."),
    "audio": ("model.audio_tower.audio_tower.encoder.", "model.encoder."),
}


def compare_keys(checkpoint: Path, config: HumanOmniConfig) -> list[str]:
    """Problems found comparing the checkpoint's header keys/shapes with a model built from ``config``."""
    from ervlight.policy.humanomni.policy import HumanOmniModel

    with torch.device("meta"):
        model = HumanOmniModel(config)
    shapes = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    problems, seen = [], set()
    for key, (shape, _) in sorted(checkpoint_keys(checkpoint).items()):
        name = to_module_key(key)
        if is_ignored(key) or (model.tied and key == "lm_head.weight"):
            continue
        if name is None or name not in shapes:
            problems.append(f"unexpected {key} {shape}")
        elif shapes[name] != shape:
            problems.append(f"shape {key}: checkpoint {shape}, model {shapes[name]}")
        seen.add(name)
    tied = {"lm.lm_head.weight"} if model.tied else set()
    problems += [f"missing {name}" for name in sorted(set(shapes) - seen - tied)]
    return problems


def compare_encoders(checkpoint: Path, originals: dict[str, Path]) -> dict[str, tuple[float, float, int]]:
    """Per encoder: (max |diff|, relative L2 of the difference, tensors compared) between checkpoint and original."""
    results = {}
    for name, folder in originals.items():
        ours, theirs = _ENCODERS[name]
        copy = {k[len(ours) :]: v for k, v in read_tensors(checkpoint, ours).items()}
        original = {k[len(theirs) :]: v for k, v in read_tensors(folder, theirs).items()}
        common = sorted(set(copy) & set(original))
        if not common:
            raise ValueError(f"{checkpoint} and {folder} share no {name} encoder tensor")
        worst, diff_sq, ref_sq = 0.0, 0.0, 0.0
        for key in common:
            a, b = copy[key].float(), original[key].float()
            worst = max(worst, float((a - b).abs().max()))
            diff_sq += float(((a - b) ** 2).sum())
            ref_sq += float((b**2).sum())
        results[name] = (worst, (diff_sq / max(ref_sq, 1e-30)) ** 0.5, len(common))
    return results


def main(argv: Sequence[str]) -> int:
    """Entry point of ``ervlight humanomni``."""
    parser = argparse.ArgumentParser(prog="ervlight humanomni")
    parser.add_argument("command", choices=["keys", "compare-encoders"])
    parser.add_argument(
        "checkpoint", type=Path, help="released checkpoint folder (config.json + safetensors)"
    )
    parser.add_argument("--vision", type=Path, help="original SigLIP folder (google/siglip-base-patch16-224)")
    parser.add_argument("--audio", type=Path, help="original Whisper folder (openai/whisper-large-v3)")
    parser.add_argument("--bert", type=Path, help="bert-base-uncased folder (its config.json)")
    args = parser.parse_args(list(argv))
    try:
        if args.command == "keys":
            config = HumanOmniConfig.from_folders(args.checkpoint, args.vision, args.audio, args.bert)
            problems = compare_keys(args.checkpoint, config)
            for line in problems:
                print(line)
            print(f"{args.checkpoint}: {'OK' if not problems else f'{len(problems)} problems'}")
            return 1 if problems else 0
        originals = {k: v for k, v in (("vision", args.vision), ("audio", args.audio)) if v is not None}
        if not originals:
            raise ValueError("compare-encoders needs --vision and/or --audio")
        for name, (worst, relative, count) in compare_encoders(args.checkpoint, originals).items():
            verdict = "identical" if worst == 0 else "differs"
            print(f"{name}: {count} tensors, max |diff| {worst:.3g}, relative L2 {relative:.3g} ({verdict})")
        return 0
    except (FileNotFoundError, ValueError) as error:
        print(f"ervlight humanomni: {error}", file=sys.stderr)
        return 2
