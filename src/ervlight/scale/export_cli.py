"""``ervlight export merged|omni``: write a saved policy as a folder transformers loads on its own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from ervlight.scale.export import export_merged, export_omni

__all__ = ["main"]

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    parser = argparse.ArgumentParser(
        prog="ervlight export", description="write a saved policy as a folder transformers loads on its own"
    )
    commands = parser.add_subparsers(dest="kind", required=True)
    merged = commands.add_parser("merged", help="LoRA merged into its base: one plain HF folder")
    merged.add_argument("--policy", required=True, type=Path, help="a saved policy folder (adapter/ or lm/)")
    merged.add_argument(
        "--base", type=Path, default=None, help="the base model folder the adapters were made for"
    )
    merged.add_argument("--out", required=True, type=Path)
    merged.add_argument("--dtype", choices=sorted(_DTYPES), default="float32")
    omni = commands.add_parser("omni", help="a thinker back inside its original full Qwen2.5-Omni checkpoint")
    omni.add_argument("--policy", required=True, type=Path, help="a saved QwenOmniThinker folder (lm/)")
    omni.add_argument("--original", required=True, type=Path, help="the original Qwen2.5-Omni folder")
    omni.add_argument("--out", required=True, type=Path)
    omni.add_argument("--dtype", choices=sorted(_DTYPES), default=None, help="default: the original's")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ervlight export``; returns the exit code (2 for a folder it cannot use)."""
    args = _parser().parse_args(None if argv is None else list(argv))
    dtype = None if args.dtype is None else _DTYPES[args.dtype]
    try:
        if args.kind == "merged":
            folder = export_merged(args.policy, args.out, args.base, dtype or torch.float32)
        else:
            folder = export_omni(args.policy, args.original, args.out, dtype)
    except (ValueError, FileNotFoundError, OSError) as error:
        print(f"ervlight export: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"wrote {folder}")
    return 0
