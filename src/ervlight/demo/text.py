"""Texts about one clip: MAFW-style captions (English and Chinese) and EMER-style reasoning paragraphs.

Both describe the cues the clip really shows: the face's action units above a visibility threshold (from the face
mixture of its :class:`~ervlight.demo.spec.ClipSpec`) and the voice's prosody relative to a neutral voice.
Captions avoid emotion words, as the real MAFW captions do. Rationales describe the cues, interpret them, may
contain a sentence that points to a different emotion (the incoherence the ERV method fixes), and end with the
emotion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ervlight.demo.phrases import (
    CONCLUSION_TEMPLATES,
    CUE_PHRASES,
    EMOTION_TEMPLATES,
    EMOTION_WORDS,
    INCOHERENT_TEMPLATES,
    VOICE_PHRASES,
)
from ervlight.demo.profiles import ACTION_UNITS, CONFUSABLE, action_unit_vector, blend_prosody
from ervlight.demo.spec import ClipSpec
from ervlight.labels import get_label_space

__all__ = ["OPENERS", "Person", "Rationale", "caption", "fill", "rationale", "visual_cues", "voice_cues"]

#: An action unit is described when its intensity at the expression's apex reaches this value.
VISIBLE = 0.22
_SUBTLE = 0.45


@dataclass(frozen=True)
class Person:
    """How a sentence refers to the person: subject ("the woman", "she"), possessive and object forms."""

    subject: str
    possessive: str
    object: str

    @staticmethod
    def draw(rng: np.random.Generator, voice: str | None = None) -> Person:
        """A random way of referring to a person (by the identity's voice when given, else any)."""
        forms = {
            "high": [("the woman", "her", "her"), ("she", "her", "her")],
            "low": [("the man", "his", "him"), ("he", "his", "him")],
            "any": [("the person", "their", "them"), ("the speaker", "their", "them")],
        }
        pool = forms["any"] + (forms[voice] if voice else forms["high"] + forms["low"])
        return Person(*pool[int(rng.integers(0, len(pool)))])


def _capitalise(text: str) -> str:
    """Upper-case the first character."""
    return text[:1].upper() + text[1:]


def fill(template: str, person: Person, modifier: str = "", **words: str) -> str:
    """Fill a template's person placeholders ({s}, {S}, {p}, {P}, {o}), modifier ({m}) and words."""
    text = template.format(
        s=person.subject, S=_capitalise(person.subject), p=person.possessive, P=_capitalise(person.possessive),
        o=person.object, m=modifier, **words,
    )  # fmt: skip
    return text


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    """One option, uniformly."""
    return options[int(rng.integers(0, len(options)))]


def visual_cues(spec: ClipSpec, limit: int = 4) -> list[tuple[str, float]]:
    """The visible action units of the clip at the expression's apex, strongest first: ``[(unit, intensity)]``."""
    apex = action_unit_vector(spec.face)
    order = np.argsort(-apex, kind="stable")
    return [(ACTION_UNITS[i], float(apex[i])) for i in order[:limit] if apex[i] >= VISIBLE]


def voice_cues(spec: ClipSpec, limit: int = 3) -> list[str]:
    """The voice's notable prosody features (keys of :data:`VOICE_PHRASES`), most marked first."""
    p = blend_prosody(spec.voice)
    scored = [
        ("pitch_high", (p.pitch_shift - 1.2) / 3), ("pitch_low", (-p.pitch_shift - 1.0) / 2),
        ("range_wide", (p.pitch_range - 1.3) / 0.5), ("range_flat", (0.8 - p.pitch_range) / 0.3),
        ("rate_fast", (p.rate - 5.1) / 1.0), ("rate_slow", (3.8 - p.rate) / 1.0),
        ("loud", (p.loudness_db - 2.0) / 4), ("soft", (-p.loudness_db - 2.0) / 3),
        ("breathy", (p.breathiness - 0.38) / 0.2), ("tense", (p.tension - 0.75) / 0.2),
        ("tremor", (p.tremor - 0.25) / 0.4), ("rising", (p.final_slope - 1.5) / 3),
        ("falling", (-p.final_slope - 2.8) / 1),
    ]  # fmt: skip
    marked = sorted((item for item in scored if item[1] > 0), key=lambda item: -item[1])
    return [key for key, _ in marked[:limit]]


def _modifier(rng: np.random.Generator, intensity: float) -> str:
    """An intensity adverb for a cue clause."""
    if intensity < _SUBTLE:
        return _pick(rng, ("slightly ", "subtly "))
    return _pick(rng, ("", "", "clearly ", "visibly ")) if intensity < 0.8 else _pick(rng, ("", "strongly "))


def _join(clauses: list[str]) -> str:
    """Join clauses as "a, b and c"."""
    return clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + " and " + clauses[-1]


def caption(spec: ClipSpec) -> tuple[str, str]:
    """MAFW-style caption of the visible cues, without emotion words: ``(english, chinese)``."""
    rng = np.random.default_rng([spec.seed, 4])
    person = Person("she", "her", "her") if spec.identity.voice == "high" else Person("he", "his", "him")
    hair = ("short hair", "long hair", "a shaved head")[spec.identity.hair_style]
    hair_zh = ("短发", "长发", "光头")[spec.identity.hair_style]
    who = "A woman" if spec.identity.voice == "high" else "A man"
    who_zh = "一位女士" if spec.identity.voice == "high" else "一位男士"
    english = [f"{who} with {hair} speaks to someone off camera."]
    chinese = [f"{who_zh}（{hair_zh}）对着镜头外的人说话。"]
    cues = visual_cues(spec)
    if cues:
        clauses = [fill(_pick(rng, CUE_PHRASES[u][0].train), person, _modifier(rng, v)) for u, v in cues]
        english.append(_capitalise(_join(clauses)) + ".")
        chinese.append("，".join(CUE_PHRASES[u][1][int(v < _SUBTLE)] for u, v in cues) + "。")
    else:
        english.append(fill("{P} face stays still and relaxed.", person))
        chinese.append("面部表情平静，没有明显变化。")
    return " ".join(english), "".join(chinese)


#: How a rationale's first (visual) sentence begins.
OPENERS: tuple[str, ...] = ("In the video, ", "In the clip, ", "On screen, ", "Watching the clip, ")


@dataclass(frozen=True)
class Rationale:
    """A reasoning paragraph and, when it has one, the other emotion its incoherent sentence points to."""

    text: str
    incoherent_with: str | None


def _incoherent_concept(rng: np.random.Generator, spec: ClipSpec) -> str:
    """The other emotion an incoherent sentence points to: the clip's second emotion, else a confusable one."""
    concepts = [c[0] for c in get_label_space(spec.dataset).concepts]
    if spec.other is not None and spec.other != spec.concept:
        return spec.other
    pool = [c for c in CONFUSABLE[spec.concept] if c in concepts and c != spec.concept]
    return _pick(rng, tuple(pool))


def rationale(spec: ClipSpec, incoherent: bool, rng: np.random.Generator) -> Rationale:
    """An EMER-style paragraph: visual cues, vocal cues, interpretation, optional incoherent sentence, conclusion."""
    first = Person.draw(rng, spec.identity.voice)  # the first mention; pronouns afterwards
    person = Person("she", "her", "her") if spec.identity.voice == "high" else Person("he", "his", "him")
    opener = _pick(rng, OPENERS)
    sentences: list[str] = []
    cues = visual_cues(spec, limit=3)
    if cues:
        clauses = [fill(_pick(rng, CUE_PHRASES[u][0].train), first, _modifier(rng, v)) for u, v in cues]
        sentences.append(opener + _join(clauses) + ".")
    else:
        still = "{p} face stays relaxed, with no marked movement of the brows or mouth."
        sentences.append(opener + fill(still, first))
    voice = [fill(_pick(rng, VOICE_PHRASES[key].train), person) for key in voice_cues(spec)]
    sentences.append(
        _capitalise(_join(voice)) + "." if voice else fill("{P} voice is steady and even.", person)
    )
    if spec.carrier != "both":
        weaker = "vocal" if spec.carrier == "face" else "facial"
        stronger = "facial expression" if spec.carrier == "face" else "voice"
        sentences.append(f"The {weaker} cues do not fit well, so the {stronger} is the more telling signal.")
    words = EMOTION_WORDS[spec.concept]
    template = _pick(rng, EMOTION_TEMPLATES.train)
    sentences.append(
        fill(template, person, "", a=_pick(rng, words.adjectives.train), n=_pick(rng, words.nouns.train))
    )
    other = None
    if incoherent:
        other = _incoherent_concept(rng, spec)
        odd = EMOTION_WORDS[other]
        sentence = fill(_pick(rng, INCOHERENT_TEMPLATES.train), person, a=_pick(rng, odd.adjectives.train),
                        n=_pick(rng, odd.nouns.train))  # fmt: skip
        sentences.insert(int(rng.integers(1, len(sentences) + 1)), _capitalise(sentence))
    final = words.adjectives.train[0]
    sentences.append(fill(_pick(rng, CONCLUSION_TEMPLATES.train), person, a=final))
    return Rationale(text=" ".join(_capitalise(s) for s in sentences), incoherent_with=other)
