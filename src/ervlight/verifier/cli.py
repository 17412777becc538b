"""``ervlight verifier score``: score rationales offline with a trained verifier.

Input: JSONL, one object per line with ``completion`` (the policy's text) and ``label`` (the gold emotion), and
optionally ``dataset`` (else ``--dataset``). Output: the same objects with ``sentences`` (``text``, ``labels``
and ``probabilities`` of every rationale sentence: the verifier's reading, from
:class:`~ervlight.verifier.rationales.RationaleScorer`) and ``reward`` (the explanation reward of those scores,
computed by :class:`~ervlight.rewards.explanation.ExplanationReward`). The output is
written to a temporary file and renamed at the end, so a failure never leaves a partial file behind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ervlight.jsonl import read_jsonl
from ervlight.rewards.base import RewardInputs
from ervlight.rewards.explanation import ExplanationReward
from ervlight.verifier.rationales import ScoredRationale

__all__ = ["build_parser", "main", "score_file"]


def build_parser() -> argparse.ArgumentParser:
    """The ``ervlight verifier`` argument parser."""
    parser = argparse.ArgumentParser(prog="ervlight verifier", description="verifier tools")
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser("score", help="add the explanation reward and per-sentence labels to a JSONL")
    score.add_argument("--verifier", required=True, help="folder of a saved verifier (transformers format)")
    score.add_argument(
        "--input", required=True, type=Path, help="JSONL with 'completion' and 'label' per line"
    )
    score.add_argument("--output", required=True, type=Path, help="JSONL to write")
    score.add_argument("--dataset", help="label space of the gold labels (mafw, dfew…) for lines without one")
    score.add_argument("--threshold", type=float, default=0.1, help="label-set threshold (default 0.1)")
    score.add_argument("--top-k", type=int, default=2, help="labels per sentence at most (default 2)")
    score.add_argument("--target", choices=("gold", "predicted"), default="gold", help="reward target")
    score.add_argument("--no-neutral-rule", action="store_true", help="divide by all sentences always")
    score.add_argument("--batch-size", type=int, default=64, help="sentences per forward pass (default 64)")
    score.add_argument("--chunk", type=int, default=512, help="lines scored together (default 512)")
    score.add_argument("--device", default=None, help="torch device of the verifier (default cpu)")
    score.add_argument("--digits", type=int, default=4, help="decimals of the written probabilities")
    return parser


def _records(path: Path, dataset: str | None) -> Iterator[dict[str, Any]]:
    """Validated input records; errors name the file and line."""
    for where, record in read_jsonl(path):
        for key in ("completion", "label"):
            if not isinstance(record.get(key), str):
                raise ValueError(f"{where}: missing string field {key!r}")
        record.setdefault("dataset", dataset)
        if not record["dataset"]:
            raise ValueError(f"{where}: no 'dataset' field and no --dataset given")
        yield record


def _chunks(records: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Group records ``size`` at a time."""
    chunk: list[dict[str, Any]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _annotate(record: dict[str, Any], scored: ScoredRationale, reward: float, digits: int) -> dict[str, Any]:
    """The output object: the input plus ``reward`` and ``sentences``."""
    sentences = [
        {
            "text": s.text,
            "labels": list(s.labels),
            "probabilities": {k: round(v, digits) for k, v in s.probabilities.items()},
        }
        for s in scored.rows()
    ]
    return {**record, "reward": reward, "sentences": sentences}


def score_file(
    reward: ExplanationReward,
    source: Path,
    target: Path,
    dataset: str | None,
    chunk: int = 512,
    digits: int = 4,
) -> int:
    """Score every line of ``source`` into ``target``; returns the number of lines written.

    Each chunk of lines is scored by ``reward.scorer`` (one verifier call per chunk); the reward applies its rule
    to those scores.
    """
    partial = target.with_name(f".{target.name}.partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with partial.open("w", encoding="utf-8") as out, tqdm(desc="scoring", unit="line") as progress:
            for records in _chunks(_records(source, dataset), chunk):
                inputs = RewardInputs(
                    [r["completion"] for r in records],
                    [r["label"] for r in records],
                    [r["dataset"] for r in records],
                )
                scored = reward.scorer.score([reward.rationale(c) for c in inputs.completions])
                results = reward.explain_scored(inputs, scored)
                for record, rationale, result in zip(records, scored, results, strict=True):
                    annotated = _annotate(record, rationale, result.reward, digits)
                    out.write(json.dumps(annotated, ensure_ascii=False) + "\n")
                written += len(records)
                progress.update(len(records))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return written


def main(argv: list[str]) -> int:
    """Entry point of ``ervlight verifier``; returns the exit code."""
    args = build_parser().parse_args(argv)
    if not args.input.is_file():
        print(f"ervlight verifier score: input file {args.input} does not exist", file=sys.stderr)
        return 2
    from ervlight.verifier.scorer import VerifierScorer

    scorer = VerifierScorer.from_pretrained(args.verifier, batch_size=args.batch_size, device=args.device)
    reward = ExplanationReward(
        scorer,
        threshold=args.threshold,
        top_k=args.top_k,
        neutral_rule=not args.no_neutral_rule,
        target=args.target,
    )
    try:
        count = score_file(reward, args.input, args.output, args.dataset, args.chunk, args.digits)
    except ValueError as error:
        print(f"ervlight verifier score: {error}", file=sys.stderr)
        return 2
    info = scorer.cache_info()
    print(
        f"scored {count} lines -> {args.output} ({info.misses} sentences scored, {info.hits} from the cache)"
    )
    return 0
