"""The one dataset-emotion -> verifier-label rule shared by the explanation reward and the judge."""

from ervlight.labels import DFEW, GOEMOTIONS, MAFW, MAFW_COMPOUND
from ervlight.verifier.targets import verifier_labels_of

GO = set(GOEMOTIONS.labels)


def test_goemotions_verifier_uses_the_label_map() -> None:
    assert verifier_labels_of(MAFW, "anxiety", GO) == ("nervousness",)
    assert verifier_labels_of(DFEW, "angry", GO) == ("anger",)
    assert verifier_labels_of(MAFW_COMPOUND, "fear_surprise", GO) == ("fear", "surprise")


def test_own_label_space_and_overrides() -> None:
    assert verifier_labels_of(DFEW, "sad", set(DFEW.labels)) == ("sad",)
    assert verifier_labels_of(MAFW, "contempt", GO, {"contempt": "annoyance"}) == ("annoyance",)
    assert verifier_labels_of(
        MAFW_COMPOUND, "anger_disgust", GO, {"anger": "annoyance", "disgust": "disgust"}
    ) == (
        "annoyance",
        "disgust",
    )


def test_uncovered_labels_are_none() -> None:
    assert verifier_labels_of(MAFW, "anxiety", {"joy", "neutral"}) is None
    assert verifier_labels_of(MAFW, "anger", GO, {"anger": "rage"}) is None
