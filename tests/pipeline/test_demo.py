"""``ervlight demo``: stage plan, resume, settings guard, the printed table; the real run is ``slow``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from torch.utils.tensorboard import SummaryWriter

from ervlight.evaluation.predictions import PredictionRecord
from ervlight.evaluation.report import build_report
from ervlight.pipeline import demo, stages
from ervlight.pipeline.stages import POLICIES, DemoSettings, Stage, build_seed_stages, build_stages

REPO = Path(__file__).resolve().parents[2]


def test_stage_plan_order_outputs_and_arguments() -> None:
    settings = DemoSettings(REPO / "configs", seed=3, grpo_steps=7, max_new_tokens=64)
    plan = build_stages(settings)
    assert [s.name for s in plan] == ["corpus", "perception", "sft", "verifier", "judge"]
    seeded = build_seed_stages(settings)
    names = ["baseline", "erv", "test-sft", "test-baseline", "test-erv", "report-sft", "report-baseline"]
    assert [s.name for s in seeded] == [*names, "report-erv"]
    outputs = {s.name: str(s.output) for s in plan + seeded}
    assert {s.name: s.after for s in plan} == {
        "corpus": (), "perception": ("corpus",), "sft": ("perception",), "verifier": ("corpus",),
        "judge": ("verifier",),
    }  # fmt: skip
    assert {s.name: s.after for s in seeded} == {
        "baseline": ("sft", "verifier"), "erv": ("sft", "verifier"), "test-sft": ("sft",),
        "test-baseline": ("baseline",), "test-erv": ("erv",),
        "report-sft": ("test-sft", "judge", "verifier"), "report-baseline": ("test-baseline", "judge", "verifier"),
        "report-erv": ("test-erv", "judge", "verifier"),
    }  # fmt: skip
    assert outputs["perception"] == "runs/perception_demo/policy"
    assert outputs["sft"] == "runs/sft_demo/policy"
    assert outputs["judge"] == "runs/judge_bow/judge.json"
    assert outputs["erv"] == "runs/grpo_erv_demo/policy"
    assert outputs["report-erv"] == "reports/erv/metrics.json"
    verifier = stages._verifier_args(settings)
    assert verifier[verifier.index("--seed_everything") + 1] == "3"
    grpo = stages._grpo_args(settings, "grpo/erv_parity_demo.yaml")
    assert grpo[grpo.index("--trainer.max_steps") + 1] == "7"
    assert not [arg for arg in grpo if arg.startswith("--model.init_args.rewards")]
    baseline = stages._grpo_args(settings, "grpo/r1omni_baseline_demo.yaml")
    (appended,) = [arg for arg in baseline if arg.startswith("--model.init_args.rewards")]
    assert appended.startswith("--model.init_args.rewards+=")  # appended to the config's format + accuracy
    assert json.loads(appended.split("=", 1)[1]) == {
        "name": "explanation", "weight": 0.0, "init_args": {"verifier": "runs/verifier_demo/verifier"}
    }  # fmt: skip
    assert grpo[grpo.index("--config") + 1] == str(REPO / "configs" / "grpo" / "erv_parity_demo.yaml")
    test = stages._test_args(settings, "baseline")
    assert (
        test[test.index("--model.init_args.policy.init_args.pretrained") + 1]
        == "runs/grpo_r1omni_demo/policy"
    )
    assert test[test.index("--model.init_args.max_new_tokens") + 1] == "64"
    (writer,) = json.loads(test[test.index("--trainer.callbacks") + 1])
    assert writer["init_args"]["path"] == "runs/eval_demo/baseline/predictions.jsonl"


def test_seed_stages_wait_for_their_own_seed_and_the_shared_stages(tmp_path: Path) -> None:
    settings = DemoSettings(REPO / "configs")
    per_seed = {
        seed: (tmp_path / f"s{seed}", f"seed {seed} ", build_seed_stages(settings)) for seed in (0, 1)
    }
    jobs = demo._jobs(build_stages(settings), per_seed, tmp_path)
    assert [job.key for job in jobs][:7] == ["corpus", "perception", "sft", "verifier", "judge", "seed 0 baseline",
                                             "seed 0 erv"]  # fmt: skip
    after = {job.key: job.after for job in jobs}
    assert after["seed 1 erv"] == ("sft", "verifier")
    assert after["seed 1 test-erv"] == ("seed 1 erv",)
    assert after["seed 1 report-sft"] == ("seed 1 test-sft", "judge", "verifier")
    assert {job.key: job.folder for job in jobs}["seed 1 erv"] == tmp_path / "s1"
    assert len(jobs) == 5 + 2 * 8


class _Judge:
    """Judges every rationale as the gold emotion of the clip id's prefix (ERV) or as neutral (others)."""

    def __init__(self, coherent: bool) -> None:
        self.name = "stub"
        self.coherent = coherent

    def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
        return ["happy" if self.coherent else "neutral" for _ in rationales]


