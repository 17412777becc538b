"""The description of one synthetic clip (who, what emotion in which modality, how strongly, when) and its sampler.

A :class:`ClipSpec` holds everything the face renderer, the voice synthesiser and the text generators need, as
plain values (picklable, JSON-able). It is drawn from a generator seeded by ``(seed, dataset, clip id)`` only, so a
clip is the same whatever the worker, order or size of the run that draws it.

Clip kinds (how hard a clip is, as in real data):

* ``clear`` — the label's emotion in both modalities at high intensity;
* ``subtle`` — both modalities at low intensity;
* ``ambiguous`` — the label's emotion blended with a confusable one (sadness with helplessness, fear with
  surprise, …) in both modalities, the label dominant;
* ``conflicting`` — one modality carries the label, the other shows a different emotion.

Even in clear clips one modality is sometimes weak, so neither modality is perfect alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ervlight.demo.profiles import ACTION_UNITS, CONFUSABLE
from ervlight.labels import get_label_space

__all__ = ["KIND_PROBABILITIES", "ClipSpec", "Identity", "concept_of", "sample_clip"]

ClipKind = Literal["clear", "subtle", "ambiguous", "conflicting"]

#: Share of each clip kind.
KIND_PROBABILITIES: dict[str, float] = {"clear": 0.45, "subtle": 0.22, "ambiguous": 0.21, "conflicting": 0.12}

_SKIN = np.array([[247, 214, 190], [229, 184, 150], [198, 144, 108], [160, 110, 76], [110, 72, 50]], float)
_HAIR = np.array(
    [[30, 24, 20], [70, 46, 30], [120, 80, 40], [200, 170, 110], [150, 150, 150], [140, 50, 30]], float
)
_EYES = np.array([[60, 40, 25], [40, 80, 120], [60, 100, 60], [30, 30, 30]], float)


@dataclass(frozen=True)
class Identity:
    """Who is in the clip: face shape, colours, background and voice."""

    face_aspect: float  # face width / height
    jaw: float  # 1 = round chin, lower = narrower chin
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    hair_style: int  # 0 short, 1 long, 2 bald
    eye_color: tuple[int, int, int]
    lips: tuple[int, int, int]
    shirt: tuple[int, int, int]
    background: tuple[tuple[int, int, int], tuple[int, int, int]]
    background_pattern: int  # 0 vertical gradient, 1 horizontal gradient, 2 panels
    brow_width: int  # px at the 224-pixel scale
    voice: Literal["low", "high"]
    f0: float  # Hz
    formant_scale: float
    speech_rate: float  # multiplier of the emotion's syllable rate
    resting: tuple[float, ...]  # per-identity action-unit offsets (a resting face), one per ACTION_UNITS


@dataclass(frozen=True)
class ClipSpec:
    """One clip: label, emotional content per modality, identity, pose, timing and its own random seed."""

    dataset: str
    clip_id: str
    label: str
    concept: str
    kind: ClipKind
    other: str | None  # the confusable / conflicting emotion concept, if any
    carrier: Literal["both", "face", "voice"]  # which modality shows the label
    face: dict[str, float]  # emotion concept -> intensity shown by the face
    voice: dict[str, float]  # emotion concept -> intensity shown by the voice
    num_frames: int
    fps: int
    size: int
    onset_s: float
    ramp_s: float
    pose: tuple[float, ...]  # scale, dx, dy, roll, yaw, pitch, sway amplitude, sway frequency, sway phase
    identity: Identity
    seed: int

    @property
    def duration_s(self) -> float:
        """Clip length in seconds."""
        return self.num_frames / self.fps


def concept_of(dataset: str, label: str) -> str:
    """The emotion concept (MAFW noun) of a single-emotion dataset label."""
    space = get_label_space(dataset)
    return space.concepts[space.index(label)][0]


def _colour(rng: np.random.Generator, palette: np.ndarray, jitter: float) -> tuple[int, int, int]:
    """A palette colour interpolated between two neighbours, with jitter, as an RGB tuple."""
    i = rng.integers(0, len(palette) - 1)
    mixed = palette[i] + rng.random() * (palette[i + 1] - palette[i]) + rng.normal(0, jitter, 3)
    r, g, b = (int(v) for v in np.clip(mixed, 0, 255))
    return r, g, b


def _random_rgb(rng: np.random.Generator, low: int, high: int) -> tuple[int, int, int]:
    """A random RGB colour with channels in [low, high)."""
    r, g, b = (int(v) for v in rng.integers(low, high, 3))
    return r, g, b


def sample_identity(rng: np.random.Generator) -> Identity:
    """Draw a person: face shape, colours, background, voice and resting face."""
    high = bool(rng.random() < 0.5)
    skin = _colour(rng, _SKIN, 6.0)
    resting = np.clip(rng.normal(0.0, 0.06, len(ACTION_UNITS)), -0.12, 0.12)
    return Identity(
        face_aspect=float(rng.uniform(0.70, 0.84)),
        jaw=float(rng.uniform(0.55, 0.95)),
        skin=skin,
        hair=_colour(rng, _HAIR, 10.0),
        hair_style=int(rng.integers(0, 3)),
        eye_color=_colour(rng, _EYES, 8.0),
        lips=_colour(rng, np.array([[200, 110, 110], [170, 80, 80], [130, 70, 60]], float), 8.0),
        shirt=_random_rgb(rng, 20, 230),
        background=(_random_rgb(rng, 40, 220), _random_rgb(rng, 40, 220)),
        background_pattern=int(rng.integers(0, 3)),
        brow_width=int(rng.integers(3, 7)),
        voice="high" if high else "low",
        f0=float(rng.uniform(175, 235) if high else rng.uniform(95, 140)),
        formant_scale=float(rng.uniform(1.08, 1.2) if high else rng.uniform(0.92, 1.04)),
        speech_rate=float(rng.uniform(0.88, 1.12)),
        resting=tuple(float(v) for v in resting),
    )


def _pick_other(rng: np.random.Generator, concept: str, concepts: list[str], confusable: bool) -> str:
    """A second emotion: a confusable one of the dataset when possible, else any other of the dataset."""
    pool = [c for c in CONFUSABLE[concept] if c in concepts] if confusable else []
    if not pool:
        pool = [c for c in concepts if c != concept]
    return str(pool[rng.integers(0, len(pool))])


def _content(
    rng: np.random.Generator, kind: str, concept: str, concepts: list[str]
) -> tuple[str | None, str, dict[str, float], dict[str, float]]:
    """Draw (other emotion, carrier modality, face mixture, voice mixture) for a clip kind."""
    if kind == "conflicting":
        rival = _pick_other(rng, concept, concepts, confusable=False)
        carrier = "face" if rng.random() < 0.5 else "voice"
        shown = {concept: float(rng.uniform(0.6, 1.0))}
        opposite = {rival: float(rng.uniform(0.6, 1.0))}
        return (rival, carrier, shown, opposite) if carrier == "face" else (rival, carrier, opposite, shown)
    low, high = {"clear": (0.65, 1.0), "subtle": (0.25, 0.45), "ambiguous": (0.5, 0.85)}[kind]
    face, voice = (float(rng.uniform(low, high)) for _ in range(2))
    if rng.random() < 0.2:  # one modality nearly silent on the emotion
        if rng.random() < 0.5:
            face *= 0.35
        else:
            voice *= 0.35
    other: str | None = _pick_other(rng, concept, concepts, confusable=True) if kind == "ambiguous" else None
    face_mix, voice_mix = {concept: face}, {concept: voice}
    if other is not None:
        face_mix[other] = face * float(rng.uniform(0.4, 0.75))
        voice_mix[other] = voice * float(rng.uniform(0.4, 0.75))
    return other, "both", face_mix, voice_mix


def _without_neutral(mix: dict[str, float]) -> dict[str, float]:
    """Neutral shows as the absence of expression: its weight is removed and weakens the other emotions."""
    damping = 1.0 - 0.5 * mix.get("neutral", 0.0)
    return {concept: weight * damping for concept, weight in mix.items() if concept != "neutral"}


def sample_clip(
    dataset: str,
    clip_id: str,
    label: str,
    seed: int,
    duration_s: tuple[float, float],
    fps: int = 25,
    size: int = 224,
) -> ClipSpec:
    """Draw the spec of one clip from a generator seeded by ``(seed, dataset, clip id)``."""
    space = get_label_space(dataset)
    concepts = [c[0] for c in space.concepts]
    clip_seed = int(
        np.random.SeedSequence([seed, 0 if dataset == "dfew" else 1, int(clip_id)]).generate_state(1)[0]
    )
    rng = np.random.default_rng(clip_seed)
    concept = concept_of(dataset, label)
    kinds = list(KIND_PROBABILITIES)
    kind: Any = kinds[int(rng.choice(len(kinds), p=list(KIND_PROBABILITIES.values())))]
    other, carrier, face, voice = _content(rng, kind, concept, concepts)
    face, voice = _without_neutral(face), _without_neutral(voice)
    num_frames = round(rng.uniform(*duration_s) * fps)
    pose = (
        rng.uniform(0.95, 1.05), rng.uniform(-6, 6), rng.uniform(-6, 6), rng.uniform(-5, 5),
        rng.uniform(-0.15, 0.15), rng.uniform(-0.04, 0.04), rng.uniform(0.3, 1.0), rng.uniform(0.3, 0.9),
        rng.uniform(0, 2 * np.pi),
    )  # fmt: skip
    return ClipSpec(
        dataset=dataset,
        clip_id=clip_id,
        label=label,
        concept=concept,
        kind=kind,
        other=other,
        carrier=carrier,  # type: ignore[arg-type]
        face=face,
        voice=voice,
        num_frames=num_frames,
        fps=fps,
        size=size,
        onset_s=float(rng.uniform(0.0, 0.35) * num_frames / fps),
        ramp_s=float(rng.uniform(0.2, 0.6)),
        pose=tuple(float(v) for v in pose),
        identity=sample_identity(rng),
        seed=int(rng.integers(0, 2**31 - 1)),
    )
