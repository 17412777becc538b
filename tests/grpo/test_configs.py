"""The shipped GRPO configs: all parse through the CLI (with each strategy fragment); the demos run tiny fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from ervlight.cli import main
from ervlight.data.datamodule import ERVDataModule
from ervlight.data.sources import DataSource
from ervlight.labels import GOEMOTIONS
from ervlight.verifier.backbone import default_backbone_path, label_kwargs

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "grpo"
PRESETS = ["erv_parity.yaml", "r1omni_baseline.yaml", "erv_parity_demo.yaml", "r1omni_baseline_demo.yaml"]


def _print_config(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--print_config", *args])
    assert stop.value.code == 0
    printed: dict = yaml.safe_load(capsys.readouterr().out)  # type: ignore[type-arg]
    return printed


@pytest.mark.parametrize("name", PRESETS)
def test_preset_parses(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    printed = _print_config(capsys, "--config", str(CONFIGS / name))
    model = printed["model"]["init_args"]
    assert printed["model"]["class_path"] == "ervlight.tasks.grpo.GRPOModule"
    names = [entry["name"] for entry in model["rewards"]]
    assert names == (["format", "accuracy", "explanation"] if "erv" in name else ["format", "accuracy"])
    assert (model["num_generations"], model["beta"], model["loss_type"]) == (4, 0.04, "grpo")
    assert model["temperature"] == (0.6 if "demo" in name else 1.0)  # demo: the tiny policy samples cleaner
    assert model["policy"]["init_args"]["max_prompt_length"] == 256
    assert model["scale_rewards"] == ("none" if "demo" in name else "group")
    if "demo" not in name:  # the reference recipe exactly
        assert model["optimizer"]["init_args"]["lr"] == 1e-6
        assert model["max_completion_length"] == 512
        assert model["top_p"] == 1.0
        assert model["num_iterations"] == 1
        assert printed["trainer"]["max_epochs"] == 2
        assert printed["trainer"]["precision"] == "bf16-mixed"
        assert (
            printed["trainer"]["devices"] * printed["data"]["init_args"]["batch_size"] == 16
        )  # prompts per step
    callbacks = printed["trainer"]["callbacks"]
    monitors = [c["init_args"].get("monitor") for c in callbacks if c["init_args"].get("monitor")]
    assert "ervlight.training.LastCheckpoint" in [
        c["class_path"] for c in callbacks
    ]  # resume never goes back
    if "demo" in name:  # selected on a task metric, never on the training reward
        assert monitors
        assert all(m.startswith("val/") and m.split("/")[-1] in ("war", "uar") for m in monitors)
    else:  # the reference selects nothing: the latest checkpoint is kept (tests/test_reference_presets.py)
        assert monitors == []


@pytest.mark.parametrize(
    ("fragment", "strategy"),
    [("ddp.yaml", "ddp"), ("fsdp2.yaml", "lightning.pytorch.strategies.ModelParallelStrategy"),
     ("deepspeed.yaml", "deepspeed_stage_2")],
)  # fmt: skip
def test_strategy_fragments(fragment: str, strategy: str, capsys: pytest.CaptureFixture[str]) -> None:
    printed = _print_config(
        capsys,
        "--config",
        str(CONFIGS / "erv_parity.yaml"),
        "--trainer",
        str(CONFIGS / "strategy" / fragment),
    )
    trainer = printed["trainer"]
    found = trainer["strategy"] if isinstance(trainer["strategy"], str) else trainer["strategy"]["class_path"]
    assert found == strategy
    assert (trainer["precision"], trainer["devices"]) == ("bf16-mixed", 8)


@pytest.fixture(scope="module")
def tiny_verifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GoEmotions multi-label BERT classifier folder (random weights, the MiniLM tokenizer)."""
    path = tmp_path_factory.mktemp("verifier")
    tokenizer = AutoTokenizer.from_pretrained(default_backbone_path())
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=128, **label_kwargs(GOEMOTIONS.labels, multi_label=True),
    )  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.mark.parametrize("name", ["erv_parity_demo.yaml", "r1omni_baseline_demo.yaml"])
