"""Reading and writing HumanOmni weights in the released key layout, with an explicit key map.

Released layout (``HumanOmniQwen2ForCausalLM``) -> this package's module names:

====================================================  ================================================
``model.vision_tower.vision_tower.vision_model.*``    ``media.vision_tower.vision_tower.*`` (SigLIP, v5 flat)
``model.mm_projector.*``                              ``media.mm_projector.*``
``model.bert_model.*`` / ``model.bert_gate.*``        ``media.bert_model.*`` / ``media.bert_gate.*``
``model.audio_tower.audio_tower.encoder.*``           ``media.audio_tower.encoder.*`` (Whisper encoder)
``model.audio_projector.*``                           ``media.audio_projector.*``
``model.*`` (embed_tokens, layers, norm)              ``lm.model.*`` (Qwen2)
``lm_head.*``                                         ``lm.lm_head.*`` (absent when tied)
====================================================  ================================================

:data:`IGNORED` lists the released keys that are deliberately not loaded. Files: ``model.safetensors`` or a
sharded ``model.safetensors.index.json``; keys are read from the safetensors headers without loading tensors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

__all__ = [
    "IGNORED",
    "KEY_MAP",
    "LoadReport",
    "checkpoint_files",
    "checkpoint_keys",
    "checkpoint_state",
    "load_checkpoint",
    "load_original_encoder",
    "read_tensors",
    "to_checkpoint_key",
    "to_module_key",
]

#: Released prefix -> module prefix, most specific first.
KEY_MAP: tuple[tuple[str, str], ...] = (
    ("model.vision_tower.vision_tower.vision_model.", "media.vision_tower.vision_tower."),
    ("model.mm_projector.", "media.mm_projector."),
    ("model.bert_model.", "media.bert_model."),
    ("model.bert_gate.", "media.bert_gate."),
    ("model.audio_tower.audio_tower.encoder.", "media.audio_tower.encoder."),
    ("model.audio_projector.", "media.audio_projector."),
    ("model.", "lm.model."),
    ("lm_head.", "lm.lm_head."),
)
#: Released keys that are not loaded: the 7B base's unused slow-fast compressor, the unused heads of
#: ``WhisperForAudioClassification``, position-id buffers and rotary caches older transformers saved.
IGNORED: tuple[str, ...] = (
    r"^model\.feature_compressor\.",
    r"^model\.audio_tower\.audio_tower\.(projector|classifier)\.",
    r"^model\.audio_tower\.audio_tower\.layer_weights$",
    r"\.position_ids$",
    r"\.rotary_emb\.inv_freq$",
)
_INDEX = "model.safetensors.index.json"
_SINGLE = "model.safetensors"


def to_module_key(key: str) -> str | None:
    """The module name of a released key, or ``None`` when no prefix of :data:`KEY_MAP` matches."""
    for source, target in KEY_MAP:
        if key.startswith(source):
            return target + key[len(source) :]
    return None


def to_checkpoint_key(name: str) -> str:
    """The released key of a module parameter name (inverse of :func:`to_module_key`)."""
    for source, target in KEY_MAP:
        if name.startswith(target):
            return source + name[len(target) :]
    raise KeyError(f"{name} has no released key (known prefixes: {[t for _, t in KEY_MAP]})")


def is_ignored(key: str) -> bool:
    """Whether a released key is on the :data:`IGNORED` allow-list."""
    return any(re.search(pattern, key) for pattern in IGNORED)


def checkpoint_files(folder: str | Path) -> list[Path]:
    """The safetensors files of a checkpoint folder (sharded via its index, or the single file)."""
    path = Path(folder)
    if (path / _INDEX).is_file():
        index = json.loads((path / _INDEX).read_text(encoding="utf-8"))
        if not isinstance(index.get("weight_map"), dict):
            raise ValueError(f"{path / _INDEX} has no weight_map")
        return [path / name for name in sorted(set(index["weight_map"].values()))]
    if (path / _SINGLE).is_file():
        return [path / _SINGLE]
    raise FileNotFoundError(
        f"{path} holds neither {_INDEX} nor {_SINGLE} (only safetensors checkpoints load)"
    )


def checkpoint_keys(folder: str | Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every key of a checkpoint with its shape and dtype, read from the safetensors headers only."""
    keys: dict[str, tuple[tuple[int, ...], str]] = {}
    for file in checkpoint_files(folder):
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                piece = handle.get_slice(key)
                keys[key] = (tuple(piece.get_shape()), str(piece.get_dtype()))
    return keys