def _fake_stages(calls: list[str]) -> list[Stage]:
    """Stages that only write their outputs (reports from two happy clips), recording each run."""

    def report(run: str) -> None:
        calls.append(run)
        records = [PredictionRecord(f"c{i}", "dfew", 1, "happy", "<think>x.</think><answer>happy</answer>")
                   for i in range(2)]  # fmt: skip
        build_report(
            records, [_Judge(run == "ERV")], DemoSettings.report_dir(run), name=run, tensorboard=False
        )

    def touch(name: str) -> None:
        calls.append(name)
        Path(name).mkdir(parents=True)
        writer = SummaryWriter(str(stages.GRPO_LOGS["ERV"] / "tensorboard"))  # the ERV run's training curve
        for step, (epoch, reward) in enumerate([(0, 1.0), (0, 2.0), (1, 2.5)]):
            writer.add_scalar("epoch", epoch, step)
            writer.add_scalar("reward", reward, step)
            writer.add_scalar("rewards/explanation/mean", reward / 10, step)
        writer.close()

    plan = [Stage("train", "pretend to train", Path("trained"), lambda: touch("trained"))]
    plan += [Stage(f"report-{run}", "report", DemoSettings.report_dir(run) / "metrics.json",
                   lambda run=run: report(run)) for run in POLICIES]  # fmt: skip
    return plan


def _patch(monkeypatch: pytest.MonkeyPatch, calls: list[str]) -> None:
    """Shared stages: the pretend training; per seed: the three reports."""
    monkeypatch.setattr(demo, "build_stages", lambda settings: _fake_stages(calls)[:1])
    monkeypatch.setattr(demo, "build_seed_stages", lambda settings: _fake_stages(calls)[1:])


def test_run_demo_resumes_and_writes_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    _patch(monkeypatch, calls)
    settings = DemoSettings(REPO / "configs")
    messages: list[str] = []
    result = demo.run_demo(tmp_path / "w", settings, log=messages.append)
    assert calls == ["trained", "SFT", "baseline", "ERV"]
    assert result.table.splitlines()[2:] == [
        "| SFT | dfew | 1 | 100.0 | 100.0 | 0.0 | 0.0 | 0.0 |",
        "| baseline | dfew | 1 | 100.0 | 100.0 | 0.0 | 0.0 | 0.0 |",
        "| ERV | dfew | 1 | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 |",
    ]
    assert set(result.timings) == {"train", "report-SFT", "report-baseline", "report-ERV"}
    saved = json.loads((tmp_path / "w" / "demo_result.json").read_text())
    assert saved["reports"]["ERV"] == str(tmp_path / "w" / "reports" / "erv")
    assert result.training.splitlines() == [
        "| run | windows | total reward | format | accuracy | explanation |",
        "|---|---|---|---|---|---|",
        "| ERV | 3 | 1.000 → 2.500 | – | – | 0.100 → 0.250 |",
    ]
    assert saved["curves"] == {
        "ERV": {
            "reward": [1.0, 2.0, 2.5],
            "rewards/explanation/mean": [0.10000000149011612, 0.20000000298023224, 0.25],
        }
    }
    table_file = (tmp_path / "w" / "demo_table.md").read_text()
    assert (
        table_file
        == result.table
        + "\n\nGRPO training rewards (mean over the first third of the steps → the last third):\n\n"
        + (result.training + "\n")
        + ("\n" + result.paired + "\n")
    )
    calls.clear()
    again = demo.run_demo(tmp_path / "w", settings, log=messages.append)
    assert calls == []
    assert again.table == result.table
    assert messages[-1] == "[4/4] report-ERV: already done (reports/erv/metrics.json)"
    with pytest.raises(ValueError, match="holds a demo run with settings"):
        demo.run_demo(tmp_path / "w", DemoSettings(REPO / "configs", seed=1), log=messages.append)
    demo.run_demo(tmp_path / "w", DemoSettings(REPO / "configs", seed=1), fresh=True, log=messages.append)
    assert calls == ["trained", "SFT", "baseline", "ERV"]


