"""``ervlight demo``: the paper's claim on a laptop, measured — SFT, GRPO baseline vs ERV, paired intervals, seeds.

Shared stages (each a plain ``ervlight`` step with the shipped demo configs; all outputs under ``--workdir``):

1. ``corpus`` — the SYNTHETIC demo corpus (``ervlight data make-demo``; default size ``standard``: 308 fold-1
   test clips) and a second verifier corpus drawn with another seed (the judge's training data);
2. ``perception`` — the media towers pre-trained on the fold-1 TRAINING clips' labels, with their own held-out
   accuracy (``configs/perception/demo.yaml``; stands in for a real model's pretrained encoders);
3. ``sft`` — cold-start SFT of TinyOmni from those towers (``configs/sft/demo.yaml``);
4. ``verifier`` — the reward verifier (``configs/verifier/demo.yaml``);
5. ``judge`` — the independent judge: a bag-of-words verifier fitted on the other-seed corpus (another model
   family; never used in training), with its held-out accuracy and its agreement with the reward verifier.

Per seed (``--seeds``; the first in the working folder, the others in ``seed_<s>/`` beside links to the shared
outputs): ``baseline`` / ``erv`` — GRPO from the same SFT policy with format + accuracy (R1-Omni) and format +
accuracy + explanation (ERV); ``test-*`` — SFT, baseline and ERV on the fold-1 test lists (temperature 0.3,
top-p 0.9, seeded); ``report-*`` — judged by the judge (the reward verifier as second judge, for agreement).

Then the tables: WAR, UAR, EEA, EPC, FCR per policy and dataset; ERV − baseline and ERV − SFT per metric with 95 %
paired bootstrap intervals over clips, pooled and per dataset, per seed and as mean ± std over seeds
(``demo_table.md``, ``demo_result.json``). Finished stages are kept: a re-run with the same settings resumes;
``--fresh`` starts over. Torch runs with ``--threads`` threads (1) and deterministic algorithms; ``--jobs`` (2)
independent stages run at once (the verifier beside perception and SFT, the baseline beside ERV), each in its own
process, which changes no result.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ervlight.pipeline.scheduler import Job, StageError, inside, pin_torch, run_jobs
from ervlight.pipeline.stages import (
    GRPO_LOGS,
    DemoSettings,
    Stage,
    build_seed_stages,
    build_stages,
    link_shared,
)

__all__ = ["DemoResult", "build_parser", "main", "run_demo"]

#: The three evaluated policies, in table order.
RUNS = ("SFT", "baseline", "ERV")
#: Training rewards summarised per GRPO run (first and last window means), and their column titles.
REWARD_CURVES = {
    "reward": "total reward",
    "rewards/format/mean": "format",
    "rewards/accuracy/mean": "accuracy",
    "rewards/explanation/mean": "explanation",
}


@dataclass
class DemoResult:
    """What the demo produced: the comparison table, the report folders, the time of each stage (s) and how the
    GRPO runs' training rewards moved (``training``: the means over the first and the last third of the steps, a
    markdown table; ``curves``: each third's mean per run and reward)."""

    table: str
    reports: dict[str, str]
    timings: dict[str, float]
    metrics: dict[str, dict[str, Any]]
    training: str = ""
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    paired: str = ""
    seeds: dict[int, dict[str, str]] = field(default_factory=dict)


#: Training rewards are averaged over this many consecutive windows of steps (the demo's runs last less than an
#: epoch of the standard corpus, so epochs cannot be compared).
REWARD_WINDOWS = 3


def _reward_curves() -> dict[str, dict[str, list[float]]]:
    """Training-reward means over thirds of the steps of the GRPO runs that left logs (rewards a run does not use
    are absent)."""
    from ervlight.evaluation.curves import window_means

    return {
        run: window_means(folder, list(REWARD_CURVES), REWARD_WINDOWS, required=False)
        for run, folder in GRPO_LOGS.items()
        if folder.is_dir()
    }


def _check_settings(workdir: Path, settings: DemoSettings, fresh: bool) -> None:
    """Start over with ``fresh``; refuse to resume a working folder made with other settings."""
    stamp = workdir / "demo_settings.json"
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    wanted = {"seed": settings.seed, "size": settings.size, "overrides": settings.overrides()}
    # each seed keeps its own folder, so --seeds may grow on a resumed run
    if stamp.is_file():
        found = json.loads(stamp.read_text())
        if found != wanted:
            raise ValueError(
                f"{workdir} holds a demo run with settings {found}, not {wanted}; pass --fresh or another --workdir"
            )
    workdir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(wanted, indent=2) + "\n")


def _jobs(shared: list[Stage], per_seed: dict[int, tuple[Path, str, list[Stage]]], root: Path) -> list[Job]:
    """The scheduler's jobs: the shared stages (in ``root``), then each seed's (in its folder, keys prefixed with
    its tag); a seed stage waiting for a name it does not have waits for the shared stage of that name."""
    jobs = [Job(stage.name, stage, root, stage.after) for stage in shared]
    for folder, tag, stages in per_seed.values():
        own = {stage.name for stage in stages}
        for stage in stages:
            after = tuple(tag + name if name in own else name for name in stage.after)
            jobs.append(Job(tag + stage.name, stage, folder, after))
    return jobs


def _seed_folder(root: Path, settings: DemoSettings, seed: int) -> Path:
    """Where a seed's GRPO runs and reports live: the working folder for ``settings.seed``, else ``seed_<s>``."""
    if seed == settings.seed:
        return root
    folder = root / f"seed_{seed}"
    link_shared(folder, root)
    return folder


