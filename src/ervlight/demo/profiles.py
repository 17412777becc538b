"""How each emotion shows in the synthetic clips: facial action units, head motion and voice prosody.

The face profiles follow the prototypical action-unit (AU) combinations of the emotion literature (EMFACS-style:
happiness = cheek raiser + lip corner puller, surprise = brow raisers + upper lid raiser + jaw drop, …); the prosody
profiles follow the usual vocal correlates (pitch level and range, speech rate, loudness, voice quality). Emotions
are keyed by their concept names (the keys of :data:`ervlight.labels.EMOTION_FORMS`, i.e. the MAFW nouns); the
dataset labels are mapped onto concepts through :mod:`ervlight.labels`. Confusable emotions (fear/anxiety/surprise,
sadness/helplessness/disappointment, disgust/contempt/anger) deliberately share action units so that neither
modality is perfect alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ervlight.labels import EMOTION_FORMS

__all__ = [
    "ACTION_UNITS",
    "CONFUSABLE",
    "FACE_PROFILES",
    "PROSODY_PROFILES",
    "Prosody",
    "action_unit_vector",
    "blend_prosody",
]

#: The facial action units the renderer draws, in vector order (FACS numbers in the comments).
ACTION_UNITS: tuple[str, ...] = (
    "inner_brow_raise",  # AU1
    "outer_brow_raise",  # AU2
    "brow_lower",  # AU4 (lowered and drawn together)
    "upper_lid_raise",  # AU5 (eyes widened)
    "cheek_raise",  # AU6
    "lid_tighten",  # AU7
    "nose_wrinkle",  # AU9
    "upper_lip_raise",  # AU10
    "lip_corner_pull",  # AU12 (corners up)
    "unilateral_lip_raise",  # AU14 on one side (a one-sided smirk)
    "lip_corner_depress",  # AU15 (corners down)
    "chin_raise",  # AU17
    "lip_stretch",  # AU20
    "lip_press",  # AU24
    "jaw_drop",  # AU26/27
    "lid_droop",  # AU43-like heavy lids
    "head_down",  # AU54
)

# Action-unit intensities in [0, 1] of the full-blown expression of each emotion concept.
FACE_PROFILES: Mapping[str, Mapping[str, float]] = {
    "neutral": {},
    "happiness": {"cheek_raise": 0.8, "lip_corner_pull": 1.0, "jaw_drop": 0.25, "lid_tighten": 0.2},
    "sadness": {
        "inner_brow_raise": 0.9, "brow_lower": 0.4, "lip_corner_depress": 0.8, "chin_raise": 0.4,
        "lid_droop": 0.5, "head_down": 0.5,
    },
    "surprise": {"inner_brow_raise": 0.9, "outer_brow_raise": 1.0, "upper_lid_raise": 0.9, "jaw_drop": 0.9},
    "fear": {
        "inner_brow_raise": 0.9, "outer_brow_raise": 0.5, "brow_lower": 0.5, "upper_lid_raise": 1.0,
        "lip_stretch": 0.9, "jaw_drop": 0.4,
    },
    "anger": {"brow_lower": 1.0, "upper_lid_raise": 0.3, "lid_tighten": 0.8, "lip_press": 0.9, "chin_raise": 0.3},
    "disgust": {
        "nose_wrinkle": 1.0, "upper_lip_raise": 0.9, "brow_lower": 0.4, "lid_tighten": 0.4,
        "lip_corner_depress": 0.3, "chin_raise": 0.3,
    },
    "contempt": {"unilateral_lip_raise": 1.0, "lid_tighten": 0.3, "head_down": -0.3},
    "anxiety": {
        "inner_brow_raise": 0.6, "brow_lower": 0.5, "lip_press": 0.5, "lip_stretch": 0.4, "upper_lid_raise": 0.3,
    },
    "helplessness": {
        "inner_brow_raise": 0.8, "outer_brow_raise": 0.3, "lip_corner_depress": 0.5, "jaw_drop": 0.2,
        "lid_droop": 0.6, "head_down": 0.3,
    },
    "disappointment": {
        "lip_corner_depress": 0.6, "chin_raise": 0.7, "lip_press": 0.4, "brow_lower": 0.3, "lid_droop": 0.4,
        "head_down": 0.4,
    },
}  # fmt: skip

#: Pairs of emotions easily mistaken for each other; ambiguous clips blend an emotion with one of these.
CONFUSABLE: Mapping[str, tuple[str, ...]] = {
    "neutral": ("sadness", "contempt", "anxiety"),
    "happiness": ("surprise", "neutral"),
    "sadness": ("helplessness", "disappointment", "fear"),
    "surprise": ("fear", "happiness"),
    "fear": ("surprise", "anxiety"),
    "anger": ("disgust", "contempt"),
    "disgust": ("anger", "contempt"),
    "contempt": ("disgust", "neutral", "happiness"),
    "anxiety": ("fear", "sadness"),
    "helplessness": ("sadness", "disappointment"),
    "disappointment": ("sadness", "helplessness", "contempt"),
}


@dataclass(frozen=True)
class Prosody:
    """Vocal correlates of an emotion, relative to the speaker's own neutral voice.

    Attributes:
        pitch_shift: mean pitch change in semitones.
        pitch_range: multiplier of the pitch excursions (intonation width).
        rate: syllables per second.
        loudness_db: level change in dB.
        breathiness: share of aspiration noise in [0, 1].
        tension: voice brightness in [0, 1] (less spectral roll-off = tenser, harsher voice).
        tremor: slow pitch and level wobble in [0, 1].
        final_slope: pitch movement over each phrase in semitones (negative falls, positive rises).
        motion: head-motion energy multiplier (shown by the face renderer).
        blink_rate: blinks per second (shown by the face renderer).
    """

    pitch_shift: float
    pitch_range: float
    rate: float
    loudness_db: float
    breathiness: float
    tension: float
    tremor: float
    final_slope: float
    motion: float
    blink_rate: float


PROSODY_PROFILES: Mapping[str, Prosody] = {
    "neutral": Prosody(0.0, 1.0, 4.4, 0.0, 0.20, 0.50, 0.0, -2.0, 1.0, 0.25),
    "happiness": Prosody(3.0, 1.7, 5.0, 3.0, 0.15, 0.70, 0.0, 1.0, 1.3, 0.25),
    "sadness": Prosody(-2.5, 0.55, 3.1, -5.0, 0.50, 0.25, 0.25, -3.0, 0.5, 0.15),
    "surprise": Prosody(5.0, 1.9, 4.6, 3.0, 0.30, 0.60, 0.0, 5.0, 1.4, 0.1),
    "fear": Prosody(5.0, 1.2, 6.0, -1.0, 0.45, 0.60, 0.7, 2.0, 1.5, 0.5),
    "anger": Prosody(2.0, 1.3, 5.6, 6.0, 0.10, 0.95, 0.0, -4.0, 1.6, 0.2),
    "disgust": Prosody(-1.5, 0.9, 3.6, 0.0, 0.35, 0.65, 0.1, -3.0, 1.0, 0.2),
    "contempt": Prosody(-1.5, 0.8, 4.0, -1.0, 0.25, 0.55, 0.0, -2.5, 0.7, 0.15),
    "anxiety": Prosody(3.0, 0.9, 5.8, -2.0, 0.40, 0.55, 0.45, 1.0, 1.6, 0.6),
    "helplessness": Prosody(-1.0, 0.7, 3.0, -4.0, 0.60, 0.30, 0.2, -2.0, 0.6, 0.2),
    "disappointment": Prosody(-1.5, 0.7, 3.4, -3.0, 0.45, 0.35, 0.1, -3.5, 0.6, 0.2),
}

if set(FACE_PROFILES) != set(EMOTION_FORMS) or set(PROSODY_PROFILES) != set(EMOTION_FORMS):
    raise RuntimeError(
        "demo profiles must cover exactly the emotion concepts of ervlight.labels.EMOTION_FORMS"
    )


def action_unit_vector(weights: Mapping[str, float]) -> np.ndarray:
    """Blend face profiles: ``{concept: weight}`` -> AU intensities ``[len(ACTION_UNITS)]`` (weighted sum)."""
    vector = np.zeros(len(ACTION_UNITS))
    for concept, weight in weights.items():
        for unit, value in FACE_PROFILES[concept].items():
            vector[ACTION_UNITS.index(unit)] += weight * value
    return vector


def blend_prosody(weights: Mapping[str, float]) -> Prosody:
    """Blend prosody profiles: a weighted mix of each emotion's deviation from the neutral voice."""
    neutral = PROSODY_PROFILES["neutral"]
    fields = Prosody.__dataclass_fields__
    mixed = {name: getattr(neutral, name) for name in fields}
    for concept, weight in weights.items():
        profile = PROSODY_PROFILES[concept]
        for name in fields:
            mixed[name] += weight * (getattr(profile, name) - getattr(neutral, name))
    return Prosody(**mixed)
