"""Batched scoring with a cache, export to plain transformers folders, and loading published classifiers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from ervlight.labels import GOEMOTIONS
from ervlight.verifier import VerifierModule, VerifierScorer, load_classifier
from ervlight.verifier.backbone import MULTI_LABEL, SINGLE_LABEL, resolve_backbone

SENTENCES = [
    "He is furious.",
    "She smiles.",
    "A long sentence about a calm man who waits for the bus.",
    "Ok.",
]


def plain_logits(path: Path, texts: list[str]) -> torch.Tensor:
    """Logits of a folder loaded with plain transformers."""
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    with torch.no_grad():
        return model(**tokenizer(texts, padding=True, return_tensors="pt")).logits


@pytest.fixture(scope="module")
def saved_verifier(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GoEmotions verifier (untrained head) exported from a VerifierModule."""
    module = VerifierModule(backbone=str(tiny_bert_dir))
    return module.save_pretrained(tmp_path_factory.mktemp("exported") / "verifier")


def test_export_reloads_in_plain_transformers_with_identical_logits(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    module = VerifierModule(backbone=str(tiny_bert_dir), label_space="dfew").eval()
    folder = module.save_pretrained(tmp_path / "dfew_verifier")
    config = AutoModelForSequenceClassification.from_pretrained(folder).config
    assert config.problem_type == SINGLE_LABEL
    assert config.id2label == dict(
        enumerate(["happy", "sad", "neutral", "angry", "surprise", "disgust", "fear"])
    )
    assert config.label2id["fear"] == 6
    with torch.no_grad():
        ours = module(SENTENCES)
    torch.testing.assert_close(plain_logits(folder, SENTENCES), ours)


def test_goemotions_export_is_multi_label(saved_verifier: Path) -> None:
    config = AutoModelForSequenceClassification.from_pretrained(saved_verifier).config
    assert config.problem_type == MULTI_LABEL
    assert tuple(config.id2label[i] for i in range(28)) == GOEMOTIONS.labels


def test_batched_scores_equal_one_at_a_time(saved_verifier: Path) -> None:
    scorer = VerifierScorer.from_pretrained(str(saved_verifier), batch_size=3, cache_size=0)
    batched = scorer.probabilities(SENTENCES)
    single = torch.cat([scorer.forward_texts([s]) for s in SENTENCES])
    assert batched.shape == (4, 28)
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)
    expected = plain_logits(saved_verifier, SENTENCES).sigmoid()
    torch.testing.assert_close(batched, expected, atol=1e-5, rtol=1e-5)


def test_cache_serves_repeats_without_forward(saved_verifier: Path) -> None:
    scorer = VerifierScorer.from_pretrained(str(saved_verifier), batch_size=2)
    first = scorer.probabilities(SENTENCES + SENTENCES[:2])
    assert (scorer.cache_info().misses, scorer.cache_info().hits, scorer.cache_info().size) == (4, 2, 4)
    torch.testing.assert_close(first[4:], first[:2])
    calls: list[int] = []
    scorer.model.register_forward_hook(lambda *_: calls.append(1))
    again = scorer.probabilities(list(reversed(SENTENCES)))
    assert calls == []
    torch.testing.assert_close(again, first[:4].flip(0))
    assert scorer.cache_info().hits == 6
    scorer.clear_cache()
    assert scorer.cache_info().size == 0
    assert scorer.probabilities([]).shape == (0, 28)


def test_cache_evicts_least_recently_used(saved_verifier: Path) -> None:
    scorer = VerifierScorer.from_pretrained(str(saved_verifier), cache_size=2)
    scorer.probabilities(SENTENCES[:3])
    assert scorer.cache_info().size == 2
    scorer.probabilities([SENTENCES[0]])
    assert scorer.cache_info().misses == 4  # the oldest entry was evicted


def test_scoring_restores_training_mode(saved_verifier: Path) -> None:
    scorer = VerifierScorer.from_pretrained(str(saved_verifier), cache_size=0)
    scorer.model.train()
    eval_probs = scorer.probabilities(SENTENCES[:1])
    assert scorer.model.training
    torch.testing.assert_close(scorer.probabilities(SENTENCES[:1]), eval_probs)  # no dropout while scoring


def test_published_roberta_folder_loads_without_training(tiny_roberta_dir: Path) -> None:
    scorer = VerifierScorer.from_pretrained(str(tiny_roberta_dir))
    assert scorer.labels == GOEMOTIONS.labels
    assert scorer.multi_label
    expected = plain_logits(tiny_roberta_dir, SENTENCES).sigmoid()
    torch.testing.assert_close(scorer.probabilities(SENTENCES), expected, atol=1e-5, rtol=1e-5)


def test_load_classifier_keeps_a_matching_head_and_replaces_others(tiny_roberta_dir: Path) -> None:
    kept, _ = load_classifier(str(tiny_roberta_dir), GOEMOTIONS.labels, multi_label=True)
    published = AutoModelForSequenceClassification.from_pretrained(tiny_roberta_dir)
    torch.testing.assert_close(
        kept.state_dict()["classifier.out_proj.weight"], published.classifier.out_proj.weight
    )
    replaced, _ = load_classifier(str(tiny_roberta_dir), ("a", "b", "c"), multi_label=False)
    assert replaced.config.num_labels == 3
    assert replaced.config.problem_type == SINGLE_LABEL
    module = VerifierModule(backbone=str(tiny_roberta_dir))
    torch.testing.assert_close(
        module.model.classifier.out_proj.weight, published.classifier.out_proj.weight
    )  # a published GoEmotions head is kept


def test_missing_backbone_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"verifier folder .*nowhere' does not exist: .* a pretrained backbone folder"
    ):
        resolve_backbone(str(tmp_path / "nowhere"))


def test_lora_trains_adapters_only_and_exports_merged(tiny_bert_dir: Path, tmp_path: Path) -> None:
    module = VerifierModule(backbone=str(tiny_bert_dir), lora_rank=4, lora_target_modules=["query", "value"])
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    assert trainable
    assert all("lora_" in n or "classifier" in n for n in trainable)
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    optimizer = torch.optim.SGD(module.trainable_parameters(), lr=1.0)
    targets = torch.zeros(2, 28)
    targets[:, 2] = 1.0
    module.loss(module(SENTENCES[:2]), targets).backward()
    optimizer.step()
    moved = {n for n, p in module.named_parameters() if not torch.equal(p, before[n])}
    assert moved
    assert all("lora_B" in n or "classifier" in n for n in moved)  # lora_A gets no grad while B is 0
    module.eval()
    folder = module.save_pretrained(tmp_path / "merged")
    with torch.no_grad():
        ours = module(SENTENCES)
    torch.testing.assert_close(plain_logits(folder, SENTENCES), ours, atol=1e-5, rtol=1e-4)
    assert hasattr(module.model, "peft_config")  # export did not unload the adapters
