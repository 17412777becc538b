"""The label system: every label set, normaliser and label map of ervlight lives here and nowhere else.

A :class:`LabelSpace` is an ordered tuple of label names with the dataset's official ids, a normaliser that turns
free text (an ``<answer>`` content, a split-file cell, an R1-Omni JSON answer) into one of its labels, an export
vocabulary (the official nouns or the R1-Omni adjectives) and the map onto the GoEmotions-28 verifier labels.
Data readers, rewards, metrics and judges all take their labels from :func:`get_label_space`.

Normalisation never raises on bad text: :meth:`LabelSpace.normalize` returns ``None`` ("unparseable") for empty
strings, garbage and labels outside the space, and :meth:`LabelSpace.encode` returns :data:`UNPARSEABLE` (``-1``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Literal

__all__ = [
    "COMPOUND_SEPARATOR",
    "DFEW",
    "EMOTION_FORMS",
    "GOEMOTIONS",
    "GOEMOTIONS_OF_EMOTION",
    "MAFW",
    "MAFW_COMPOUND",
    "MAFW_COMPOUND_COMBINATIONS",
    "R1OMNI_ADJECTIVE",
    "UNPARSEABLE",
    "DatasetName",
    "LabelSpace",
    "get_label_space",
    "register_label_space",
    "unregister_label_space",
]

#: Index returned by :meth:`LabelSpace.encode` for text that names no label of the space.
UNPARSEABLE = -1
#: Separator of the emotions inside a MAFW compound label (``anger_disgust``).
COMPOUND_SEPARATOR = "_"

ExportVocabulary = Literal["official", "r1omni"]


class DatasetName(StrEnum):
    """Names accepted by :func:`get_label_space`."""

    DFEW = "dfew"
    MAFW = "mafw"
    MAFW_COMPOUND = "mafw_compound"
    GOEMOTIONS = "goemotions"


# Each emotion concept (keyed by its MAFW noun) and the word forms that name it, the noun first. Both the official
# nouns and the R1-Omni adjectives are here; one table serves every dataset's normaliser.
EMOTION_FORMS: Mapping[str, tuple[str, ...]] = {
    "anger": ("anger", "angry", "angered"),
    "disgust": ("disgust", "disgusted", "disgusting"),
    "fear": ("fear", "fearful", "afraid", "scared"),
    "happiness": ("happiness", "happy"),
    "neutral": ("neutral", "neutrality"),
    "sadness": ("sadness", "sad"),
    "surprise": ("surprise", "surprised"),
    "contempt": ("contempt", "contemptuous"),
    "anxiety": ("anxiety", "anxious"),
    "helplessness": ("helplessness", "helpless"),
    "disappointment": ("disappointment", "disappointed"),
}

#: The R1-Omni answer vocabulary (adjectives), keyed by emotion concept.
R1OMNI_ADJECTIVE: Mapping[str, str] = {
    "anger": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "happiness": "happy",
    "neutral": "neutral",
    "sadness": "sad",
    "surprise": "surprise",
    "contempt": "contemptuous",
    "anxiety": "anxious",
    "helplessness": "helpless",
    "disappointment": "disappointed",
}

GOEMOTIONS_LABELS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity", "desire",
    "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear", "gratitude", "grief", "joy",
    "love", "nervousness", "optimism", "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)  # fmt: skip

#: Emotion concept -> GoEmotions-28 index (the verifier label of a dataset emotion, method.md "Rewards" step 4).
GOEMOTIONS_OF_EMOTION: Mapping[str, int] = {
    "happiness": 17,  # joy
    "anger": 2,
    "disgust": 11,
    "fear": 14,
    "sadness": 25,
    "surprise": 26,
    "neutral": 27,
    "anxiety": 19,  # nervousness
    "helplessness": 16,  # grief
    "disappointment": 9,
    "contempt": 10,  # disapproval
}

#: The 32 multi-emotion MAFW compound classes (emotions in canonical order, joined by ``_``).
MAFW_COMPOUND_COMBINATIONS: tuple[str, ...] = (
    "anger_disgust", "anger_sadness", "anger_surprise", "anger_helplessness", "anger_anxiety",
    "anger_disgust_contempt", "anger_disgust_anxiety", "disgust_contempt", "disgust_anxiety",
    "disgust_helplessness", "disgust_disappointment", "disgust_surprise", "disgust_sadness",
    "disgust_anxiety_helplessness", "disgust_helplessness_disappointment", "fear_surprise", "fear_anxiety",
    "fear_sadness", "fear_surprise_anxiety", "fear_sadness_anxiety", "happiness_contempt", "happiness_surprise",
    "sadness_disappointment", "sadness_helplessness", "sadness_anxiety", "sadness_surprise",
    "sadness_helplessness_disappointment", "sadness_anxiety_helplessness", "surprise_anxiety",
    "anxiety_helplessness", "anxiety_helplessness_disappointment", "helplessness_disappointment",
)  # fmt: skip

_PUNCTUATION = string.punctuation + "“”‘’«»。，！？：；、…"
_WHITESPACE = re.compile(r"\s+")
_COMPOUND_SPLIT = re.compile(r"\s*(?:_|,|\+|/|&|\band\b)\s*")


def _clean(text: str) -> str:
    """Lower-case, collapse white space and strip surrounding punctuation and quotes."""
    return _WHITESPACE.sub(" ", text.lower()).strip().strip(_PUNCTUATION).strip()


@dataclass(frozen=True)
class LabelSpace:
    """An ordered set of labels with official ids, a normaliser and maps to other vocabularies.

    Attributes:
        name: registry name (``dfew``, ``mafw``, ``mafw_compound``, ``goemotions``).
        labels: label names in the official order; the position is the 0-based class index.
        first_id: the official id of ``labels[0]`` (1 for DFEW and MAFW, 0 for GoEmotions).
        concepts: for each label, its emotion concepts (keys of :data:`EMOTION_FORMS`); empty for GoEmotions.
        multi_label: whether a sample carries several labels (the GoEmotions verifier space).
    """

    name: str
    labels: tuple[str, ...]
    first_id: int = 1
    concepts: tuple[tuple[str, ...], ...] = ()
    multi_label: bool = False
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _lookup: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"label space {self.name!r} has duplicate labels")
        if self.concepts and len(self.concepts) != len(self.labels):
            raise ValueError(f"label space {self.name!r}: one concept tuple per label is required")
        object.__setattr__(self, "_index", {label: i for i, label in enumerate(self.labels)})
        object.__setattr__(self, "_lookup", self._build_lookup())

    def _build_lookup(self) -> dict[str, str]:
        """Map every accepted surface form (official label, noun, adjective) to its label."""
        lookup = {label: label for label in self.labels}
        if not self.concepts:
            return lookup
        by_concepts = {concepts: label for label, concepts in zip(self.labels, self.concepts, strict=True)}
        for concepts, label in by_concepts.items():
            if len(concepts) == 1:
                for form in EMOTION_FORMS[concepts[0]]:
                    lookup.setdefault(form, label)
        return lookup

    # -- container protocol -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self) -> Iterator[str]:
        return iter(self.labels)

    def __contains__(self, label: object) -> bool:
        return label in self._index

    @property
    def num_classes(self) -> int:
        """Number of labels."""
        return len(self.labels)

    # -- ids and indices ----------------------------------------------------------------------------------------
    def index(self, label: str) -> int:
        """0-based class index of a canonical label; raises ``KeyError`` naming the space for unknown labels."""
        try:
            return self._index[label]
        except KeyError:
            raise KeyError(
                f"{label!r} is not a label of {self.name} (labels: {', '.join(self.labels)})"
            ) from None

    def official_id(self, label: str) -> int:
        """The dataset's own id of a canonical label (DFEW: happy = 1 … fear = 7; MAFW: anger = 1 …)."""
        return self.index(label) + self.first_id

    def from_official_id(self, official_id: int | str) -> str:
        """The label of a dataset id as written in split files (``"3"`` or ``3``); ``KeyError`` if out of range."""
        i = int(official_id) - self.first_id
        if not 0 <= i < len(self.labels):
            last = self.first_id + len(self) - 1
            raise KeyError(f"id {official_id!r} is outside {self.name}'s ids {self.first_id}..{last}")
        return self.labels[i]

    # -- normalisation ------------------------------------------------------------------------------------------
    def normalize(self, text: str | None, *, strict: bool = False) -> str | None:
        """Map free text onto a canonical label, or ``None`` if it names none (unparseable or outside the space).

        Lenient (default): case, surrounding white space, punctuation and quotes are ignored, and both the official
        nouns and the R1-Omni adjectives are accepted ("Happy." -> DFEW ``happy``, MAFW ``happiness``). Compound
        spaces also accept the emotions in any order joined by ``_``, ``,``, ``+``, ``/``, ``&`` or "and".
        Strict (ervlight's accuracy rule): only lower-casing and stripping before the synonym table. Neither mode
        is the reference code's rule, which maps substrings ("unhappy" -> happiness) and knows fewer synonyms
        ("surprised" stays wrong); that rule is :func:`ervlight.protocol.reference_accuracy`.
        """
        if text is None:
            return None
        key = text.lower().strip() if strict else _clean(text)
        if not key:
            return None
        label = self._lookup.get(key)
        if label is not None or strict or not self.concepts:
            return label
        return self._normalize_compound(key)

    def _normalize_compound(self, key: str) -> str | None:
        """Normalise a multi-emotion answer by normalising each part and ordering them canonically."""
        parts = [p for p in _COMPOUND_SPLIT.split(key) if p]
        if len(parts) < 2:
            return None
        concepts: set[str] = set()
        for part in parts:
            concept = _CONCEPT_OF_FORM.get(_clean(part))
            if concept is None:
                return None
            concepts.add(concept)
        ordered = tuple(c for c in EMOTION_FORMS if c in concepts)
        return self._lookup.get(COMPOUND_SEPARATOR.join(ordered))

    def encode(self, text: str | None, *, strict: bool = False) -> int:
        """Class index of free text after :meth:`normalize`, or :data:`UNPARSEABLE` (``-1``)."""
        label = self.normalize(text, strict=strict)
        return UNPARSEABLE if label is None else self._index[label]

    def decode(self, index: int) -> str | None:
        """Label of a class index; ``None`` for :data:`UNPARSEABLE`."""
        return None if index == UNPARSEABLE else self.labels[index]

    # -- other vocabularies -------------------------------------------------------------------------------------
    def export(self, label: str, vocabulary: ExportVocabulary = "r1omni") -> str:
        """Write a canonical label in another vocabulary: ``official`` (as-is) or ``r1omni`` (adjectives)."""
        concepts = self.concepts[self.index(label)]
        if vocabulary == "official" or not concepts:
            return label
        return COMPOUND_SEPARATOR.join(R1OMNI_ADJECTIVE[c] for c in concepts)

    def goemotions_indices(self, label: str) -> tuple[int, ...]:
        """GoEmotions-28 indices of a label (one per emotion; several for a compound label)."""
        if self is GOEMOTIONS:
            return (self.index(label),)
        return tuple(GOEMOTIONS_OF_EMOTION[c] for c in self.concepts[self.index(label)])

    def goemotions_labels(self, label: str) -> tuple[str, ...]:
        """GoEmotions-28 label names of a label (``"anxiety"`` -> ``("nervousness",)``)."""
        return tuple(GOEMOTIONS_LABELS[i] for i in self.goemotions_indices(label))

    def goemotions_index(self, label: str) -> int:
        """The single GoEmotions-28 index of a single-emotion label (the explanation reward's gold target)."""
        indices = self.goemotions_indices(label)
        if len(indices) != 1:
            raise ValueError(f"{label!r} is a compound label of {self.name}; use goemotions_indices()")
        return indices[0]


