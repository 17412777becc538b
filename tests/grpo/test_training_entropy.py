"""The logged ``entropy`` is the exact mean token entropy of the policy's scored distributions (same pass)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from grpo_stubs import PromptData, tiny_trainer

from ervlight.policy.base import ScoringRequest
from ervlight.tasks.grpo import GRPOModule


def test_logged_entropy_is_the_exact_token_entropy(
    make_module: Callable[..., GRPOModule], tmp_path: Path
) -> None:
    module = make_module(temperature=0.7, micro_batch_size=2)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    scores = module.policy.score_completions

    def recording(request: ScoringRequest, with_entropy: bool) -> Any:
        logprobs, entropy = scores(request, with_entropy)
        if with_entropy:  # the loss pass (reference and old-policy passes ask for none)
            assert entropy is not None
            assert not entropy.requires_grad
            seen.append((entropy.detach(), request.completion_mask))
        return logprobs, entropy

    module.policy.score_completions = recording  # type: ignore[method-assign]
    trainer = tiny_trainer(tmp_path, max_steps=1)
    trainer.fit(module, datamodule=PromptData(batch_size=2))
    assert len(seen) == 2  # 4 completions in micro-batches of 2
    entropy_sum = sum(float((e * m).sum()) for e, m in seen)
    tokens = sum(int(m.sum()) for _, m in seen)
    logged = trainer.logged_metrics["entropy"].item()
    assert logged == pytest.approx(entropy_sum / tokens, rel=1e-6)
    assert 0.0 < logged <= torch.log(torch.tensor(float(len(module.policy.tokenizer)))).item()
