"""GPU check: the tiny Qwen2.5-Omni thinker generates on CUDA what HF's own ``generate`` does (greedy, fp32).

fp32 only: a random tiny model's logits are nearly flat, so bf16 rounding differences between two correct decode
loops can flip an argmax.

Run with ``pytest -m gpu`` (``benchmarks/gpu_checks.sh``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ervlight.policy import SamplingConfig
from ervlight.policy.backbones.qwen_omni import QwenOmniThinker
from policy.media import synthetic_batch
from policy.omni_folder import build_omni_folder

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_greedy_generation_matches_hf_on_cuda(tmp_path: Path) -> None:
    folder = build_omni_folder(tmp_path / "omni")
    policy = QwenOmniThinker(
        str(folder), dtype="float32", frame_mean=(0.0, 0.0, 0.0), frame_std=(1.0, 1.0, 1.0)
    ).to("cuda").eval()  # fmt: skip
    batch = synthetic_batch(["happy", "sad"], frames=4, size=56, seconds=0.5)
    ours = policy.generate(policy.encode(batch), 1, SamplingConfig(max_new_tokens=12, do_sample=False))
    rows = [i for i in range(len(batch)) if batch.has_audio[i]]
    inputs = policy.processor(
        text=policy._prompt_texts(batch, None), videos=list(batch.frames),
        audio=[batch.audio[i].numpy() for i in rows], return_tensors="pt", padding=True,
        videos_kwargs={"do_rescale": False, "fps": 2.0},
    ).to("cuda")  # fmt: skip
    theirs = policy.thinker.generate(**inputs, max_new_tokens=12, do_sample=False)
    reference = theirs[:, inputs["input_ids"].shape[1] :]
    width = ours.completion_ids.shape[1]
    assert torch.equal(reference[:, :width][ours.completion_mask], ours.completion_ids[ours.completion_mask])