_CONCEPT_OF_FORM: dict[str, str] = {
    form: concept for concept, forms in EMOTION_FORMS.items() for form in forms
}

#: DFEW, 7 classes in official order (ids 1..7); labels are the adjectives of the reference normaliser.
DFEW = LabelSpace(
    name=DatasetName.DFEW,
    labels=("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear"),
    concepts=(("happiness",), ("sadness",), ("neutral",), ("anger",), ("surprise",), ("disgust",), ("fear",)),
)

_MAFW_LABELS = (
    "anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise", "contempt", "anxiety",
    "helplessness", "disappointment",
)  # fmt: skip

#: MAFW, 11 classes in official order (ids 1..11); labels are the official nouns.
MAFW = LabelSpace(name=DatasetName.MAFW, labels=_MAFW_LABELS, concepts=tuple((c,) for c in _MAFW_LABELS))

#: MAFW compound, 43 classes: the 11 single labels then the 32 combinations.
MAFW_COMPOUND = LabelSpace(
    name=DatasetName.MAFW_COMPOUND,
    labels=_MAFW_LABELS + MAFW_COMPOUND_COMBINATIONS,
    concepts=tuple((c,) for c in _MAFW_LABELS)
    + tuple(tuple(c.split(COMPOUND_SEPARATOR)) for c in MAFW_COMPOUND_COMBINATIONS),
)

