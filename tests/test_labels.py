"""The label system: official orders and ids, every accepted word, compound labels, exports, GoEmotions map."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ervlight.labels import (
    DFEW,
    GOEMOTIONS,
    MAFW,
    MAFW_COMPOUND,
    MAFW_COMPOUND_COMBINATIONS,
    UNPARSEABLE,
    get_label_space,
)


def test_official_orders_and_ids() -> None:
    assert [(DFEW.official_id(label), label) for label in DFEW] == [
        (1, "happy"), (2, "sad"), (3, "neutral"), (4, "angry"), (5, "surprise"), (6, "disgust"), (7, "fear"),
    ]  # fmt: skip
    assert [(MAFW.official_id(label), label) for label in MAFW] == [
        (1, "anger"), (2, "disgust"), (3, "fear"), (4, "happiness"), (5, "neutral"), (6, "sadness"),
        (7, "surprise"), (8, "contempt"), (9, "anxiety"), (10, "helplessness"), (11, "disappointment"),
    ]  # fmt: skip
    assert GOEMOTIONS.labels[0] == "admiration"
    assert GOEMOTIONS.labels[27] == "neutral"
    assert len(GOEMOTIONS) == 28
    assert GOEMOTIONS.official_id("joy") == 17
    assert GOEMOTIONS.multi_label
    assert not DFEW.multi_label


def test_from_official_id_accepts_padded_strings_and_rejects_out_of_range() -> None:
    assert DFEW.from_official_id("07") == "fear"
    assert MAFW.from_official_id(11) == "disappointment"
    with pytest.raises(KeyError, match=r"id 0 is outside dfew's ids 1\.\.7"):
        DFEW.from_official_id(0)
    with pytest.raises(KeyError, match=r"'joy' is not a label of mafw"):
        MAFW.index("joy")


# Every word each dataset accepts, with the label it maps to (lenient normaliser).
DFEW_WORDS = {
    "happy": "happy", "happiness": "happy",
    "sad": "sad", "sadness": "sad",
    "neutral": "neutral", "neutrality": "neutral",
    "angry": "angry", "anger": "angry", "angered": "angry",
    "surprise": "surprise", "surprised": "surprise",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
}  # fmt: skip
MAFW_WORDS = {
    "anger": "anger", "angry": "anger", "angered": "anger",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happiness": "happiness", "happy": "happiness",
    "neutral": "neutral", "neutrality": "neutral",
    "sadness": "sadness", "sad": "sadness",
    "surprise": "surprise", "surprised": "surprise",
    "contempt": "contempt", "contemptuous": "contempt",
    "anxiety": "anxiety", "anxious": "anxiety",
    "helplessness": "helplessness", "helpless": "helplessness",
    "disappointment": "disappointment", "disappointed": "disappointment",
}  # fmt: skip


@pytest.mark.parametrize(("space", "table"), [(DFEW, DFEW_WORDS), (MAFW, MAFW_WORDS)])
def test_every_accepted_word(space, table) -> None:  # type: ignore[no-untyped-def]
    for word, label in table.items():
        assert space.normalize(word) == label, word
        assert space.normalize(f"  {word.upper()}. ") == label, word
        assert space.normalize(f'"{word.title()}!"') == label, word


def test_reference_normaliser_tables_hold_in_strict_mode() -> None:
    # method.md: DFEW sadness->sad, happiness->happy, anger->angry; MAFW the seven adjectives.
    assert {w: DFEW.normalize(w, strict=True) for w in ("sadness", "happiness", "anger")} == {
        "sadness": "sad", "happiness": "happy", "anger": "angry",
    }  # fmt: skip
    adjectives = ("angry", "sad", "anxious", "helpless", "disappointed", "happy", "contemptuous")
    assert [MAFW.normalize(w, strict=True) for w in adjectives] == [
        "anger", "sadness", "anxiety", "helplessness", "disappointment", "happiness", "contempt",
    ]  # fmt: skip
    assert MAFW.normalize(" Angry ", strict=True) == "anger"
    assert MAFW.normalize("angry.", strict=True) is None  # the reference does not strip punctuation
    assert MAFW.normalize("angry.") == "anger"


@pytest.mark.parametrize(
    ("space", "text"),
    [
        (DFEW, "contempt"),  # a MAFW-only emotion is outside DFEW
        (DFEW, "anxious"),
        (MAFW, "joy"),
        (MAFW, ""),
        (MAFW, "   "),
        (MAFW, "...!?"),
        (MAFW, "the person looks happy"),  # a sentence is not an answer
        (MAFW, "happy sad"),
        (MAFW, None),
        (MAFW, "anger_disgust"),  # a compound label is outside the single-label space
    ],
)
def test_unparseable_answers_are_none_and_minus_one(space, text) -> None:  # type: ignore[no-untyped-def]
    assert space.normalize(text) is None
    assert space.encode(text) == UNPARSEABLE
    assert space.decode(UNPARSEABLE) is None


def test_encode_decode_roundtrip() -> None:
    assert [DFEW.encode(w) for w in ("Happy", "SADNESS", "fear")] == [0, 1, 6]
    assert [MAFW.decode(i) for i in range(3)] == ["anger", "disgust", "fear"]


def test_export_vocabularies() -> None:
    assert [MAFW.export(label) for label in MAFW] == [
        "angry", "disgust", "fear", "happy", "neutral", "sad", "surprise", "contemptuous", "anxious", "helpless",
        "disappointed",
    ]  # fmt: skip
    assert [DFEW.export(label) for label in DFEW] == list(DFEW.labels)
    assert MAFW.export("anxiety", "official") == "anxiety"
    assert MAFW_COMPOUND.export("sadness_helplessness") == "sad_helpless"
    # Every exported word reads back as the same label.
    for space in (DFEW, MAFW, MAFW_COMPOUND):
        for label in space:
            assert space.normalize(space.export(label)) == label


def test_goemotions_map() -> None:
    expected = {
        "happiness": "joy", "anger": "anger", "disgust": "disgust", "fear": "fear", "sadness": "sadness",
        "surprise": "surprise", "neutral": "neutral", "anxiety": "nervousness", "helplessness": "grief",
        "disappointment": "disappointment", "contempt": "disapproval",
    }  # fmt: skip
    assert {label: GOEMOTIONS.labels[MAFW.goemotions_index(label)] for label in MAFW} == expected
    assert [DFEW.goemotions_index(label) for label in DFEW] == [17, 25, 27, 2, 26, 11, 14]
    assert MAFW_COMPOUND.goemotions_indices("fear_surprise_anxiety") == (14, 26, 19)
    with pytest.raises(ValueError, match="compound label"):
        MAFW_COMPOUND.goemotions_index("anger_disgust")
    assert GOEMOTIONS.goemotions_index("grief") == 16


def test_compound_space() -> None:
    assert len(MAFW_COMPOUND) == 43
    assert MAFW_COMPOUND.labels[:11] == MAFW.labels
    assert len(MAFW_COMPOUND_COMBINATIONS) == 32
    order = list(MAFW.labels)
    for combo in MAFW_COMPOUND_COMBINATIONS:
        parts = combo.split("_")
        assert len(parts) >= 2
        assert parts == sorted(parts, key=order.index), combo
    assert MAFW_COMPOUND.normalize("anger_disgust") == "anger_disgust"
    assert MAFW_COMPOUND.normalize("Disgusted and angry") == "anger_disgust"
    assert MAFW_COMPOUND.normalize("anxious, surprised, fearful") == "fear_surprise_anxiety"
    assert MAFW_COMPOUND.normalize("sad_helpless") == "sadness_helplessness"
    assert MAFW_COMPOUND.normalize("happy") == "happiness"
    assert MAFW_COMPOUND.normalize("anger_happiness") is None  # not one of the 32 combinations
    assert MAFW_COMPOUND.normalize("anger_joy") is None


def test_registry() -> None:
    assert get_label_space("DFEW") is DFEW
    assert get_label_space("mafw_compound") is MAFW_COMPOUND
    with pytest.raises(ValueError, match="unknown label space 'afew'; expected one of dfew, mafw"):
        get_label_space("afew")


@given(st.text(max_size=40))
def test_normalize_never_raises_and_lands_in_the_space(text: str) -> None:
    for space in (DFEW, MAFW, MAFW_COMPOUND, GOEMOTIONS):
        label = space.normalize(text)
        assert label is None or label in space


def test_goemotions_labels_name_the_map() -> None:
    assert MAFW.goemotions_labels("helplessness") == ("grief",)
    assert DFEW.goemotions_labels("happy") == ("joy",)
    assert MAFW_COMPOUND.goemotions_labels("anger_disgust_contempt") == ("anger", "disgust", "disapproval")
