"""Adding a backbone: one DecoderPolicy subclass (``__init__``, ``encode``, ``save_pretrained``) generates and scores.

The backbone below is everything a new HF-decoder backbone needs: build or load the LM into ``self.lm``, turn a
MediaBatch into prompt embeddings in ``encode`` (here one token per clip from its mean frame colour), say what to
save. Decoding, chunked log-probs, entropies, templating, prompt capping, LoRA and adapter saving are inherited;
``decode_step_factory`` (optional, one line) opts a Qwen2 LM into the lean decode step.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from transformers import PreTrainedTokenizerFast

from ervlight.data.batch import MediaBatch
from ervlight.policy import DecoderPolicy, PromptContext, SamplingConfig, tiny_qwen2
from ervlight.policy.backbones.lean_qwen2 import LeanQwen2Step, lean_qwen2_step
from ervlight.policy.base import ScoringRequest
from ervlight.policy.generation import DecodeStepFactory
from policy.media import synthetic_batch


class MeanColourPolicy(DecoderPolicy):
    """A toy omni backbone: one media token per clip (its mean frame colour, projected), then the prompt text."""

    def __init__(self, tokenizer: PreTrainedTokenizerFast, hidden_size: int = 32) -> None:
        super().__init__(tokenizer)
        self.colour = nn.Linear(3, hidden_size)
        self.lm = tiny_qwen2(tokenizer, hidden_size=hidden_size, intermediate_size=64)

    def decode_step_factory(self) -> DecodeStepFactory:
        return lean_qwen2_step

    def encode(self, batch: MediaBatch | list[str], prompts: list[str] | None = None) -> PromptContext:
        assert isinstance(batch, MediaBatch)
        media = self.colour(batch.frames.mean(dim=(1, 3, 4))).unsqueeze(1)  # [B, 1, D]
        ids, mask = self.tokenize_prompts(self.format_prompts(prompts, len(batch)))  # [B, P]
        embeds = torch.cat([media, self.embed_tokens(ids)], dim=1)  # [B, 1+P, D]
        return PromptContext(embeds, torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1))

    def save_pretrained(self, folder: str | Path) -> None:
        self.save_language_model(folder, with_base=True)
        save_file(
            {"weight": self.colour.weight, "bias": self.colour.bias}, str(Path(folder) / "colour.safetensors")
        )


@pytest.fixture
def backbone(tokenizer: PreTrainedTokenizerFast) -> MeanColourPolicy:
    torch.manual_seed(0)
    return MeanColourPolicy(tokenizer).eval()


def test_a_new_backbone_generates_and_scores(
    backbone: MeanColourPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original = LeanQwen2Step.__call__

    def counted(self: LeanQwen2Step, *args: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(LeanQwen2Step, "__call__", counted)
    batch = synthetic_batch(["happy", "sad"])
    with torch.no_grad():
        context = backbone.encode(batch)
    out = backbone.generate(context, 2, SamplingConfig(max_new_tokens=6), torch.Generator().manual_seed(3))
    rows, length = out.completion_ids.shape
    assert rows == 4
    assert 1 <= length <= 6
    assert len(out.texts) == 4
    assert len(calls) == length - 1  # the backbone's fast step served every step after the prefill
    logprobs, entropy = backbone.score_completions(
        ScoringRequest(context, out.completion_ids, out.completion_mask, 2, 3), with_entropy=True
    )
    assert entropy is not None
    # The same log-probs from one plain forward of the LM over [media token, prompt, completion], G times.
    mask = out.completion_mask
    embeds = torch.cat([context.embeds.repeat_interleave(2, 0), backbone.embed_tokens(out.completion_ids)], 1)
    full_mask = torch.cat(
        [context.attention_mask.repeat_interleave(2, 0), torch.ones_like(mask, dtype=torch.long)], 1
    )
    positions = (full_mask.cumsum(-1) - 1).clamp(min=0)
    logits = backbone.lm(inputs_embeds=embeds, attention_mask=full_mask, position_ids=positions).logits
    logits = logits[:, context.embeds.shape[1] - 1 : -1]  # [B*G, L, V] predicts each completion token
    expected = logits.log_softmax(-1).gather(-1, out.completion_ids.unsqueeze(-1)).squeeze(-1) * mask
    torch.testing.assert_close(logprobs, expected, atol=1e-5, rtol=1e-5)
    assert bool((entropy[mask] > 0).all())
    assert bool((entropy[~mask] == 0).all())
    torch.testing.assert_close(
        backbone.completion_logprobs(context, out.completion_ids, out.completion_mask, 2), logprobs
    )


def test_a_new_backbone_saves_and_trains(backbone: MeanColourPolicy, tmp_path: Path) -> None:
    batch = synthetic_batch(["happy", "angry"])
    ids, mask = backbone.tokenize_targets(batch.targets)
    loss = -backbone.completion_logprobs(backbone.encode(batch), ids, mask).sum() / mask.sum()
    loss.backward()
    assert backbone.colour.weight.grad is not None  # the media tower learns through the scored completions
    assert float(backbone.colour.weight.grad.abs().sum()) > 0
    backbone.save_pretrained(tmp_path / "saved")
    for name in ("lm/config.json", "lm/model.safetensors", "tokenizer/tokenizer.json", "colour.safetensors"):
        assert (tmp_path / "saved" / name).is_file(), name


def test_a_backbone_without_encode_fails_at_instantiation(tokenizer: PreTrainedTokenizerFast) -> None:
    class NoEncode(DecoderPolicy):
        pass

    with pytest.raises(TypeError, match="Can't instantiate abstract class NoEncode") as error:
        NoEncode(tokenizer)
    assert "encode" in str(error.value)
    assert "save_pretrained" in str(error.value)
    assert "generate" not in str(error.value)  # inherited from DecoderPolicy
