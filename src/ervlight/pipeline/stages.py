"""The demo's stages: each one a shipped config run through ``ervlight`` in the working folder, plus its output.

Paths are relative to the demo's working folder (the configs' own relative paths: ``demo_data/…``, ``runs/…``).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

__all__ = [
    "DATA",
    "GRPO_LOGS",
    "POLICIES",
    "SHARED",
    "DemoSettings",
    "Stage",
    "build_seed_stages",
    "build_stages",
    "link_shared",
]

DATA = Path("demo_data")
JUDGE_CORPUS = DATA / "verifier_corpus_judge.jsonl"
REWARD_VERIFIER = Path("runs/verifier_demo/verifier")
#: The independent judge: a bag-of-words verifier (``ervlight.pipeline.judge``) with its ``judge.json``.
JUDGE_VERIFIER = Path("runs/judge_bow")
#: The policy whose towers perception pre-training trained (SFT starts from it).
PERCEPTION = Path("runs/perception_demo/policy")
#: Policy folder of each evaluated run (as the SFT and GRPO demo configs save them).
#: The baseline's GRPO config (format + accuracy).
BASELINE_CONFIG = "grpo/r1omni_baseline_demo.yaml"
#: TensorBoard folders of the two GRPO runs (their training-reward curves go into the demo's output).
GRPO_LOGS = {"baseline": Path("runs/grpo_r1omni_demo"), "ERV": Path("runs/grpo_erv_demo")}
POLICIES = {
    "SFT": Path("runs/sft_demo/policy"),
    "baseline": Path("runs/grpo_r1omni_demo/policy"),
    "ERV": Path("runs/grpo_erv_demo/policy"),
}
#: What every seed's GRPO and evaluation read from the shared stages (linked into a seed's folder).
SHARED = (DATA, POLICIES["SFT"].parent, REWARD_VERIFIER.parent, JUDGE_VERIFIER, Path("runs/clip_cache"))


@dataclass(frozen=True)
class DemoSettings:
    """What a demo run depends on.

    Attributes:
        configs: the repository's ``configs/`` folder (absolute).
        seed: seed of the stages built from these settings (the judge's corpus uses ``seed + 1``).
        size: demo corpus size (``small`` or ``medium``).
        grpo_steps: GRPO optimiser steps (``None``: the configs' ``max_steps``).
        max_new_tokens: evaluation completion budget.
    """

    configs: Path
    seed: int = 0
    size: str = "standard"
    grpo_steps: int | None = None
    max_new_tokens: int = 160

    def overrides(self) -> dict[str, Any]:
        """The settings beyond seed and size that change results (kept in the working folder's stamp)."""
        return {"grpo_steps": self.grpo_steps, "max_new_tokens": self.max_new_tokens}

    def config(self, name: str) -> str:
        """Absolute path of a shipped config (``sft/demo.yaml``…)."""
        return str(self.configs / name)

    @staticmethod
    def predictions(run: str) -> Path:
        """Where ``ervlight test`` writes a run's predictions."""
        return Path("runs/eval_demo") / run.lower() / "predictions.jsonl"

    @staticmethod
    def report_dir(run: str) -> Path:
        """A run's report folder."""
        return Path("reports") / run.lower()


@dataclass
class Stage:
    """One step of the demo: a name, what it does, the path it leaves behind when done, how to run it and the
    stages whose outputs it reads (``after``: names of this seed's stages or of the shared ones)."""

    name: str
    description: str
    output: Path
    action: Callable[[], None]
    after: tuple[str, ...] = ()

    def run(self) -> None:
        """Run the stage in the current folder; ``RuntimeError`` when it did not leave its output there."""
        self.action()
        if not self.output.exists():
            raise RuntimeError(f"demo stage {self.name!r} finished without writing {self.output}")


def _lightning(args: list[str]) -> None:
    """``ervlight fit|test …`` in this process (``sys.argv`` hidden, so LightningCLI reads only ``args``)."""
    from ervlight.cli import run_lightning

    saved = sys.argv
    sys.argv = saved[:1]
    try:
        code = run_lightning(args)
    finally:
        sys.argv = saved
    if code:
        raise SystemExit(code)  # SIGTERM stopped the stage: the demo stops too, with the same code


def _corpus(settings: DemoSettings) -> None:
    """The demo corpus and the judge's verifier corpus (same recipe, seed + 1)."""
    from ervlight.demo.generate import SIZES, generate_demo
    from ervlight.demo.verifier_corpus import build_verifier_corpus

    generate_demo(DATA, settings.size, settings.seed, overwrite=True, progress=True)
    corpus = build_verifier_corpus(SIZES[settings.size].verifier, settings.seed + 1)
    lines = (json.dumps(record, ensure_ascii=False) + "\n" for record in corpus)
    JUDGE_CORPUS.write_text("".join(lines), encoding="utf-8")


def _verifier_args(settings: DemoSettings) -> list[str]:
    """``fit`` arguments of the reward verifier (the demo keeps the exported verifier only: no checkpoint callbacks)."""
    return ["fit", "--config", settings.config("verifier/demo.yaml"), "--trainer.callbacks", "[]",
            "--trainer.enable_checkpointing", "false", "--seed_everything", str(settings.seed)]  # fmt: skip


def check_verifier(folder: Path, corpus: Path, sentences: int = 200) -> None:
    """Raise ``RuntimeError`` when a trained verifier gives the same top label to every held-out corpus sentence.

    A collapsed verifier (constant output) would make the explanation reward and the judge meaningless.
    """
    from ervlight.verifier.scorer import VerifierScorer

    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [row["text"] for row in rows if row.get("split") == "test"][:sentences]
    if not texts:
        raise RuntimeError(f"{corpus} has no test sentences to check the verifier on")
    top = VerifierScorer.from_pretrained(str(folder)).probabilities(texts).argmax(dim=1)  # [N]
    if int(top.unique().numel()) < 2:
        raise RuntimeError(
            f"the verifier in {folder} gives every held-out sentence the same label (collapsed training); "
            f"delete {folder} and run the demo again, or change the seed"
        )


def _train_verifier(settings: DemoSettings) -> None:
    """Train the reward verifier and check it did not collapse."""
    _lightning(_verifier_args(settings))
    try:
        check_verifier(REWARD_VERIFIER, DATA / "verifier_corpus.jsonl")
    except RuntimeError:
        shutil.move(
            str(REWARD_VERIFIER), str(REWARD_VERIFIER) + ".collapsed"
        )  # kept for inspection; not done
        raise


def _train_judge() -> None:
    """Fit the bag-of-words judge on its own corpus and record its held-out figures."""
    from ervlight.pipeline.judge import train_judge

    train_judge(JUDGE_CORPUS, JUDGE_VERIFIER, REWARD_VERIFIER, DATA / "verifier_corpus.jsonl")


def _grpo_args(settings: DemoSettings, config: str) -> list[str]:
    """``fit`` arguments of a GRPO run: no validation on the test lists (the final policy is what is evaluated),
    hence no checkpoint callback selecting on a validation metric either."""
    args = ["fit", "--config", settings.config(config), "--seed_everything", str(settings.seed),
            "--model.init_args.seed", str(settings.seed), "--trainer.limit_val_batches", "0",
            "--trainer.callbacks", "[]", "--trainer.enable_checkpointing", "false"]  # fmt: skip
    if config == BASELINE_CONFIG:
        # the config's format + accuracy, plus the explanation reward at weight 0: logged beside ERV's, not trained on
        monitor = {"name": "explanation", "weight": 0.0, "init_args": {"verifier": str(REWARD_VERIFIER)}}
        args.append(f"--model.init_args.rewards+={json.dumps(monitor)}")
    if settings.grpo_steps is not None:
        args += ["--trainer.max_steps", str(settings.grpo_steps)]
    return args


def _test_args(settings: DemoSettings, run: str) -> list[str]:
    """``test`` arguments of one policy with the evaluation config, writing its predictions."""
    writer = [{"class_path": "ervlight.evaluation.predictions.PredictionWriter",
               "init_args": {"path": str(settings.predictions(run))}}]  # fmt: skip
    return ["test", "--config", settings.config("eval/demo.yaml"), "--seed_everything", str(settings.seed),
            "--model.init_args.seed", str(settings.seed),
            "--model.init_args.policy.init_args.pretrained", str(POLICIES[run]),
            "--model.init_args.max_new_tokens", str(settings.max_new_tokens),
            "--trainer.default_root_dir", str(settings.predictions(run).parent),
            "--data.init_args.cache_dir", "runs/clip_cache",  # the three tests decode each clip once
            "--trainer.callbacks", json.dumps(writer)]  # fmt: skip


def _report(settings: DemoSettings, run: str) -> None:
    """Judge a run's predictions with the judge verifier (the reward verifier as second judge) and write its report."""
    from ervlight.evaluation.predictions import read_predictions
    from ervlight.evaluation.report import build_report
    from ervlight.verifier.bag_of_words import BagOfWordsVerifier
    from ervlight.verifier.judge import VerifierJudge

    judges = [VerifierJudge(BagOfWordsVerifier.from_pretrained(JUDGE_VERIFIER), name="judge-bow"),
              VerifierJudge(str(REWARD_VERIFIER), name="reward-verifier")]  # fmt: skip
    build_report(read_predictions([settings.predictions(run)]), judges, settings.report_dir(run), name=run)


def _seeded(settings: DemoSettings) -> list[str]:
    """``--seed_everything`` of a stage."""
    return ["--seed_everything", str(settings.seed)]


def build_stages(settings: DemoSettings) -> list[Stage]:
    """The shared stages in order: corpus, perception, SFT, reward verifier, judge (seed ``settings.seed``)."""
    perception = ["fit", "--config", settings.config("perception/demo.yaml"), *_seeded(settings),
                  "--model.init_args.seed", str(settings.seed)]  # fmt: skip
    sft = ["fit", "--config", settings.config("sft/demo.yaml"), *_seeded(settings), "--trainer.limit_val_batches",
           "0"]  # fmt: skip
    return [
        Stage("corpus", f"generate the {settings.size} synthetic demo corpus (seed {settings.seed})", JUDGE_CORPUS,
              partial(_corpus, settings)),
        Stage("perception", "pre-train the media towers on the training clips' labels "
              "(configs/perception/demo.yaml)", PERCEPTION, partial(_lightning, perception), ("corpus",)),
        Stage("sft", "cold-start SFT of TinyOmni from the pre-trained towers (configs/sft/demo.yaml)",
              POLICIES["SFT"], partial(_lightning, sft), ("perception",)),
        Stage("verifier", "train the reward verifier (configs/verifier/demo.yaml)", REWARD_VERIFIER,
              partial(_train_verifier, settings), ("corpus",)),
        Stage("judge", "fit the independent bag-of-words judge on its own corpus seed",
              JUDGE_VERIFIER / "judge.json", _train_judge, ("verifier",)),
    ]  # fmt: skip


def build_seed_stages(settings: DemoSettings) -> list[Stage]:
    """The stages of one seed (``settings.seed``): both GRPO runs, then test and report of the three policies."""
    # both GRPO runs read the reward verifier (ERV trains on it, the baseline logs it at weight 0); each policy's
    # test waits for the stage that trained it, named as the run in lower case
    stages = [
        Stage("baseline", "GRPO with format + accuracy (configs/grpo/r1omni_baseline_demo.yaml)",
              POLICIES["baseline"], partial(_lightning, _grpo_args(settings, BASELINE_CONFIG)), ("sft", "verifier")),
        Stage("erv", "GRPO with format + accuracy + explanation (configs/grpo/erv_parity_demo.yaml)",
              POLICIES["ERV"], partial(_lightning, _grpo_args(settings, "grpo/erv_parity_demo.yaml")),
              ("sft", "verifier")),
    ]  # fmt: skip
    for run in POLICIES:
        stages.append(Stage(f"test-{run.lower()}", f"generate on the fold-1 test lists with the {run} policy",
                            settings.predictions(run), partial(_lightning, _test_args(settings, run)),
                            (run.lower(),)))  # fmt: skip
    for run in POLICIES:
        stages.append(Stage(f"report-{run.lower()}", f"judge the {run} rationales and write its report",
                            settings.report_dir(run) / "metrics.json", partial(_report, settings, run),
                            (f"test-{run.lower()}", "judge", "verifier")))  # fmt: skip
    return stages


def link_shared(folder: Path, shared: Path) -> None:
    """Make ``folder`` (a seed's working folder) see the shared stages' outputs under ``shared`` (symlinks)."""
    for path in SHARED:
        link = folder / path
        if link.is_symlink() or link.exists():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to((shared / path).resolve(), target_is_directory=True)
