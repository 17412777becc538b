"""``ervlight demo``: the paper's claim on a laptop — SFT, verifier, GRPO baseline vs ERV, judged by a second verifier.

Stages (each a plain ``ervlight`` step with the shipped demo configs; all outputs under ``--workdir``):

1. ``corpus`` — the small SYNTHETIC demo corpus (``ervlight data make-demo``) and a second verifier corpus drawn
   with another seed (the judge's training data);
2. ``sft`` — cold-start SFT of TinyOmni (``configs/sft/demo.yaml``);
3. ``verifier`` — the reward verifier (``configs/verifier/demo.yaml``);
4. ``judge`` — an independently trained judge verifier: the same recipe on the other-seed corpus and another
   training seed; it never trains a policy;
5. ``baseline`` / ``erv`` — GRPO twice from the same SFT policy: format + accuracy (R1-Omni) and format +
   accuracy + explanation (ERV) (``configs/grpo/r1omni_baseline_demo.yaml``, ``configs/grpo/erv_parity_demo.yaml``);
6. ``evaluate`` — SFT, baseline and ERV tested on the fold-1 test lists (``configs/eval/demo.yaml``: temperature
   0.3, top-p 0.9), reports judged by the judge verifier (the reward verifier as second judge, for agreement);
7. one table (WAR, UAR, EEA, EPC, FCR per policy and dataset) and where the reports are.

Finished stages are kept: a re-run with the same settings resumes; ``--fresh`` starts over.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ervlight.pipeline.stages import GRPO_LOGS, DemoSettings, Stage, build_stages

__all__ = ["DemoResult", "build_parser", "main", "run_demo"]

#: The three evaluated policies, in table order.
RUNS = ("SFT", "baseline", "ERV")
#: Training rewards summarised per GRPO run (first and last epoch means), and their column titles.
REWARD_CURVES = {
    "reward": "total reward",
    "rewards/format/mean": "format",
    "rewards/accuracy/mean": "accuracy",
    "rewards/explanation/mean": "explanation",
}


@dataclass
class DemoResult:
    """What the demo produced: the comparison table, the report folders, the time of each stage (s) and how the
    GRPO runs' training rewards moved (``training``: first- and last-epoch means, a markdown table; ``curves``:
    every epoch's mean per run and reward)."""

    table: str
    reports: dict[str, str]
    timings: dict[str, float]
    metrics: dict[str, dict[str, Any]]
    training: str = ""
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)


def _reward_curves() -> dict[str, dict[str, list[float]]]:
    """Per-epoch training-reward means of the GRPO runs that left logs (rewards a run does not use are absent)."""
    from ervlight.evaluation.curves import epoch_means

    return {
        run: epoch_means(folder, list(REWARD_CURVES), required=False)
        for run, folder in GRPO_LOGS.items()
        if folder.is_dir()
    }


@contextmanager
def _inside(folder: Path) -> Any:
    """Run with ``folder`` as the working directory (the configs' relative paths then land in it)."""
    previous = Path.cwd()
    folder.mkdir(parents=True, exist_ok=True)
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def _check_settings(workdir: Path, settings: DemoSettings, fresh: bool) -> None:
    """Start over with ``fresh``; refuse to resume a working folder made with other settings."""
    stamp = workdir / "demo_settings.json"
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    wanted = {"seed": settings.seed, "size": settings.size, "overrides": settings.overrides()}
    if stamp.is_file():
        found = json.loads(stamp.read_text())
        if found != wanted:
            raise ValueError(
                f"{workdir} holds a demo run with settings {found}, not {wanted}; pass --fresh or another --workdir"
            )
    workdir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(wanted, indent=2) + "\n")