def read_tensors(folder: str | Path, prefix: str = "") -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint whose keys start with ``prefix`` (all shards)."""
    tensors: dict[str, torch.Tensor] = {}
    for file in checkpoint_files(folder):
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                if key.startswith(prefix):
                    tensors[key] = handle.get_tensor(key)
    return tensors


@dataclass
class LoadReport:
    """What a load did: module parameters left unloaded, released keys not used, and ignored keys."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def check(self, source: Path) -> None:
        """Raise a ValueError naming ``source`` when anything is missing or unexpected."""
        if self.missing or self.unexpected:
            raise ValueError(
                f"{source} does not match this HumanOmni: missing {self.missing[:10]} ({len(self.missing)}), "
                f"unexpected {self.unexpected[:10]} ({len(self.unexpected)})"
            )


def _expected(module: nn.Module, tied: bool, skip: Iterable[str]) -> set[str]:
    """Module state names a checkpoint must supply."""
    names = set(module.state_dict())
    if tied:
        names.discard("lm.lm_head.weight")
    return {n for n in names if not any(n.startswith(prefix) for prefix in skip)}


def load_checkpoint(
    module: nn.Module, folder: str | Path, tied: bool, skip: Iterable[str] = (), strict: bool = True
) -> LoadReport:
    """Load a released-layout checkpoint into ``module`` (module prefixes in ``skip`` are not read).

    ``tied``: the LM head shares the token embedding (then ``lm_head.weight`` is neither needed nor used).
    """
    skip = tuple(skip)
    expected = _expected(module, tied, skip)
    state: dict[str, torch.Tensor] = {}
    report = LoadReport()
    for key, tensor in read_tensors(folder).items():
        name = to_module_key(key)
        if (
            is_ignored(key)
            or (tied and key == "lm_head.weight")
            or (name is not None and any(name.startswith(prefix) for prefix in skip))
        ):
            report.ignored.append(key)
        elif name is None or name not in expected:
            report.unexpected.append(key)
        else:
            state[name] = tensor
    report.missing = sorted(expected - set(state))
    if strict:
        report.check(Path(folder))
    module.load_state_dict(state, strict=False)
    return report


def checkpoint_state(weights: Mapping[str, torch.Tensor], tied: bool) -> dict[str, torch.Tensor]:
    """Module-named weights under their released keys (``lm_head.weight`` left out when tied), contiguous."""
    state = {}
    for name, tensor in weights.items():
        if tied and name == "lm.lm_head.weight":
            continue
        state[to_checkpoint_key(name)] = tensor.detach().contiguous()
    return state


def load_original_encoder(module: nn.Module, folder: str | Path, prefix: str) -> LoadReport:
    """Load an encoder from its ORIGINAL release folder: keys under ``prefix`` with it stripped, strictly.

    SigLIP (``google/siglip-*``): ``prefix="vision_model."``; Whisper (``openai/whisper-*``):
    ``prefix="model.encoder."``.
    """
    path = Path(folder)
    tensors = {key[len(prefix) :]: value for key, value in read_tensors(path, prefix).items()}
    expected = set(module.state_dict())
    report = LoadReport(
        missing=sorted(expected - set(tensors)),
        unexpected=sorted(k for k in tensors if k not in expected and not is_ignored(k)),
        ignored=sorted(k for k in tensors if k not in expected and is_ignored(k)),
    )
    report.check(path)
    module.load_state_dict({k: v for k, v in tensors.items() if k in expected}, strict=True)
    return report
