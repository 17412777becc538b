"""Verifier throughput: batched cached scoring vs one sentence at a time; Lightning training vs HF ``Trainer``.

Scoring (sentences/s, the explanation reward's inner loop) on the same sentences and model:

* ``one at a time`` — a forward pass per sentence (the per-sentence baseline the issue names);
* ``one padded pass`` — every sentence of the call padded to the longest in one forward pass (what the reference
  reward does; memory grows with the call, shown for completeness);
* ``batched`` — :class:`ervlight.verifier.VerifierScorer`: length-sorted batches of ``--batch-size``, cache off;
* ``batched+cache`` — the same scorer over GRPO-like calls where each sentence recurs (``--recur`` times
  across calls), the cache warm from earlier calls.

Training (samples/s): :class:`ervlight.verifier.VerifierModule` under a Lightning ``Trainer`` (texts tokenised in
the step) vs a plain transformers ``Trainer`` on the same model, data (pre-tokenised, dynamic padding), batch
size, optimizer (fused AdamW, the ``Trainer`` default), gradient clipping (1.0) and number of steps; no
evaluation, logging or checkpoints in either. Both are timed from the start of step 3 to the end (steady
state, start-up excluded), in alternating rounds (the best of each is kept, which evens out load from other
processes).

    OMP_NUM_THREADS=1 python benchmarks/verifier.py                            # MiniLM, built-in sentences
    python benchmarks/verifier.py --corpus DEMO/verifier_corpus.jsonl --steps 60 --skip-training
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from ervlight.data.text import TextCollator, TextDataset, TextExample, read_verifier_corpus
from ervlight.labels import GOEMOTIONS
from ervlight.parsing import split_sentences
from ervlight.verifier import VerifierModule, VerifierScorer

_SUBJECTS = ("The man", "The woman", "The speaker", "The person on the left", "She", "He")
_CUES = (
    "frowns deeply while raising the voice",
    "smiles broadly and the eyes crinkle",
    "looks down and speaks in a low, trembling voice",
    "stares with wide eyes and an open mouth",
    "keeps a neutral face while explaining the plan to the others in the room",
    "clenches the jaw, which together with the sharp tone suggests strong irritation at the situation",
)


def builtin_sentences(count: int, seed: int = 0) -> list[str]:
    """Distinct rationale-like sentences of varied length (5 to ~30 words)."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        out.append(f"{rng.choice(_SUBJECTS)} {rng.choice(_CUES)} in scene {len(out)}.")
    return out


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` runs (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_scoring(
    model_dir: str | None, sentences: list[str], batch_size: int, recur: int, repeats: int
) -> None:
    """Print sentences/s of the scoring modes and the ratios to one-at-a-time."""
    module = VerifierModule(backbone=model_dir, export_dir="")
    scorer = VerifierScorer(module.plain_model(), module.tokenizer, batch_size=batch_size, cache_size=0)  # type: ignore[arg-type]
    n = len(sentences)
    rates = {
        "one at a time": n / timed(lambda: [scorer.forward_texts([s]) for s in sentences], repeats),
        "one padded pass": n / timed(lambda: scorer.forward_texts(sentences), repeats),
        "batched": n / timed(lambda: scorer.probabilities(sentences), repeats),
    }
    cached = VerifierScorer(scorer.model, scorer.tokenizer, batch_size=batch_size)
    calls = [random.Random(i).sample(sentences, n) for i in range(recur)]
    rates["batched+cache"] = n * recur / timed(lambda: [cached.probabilities(c) for c in calls], 1)
    base = rates["one at a time"]
    print(f"\nscoring {n} sentences, batch {batch_size}, threads {torch.get_num_threads()}")
    for name, rate in rates.items():
        print(f"  {name:<16} {rate:9.1f} sentences/s   {rate / base:6.1f}x")
    info = cached.cache_info()
    print(
        f"  (batched+cache: {recur} calls, each sentence {recur}x; {info.misses} scored, {info.hits} from cache)"
    )


class _Tokenised(Dataset):
    """Pre-tokenised examples with multi-hot float labels, as a plain transformers user feeds ``Trainer``."""

    def __init__(self, examples: list[TextExample], tokenizer: object, max_length: int) -> None:
        encoded = tokenizer([e.text for e in examples], truncation=True, max_length=max_length)  # type: ignore[operator]
        targets = TextCollator()(examples).targets
        self.rows = [
            {"input_ids": ids, "attention_mask": mask, "labels": targets[i].tolist()}
            for i, (ids, mask) in enumerate(zip(encoded["input_ids"], encoded["attention_mask"], strict=True))
        ]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        return self.rows[index]


def _adamw(params: object) -> torch.optim.Optimizer:
    """The optimizer of both trainers: the transformers Trainer default (fused AdamW, weight decay 0.01)."""
    return torch.optim.AdamW(params, lr=3e-5, weight_decay=0.01, fused=True)  # type: ignore[arg-type]


class _StepClock:
    """Wall time from the start of step ``warmup`` to the end of training (steady-state throughput)."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start = 0.0
        self.end = 0.0

    def step_begins(self, step: int) -> None:
        """Start the clock at the first measured step."""
        if step == self.warmup:
            self.start = time.perf_counter()

    def stop(self) -> None:
        """Stop the clock."""
        self.end = time.perf_counter()


def lightning_rate(
    model_dir: str | None, examples: list[TextExample], batch_size: int, steps: int, warmup: int
) -> float:
    """Steady-state samples/s of VerifierModule under a Lightning Trainer."""
    from lightning.pytorch import Callback
    from lightning.pytorch import Trainer as LightningTrainer

    clock = _StepClock(warmup)

    class Clock(Callback):
        def on_train_batch_start(self, trainer: LightningTrainer, *args: object) -> None:
            clock.step_begins(trainer.global_step)

        def on_train_end(self, *args: object) -> None:
            clock.stop()

    torch.manual_seed(0)
    module = VerifierModule(backbone=model_dir, export_dir="", optimizer=_adamw)
    loader = DataLoader(TextDataset(examples), batch_size=batch_size, shuffle=True, collate_fn=TextCollator())
    trainer = LightningTrainer(
        max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False, callbacks=[Clock()],
        gradient_clip_val=1.0, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(module, loader)
    return (steps - warmup) * batch_size / (clock.end - clock.start)


def transformers_rate(
    model_dir: str | None, examples: list[TextExample], batch_size: int, steps: int, warmup: int
) -> float:
    """Steady-state samples/s of a plain transformers Trainer on the same model and data."""
    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

    clock = _StepClock(warmup)

    class Clock(TrainerCallback):
        def on_step_begin(self, args: object, state: object, control: object, **kwargs: object) -> None:
            clock.step_begins(state.global_step)  # type: ignore[attr-defined]

        def on_train_end(self, *args: object, **kwargs: object) -> None:
            clock.stop()

    torch.manual_seed(0)
    plain = VerifierModule(backbone=model_dir, export_dir="")
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=batch_size, max_steps=steps, learning_rate=3e-5,
            lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.01, logging_strategy="no",
            save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, dataloader_num_workers=0,
        )  # fmt: skip
        Trainer(
            model=plain.plain_model(),  # type: ignore[arg-type]
            args=args,
            train_dataset=_Tokenised(examples, plain.tokenizer, plain.max_length),
            data_collator=DataCollatorWithPadding(plain.tokenizer),
            callbacks=[Clock()],
        ).train()
    return (steps - warmup) * batch_size / (clock.end - clock.start)


def bench_training(
    model_dir: str | None, examples: list[TextExample], batch_size: int, steps: int, rounds: int
) -> None:
    """Print steady-state training samples/s of both trainers (alternating rounds, best of each)."""
    warmup = min(3, steps - 1)
    ours, theirs = 0.0, 0.0
    for _ in range(rounds):
        ours = max(ours, lightning_rate(model_dir, examples, batch_size, steps, warmup))
        theirs = max(theirs, transformers_rate(model_dir, examples, batch_size, steps, warmup))
    print(f"\ntraining: steps {warmup}..{steps} of batch {batch_size} ({len(examples)} texts), best of {rounds}, "
          f"threads {torch.get_num_threads()}")  # fmt: skip
    print(f"  VerifierModule + Lightning  {ours:8.1f} samples/s   {ours / theirs:5.2f}x")
    print(f"  transformers Trainer        {theirs:8.1f} samples/s   1.00x")


def main() -> None:
    """Parse arguments and run the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="backbone folder (default: offline all-MiniLM-L6-v2)")
    parser.add_argument("--corpus", type=Path, help="verifier corpus JSONL (default: built-in sentences)")
    parser.add_argument("--sentences", type=int, default=512, help="sentences to score")
    parser.add_argument("--batch-size", type=int, default=64, help="scoring batch size")
    parser.add_argument("--recur", type=int, default=4, help="GRPO-like calls over the same sentences")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats (best is kept)")
    parser.add_argument("--train-batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30, help="training steps per trainer")
    parser.add_argument("--rounds", type=int, default=2, help="alternating training rounds (best is kept)")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-scoring", action="store_true")
    args = parser.parse_args()
    if args.corpus:
        examples = read_verifier_corpus(args.corpus, split="train")
        sentences = list(dict.fromkeys(s for e in examples for s in split_sentences(e.text)))[
            : args.sentences
        ]
    else:
        sentences = builtin_sentences(args.sentences)
        examples = [TextExample(s, (GOEMOTIONS.labels[i % 28],), "builtin") for i, s in enumerate(sentences)]
    if not args.skip_scoring:
        bench_scoring(args.model, sentences, args.batch_size, args.recur, args.repeats)
    if not args.skip_training:
        bench_training(args.model, examples, args.train_batch_size, args.steps, args.rounds)


if __name__ == "__main__":
    main()