def test_a_stage_that_leaves_no_output_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = [Stage("broken", "writes nothing", Path("nothing"), lambda: None)]
    monkeypatch.setattr(demo, "build_stages", lambda settings: broken)
    monkeypatch.setattr(demo, "build_seed_stages", lambda settings: [])
    with pytest.raises(RuntimeError, match="demo stage 'broken' finished without writing nothing"):
        demo.run_demo(tmp_path, DemoSettings(REPO / "configs"), log=lambda _: None)


def test_main_needs_the_configs_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--configs", str(tmp_path), "--workdir", str(tmp_path / "w")]) == 2
    assert "lacks perception/demo.yaml, sft/demo.yaml, verifier/demo.yaml" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real ``ervlight demo`` (what ``make demo`` runs), with few GRPO steps: ``pytest -m slow tests/pipeline``."""
    start = time.perf_counter()
    argv = ["--workdir", str(tmp_path / "demo"), "--configs", str(REPO / "configs"), "--grpo-steps", "4",
            "--size", "small"]  # fmt: skip
    assert demo.main(argv) == 0
    out = capsys.readouterr().out
    for run in ("SFT", "baseline", "ERV"):
        assert f"| {run} | dfew | 1 |" in out
        assert f"| {run} | mafw | 1 |" in out
        assert (tmp_path / "demo" / "reports" / run.lower() / "predictions.csv").is_file()
    print(f"demo end to end in {time.perf_counter() - start:.0f} s")


class _FixedVerifier:
    """Top label = the sentence's first word's length mod 3 (``varied``), else always label 0."""

    labels = ("a", "b", "c")

    def __init__(self, varied: bool) -> None:
        self.varied = varied

    def probabilities(self, sentences: list[str]) -> torch.Tensor:
        top = [len(s.split()[0]) % 3 if self.varied else 0 for s in sentences]
        return torch.nn.functional.one_hot(torch.tensor(top), 3).float()  # [N, 3]


def test_check_verifier_rejects_a_collapsed_verifier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus.jsonl"
    rows = [{"text": text, "split": "test"} for text in ("a b", "abcd e", "ab c")] + [
        {"text": "x", "split": "train"}
    ]
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows))
    from ervlight.verifier.scorer import VerifierScorer

    monkeypatch.setattr(VerifierScorer, "from_pretrained", lambda path: _FixedVerifier(varied=True))
    stages.check_verifier(tmp_path / "v", corpus)
    monkeypatch.setattr(VerifierScorer, "from_pretrained", lambda path: _FixedVerifier(varied=False))
    with pytest.raises(RuntimeError, match="gives every held-out sentence the same label"):
        stages.check_verifier(tmp_path / "v", corpus)


def test_seeds_run_in_their_own_folders_beside_the_shared_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    _patch(monkeypatch, calls)
    messages: list[str] = []
    result = demo.run_demo(tmp_path / "w", DemoSettings(REPO / "configs"), log=messages.append, seeds=[0, 1])
    assert calls == ["trained", "SFT", "baseline", "ERV", "SFT", "baseline", "ERV"]
    assert (tmp_path / "w" / "seed_1" / "demo_data").is_symlink()
    assert (tmp_path / "w" / "seed_1" / "runs" / "sft_demo").resolve() == tmp_path / "w" / "runs" / "sft_demo"
    assert result.seeds[1]["ERV"] == str(tmp_path / "w" / "seed_1" / "reports" / "erv")
    assert any(m.startswith("[7/7] seed 1 report-ERV: done in ") for m in messages)
    lines = result.paired.splitlines()
    header = "| group | clips | metric | seed 0: ERV − baseline [95 %] | seed 1: ERV − baseline [95 %] | mean ± std |"
    assert header in lines
    assert "| all | 2 | EEA | +100.0 [+100.0, +100.0] | +100.0 [+100.0, +100.0] | +100.0 ± 0.0 |" in lines
    assert "| dfew | 2 | WAR | +0.0 [+0.0, +0.0] | +0.0 [+0.0, +0.0] | +0.0 ± 0.0 |" in lines
    assert "| all | 2 | FCR | 0.0 ± 0.0 | 0.0 ± 0.0 | 100.0 ± 0.0 |" in lines
    assert result.paired in (tmp_path / "w" / "demo_table.md").read_text()
    with pytest.raises(ValueError, match=r"--seeds repeats a seed: \[2, 2\]"):
        demo.run_demo(tmp_path / "w", DemoSettings(REPO / "configs"), log=messages.append, seeds=[2, 2])
