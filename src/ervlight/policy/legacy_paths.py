"""Module paths from before ``ervlight.policy`` was split into ``backbones/`` and ``generation/``, kept importable.

YAML ``class_path`` values and code written for the old layout (``ervlight.policy.tiny_omni.TinyOmni``,
``ervlight.policy.qwen_omni.QwenOmniThinker``, ``ervlight.policy.causal_lm.CausalLMPolicy``…) keep working: each old
module name is an alias of the module that now holds its code (the same module object, so classes are identical).
``ervlight.policy.decoding`` was split in two; importing it fails with a message naming both new modules.
:func:`register` runs when ``ervlight.policy`` is imported (which every ``ervlight.policy.*`` import does first).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

__all__ = ["MOVED", "SPLIT", "register"]

#: Old module path -> the module that holds its code now.
MOVED: dict[str, str] = {
    "ervlight.policy.tiny_omni": "ervlight.policy.backbones.tiny_omni",
    "ervlight.policy.towers": "ervlight.policy.backbones.towers",
    "ervlight.policy.tiny_lm": "ervlight.policy.backbones.tiny_lm",
    "ervlight.policy.causal_lm": "ervlight.policy.backbones.causal_lm",
    "ervlight.policy.qwen_omni": "ervlight.policy.backbones.qwen_omni",
    "ervlight.policy.fast_decode": "ervlight.policy.backbones.lean_qwen2",
    "ervlight.policy.kv_cache": "ervlight.policy.generation.kv_cache",
    "ervlight.policy.fast_linear": "ervlight.policy.generation.fast_linear",
}
#: Old module path that was split -> where its parts went (said in the import error).
SPLIT: dict[str, str] = {
    "ervlight.policy.decoding": (
        "ervlight.policy.generation.sampling (the decode loop: sample_completions, sample_token, filter_logits), "
        "ervlight.policy.generation.scoring (the log-prob pass: completion_token_scores) and "
        "ervlight.policy.generation.parts (DecoderParts, prompt_positions, next_positions)"
    ),
}


class _SplitModuleFinder(MetaPathFinder):
    """Fails the import of a split module with a message naming the modules that replaced it."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """Raise ``ModuleNotFoundError`` for a split module; ``None`` (not mine) for every other name."""
        if fullname in SPLIT:
            raise ModuleNotFoundError(f"{fullname} was split into {SPLIT[fullname]}")
        return None


def register() -> None:
    """Alias every moved module under its old name and install the finder for split ones (idempotent)."""
    for old, new in MOVED.items():
        sys.modules.setdefault(old, importlib.import_module(new))
    if not any(isinstance(finder, _SplitModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_SplitModuleFinder())
