"""#15 row 12: output that reads like trouble is silenced (with its reason) or made true."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities.rank_zero import rank_zero_info
from lightning.pytorch.utilities.warnings import PossibleUserWarning
from torch.utils.data import DataLoader, TensorDataset
from transformers import BertConfig, BertModel, BertTokenizerFast

from ervlight.cli import main
from ervlight.training.progress import StepBoundProgressBar
from ervlight.training.quiet import quiet_lightning
from ervlight.verifier.backbone import load_classifier

STRATEGY = Path(__file__).resolve().parents[2] / "configs" / "grpo" / "strategy"


@pytest.mark.parametrize("fragment", sorted(p.name for p in STRATEGY.glob("*.yaml")))
def test_trainer_fragment_given_to_config_says_use_trainer(
    fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = STRATEGY / fragment
    assert main(["fit", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    keys = ", ".join(sorted(yaml.safe_load(path.read_text())))
    assert "strategy" in keys
    assert err == (
        f"ervlight fit: {path} is a Trainer fragment (its keys {keys} are Trainer options), not a full config: "
        f"pass it with --trainer {path} after --config of a full config"
    )


def test_lightning_tips_and_the_eval_mode_warning_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    quiet_lightning()
    with caplog.at_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero"):
        rank_zero_info("💡 Tip: For seamless cloud logging, try installing litlogger")
        rank_zero_info("GPU available: False, used: False")
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False, used: False"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        quiet_lightning()  # the filter is inserted in front of "default"
        warnings.warn(
            "Found 91 module(s) in eval mode at the start of training.", PossibleUserWarning, stacklevel=1
        )
        warnings.warn("Found 91 trees", PossibleUserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["Found 91 trees"]


class _Linear(LightningModule):
    """A one-weight regressor on random data (the smallest fit)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(1, 1)
        self.descriptions: list[str] = []

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        bar = self.trainer.progress_bar_callback
        assert isinstance(bar, StepBoundProgressBar)
        self.descriptions.append(bar._get_train_description(self.current_epoch).strip())
        return self.net(batch[0]).pow(2).mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.parametrize(
    ("max_epochs", "max_steps", "expected"), [(None, 3, "Epoch 0"), (1, -1, "Epoch 0/0")]
)
def test_progress_bar_has_no_epoch_minus_two(max_epochs: int | None, max_steps: int, expected: str) -> None:
    module = _Linear()
    trainer = Trainer(max_epochs=max_epochs, max_steps=max_steps, callbacks=[StepBoundProgressBar()], logger=False,
                      enable_checkpointing=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(module, DataLoader(TensorDataset(torch.ones(3, 1)), batch_size=1))
    assert trainer.max_epochs == (-1 if max_epochs is None else max_epochs)  # -1: Lightning's "Epoch 0/-2"
    assert module.descriptions == [expected] * 3


def test_fresh_verifier_head_loads_without_the_missing_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8
    )
    BertModel(config).save_pretrained(tmp_path)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *(f"w{i}" for i in range(25))]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt")).save_pretrained(tmp_path)
    with caplog.at_level(logging.INFO):
        model, _ = load_classifier(str(tmp_path), labels=["joy", "neutral"], multi_label=True)
    assert model.config.num_labels == 2
    assert not [r for r in caplog.records if "LOAD REPORT" in r.getMessage()]  # a fresh head is expected
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "ervlight" in r.name]
