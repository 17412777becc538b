"""Test helpers for the GRPO tests: a keyword verifier, user rewards, prompt data, a tiny trainer (no policy double)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader

from ervlight.grpo.types import PromptBatch
from ervlight.labels import get_label_space
from ervlight.policy.base import Generation, PromptContext
from ervlight.rewards.base import RewardInputs

KEYWORDS = {"smiles": "joy", "laughs": "joy", "frowns": "sadness", "cries": "sadness", "shouts": "anger"}


class KeywordVerifier:
    """A sentence verifier over GoEmotions: 0.9 for the emotion of a keyword in the sentence, else neutral."""

    def __init__(self) -> None:
        self.labels = tuple(get_label_space("goemotions").labels)

    def probabilities(self, sentences: Sequence[str]) -> torch.Tensor:
        """``[N, 28]`` probabilities."""
        probs = torch.full((len(sentences), len(self.labels)), 0.01)
        for i, sentence in enumerate(sentences):
            hits = [label for word, label in KEYWORDS.items() if word in sentence.lower()]
            probs[i, self.labels.index(hits[0] if hits else "neutral")] = 0.9
        return probs


class LengthReward:
    """A user reward: 1 for completions of at most ``max_chars`` characters."""

    name = "short"

    def __init__(self, max_chars: int = 10) -> None:
        self.max_chars = max_chars

    def __call__(self, inputs: RewardInputs) -> torch.Tensor:
        """``[N]`` rewards."""
        return torch.tensor([float(len(text) <= self.max_chars) for text in inputs.completions])


class VowelReward:
    """A dense user reward: the share of vowels among the letters (distinct completions almost surely differ)."""

    name = "vowels"

    def __call__(self, inputs: RewardInputs) -> torch.Tensor:
        """``[N]`` rewards in ``[0, 1]``."""
        scores = []
        for text in inputs.completions:
            letters = [c for c in text.lower() if c.isalpha()]
            scores.append(sum(c in "aeiou" for c in letters) / max(len(letters), 1))
        return torch.tensor(scores)


PROMPTS = [
    ("Describe a smiling face.", "happy"),
    ("Describe a crying face.", "sad"),
    ("Describe a shouting face.", "angry"),
    ("Describe a calm face.", "neutral"),
]


def collate_prompts(rows: list[tuple[str, str]]) -> PromptBatch:
    """Rows ``(prompt, label)`` of DFEW -> a :class:`PromptBatch`."""
    return PromptBatch([p for p, _ in rows], [label for _, label in rows], ["dfew"] * len(rows))


class ResumableLoader(DataLoader):  # type: ignore[type-arg]
    """A DataLoader that saves how many batches it served, so Lightning resumes it mid-epoch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.served = 0
        self.skip = 0

    def __iter__(self) -> Iterator[Any]:
        skip, self.skip, self.served = self.skip, 0, 0
        for index, batch in enumerate(super().__iter__()):
            if index >= skip:
                self.served = index + 1
                yield batch

    def state_dict(self) -> dict[str, int]:
        return {"served": self.served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.skip = state["served"]


class PromptData(LightningDataModule):
    """The four DFEW prompts above, in order, ``batch_size`` per batch, for training and validation."""

    def __init__(self, batch_size: int = 2, repeats: int = 1, resumable: bool = False) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.rows = PROMPTS * repeats
        self.resumable = resumable

    def train_dataloader(self) -> DataLoader[PromptBatch]:
        loader = ResumableLoader if self.resumable else DataLoader
        return loader(self.rows, batch_size=self.batch_size, shuffle=False, collate_fn=collate_prompts)  # type: ignore[arg-type]

    def val_dataloader(self) -> DataLoader[PromptBatch]:
        return DataLoader(self.rows, batch_size=self.batch_size, shuffle=False, collate_fn=collate_prompts)  # type: ignore[arg-type]


def erv_rewards() -> list[dict[str, Any]]:
    """Format, accuracy, the explanation reward with the keyword stub verifier, and a dense vowel-share reward.

    A randomly initialised policy never earns the first three, so the dense reward gives the groups variance.
    """
    explanation = {"name": "explanation", "init_args": {"verifier": KeywordVerifier()}}
    return [{"name": "format"}, {"name": "accuracy"}, explanation, {"class_path": "grpo_stubs.VowelReward"}]


def tiny_trainer(root: Path, max_steps: int, **overrides: Any) -> Trainer:
    """A CPU trainer logging to TensorBoard under ``root`` (its root folder too), no checkpoints, no progress bar."""
    settings: dict[str, Any] = {
        "accelerator": "cpu",
        "default_root_dir": root,
        "devices": 1,
        "max_steps": max_steps,
        "logger": TensorBoardLogger(root, name="grpo"),
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "limit_val_batches": 0,
        "log_every_n_steps": 1,
    }
    settings.update(overrides)
    return Trainer(**settings)


class CompletionDump(Callback):
    """Writes what ``predict_step`` returns, one JSON list of completions per batch, to ``path``."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.batches: list[list[str]] = []

    def on_predict_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        *args: Any,
    ) -> None:
        """Keep the batch's completions."""
        self.batches.append(list(outputs))

    def on_predict_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write every batch's completions."""
        self.path.write_text("".join(json.dumps(batch) + "\n" for batch in self.batches))


def sample_each_prompt_alone(
    generate: Callable[[PromptContext, torch.Generator], Generation],
    context: PromptContext,
    seed_of: Callable[[PromptContext], int],
    pad_token_id: int,
) -> Generation:
    """Sample every prompt of ``context`` on its own (left padding stripped) with a generator from ``seed_of``.

    Multi-process tests use it so a prompt's samples do not depend on which prompts share its rank or batch.
    """
    parts = []
    for row in range(context.num_prompts):
        real = context.attention_mask[row].bool()  # [P]
        positions = None if context.position_ids is None else context.position_ids[:, row : row + 1, real]
        alone = PromptContext(context.embeds[row : row + 1, real], context.attention_mask[row : row + 1, real],
                              positions)  # fmt: skip
        parts.append(generate(alone, torch.Generator().manual_seed(seed_of(alone))))
    length = max(p.completion_ids.shape[1] for p in parts)
    pad = torch.nn.functional.pad
    ids = torch.cat([pad(p.completion_ids, (0, length - p.completion_ids.shape[1]), value=pad_token_id)
                     for p in parts])  # fmt: skip  # [B*G, L]
    mask = torch.cat(
        [pad(p.completion_mask, (0, length - p.completion_mask.shape[1])) for p in parts]
    )  # [B*G, L]
    truncated = torch.cat([p.truncated for p in parts])  # [B*G]
    return Generation(ids, mask, truncated, [t for p in parts for t in p.texts])
