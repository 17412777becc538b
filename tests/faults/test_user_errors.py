"""#15 row 10 (training and command-line side): bad input -> one line naming the file or key, exit 2, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fit_args import fit_args
from transformers import BertConfig, BertModel

from ervlight.cli import main
from ervlight.errors import ConfigError, MissingPathError
from ervlight.grpo.config import GRPOConfig
from ervlight.verifier.backbone import load_classifier


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``argv``; assert exit 2 and one stderr line without a traceback; return that line."""
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("INFO")]
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("num_generations", 1, "num_generations must be >= 2 for group-relative advantages, got 1"),
        ("num_generations", 0, "num_generations must be >= 2 for group-relative advantages, got 0"),
        ("max_completion_length", 0, "max_completion_length must be >= 1, got 0"),
        ("max_completion_length", -3, "max_completion_length must be >= 1, got -3"),
    ],
)
def test_grpo_options_are_refused_at_construction(
    option: str, value: int, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    dfew_root: Path, emer_json: Path,
) -> None:  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        GRPOConfig(**{option: value})
    line = _fails(capsys, fit_args(tmp_path, dfew_root, emer_json, 2, **{option: value}))
    assert line == f"ervlight fit: GRPOConfig: {message}"
    assert not (tmp_path / "tensorboard").exists()  # refused before any training


@pytest.mark.parametrize(
    ("rewards", "message"),
    [
        ([{"name": "fromat"}], "unknown reward name 'fromat' in model.init_args.rewards: use one of "
         "['accuracy', 'explanation', 'format'] or give a class_path"),
        ([{"name": "format", "init_args": {"strict": True}}], "reward 'format' in model.init_args.rewards: "
         "init_args ['strict'] do not fit ervlight.rewards.format.FormatReward"),
    ],
)  # fmt: skip
def test_reward_config_errors(
    rewards: list[dict[str, object]], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    dfew_root: Path, emer_json: Path,
) -> None:  # fmt: skip
    line = _fails(capsys, fit_args(tmp_path, dfew_root, emer_json, 2, rewards=json.dumps(rewards)))
    assert line.startswith(f"ervlight fit: {message}")


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare 1-layer BERT encoder folder (no tokenizer: the errors come before it is read)."""
    folder = tmp_path_factory.mktemp("bert")
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                         intermediate_size=8)).save_pretrained(folder)  # fmt: skip
    return folder


def test_verifier_folder_errors_name_the_file(tmp_path: Path, bert_folder: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(MissingPathError, match=f"verifier folder '{missing}' does not exist"):
        load_classifier(str(missing))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        MissingPathError, match=f"{empty} has no config.json, so it is not a saved model folder"
    ):
        load_classifier(str(empty))
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text('{"model_type": ')
    with pytest.raises(ConfigError, match=f"{corrupt / 'config.json'} is not valid JSON"):
        load_classifier(str(corrupt))
    (corrupt / "config.json").write_text('{"hidden_size": 8}')
    with pytest.raises(ConfigError, match=f"{corrupt / 'config.json'} has no model_type key"):
        load_classifier(str(corrupt))
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "config.json").write_bytes((bert_folder / "config.json").read_bytes())
    (truncated / "model.safetensors").write_bytes((bert_folder / "model.safetensors").read_bytes()[:5])
    with pytest.raises(ConfigError, match=f"{truncated / 'model.safetensors'} cannot be loaded"):
        load_classifier(str(truncated))


def test_missing_verifier_in_a_grpo_fit_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dfew_root: Path, emer_json: Path
) -> None:
    rewards = json.dumps(
        [{"name": "format"}, {"name": "explanation", "init_args": {"verifier": "runs/none/verifier"}}]
    )
    line = _fails(capsys, fit_args(tmp_path, dfew_root, emer_json, 2, rewards=rewards))
    assert line.startswith("ervlight fit: verifier folder 'runs/none/verifier' does not exist")
    assert not (tmp_path / "policy").exists()


def test_llm_judge_without_its_key_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ERVLIGHT_TEST_KEY", raising=False)
    predictions = tmp_path / "predictions.jsonl"
    row = {"clip_id": "00001", "dataset": "dfew", "fold": 1, "gold": "happy",
           "completion": "<think>He smiles.</think><answer>happy</answer>"}  # fmt: skip
    predictions.write_text(json.dumps(row) + "\n")
    judge = tmp_path / "judge.yaml"
    judge.write_text(
        "class_path: ervlight.evaluation.llm_judge.LLMJudge\ninit_args:\n  base_url: http://127.0.0.1:9/v1\n"
        f"  model: m\n  api_key_env: ERVLIGHT_TEST_KEY\n  cache_dir: {tmp_path / 'cache'}\n"
    )
    argv = [
        "report",
        "--predictions",
        str(predictions),
        "--judge",
        str(judge),
        "--out",
        str(tmp_path / "out"),
    ]
    line = _fails(capsys, argv)
    assert "environment variable ERVLIGHT_TEST_KEY (the API key) is not set" in line
    assert line.startswith("ervlight report: ")
