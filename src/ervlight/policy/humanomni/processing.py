"""HumanOmni's input processing: frame indices, SigLIP pixels, Whisper features and the two prompt templates.

* Frames: 8 per clip, the (rounded) midpoints of 8 equal segments of ``[0, n - 1]``; frames the clip could not
  supply are BLACK (the reference appends black frames when fewer than 8 were read).
* Pixels: SigLIP's 224x224, ``(x - 0.5) / 0.5``; the data layer's normalisation is undone first.
* Audio: WhisperFeatureExtractor's 128 x 3000 log-mel (30 s, zero-padded or cut).
* Prompts: evaluation used the checkpoint's chat template around ``"<video>\\n<audio>\\n" + question``; GRPO
  training used the Qwen2-VL processor's template (its default system prompt and a ``<|video_pad|>`` block) around
  the same media markers. The BERT gate sees the question alone.
Symbols: ``B`` clips, ``T`` frames, ``S`` audio samples, ``M`` mel bins, ``F`` mel frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812
from transformers import PreTrainedTokenizerBase, WhisperFeatureExtractor

__all__ = [
    "GRPO_TEMPLATE",
    "MEDIA_PREFIX",
    "PromptStyle",
    "checkpoint_template",
    "reference_frame_indices",
    "siglip_pixels",
    "whisper_features",
    "wrap_markers",
]

PromptStyle = Literal["eval", "grpo"]

#: What precedes the question in every reference prompt.
MEDIA_PREFIX = "<video>\n<audio>\n"
_MARKERS = {"<video>": "<vi_start><video><vi_end>", "<audio>": "<au_start><audio><au_end>"}
#: The GRPO prompt: Qwen2-VL-2B-Instruct's chat template applied to a ``[video, text]`` user turn whose text starts
#: with the marked media placeholders (R1-Omni's ``humanOmni_grpo_trainer``).
GRPO_TEMPLATE = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    "<|vision_start|><|video_pad|><|vision_end|><vi_start><video><vi_end>\n<au_start><audio><au_end>\n"
    "{instruction}<|im_end|>\n<|im_start|>assistant\n"
)
_SLOT = "\x00INSTRUCTION\x00"
SIGLIP_MEAN = (0.5, 0.5, 0.5)
SIGLIP_STD = (0.5, 0.5, 0.5)


def reference_frame_indices(num_clip_frames: int, num_frames: int = 8) -> list[int]:
    """The reference's ``frame_sample(mode="uniform")``: ``round((i + 0.5) * (n - 1) / N + 1e-6)`` for ``i < N``."""
    if num_clip_frames < 1 or num_frames < 1:
        raise ValueError(
            f"need at least one clip frame and one sample, got {num_clip_frames} and {num_frames}"
        )
    segment = (num_clip_frames - 1) / num_frames
    return [round(segment * (i + 0.5) + 1e-6) for i in range(num_frames)]


def wrap_markers(text: str) -> str:
    """``<video>``/``<audio>`` wrapped in their start/end markers (the reference's ``mm_use_x_start_end``)."""
    for placeholder, wrapped in _MARKERS.items():
        text = text.replace(placeholder, wrapped)
    return text


def checkpoint_template(tokenizer: PreTrainedTokenizerBase, use_x_start_end: bool = True) -> str:
    """The evaluation prompt as a ``str.format`` template: the tokenizer's chat template around one user turn
    ``"<video>\\n<audio>\\n{instruction}"``, generation prompt added, markers wrapped when ``use_x_start_end``."""
    if not tokenizer.chat_template:
        raise ValueError(
            "the checkpoint's tokenizer has no chat template: use prompt_style 'grpo' or chat_template"
        )
    message = [{"role": "user", "content": MEDIA_PREFIX + _SLOT}]
    text = tokenizer.apply_chat_template(message, tokenize=False, add_generation_prompt=True)
    assert isinstance(text, str)
    text = wrap_markers(text) if use_x_start_end else text
    return text.replace("{", "{{").replace("}", "}}").replace(_SLOT, "{instruction}")


def siglip_pixels(
    frames: torch.Tensor,
    frame_mask: torch.Tensor,
    data_mean: Sequence[float],
    data_std: Sequence[float],
    image_size: int,
    padding: Literal["black", "repeat"] = "black",
) -> torch.Tensor:
    """``[B, T, 3, H, W]`` frames normalised by the data layer -> SigLIP pixels ``[B, T, 3, S, S]``.

    Padding frames (``frame_mask`` False) become black with ``padding="black"`` (the reference), or stay as the
    data layer repeated them. Other sizes are resized bicubically (antialiased, as PIL's resize) to ``image_size``.
    """
    mean = torch.tensor(data_mean, dtype=torch.float32, device=frames.device).view(1, 1, 3, 1, 1)
    std = torch.tensor(data_std, dtype=torch.float32, device=frames.device).view(1, 1, 3, 1, 1)
    rgb = (frames.float() * std + mean).clamp(0.0, 1.0)  # [B, T, 3, H, W] in [0, 1]
    if padding == "black":
        rgb = rgb * frame_mask.to(rgb.device)[:, :, None, None, None].float()
    elif padding != "repeat":
        raise ValueError(f"padding must be 'black' or 'repeat', got {padding!r}")
    batch, count = rgb.shape[:2]
    if rgb.shape[-2:] != (image_size, image_size):
        flat = F.interpolate(
            rgb.flatten(0, 1),
            size=(image_size, image_size),
            mode="bicubic",
            antialias=True,
            align_corners=False,
        )  # [B*T, 3, S, S]
        rgb = flat.clamp(0.0, 1.0).view(batch, count, 3, image_size, image_size)
    siglip_mean = torch.tensor(SIGLIP_MEAN, device=rgb.device).view(1, 1, 3, 1, 1)
    siglip_std = torch.tensor(SIGLIP_STD, device=rgb.device).view(1, 1, 3, 1, 1)
    return (rgb - siglip_mean) / siglip_std  # [B, T, 3, S, S]


def whisper_features(
    audio: torch.Tensor, audio_mask: torch.Tensor, extractor: WhisperFeatureExtractor
) -> torch.Tensor:
    """``[B, S]`` 16 kHz waveforms (``audio_mask`` marks real samples) -> ``[B, M, F]`` Whisper log-mel features."""
    waves = [row[keep.bool()].float().cpu().numpy() for row, keep in zip(audio, audio_mask, strict=True)]
    features = extractor(waves, sampling_rate=extractor.sampling_rate, return_tensors="pt")["input_features"]
    return torch.nan_to_num(features, nan=-1.5).to(audio.device)  # [B, M, F] (the reference's NaN fill)