def run_demo(
    workdir: str | Path,
    settings: DemoSettings,
    fresh: bool = False,
    log: Callable[[str], None] = print,
) -> DemoResult:
    """Run every stage not already done under ``workdir`` and return the comparison."""
    root = Path(workdir).resolve()
    _check_settings(root, settings, fresh)
    stages: list[Stage] = build_stages(settings)
    timings: dict[str, float] = {}
    with _inside(root):
        for number, stage in enumerate(stages, start=1):
            if stage.done():
                log(f"[{number}/{len(stages)}] {stage.name}: already done ({stage.output})")
                continue
            log(f"[{number}/{len(stages)}] {stage.name}: {stage.description}")
            start = time.perf_counter()
            stage.run()
            timings[stage.name] = round(time.perf_counter() - start, 1)
            log(f"[{number}/{len(stages)}] {stage.name}: done in {timings[stage.name]:.0f} s")
        from ervlight.evaluation.curves import trend_table
        from ervlight.evaluation.report import comparison_table, load_metrics

        reports = {run: str(root / settings.report_dir(run)) for run in RUNS}
        metrics = {run: load_metrics(folder) for run, folder in reports.items()}
        curves = _reward_curves()
    table = comparison_table(metrics)
    training = trend_table(curves, REWARD_CURVES) if curves else ""
    result = DemoResult(table, reports, timings, metrics, training, curves)
    summary = {k: v for k, v in asdict(result).items() if k != "metrics"}
    (root / "demo_result.json").write_text(json.dumps(summary, indent=2) + "\n")
    extra = (
        f"\nGRPO training rewards (first-epoch mean → last-epoch mean):\n\n{training}\n" if training else ""
    )
    (root / "demo_table.md").write_text(table + "\n" + extra)
    return result


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="ervlight demo",
        description="End to end on the SYNTHETIC demo corpus: SFT, verifier, GRPO baseline (format + accuracy) and "
        "ERV (+ explanation) from the same SFT policy, all three judged by an independently trained verifier. "
        "Run from the repository root (it reads configs/). Deterministic for a seed; resumes finished stages.",
    )
    parser.add_argument("--workdir", default="runs/demo", help="where everything is written (runs/demo)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the corpus and every stage (0)")
    parser.add_argument(
        "--size", default="small", choices=["small", "medium"], help="demo corpus size (small)"
    )
    parser.add_argument("--configs", default="configs", help="the repository's configs/ folder")
    parser.add_argument(
        "--grpo-steps", type=int, default=None, help="GRPO optimiser steps (the configs' value)"
    )
    parser.add_argument("--max-new-tokens", type=int, default=160,
                        help="evaluation completion budget (160 fits the demo rationales; reference 512)")  # fmt: skip
    parser.add_argument("--fresh", action="store_true", help="delete --workdir first instead of resuming")
    return parser


def main(argv: list[str]) -> int:
    """Run ``ervlight demo``; returns the exit code."""
    args = build_parser().parse_args(argv)
    configs = Path(args.configs).resolve()
    missing = [
        name
        for name in ("sft/demo.yaml", "verifier/demo.yaml", "grpo/erv_parity_demo.yaml", "eval/demo.yaml")
        if not (configs / name).is_file()
    ]
    if missing:
        print(
            f"ervlight demo: {configs} lacks {', '.join(missing)}; run from the repository root",
            file=sys.stderr,
        )
        return 2
    settings = DemoSettings(configs, args.seed, args.size, args.grpo_steps, args.max_new_tokens)
    start = time.perf_counter()
    try:
        result = run_demo(args.workdir, settings, fresh=args.fresh)
    except ValueError as error:
        print(f"ervlight demo: {error}", file=sys.stderr)
        return 2
    total = time.perf_counter() - start
    print("\nTest fold 1 of the synthetic demo corpus, judged by the independent verifier (rates in %):\n")
    print(result.table)
    if result.training:
        print(
            "\nGRPO training rewards, first-epoch mean → last-epoch mean (each epoch sees every clip once):\n"
        )
        print(result.training)
    print(f"\nreports: {', '.join(f'{run} {folder}' for run, folder in result.reports.items())}")
    print(f"stage times (s): {result.timings}; total {total:.0f} s")
    return 0
