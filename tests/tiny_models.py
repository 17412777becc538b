"""Sizes of the tiny TinyOmni the tests build (one place; a test changes only what it needs)."""

from __future__ import annotations

from typing import Any

#: The smallest TinyOmni the policy, task and GRPO tests train and decode with.
TINY_OMNI: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "vision_channels": 8,
    "audio_channels": 16,
    "vocab_size": 400,
}


def tiny_omni_kwargs(**overrides: Any) -> dict[str, Any]:
    """:data:`TINY_OMNI` with ``overrides`` (e.g. ``hidden_size=48``)."""
    return {**TINY_OMNI, **overrides}
