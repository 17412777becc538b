"""Captions, rationales and the verifier corpus: wording, labels, held-out split and schema."""

import json
import re
from dataclasses import replace

import numpy as np
import pytest

from ervlight.demo.phrases import EMOTION_WORDS
from ervlight.demo.spec import sample_clip
from ervlight.demo.text import OPENERS, caption, rationale, visual_cues, voice_cues
from ervlight.demo.verifier_corpus import build_verifier_corpus, corpus_labels
from ervlight.labels import GOEMOTIONS, MAFW
from ervlight.parsing import split_sentences

_ALL_EMOTION_WORDS = {
    w
    for words in EMOTION_WORDS.values()
    for bank in (words.adjectives, words.nouns)
    for w in bank.train + bank.held_out
}


def _mentions(text: str, concept: str) -> bool:
    """Whether the text uses a word of an emotion concept (whole words)."""
    words = EMOTION_WORDS[concept]
    pool = words.adjectives.train + words.adjectives.held_out + words.nouns.train + words.nouns.held_out
    return any(re.search(rf"\b{re.escape(w)}\b", text.lower()) for w in pool)


def test_cues_follow_the_clip() -> None:
    base = sample_clip("mafw", "00025", "anger", 0, (2.0, 2.0))
    angry = replace(base, face={"anger": 1.0}, voice={"anger": 1.0})
    assert [unit for unit, _ in visual_cues(angry)] == [
        "brow_lower",
        "lip_press",
        "lid_tighten",
        "upper_lid_raise",
    ]
    assert voice_cues(angry) == ["falling", "loud", "tense"]  # scores 1.2, 1.0, 1.0
    assert visual_cues(replace(base, face={})) == []
    assert voice_cues(replace(base, voice={})) == []


@pytest.mark.parametrize("label", MAFW.labels)
def test_captions_describe_cues_without_emotion_words(label: str) -> None:
    for i in range(12):
        spec = sample_clip("mafw", f"{i + 100:05d}", label, 1, (2.0, 3.0))
        english, chinese = caption(spec)
        assert english.startswith(("A woman with ", "A man with "))
        assert english.endswith(".")
        assert chinese.endswith("。")
        assert chinese.encode("gbk").decode("gbk") == chinese
        assert "\t" not in english + chinese
        assert "\n" not in english + chinese
        assert not any(re.search(rf"\b{re.escape(w)}\b", english.lower()) for w in _ALL_EMOTION_WORDS)
        assert caption(spec) == (english, chinese)


@pytest.mark.parametrize("incoherent", [False, True])
def test_rationale_structure(incoherent: bool) -> None:
    spec = replace(
        sample_clip("dfew", "00010", "sad", 0, (2.0, 2.0)), kind="clear", other=None, carrier="both"
    )
    result = rationale(spec, incoherent, np.random.default_rng(5))
    sentences = split_sentences(result.text)
    assert sentences[0].startswith(OPENERS)
    assert _mentions(sentences[-1], "sadness")
    odd = [
        s
        for s in sentences
        if not _mentions(s, "sadness") and result.incoherent_with and _mentions(s, result.incoherent_with)
    ]
    if incoherent:
        assert result.incoherent_with == "fear"  # the confusable of sadness that DFEW has
        assert len(odd) == 1
    else:
        assert result.incoherent_with is None
        assert odd == []
    assert rationale(spec, incoherent, np.random.default_rng(5)) == result


def test_corpus_labels() -> None:
    assert corpus_labels(("happiness",)) == {"goemotions": ["joy"], "mafw": "happiness", "dfew": "happy"}
    assert corpus_labels(("contempt",)) == {"goemotions": ["disapproval"], "mafw": "contempt", "dfew": None}
    assert corpus_labels(()) == {"goemotions": ["neutral"], "mafw": "neutral", "dfew": "neutral"}
    assert corpus_labels(("surprise", "fear")) == {
        "goemotions": ["fear", "surprise"],
        "mafw": None,
        "dfew": None,
    }


def test_verifier_corpus_schema_and_splits() -> None:
    records = build_verifier_corpus({"train": 400, "val": 100, "test": 150}, seed=0)
    assert [r["split"] for r in records] == ["train"] * 400 + ["val"] * 100 + ["test"] * 150
    assert records[0]["id"] == "train-00001"
    assert records[-1]["id"] == "test-00150"
    for record in records:
        assert list(record) == ["id", "text", "split", "goemotions", "mafw", "dfew", "template"]
        assert record["goemotions"]
        assert all(name in GOEMOTIONS for name in record["goemotions"])
        assert record["mafw"] is None or record["mafw"] in MAFW
        assert json.loads(json.dumps(record, ensure_ascii=False)) == record
        if record["goemotions"] == ["neutral"]:
            assert record["mafw"] == "neutral"
            assert record["dfew"] == "neutral"
        if len(record["goemotions"]) == 2:
            assert record["mafw"] is None
            assert record["dfew"] is None
    texts = [r["text"] for r in records]
    assert len(set(texts)) == len(texts)
    seen_templates = {r["template"] for r in records if r["split"] != "test"}
    test_templates = {r["template"] for r in records if r["split"] == "test"}
    assert seen_templates.isdisjoint(test_templates)
    labels = {tuple(r["goemotions"]) for r in records if r["split"] == "test"}
    assert {("neutral",), ("joy",), ("grief",), ("disapproval",), ("nervousness",)} <= labels
    assert build_verifier_corpus({"train": 400, "val": 100, "test": 150}, seed=0) == records
    assert build_verifier_corpus({"train": 400, "val": 100, "test": 150}, seed=1) != records