#: GoEmotions, 28 labels (the verifier's default space), 0-based ids, multi-label.
GOEMOTIONS = LabelSpace(name=DatasetName.GOEMOTIONS, labels=GOEMOTIONS_LABELS, first_id=0, multi_label=True)

_REGISTRY: dict[str, LabelSpace] = {space.name: space for space in (DFEW, MAFW, MAFW_COMPOUND, GOEMOTIONS)}


@cache
def get_label_space(name: str | DatasetName) -> LabelSpace:
    """Return the label space registered under ``name`` (case-insensitive); ``ValueError`` lists the valid names."""
    key = str(name).lower().strip()
    if key not in _REGISTRY:
        raise ValueError(f"unknown label space {name!r}; expected one of {', '.join(_REGISTRY)}")
    return _REGISTRY[key]


def register_label_space(space: LabelSpace) -> LabelSpace:
    """Add a dataset's label space (a new dataset's labels); ``ValueError`` if its name is taken."""
    key = str(space.name).lower().strip()
    if key in _REGISTRY:
        raise ValueError(f"label space {key!r} is already registered")
    _REGISTRY[key] = space
    return space


def unregister_label_space(name: str) -> None:
    """Remove a registered label space (a test's toy space); ``KeyError`` if it is not registered."""
    del _REGISTRY[str(name).lower().strip()]
    get_label_space.cache_clear()
