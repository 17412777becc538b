"""The Policy contract: a backbone that is not an HF decoder learns what is missing when it is instantiated, and a
complete one goes through SFT's calls (target tokenisation, completion log-probs, a gradient step) on its own."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ervlight.data.batch import MediaBatch
from ervlight.policy import Generation, Policy, PromptContext, SamplingConfig, ScoringRequest

ALPHABET = "$abc"  # "$" is the stop token, id 0


class CharPolicy(Policy):
    """A character-level bigram policy: no HF model, no tokenizer, the whole contract by hand."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(ALPHABET), hidden)
        self.head = nn.Linear(hidden, len(ALPHABET))

    def _ids(self, text: str) -> list[int]:
        return [ALPHABET.index(char) for char in text]

    def encode(self, batch: MediaBatch | list[str], prompts: list[str] | None = None) -> PromptContext:
        texts = batch if isinstance(batch, list) else list(prompts or [])
        width = max(len(text) for text in texts)
        ids = torch.zeros(len(texts), width, dtype=torch.long)  # [B, P] left-padded
        mask = torch.zeros(len(texts), width, dtype=torch.long)  # [B, P]
        for row, text in enumerate(texts):
            ids[row, width - len(text) :] = torch.tensor(self._ids(text))
            mask[row, width - len(text) :] = 1
        return PromptContext(embeds=self.embed(ids), attention_mask=mask)

    def _logits(self, context: PromptContext, previous: torch.Tensor, num_samples: int) -> torch.Tensor:
        """``[B*G, L, V]`` logits: the mean prompt embedding plus the previous token's embedding."""
        weights = context.attention_mask.unsqueeze(-1).float()  # [B, P, 1]
        state = (context.embeds * weights).sum(1) / weights.sum(1)  # [B, D]
        state = state.repeat_interleave(num_samples, dim=0)  # [B*G, D]
        return self.head(state.unsqueeze(1) + self.embed(previous))  # [B*G, L, V]

    def generate(
        self,
        context: PromptContext,
        num_samples: int = 1,
        sampling: SamplingConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> Generation:
        settings = sampling or SamplingConfig()
        rows = context.num_prompts * num_samples
        ids = torch.zeros(rows, settings.max_new_tokens, dtype=torch.long)  # [B*G, L]
        previous = torch.zeros(rows, 1, dtype=torch.long)  # [B*G, 1]
        for step in range(settings.max_new_tokens):
            token = self._logits(context, previous, num_samples)[:, -1].argmax(-1)  # [B*G]
            ids[:, step], previous = token, token.unsqueeze(-1)
        is_stop = ids == 0  # [B*G, L]
        mask = (is_stop.long().cumsum(-1) - is_stop.long()) == 0  # [B*G, L]
        texts = [
            "".join(ALPHABET[i] for i in row[m].tolist() if i != 0) for row, m in zip(ids, mask, strict=True)
        ]
        return Generation(ids, mask, ~is_stop.any(-1), texts)

    def score_completions(
        self, request: ScoringRequest, with_entropy: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        ids = request.completion_ids  # [B*G, L]
        previous = torch.cat([torch.zeros_like(ids[:, :1]), ids[:, :-1]], dim=1)  # [B*G, L]
        logits = self._logits(request.context, previous, request.num_samples) / request.temperature
        logprobs = logits.log_softmax(-1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)  # [B*G, L]
        return logprobs * request.completion_mask, None

    def tokenize_targets(self, targets: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [[*self._ids(text), 0] for text in targets]
        width = max(len(row) for row in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)  # [B, L]
        mask = torch.zeros(len(rows), width, dtype=torch.bool)  # [B, L]
        for index, row in enumerate(rows):
            ids[index, : len(row)], mask[index, : len(row)] = torch.tensor(row), True
        return ids, mask

    def save_pretrained(self, folder: str | Path) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        save_file(self.state_dict(), str(Path(folder) / "char_policy.safetensors"))


def test_a_policy_missing_a_method_cannot_be_instantiated() -> None:
    class Partial(Policy):
        def encode(self, batch: MediaBatch | list[str], prompts: list[str] | None = None) -> PromptContext:
            raise NotImplementedError

    with pytest.raises(TypeError, match="Can't instantiate abstract class Partial") as error:
        Partial()
    for name in ("generate", "save_pretrained", "score_completions", "tokenize_targets"):
        assert name in str(error.value)
    assert "encode" not in str(error.value)


def test_a_complete_toy_policy_goes_through_the_sft_calls(tmp_path: Path) -> None:
    torch.manual_seed(0)
    policy = CharPolicy()
    ids, mask = policy.tokenize_targets(["ab", "c"])
    assert ids.tolist() == [[1, 2, 0], [3, 0, 0]]
    assert mask.tolist() == [[True, True, True], [True, True, False]]
    context = policy.encode(["abc", "b"])
    assert context.embeds.shape == (2, 3, 8)
    assert context.attention_mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.5)
    losses = []
    for _ in range(20):
        logprobs = policy.completion_logprobs(policy.encode(["abc", "b"]), ids, mask, 1, 2)  # [B, L]
        loss = -logprobs.sum() / mask.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert logprobs.shape == (2, 3)
    assert float(logprobs[1, 2].detach()) == 0.0  # outside the mask
    assert bool((logprobs[mask] < 0).all())
    assert losses[-1] < losses[0] / 2
    # Scoring with entropy requested gives the same log-probs and no entropy (this backbone has none).
    scores, entropy = policy.score_completions(
        ScoringRequest(context, ids.repeat_interleave(2, 0), mask.repeat_interleave(2, 0), 2),
        with_entropy=True,
    )
    assert entropy is None
    torch.testing.assert_close(scores[::2], policy.completion_logprobs(context, ids, mask))
    out = policy.generate(policy.encode(["abc"]), 2, SamplingConfig(max_new_tokens=3))
    assert out.texts == ["ab", "ab"]  # the trained first target, greedily
    assert out.completion_mask.tolist() == [[True, True, True]] * 2
    assert not policy.has_adapters
    with pytest.raises(ValueError, match=r"^CharPolicy has no adapters$"), policy.adapters_disabled():
        pass
    policy.save_pretrained(tmp_path / "saved")
    assert sorted(load_file(tmp_path / "saved" / "char_policy.safetensors")) == [
        "embed.weight",
        "head.bias",
        "head.weight",
    ]
