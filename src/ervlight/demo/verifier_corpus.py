"""The verifier corpus: rationale-like sentences labelled in GoEmotions-28 and in each dataset's label space.

Three kinds of sentence, mixed in fixed shares:

* emotion sentences naming one emotion ("She seems irritated.", also in the shapes of rationale conclusions and
  of the asides that point to another emotion) -> that emotion's GoEmotions label, and the MAFW /
  DFEW label of the emotion (``null`` where the dataset lacks it, e.g. DFEW has no contempt);
* mixed sentences naming two emotions ("He seems both afraid and astonished.") -> both GoEmotions labels
  (multi-label), no single dataset label (``null``);
* purely descriptive cue sentences ("Her brows are lowered and drawn together.") -> ``["neutral"]`` / neutral.

The ``train`` and ``val`` splits draw from the training phrasings of :mod:`ervlight.demo.phrases`; ``test`` uses
only held-out templates (with held-out emotion words half of the time), so no test sentence shape occurs in
training. Texts are unique within the corpus.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ervlight.demo.phrases import (
    CONCLUSION_TEMPLATES,
    CUE_PHRASES,
    DESCRIPTIVE_TEMPLATES,
    EMOTION_TEMPLATES,
    EMOTION_WORDS,
    INCOHERENT_TEMPLATES,
    MIXED_TEMPLATES,
    VOICE_PHRASES,
    Bank,
)
from ervlight.demo.text import Person, fill
from ervlight.labels import GOEMOTIONS, GOEMOTIONS_OF_EMOTION, get_label_space

__all__ = ["SHARES", "build_verifier_corpus", "corpus_labels"]

#: Share of emotion, mixed and descriptive sentences.
SHARES: dict[str, float] = {"emotion": 0.62, "mixed": 0.13, "descriptive": 0.25}
# One-emotion sentence shapes: interpretations, rationale conclusions and the "other emotion" asides.
_ONE_EMOTION = Bank(
    EMOTION_TEMPLATES.train + CONCLUSION_TEMPLATES.train + INCOHERENT_TEMPLATES.train,
    EMOTION_TEMPLATES.held_out + CONCLUSION_TEMPLATES.held_out + INCOHERENT_TEMPLATES.held_out,
)
_CONCEPTS: tuple[str, ...] = tuple(c[0] for c in get_label_space("mafw").concepts)


def corpus_labels(concepts: tuple[str, ...]) -> dict[str, Any]:
    """The label fields of a sentence naming ``concepts`` (one or two; none = purely descriptive)."""
    if not concepts:
        concepts = ("neutral",)
    names = sorted({GOEMOTIONS.labels[GOEMOTIONS_OF_EMOTION[c]] for c in concepts}, key=GOEMOTIONS.index)
    single = concepts[0] if len(concepts) == 1 else None
    return {
        "goemotions": names,
        "mafw": None if single is None else get_label_space("mafw").normalize(single, strict=True),
        "dfew": None if single is None else get_label_space("dfew").normalize(single, strict=True),
    }


def _options(bank: Bank, held_out: bool) -> tuple[str, ...]:
    """The phrasings of a bank for a split."""
    return bank.held_out if held_out else bank.train


def _word(rng: np.random.Generator, bank: Bank, held_out: bool) -> str:
    """An emotion word; held-out splits use held-out words half of the time."""
    options = bank.held_out if held_out and rng.random() < 0.5 else bank.train
    return options[int(rng.integers(0, len(options)))]


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    """One option, uniformly."""
    return options[int(rng.integers(0, len(options)))]


def _emotion(rng: np.random.Generator, held_out: bool, index: int) -> tuple[str, str, tuple[str, ...]]:
    """(text, template, concepts) of a one-emotion sentence; the concept cycles so classes stay balanced."""
    concept = _CONCEPTS[index % len(_CONCEPTS)]
    template = _pick(rng, _options(_ONE_EMOTION, held_out))
    words = EMOTION_WORDS[concept]
    modifier = _pick(rng, ("", "quite ", "rather ", "somewhat ", "visibly "))
    text = fill(template, Person.draw(rng), modifier, a=_word(rng, words.adjectives, held_out),
                n=_word(rng, words.nouns, held_out))  # fmt: skip
    return text, template, (concept,)


def _mixed(rng: np.random.Generator, held_out: bool) -> tuple[str, str, tuple[str, ...]]:
    """(text, template, concepts) of a sentence naming two different emotions (neither neutral)."""
    first, second = rng.choice([c for c in _CONCEPTS if c != "neutral"], size=2, replace=False)
    template = _pick(rng, _options(MIXED_TEMPLATES, held_out))
    one, two = EMOTION_WORDS[str(first)], EMOTION_WORDS[str(second)]
    text = fill(template, Person.draw(rng), a1=_word(rng, one.adjectives, held_out),
                a2=_word(rng, two.adjectives, held_out), n1=_word(rng, one.nouns, held_out),
                n2=_word(rng, two.nouns, held_out))  # fmt: skip
    return text, template, (str(first), str(second))


def _descriptive(rng: np.random.Generator, held_out: bool) -> tuple[str, str, tuple[str, ...]]:
    """(text, template, ()) of a purely descriptive sentence about one facial or vocal cue."""
    person = Person.draw(rng)
    if rng.random() < 0.65:
        bank = CUE_PHRASES[_pick(rng, tuple(CUE_PHRASES))][0]
        modifier = _pick(rng, ("", "slightly ", "clearly ", "strongly "))
    else:
        bank, modifier = VOICE_PHRASES[_pick(rng, tuple(VOICE_PHRASES))], ""
    clause = fill(_pick(rng, _options(bank, held_out)), person, modifier)
    template = _pick(rng, _options(DESCRIPTIVE_TEMPLATES, held_out))
    return template.format(c=clause, C=clause[:1].upper() + clause[1:]), template, ()


def _sentences(rng: np.random.Generator, held_out: bool) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """An endless stream of sentences of the three kinds in :data:`SHARES`."""
    kinds = list(SHARES)
    index = 0
    while True:
        kind = kinds[int(rng.choice(len(kinds), p=list(SHARES.values())))]
        if kind == "emotion":
            index += 1
            yield _emotion(rng, held_out, index)
        else:
            yield _mixed(rng, held_out) if kind == "mixed" else _descriptive(rng, held_out)


def build_verifier_corpus(sizes: dict[str, int], seed: int) -> list[dict[str, Any]]:
    """Records for each split (``{"train": n, "val": n, "test": n}``), unique texts, in split order."""
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for split_index, (split, count) in enumerate(sizes.items()):
        rng = np.random.default_rng([seed, 7, split_index])
        stream = _sentences(rng, held_out=split == "test")
        made, attempts = 0, 0
        while made < count:
            attempts += 1
            if attempts > 50 * count + 1000:
                raise RuntimeError(
                    f"verifier corpus: could only make {made} unique {split} sentences of {count}"
                )
            text, template, concepts = next(stream)
            if text in seen:
                continue
            seen.add(text)
            made += 1
            record = {"id": f"{split}-{made:05d}", "text": text, "split": split, **corpus_labels(concepts)}
            records.append({**record, "template": template})
    return records