def _paired_text(per_seed: dict[int, dict[str, Any]]) -> str:
    """The paired-difference tables (per comparison: each seed's intervals and mean ± std) and the policy table."""
    from ervlight.pipeline.summary import COMPARISONS, policies_table, seeds_table

    parts = [f"Policies, mean ± std over seeds {', '.join(map(str, per_seed))} (rates in %):", "",
             policies_table(per_seed)]  # fmt: skip
    for name, _, _ in COMPARISONS:
        parts += ["", f"{name}, points, 95 % paired bootstrap interval over clips:", ""]
        parts.append(seeds_table({seed: rows[name] for seed, rows in per_seed.items()}, name))
    return "\n".join(parts)


def run_demo(
    workdir: str | Path,
    settings: DemoSettings,
    fresh: bool = False,
    log: Callable[[str], None] = print,
    seeds: list[int] | None = None,
    jobs: int = 1,
    threads: int = 1,
) -> DemoResult:
    """Run every stage not already done under ``workdir`` (shared stages once, GRPO and evaluation per seed).

    ``jobs`` stages run at once where they do not depend on each other (1: one by one in this process; more: in
    child processes with torch on ``threads`` threads, their output in ``workdir/logs``). The results are the same
    either way: each stage is seeded and deterministic on its own.
    """
    from ervlight.evaluation.curves import trend_table
    from ervlight.evaluation.report import comparison_table, load_metrics
    from ervlight.pipeline.summary import paired_comparisons

    root = Path(workdir).resolve()
    _check_settings(root, settings, fresh)
    seeds = seeds or [settings.seed]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds repeats a seed: {seeds}")
    timings: dict[str, float] = {}
    seed_stages = {}
    for seed in seeds:
        tag = "" if seed == settings.seed and len(seeds) == 1 else f"seed {seed} "
        seed_stages[seed] = (_seed_folder(root, settings, seed), tag,
                             build_seed_stages(replace(settings, seed=seed)))  # fmt: skip
    plan = _jobs(build_stages(settings), seed_stages, root)
    run_jobs(plan, jobs, timings, log, threads=threads, logs=root / "logs")
    reports: dict[int, dict[str, str]] = {}
    per_seed: dict[int, dict[str, Any]] = {}
    for seed, (folder, _, _) in seed_stages.items():
        reports[seed] = {run: str(folder / settings.report_dir(run)) for run in RUNS}
        per_seed[seed] = paired_comparisons(reports[seed])
    first = reports[seeds[0]]
    metrics = {run: load_metrics(folder) for run, folder in first.items()}
    with inside(root):
        curves = _reward_curves()
    table = comparison_table(metrics)
    training = trend_table(curves, REWARD_CURVES, unit="windows") if curves else ""
    paired = _paired_text(per_seed)
    result = DemoResult(table, first, timings, metrics, training, curves, paired, reports)
    summary = {k: v for k, v in asdict(result).items() if k != "metrics"}
    summary["differences"] = {
        seed: {name: [asdict(row) for row in rows] for name, rows in comparisons.items()}
        for seed, comparisons in per_seed.items()
    }
    (root / "demo_result.json").write_text(json.dumps(summary, indent=2) + "\n")
    extra = (
        f"\nGRPO training rewards (mean over the first third of the steps → the last third):\n\n{training}\n"
        if training
        else ""
    )
    (root / "demo_table.md").write_text(table + "\n" + extra + "\n" + paired + "\n")
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
    parser.add_argument("--seed", type=int, default=0, help="seed of the corpus and the shared stages (0)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds of GRPO and evaluation, each in its own folder (default: --seed)")  # fmt: skip
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads per stage (1: the same sums every run)"
    )
    parser.add_argument("--jobs", type=int, default=2,
                        help="stages run at once where independent, each in its own process with its output in "
                        "WORKDIR/logs (2; 1: one by one in this process); the results do not change")  # fmt: skip
    parser.add_argument(
        "--size",
        default="standard",
        choices=["small", "standard", "medium"],
        help="demo corpus size (standard)",
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
    needed = ("perception/demo.yaml", "sft/demo.yaml", "verifier/demo.yaml", "grpo/erv_parity_demo.yaml",
              "eval/demo.yaml")  # fmt: skip
    missing = [name for name in needed if not (configs / name).is_file()]
    if missing:
        print(
            f"ervlight demo: {configs} lacks {', '.join(missing)}; run from the repository root",
            file=sys.stderr,
        )
        return 2
    settings = DemoSettings(configs, args.seed, args.size, args.grpo_steps, args.max_new_tokens)
    if args.jobs < 1 or args.threads < 1:
        print(
            f"ervlight demo: --jobs and --threads must be >= 1, got {args.jobs} and {args.threads}",
            file=sys.stderr,
        )
        return 2
    pin_torch(args.threads)
    start = time.perf_counter()
    try:
        result = run_demo(args.workdir, settings, fresh=args.fresh, seeds=args.seeds, jobs=args.jobs,
                          threads=args.threads)  # fmt: skip
    except ValueError as error:
        print(f"ervlight demo: {error}", file=sys.stderr)
        return 2
    except StageError as error:
        print(f"ervlight demo: {error}", file=sys.stderr)
        return error.code
    total = time.perf_counter() - start
    print("\nTest fold 1 of the synthetic demo corpus, judged by the independent verifier (rates in %):\n")
    print(result.table)
    if result.training:
        print(
            "\nGRPO training rewards, mean over the first third of the steps → the last third (the loader shuffles"
            " the clips: each third is a random draw of training clips):\n"
        )
        print(result.training)
    print(f"\n{result.paired}")
    print(f"\nreports: {', '.join(f'{run} {folder}' for run, folder in result.reports.items())}")
    print(f"stage times (s): {result.timings}; total {total:.0f} s")
    return 0
