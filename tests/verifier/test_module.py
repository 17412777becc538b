"""VerifierModule: losses, class balance, metrics, and short real training runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader

from ervlight.data.text import TextCollator, TextDataset, TextExample, read_verifier_corpus
from ervlight.verifier import VerifierModule, VerifierScorer
from ervlight.verifier.metrics import VerifierMetrics


def loaders(corpus: Path, label_space: str = "goemotions", soft: bool = False) -> dict[str, DataLoader]:
    """Train/val/test loaders over the corpus fixture."""
    collate = TextCollator(label_space, soft=soft)
    return {
        split: DataLoader(
            TextDataset(read_verifier_corpus(corpus, label_space, split=split, soft=soft), label_space),
            batch_size=16,
            shuffle=split == "train",
            collate_fn=collate,
        )
        for split in ("train", "val", "test")
    }


def trainer(tmp_path: Path, epochs: int, max_steps: int = -1) -> Trainer:
    """A quiet CPU trainer."""
    return Trainer(
        max_epochs=epochs,
        max_steps=max_steps,
        accelerator="cpu",
        default_root_dir=tmp_path,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def one_step(tmp_path: Path) -> Trainer:
    """A trainer that runs one optimisation step."""
    return trainer(tmp_path, 1, max_steps=1)


def test_losses_match_torch_reference(tiny_bert_dir: Path) -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    multi = VerifierModule(backbone=str(tiny_bert_dir))
    targets = torch.zeros(2, 28)
    targets[0, 0] = 1.0
    full = torch.zeros(2, 28)
    full[:, :3] = logits
    expected = torch.nn.functional.binary_cross_entropy_with_logits(full, targets)
    torch.testing.assert_close(multi.loss(full, targets), expected)
    single = VerifierModule(backbone=str(tiny_bert_dir), label_space="dfew")
    seven = torch.zeros(2, 7)
    seven[:, :3] = logits
    hard = torch.tensor([0, 1])
    torch.testing.assert_close(single.loss(seven, hard), torch.nn.functional.cross_entropy(seven, hard))
    one_hot = torch.nn.functional.one_hot(hard, 7).float()
    torch.testing.assert_close(single.loss(seven, one_hot), torch.nn.functional.cross_entropy(seven, hard))


def test_distillation_temperature(tiny_bert_dir: Path) -> None:
    module = VerifierModule(backbone=str(tiny_bert_dir), label_space="dfew", temperature=2.0)
    logits = torch.randn(3, 7)
    teacher = torch.softmax(torch.randn(3, 7), dim=-1)
    soft_teacher = (teacher.log() / 2.0).softmax(dim=-1)
    expected = -(soft_teacher * (logits / 2.0).log_softmax(dim=-1)).sum(dim=-1).mean() * 4.0
    torch.testing.assert_close(module.loss(logits, teacher), expected)
    multi = VerifierModule(backbone=str(tiny_bert_dir), temperature=2.0)
    p = torch.full((1, 28), 0.5)
    p[0, 0] = 0.9
    expected_teacher = (torch.logit(p) / 2.0).sigmoid()
    full = torch.zeros(1, 28)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(full, expected_teacher) * 4.0
    torch.testing.assert_close(multi.loss(full, p), bce)
    with pytest.raises(ValueError, match="temperature must be positive"):
        VerifierModule(backbone=str(tiny_bert_dir), temperature=0.0)


def test_metrics_exact_values() -> None:
    metrics = VerifierMetrics(("a", "b", "c"), multi_label=True)
    logits = torch.tensor([[5.0, -5.0, -5.0], [5.0, 5.0, -5.0], [-5.0, -5.0, -5.0]])
    targets = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    metrics.update(logits[:2], targets[:2])
    metrics.update(logits[2:], targets[2:])  # chunked updates accumulate
    out = {k: round(v.item(), 4) for k, v in metrics.compute().items()}
    # a: tp 2; b: fp 1, fn 1; c: unseen -> macro over a and b = (1 + 0) / 2
    assert out == {
        "f1_micro": 0.6667,
        "f1_macro": 0.5,
        "exact_match": 0.3333,
        "recall/a": 1.0,
        "recall/b": 0.0,
    }
    single = VerifierMetrics(("x", "y"), multi_label=False)
    single.update(torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]), torch.tensor([0, 0, 0]))
    out = {k: round(v.item(), 4) for k, v in single.compute().items()}
    assert out == {"f1_micro": 0.6667, "f1_macro": 0.8, "accuracy": 0.6667, "recall/x": 0.6667}


def test_class_balance_weights_from_training_data(
    tiny_bert_dir: Path, corpus_file: Path, tmp_path: Path
) -> None:
    module = VerifierModule(
        backbone=str(tiny_bert_dir), class_balance=True, max_class_weight=4.0, export_dir=""
    )
    data = loaders(corpus_file)
    one_step(tmp_path).fit(module, data["train"])
    weights = module.class_weights.tolist()
    # 120 texts, 20 per seen label: pos_weight = 100/20 = 5 -> capped at 4; unseen labels get the cap too
    assert weights == [4.0] * 28
    single = VerifierModule(
        backbone=str(tiny_bert_dir), label_space="dfew", class_balance=True, export_dir=""
    )
    one_step(tmp_path).fit(single, loaders(corpus_file, "dfew")["train"])
    # DFEW: 120 texts over 6 seen of 7 classes, 20 each: 120 / (7 * 20) = 0.857; disgust unseen -> cap 10
    assert [round(w, 3) for w in single.class_weights.tolist()] == [
        0.857,
        0.857,
        0.857,
        0.857,
        0.857,
        10.0,
        0.857,
    ]


def test_short_training_beats_chance_on_unseen_sentences(
    tiny_bert_dir: Path, corpus_file: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    module = VerifierModule(
        backbone=str(tiny_bert_dir),
        label_space="dfew",
        export_dir=str(tmp_path / "exported"),
        optimizer=lambda p: torch.optim.AdamW(p, lr=3e-3),
    )
    data = loaders(corpus_file, "dfew")
    run = trainer(tmp_path, 10)
    run.fit(module, data["train"])
    (result,) = run.validate(module, data["val"], verbose=False)
    assert result["val/accuracy"] > 0.5  # chance is 1/6 over the six classes of the corpus
    assert set(result) >= {"val/loss", "val/f1_micro", "val/f1_macro", "val/recall/happy"}
    scorer = VerifierScorer.from_pretrained(str(tmp_path / "exported"))
    assert scorer.labels[3] == "angry"
    module.eval()
    torch.testing.assert_close(
        scorer.probabilities(["The man looks furious."]),
        module.predict_step(
            TextCollator("dfew")([TextExample("The man looks furious.", ("angry",), "x")]), 0
        ).detach(),
    )


@pytest.mark.slow
def test_minilm_on_the_demo_corpus_beats_chance_on_held_out_phrasing(tmp_path: Path) -> None:
    from ervlight.demo.verifier_corpus import build_verifier_corpus

    corpus = tmp_path / "verifier_corpus.jsonl"
    rows = build_verifier_corpus({"train": 480, "val": 32, "test": 300}, seed=0)
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    torch.manual_seed(0)
    module = VerifierModule(
        class_balance=True, export_dir="", optimizer=lambda p: torch.optim.AdamW(p, lr=1e-4, fused=True)
    )
    data = loaders(corpus)
    run = trainer(tmp_path, 3)
    run.fit(module, data["train"])
    (result,) = run.test(module, data["test"], verbose=False)
    print({k: round(v, 3) for k, v in result.items() if "recall" not in k})
    # chance: "neutral" for every sentence (the majority label) scores micro F1 0.28 and macro F1 0.04
    assert result["test/f1_micro"] > 0.45
    assert result["test/f1_macro"] > 0.3


def test_scorer_of_a_module_leaves_its_mode(tiny_bert_dir: Path) -> None:
    module = VerifierModule(backbone=str(tiny_bert_dir), label_space="dfew")
    assert module.model.training
    scorer = module.scorer(batch_size=2)
    probs = scorer.probabilities(["He is furious.", "She smiles.", "Calm."])
    assert module.model.training
    module.eval()
    batch = TextCollator("dfew")(
        [TextExample(t, ("angry",), "x") for t in ["He is furious.", "She smiles.", "Calm."]]
    )
    torch.testing.assert_close(probs, module.predict_step(batch, 0).detach(), atol=1e-5, rtol=1e-5)
    assert probs.sum(dim=1).tolist() == pytest.approx([1.0, 1.0, 1.0])  # single-label: softmax
