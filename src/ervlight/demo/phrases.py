"""Phrase banks for the generated texts: cue descriptions (English and Chinese), emotion wording and templates.

These banks only WRITE text; no code reads labels through them (labels come from :mod:`ervlight.labels`). Every
bank is split in two: the ``train`` phrasings (used by captions, rationales and the verifier corpus's train/val
splits) and the ``held_out`` phrasings that only the verifier corpus's test split uses, so that verifier accuracy
on that split measures generalisation to unseen wording. Placeholders: ``{s}`` subject ("the woman"), ``{p}``
possessive ("her"), ``{m}`` an intensity modifier ("slightly ").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "CONCLUSION_TEMPLATES",
    "CUE_PHRASES",
    "DESCRIPTIVE_TEMPLATES",
    "EMOTION_TEMPLATES",
    "EMOTION_WORDS",
    "INCOHERENT_TEMPLATES",
    "MIXED_TEMPLATES",
    "VOICE_PHRASES",
    "Bank",
    "EmotionWords",
]


@dataclass(frozen=True)
class Bank:
    """Phrasings of one thing, split into training phrasings and held-out (verifier test only) phrasings."""

    train: tuple[str, ...]
    held_out: tuple[str, ...]


@dataclass(frozen=True)
class EmotionWords:
    """Wording of one emotion concept: adjectives ("furious") and nouns ("fury"), each a :class:`Bank`."""

    adjectives: Bank
    nouns: Bank


def _words(adjectives: str, held_adjectives: str, nouns: str, held_nouns: str) -> EmotionWords:
    """Build :class:`EmotionWords` from comma-separated lists."""

    def split(text: str) -> tuple[str, ...]:
        return tuple(w.strip() for w in text.split(",") if w.strip())

    return EmotionWords(
        Bank(split(adjectives), split(held_adjectives)), Bank(split(nouns), split(held_nouns))
    )


#: Emotion wording per concept (keys of ``ervlight.labels.EMOTION_FORMS``).
EMOTION_WORDS: Mapping[str, EmotionWords] = {
    "anger": _words("angry, irritated, furious, annoyed, hostile, enraged", "livid, incensed",
                    "anger, irritation, rage, hostility", "fury, indignation"),
    "disgust": _words("disgusted, repulsed, revolted, sickened", "grossed out, nauseated",
                      "disgust, revulsion, distaste", "aversion, repugnance"),
    "fear": _words("afraid, scared, frightened, terrified, fearful", "petrified, alarmed",
                   "fear, fright, terror", "dread, panic"),
    "happiness": _words("happy, joyful, cheerful, delighted, glad, pleased", "elated, overjoyed",
                        "happiness, joy, delight", "glee, cheerfulness"),
    "neutral": _words("calm, composed, neutral, unemotional", "impassive, even-keeled",
                      "calm, composure, neutrality", "emotional detachment, equanimity"),
    "sadness": _words("sad, unhappy, sorrowful, downcast, gloomy", "heartbroken, melancholic",
                      "sadness, sorrow, gloom", "melancholy, unhappiness"),
    "surprise": _words("surprised, astonished, amazed, startled", "stunned, taken aback",
                       "surprise, astonishment, amazement", "shock, disbelief"),
    "contempt": _words("contemptuous, scornful, disdainful, dismissive", "condescending, sneering",
                       "contempt, scorn, disdain", "derision, superiority"),
    "anxiety": _words("anxious, nervous, worried, uneasy, apprehensive", "jittery, on edge",
                      "anxiety, nervousness, worry", "unease, apprehension"),
    "helplessness": _words("helpless, powerless, resigned, defeated", "hopeless, at a loss",
                           "helplessness, powerlessness, resignation", "despair, hopelessness"),
    "disappointment": _words("disappointed, let down, disheartened, dissatisfied", "crestfallen, disillusioned",
                             "disappointment, dissatisfaction", "disillusionment, discouragement"),
}  # fmt: skip

#: Sentences naming one emotion ({a} adjective, {n} noun).
EMOTION_TEMPLATES = Bank(
    train=(
        "{S} seems {a}.", "{S} appears {m}{a}.", "These cues suggest that {s} is {a}.", "{S} looks {m}{a}.",
        "The overall impression is one of {n}.", "There is a clear sense of {n} in {p} demeanour.",
        "{P} voice sounds {a}.", "Taken together, this points to {n}.", "It feels like {s} is {a}.",
        "The face conveys {n}.", "This behaviour reflects {n}.", "{S} is clearly {a}.",
    ),
    held_out=(
        "Everything about {p} manner reads as {a}.", "One senses {n} behind {p} words.",
        "{S} comes across as {a}.", "I would describe {p} state as {a}.", "{P} expression betrays {n}.",
        "Anyone watching would call {o} {a}.",
    ),
)  # fmt: skip

#: The closing sentence of a rationale ({a} the label's plain adjective).
CONCLUSION_TEMPLATES = Bank(
    train=(
        "Overall, {s} is most likely {a}.",
        "Therefore, the emotion is best read as {a}.",
        "So {s} is feeling {a}.",
    ),
    held_out=("All in all, {s} feels {a}.",),
)

#: Sentences naming two emotions ({a1}, {a2}, {n1}, {n2}).
MIXED_TEMPLATES = Bank(
    train=("{S} seems both {a1} and {a2}.", "There is a mix of {n1} and {n2} in {p} face.",
           "{S} looks {a1}, and also somewhat {a2}."),
    held_out=("A blend of {n1} and {n2} colours {p} reaction.", "{S} comes across as {a1} yet {a2}."),
)  # fmt: skip

#: Sentences of a rationale that point to a different emotion than the answer ({a}, {n} of that other emotion).
INCOHERENT_TEMPLATES = Bank(
    train=("At times {s} even seems {a}.", "There is also a hint of {n} in {p} eyes.",
           "{P} tone carries some {n} as well.", "One could also read {n} in this reaction."),
    held_out=("Part of {p} reaction looks {a}, too.",),
)  # fmt: skip

#: Visible action-unit cues: clause phrasings (English, {s}/{p}/{m}) and Chinese captions (normal, subtle).
CUE_PHRASES: Mapping[str, tuple[Bank, tuple[str, str]]] = {
    "inner_brow_raise": (Bank(("the inner corners of {p} brows are {m}raised",
                                "{s} {m}lifts the inner ends of {p} brows"),
                              ("the middle of {p} forehead {m}creases upward",)), ("眉头内侧上扬", "眉头内侧微微上扬")),
    "outer_brow_raise": (Bank(("{p} brows are {m}arched high", "{s} {m}raises {p} eyebrows"),
                              ("{p} eyebrows {m}shoot upward",)), ("眉毛高高挑起", "眉毛微微挑起")),
    "brow_lower": (Bank(("{p} brows are {m}lowered and drawn together", "{s} {m}furrows {p} brow"),
                        ("a {m}deep crease forms between {p} brows",)), ("眉头紧锁下压", "眉头微微皱起")),
    "upper_lid_raise": (Bank(("{p} eyes are {m}opened wide", "{s} {m}widens {p} eyes"),
                             ("the whites above {p} irises {m}show",)), ("双眼睁大", "眼睛微微睁大")),
    "cheek_raise": (Bank(("{p} cheeks are {m}raised", "{s} {m}lifts {p} cheeks"),
                         ("{p} cheeks {m}push up toward the eyes",)), ("脸颊上提", "脸颊微微上提")),
    "lid_tighten": (Bank(("{p} eyelids are {m}tightened", "{s} {m}narrows {p} eyes"),
                         ("{p} lids {m}tense into a squint",)), ("眼睑收紧，眯起眼睛", "眼睛微微眯起")),
    "nose_wrinkle": (Bank(("{p} nose is {m}wrinkled", "{s} {m}wrinkles {p} nose"),
                          ("lines {m}bunch up across the bridge of {p} nose",)), ("鼻子皱起", "鼻子微微皱起")),
    "upper_lip_raise": (Bank(("{p} upper lip is {m}raised", "{s} {m}curls {p} upper lip up"),
                             ("{p} upper lip {m}lifts toward the nose",)), ("上唇上提", "上唇微微上提")),
    "lip_corner_pull": (Bank(("the corners of {p} mouth are {m}pulled up", "{s} {m}turns up the corners of {p} mouth"),
                             ("{p} lips {m}curve upward at the ends",)), ("嘴角上扬", "嘴角微微上扬")),
    "unilateral_lip_raise": (Bank(("one corner of {p} mouth is {m}pulled up", "{s} {m}raises one side of {p} mouth"),
                                  ("a {m}lopsided pull tugs at one side of {p} lips",)),
                             ("一侧嘴角上扬", "一侧嘴角微微上扬")),
    "lip_corner_depress": (Bank(("the corners of {p} mouth are {m}pulled down",
                                  "{s} {m}turns down the corners of {p} mouth"),
                                ("{p} lips {m}sag at the ends",)), ("嘴角下垂", "嘴角微微下垂")),
    "chin_raise": (Bank(("{p} chin is {m}pushed up", "{s} {m}pushes up {p} lower lip"),
                        ("the skin of {p} chin {m}puckers",)), ("下巴上抬，下唇上推", "下巴微微上抬")),
    "lip_stretch": (Bank(("{p} lips are {m}stretched sideways", "{s} {m}pulls {p} lips back toward the ears"),
                         ("{p} mouth {m}widens horizontally",)), ("嘴唇向两侧拉伸", "嘴唇微微向两侧拉伸")),
    "lip_press": (Bank(("{p} lips are {m}pressed together", "{s} {m}presses {p} lips tight"),
                       ("{p} mouth {m}closes into a thin line",)), ("双唇紧闭", "双唇微微抿紧")),
    "jaw_drop": (Bank(("{p} mouth {m}falls open", "{s} {m}drops {p} jaw"),
                      ("{p} jaw {m}hangs loose",)), ("嘴巴张开", "嘴巴微微张开")),
    "lid_droop": (Bank(("{p} eyelids {m}droop", "{s} {m}lets {p} eyelids sag"),
                       ("{p} lids {m}hang heavy over the eyes",)), ("眼皮下垂", "眼皮微微下垂")),
    "head_down": (Bank(("{s} {m}lowers {p} head", "{p} head is {m}bowed"),
                       ("{p} gaze {m}sinks toward the floor",)), ("低着头", "微微低头")),
}  # fmt: skip

#: Vocal cues (English only; the audio has no words): each key is a prosody feature direction.
VOICE_PHRASES: Mapping[str, Bank] = {
    "pitch_high": Bank(("{p} voice is high-pitched", "{s} speaks in a raised pitch"), ("{p} voice sits high",)),
    "pitch_low": Bank(("{p} voice is low-pitched", "{s} speaks in a deep, lowered voice"), ("{p} voice sits low",)),
    "range_wide": Bank(("{p} intonation swings widely", "{p} pitch rises and falls a lot"),
                       ("{p} melody is very animated",)),
    "range_flat": Bank(("{p} intonation is flat", "{s} speaks in a monotone"), ("{p} melody barely moves",)),
    "rate_fast": Bank(("{s} speaks quickly", "{p} syllables come fast"), ("{p} words tumble out rapidly",)),
    "rate_slow": Bank(("{s} speaks slowly", "{p} syllables are drawn out"), ("{p} delivery is unhurried",)),
    "loud": Bank(("{p} voice is loud", "{s} speaks forcefully"), ("{p} volume is raised",)),
    "soft": Bank(("{p} voice is quiet", "{s} speaks softly"), ("{p} volume is low",)),
    "breathy": Bank(("{p} voice is breathy", "{s} speaks with an airy voice"),
                    ("there is audible breath in {p} voice",)),
    "tense": Bank(("{p} voice is tense and harsh", "{s} speaks with a pressed, sharp voice"),
                  ("{p} voice has a hard edge",)),
    "tremor": Bank(("{p} voice trembles", "{s} speaks with a shaky voice"), ("{p} voice wavers",)),
    "rising": Bank(("{p} phrases rise at the end", "{s} ends phrases on a rising pitch"),
                   ("{p} pitch climbs at the close of each phrase",)),
    "falling": Bank(("{p} phrases fall at the end", "{s} ends phrases on a falling pitch"),
                    ("{p} pitch drops away at the close of each phrase",)),
}  # fmt: skip

#: Frames for purely descriptive (neutral) sentences around one cue clause ({c}, {C} capitalised).
DESCRIPTIVE_TEMPLATES = Bank(
    train=("{C}.", "In the video, {c}.", "We can see that {c}.", "Meanwhile, {c}.", "{C}, as the clip goes on."),
    held_out=("Looking closely, {c}.", "At this moment {c}.", "Throughout the clip, {c}."),
)  # fmt: skip