def test_demo_config_tiny_fit(
    name: str, tmp_path: Path, emer_json: Path, dfew_root: Path, tiny_verifier_dir: Path
) -> None:
    policy_dir = tmp_path / "policy"
    policy = {
        "pretrained": None,
        "tokenizer_corpus": str(emer_json),
        "hidden_size": 32,
        "intermediate_size": 64,
    }  # no SFT folder
    rewards = [{"name": "format"}, {"name": "accuracy"}]
    if name.startswith("erv"):
        rewards.append({"name": "explanation", "init_args": {"verifier": str(tiny_verifier_dir)}})
    overrides = {
        "trainer.max_steps": "2",
        "trainer.val_check_interval": "2",
        "trainer.limit_val_batches": "1",
        "trainer.default_root_dir": str(tmp_path),
        "trainer.logger.init_args.save_dir": str(tmp_path),
        "model.init_args.policy": json.dumps({"class_path": "ervlight.policy.TinyOmni", "init_args": policy}),
        "model.init_args.rewards": json.dumps(rewards),
        "model.init_args.num_generations": "2",
        "model.init_args.max_completion_length": "4",
        "model.init_args.policy_dir": str(policy_dir),
        "model.init_args.datasets": '["dfew"]',
        "data.init_args.train": json.dumps([{"kind": "dfew", "root": str(dfew_root)}]),
        "data.init_args.val": json.dumps([{"kind": "dfew", "root": str(dfew_root), "split": "test"}]),
        "data.init_args.batch_size": "2",
        "data.init_args.eval_batch_size": "2",
    }
    argv = ["fit", "--config", str(CONFIGS / name), *(f"--{key}={value}" for key, value in overrides.items())]
    assert main(argv) == 0
    assert (policy_dir / "tiny_omni.json").is_file()
    checkpoints = sorted(p.name for p in tmp_path.rglob("*.ckpt"))
    # the monitored checkpoint exists only if the task metric (val/dfew/war) was logged
    assert checkpoints == ["epoch=0-step=2.ckpt", "last.ckpt"]


def test_predict_with_a_grpo_config_returns_completions(
    tmp_path: Path, emer_json: Path, dfew_root: Path
) -> None:
    """``ervlight predict`` on a GRPO preset: ``predict_step`` gives one completion per clip."""
    out = tmp_path / "completions.jsonl"
    policy = {
        "pretrained": None,
        "tokenizer_corpus": str(emer_json),
        "hidden_size": 32,
        "intermediate_size": 64,
    }
    overrides = {
        "trainer.default_root_dir": str(tmp_path),
        "trainer.logger.init_args.save_dir": str(tmp_path),
        "trainer.callbacks": json.dumps(
            [{"class_path": "grpo_stubs.CompletionDump", "init_args": {"path": str(out)}}]
        ),
        "model.init_args.policy": json.dumps({"class_path": "ervlight.policy.TinyOmni", "init_args": policy}),
        "model.init_args.rewards": json.dumps([{"name": "format"}, {"name": "accuracy"}]),
        "model.init_args.max_completion_length": "4",
        "model.init_args.datasets": '["dfew"]',
        "data.init_args.predict": json.dumps([{"kind": "dfew", "root": str(dfew_root), "split": "test"}]),
        "data.init_args.eval_batch_size": "3",
    }
    argv = ["predict", "--config", str(CONFIGS / "r1omni_baseline_demo.yaml")]
    assert main([*argv, *(f"--{key}={value}" for key, value in overrides.items())]) == 0
    batches = [json.loads(line) for line in out.read_text().splitlines()]
    data = ERVDataModule(predict=[DataSource(kind="dfew", root=str(dfew_root), split="test")], fold=1)
    data.setup("predict")
    listed = len(data.datasets["predict"])  # type: ignore[arg-type]
    on_disk = len(data.listings["predict"].records)  # the listed clip 00011 has no video: nothing generated
    assert len(batches) == -(-listed // 3)
    assert sum(len(batch) for batch in batches) == on_disk == listed - 1
    assert all(isinstance(text, str) for batch in batches for text in batch)
