"""HumanOmni sizes and settings: the language model, the three encoders, the projector branches, the gate.

A released checkpoint's ``config.json`` is a Qwen2 config with ``mm_*`` fields added (model type
``HumanOmni_qwen2``); the encoders' own configs live in their original folders (``google/siglip-base-patch16-224``,
``openai/whisper-large-v3``, ``bert-base-uncased``). :class:`HumanOmniConfig` holds all four as plain dicts, so
tests build tiny random models from it and :meth:`HumanOmniConfig.to_json` / :meth:`HumanOmniConfig.from_folders`
move it between files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from transformers import BertConfig, Qwen2Config, SiglipVisionConfig, WhisperConfig

__all__ = ["PROJECTOR_PRESETS", "HumanOmniConfig", "ProjectorConfig", "read_json"]


@dataclass(frozen=True)
class ProjectorConfig:
    """Shape of the ``video``/``body`` branches (RegStage depth, Conv3d padding, readout depth).

    Attributes:
        depth: blocks per RegStage (``s1_*`` and ``s2_*``).
        padding: Conv3d padding ``(t, h, w)`` of the ``sampler_*`` downsamplers (kernel 2, stride ``(1, 2, 2)``).
        mlp_depth: linear layers of the ``readout_*`` MLP.
    """

    depth: int = 2
    padding: tuple[int, int, int] = (1, 0, 0)
    mlp_depth: int = 2


#: ``mm_projector_type`` -> branch shape: ``all_in_one_small`` (0.5B, 14x14 patches -> 7x7) and ``all_in_one``
#: (7B, 27x27 patches -> 14x14). Both keep ``T`` frames (the Conv3d adds one step, the last is dropped).
PROJECTOR_PRESETS: dict[str, ProjectorConfig] = {
    "all_in_one_small": ProjectorConfig(depth=2, padding=(1, 0, 0), mlp_depth=2),
    "all_in_one": ProjectorConfig(depth=4, padding=(1, 1, 1), mlp_depth=2),
}


def read_json(file: Path) -> dict[str, Any]:
    """A JSON object from ``file``; a missing or malformed file is an error naming it."""
    if not file.is_file():
        raise FileNotFoundError(f"{file} does not exist")
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{file} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ValueError(f"{file} must hold a JSON object")
    return value


def _known(config_class: type, values: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``values`` that ``config_class`` declares (transformers 5 configs are strict dataclasses)."""
    names = {f.name for f in fields(config_class)}
    return {k: v for k, v in values.items() if k in names}


def _vision_part(values: dict[str, Any]) -> dict[str, Any]:
    """The vision config of a SigLIP folder's ``config.json`` (a full SigLIP config nests it)."""
    nested = values.get("vision_config")
    return dict(nested) if isinstance(nested, dict) else values


@dataclass
class HumanOmniConfig:
    """Everything needed to build a HumanOmni model with random weights.

    Attributes:
        text: Qwen2 config values (0.5B: hidden 896, 24 layers, tied embeddings).
        vision: SigLIP vision config values (0.5B: base-patch16-224, width 768, 14x14 patches).
        audio: Whisper config values (large-v3: 128 mel bins, width 1280, 1500 frames).
        bert: BERT config values of the instruction gate (bert-base-uncased).
        projector_type: ``mm_projector_type`` (a key of :data:`PROJECTOR_PRESETS`).
        vision_select_layer: hidden state of SigLIP that feeds the projector (``-2``: second to last).
        gate_hidden_size: width of the gate MLP (3584 in every released checkpoint).
        num_branches: branches the gate mixes (video, body, face).
        audio_pool: average-pooling stride over Whisper frames (1500 -> 500 tokens).
        num_frames: frames per clip (8).
        use_x_start_end: wrap media in ``<vi_start>…<vi_end>``/``<au_start>…<au_end>`` (``mm_use_x_start_end``).
        unfreeze_audio_tower: ``unfreeze_mm_audio_tower`` of the checkpoint: the reference then keeps the
            checkpoint's Whisper copy instead of reloading the original encoder.
        extra: the checkpoint config's other ``mm_*`` and bookkeeping fields, written back unchanged.
    """

    text: dict[str, Any] = field(default_factory=dict)
    vision: dict[str, Any] = field(default_factory=dict)
    audio: dict[str, Any] = field(default_factory=dict)
    bert: dict[str, Any] = field(default_factory=dict)
    projector_type: str = "all_in_one_small"
    vision_select_layer: int = -2
    gate_hidden_size: int = 3584
    num_branches: int = 3
    audio_pool: int = 3
    num_frames: int = 8
    use_x_start_end: bool = True
    unfreeze_audio_tower: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.projector_type not in PROJECTOR_PRESETS:
            raise ValueError(
                f"mm_projector_type {self.projector_type!r} is not supported; known: {sorted(PROJECTOR_PRESETS)}"
            )

    @property
    def projector(self) -> ProjectorConfig:
        """The branch shape of ``projector_type``."""
        return PROJECTOR_PRESETS[self.projector_type]

    def text_config(self) -> Qwen2Config:
        """The language model's config."""
        return Qwen2Config(**_known(Qwen2Config, self.text))

    def vision_config(self) -> SiglipVisionConfig:
        """SigLIP's vision config."""
        return SiglipVisionConfig(**_known(SiglipVisionConfig, self.vision))

    def audio_config(self) -> WhisperConfig:
        """Whisper's config (only its encoder is built)."""
        return WhisperConfig(**_known(WhisperConfig, self.audio))

    def bert_config(self) -> BertConfig:
        """The gate's BERT config."""
        return BertConfig(**_known(BertConfig, self.bert))

    # ------------------------------------------------------------------ files
    def to_json(self) -> dict[str, Any]:
        """The checkpoint ``config.json``: Qwen2 fields, ``mm_*`` fields, and the encoder configs under
        ``ervlight_encoders`` (so a saved folder loads without the encoders' original folders)."""
        return {
            **self.extra,
            **self.text,
            "model_type": "HumanOmni_qwen2",
            "mm_projector_type": self.projector_type,
            "mm_vision_select_layer": self.vision_select_layer,
            "mm_hidden_size": self.vision_config().hidden_size,
            "audio_hidden_size": self.audio_config().d_model,
            "mm_audio_projector_type": "mlp2x_gelu",
            "num_frames": self.num_frames,
            "mm_use_x_start_end": self.use_x_start_end,
            "unfreeze_mm_audio_tower": self.unfreeze_audio_tower,
            "ervlight_encoders": {
                "vision": self.vision,
                "audio": self.audio,
                "bert": self.bert,
                "gate_hidden_size": self.gate_hidden_size,
                "audio_pool": self.audio_pool,
            },
        }

    @classmethod
    def from_folders(
        cls,
        checkpoint: str | Path,
        vision_encoder: str | Path | None = None,
        audio_encoder: str | Path | None = None,
        bert: str | Path | None = None,
    ) -> HumanOmniConfig:
        """Read ``checkpoint/config.json``; encoder configs from their folders, else from ``ervlight_encoders``."""
        folder = Path(checkpoint)
        values = read_json(folder / "config.json")
        saved = values.pop("ervlight_encoders", {})
        parts: dict[str, Any] = {}
        for name, source in (("vision", vision_encoder), ("audio", audio_encoder), ("bert", bert)):
            if source is not None:
                loaded = read_json(Path(source) / "config.json")
                parts[name] = _vision_part(loaded) if name == "vision" else loaded
            elif name in saved:
                parts[name] = dict(saved[name])
            else:
                raise ValueError(
                    f"{folder / 'config.json'} has no saved {name} encoder config: pass the {name} encoder folder"
                )
        mm_names = {
            "mm_projector_type": "projector_type",
            "mm_vision_select_layer": "vision_select_layer",
            "num_frames": "num_frames",
            "mm_use_x_start_end": "use_x_start_end",
            "unfreeze_mm_audio_tower": "unfreeze_audio_tower",
        }
        settings: dict[str, Any] = {
            ours: values.pop(theirs) for theirs, ours in mm_names.items() if theirs in values
        }
        text = _known(Qwen2Config, values)
        extra = {k: v for k, v in values.items() if k not in text}
        extra.pop("model_type", None)
        for key in ("gate_hidden_size", "audio_pool"):
            if key in saved:
                settings[key] = saved[key]
        return cls(text=text, extra=extra, **parts, **settings)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (for logs and reports)."""
        return asdict(self)
