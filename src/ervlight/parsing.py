"""Parsing of the R1 output format ``<think> rationale </think><answer> emotion </answer>``.

Three pieces, each the single implementation used by rewards, metrics, judges and data code:

* :func:`is_well_formatted` — the strict format check of the reference format reward (full match of
  ``<think>.*?</think>\\s*<answer>.*?</answer>``, dot matches newline, tags case-sensitive);
* :func:`parse_completion` — tolerant extraction of the rationale and the answer (tags in any case, spaces inside
  tags, missing closing tags, extra text around, several answers);
* :func:`split_sentences` — the rationale sentence splitter (after ``.``, ``!`` or ``?`` followed by white space,
  never inside double quotes).

Nothing here raises on malformed text: missing parts come back as ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "FORMAT_PATTERN",
    "ParsedCompletion",
    "extract_answer",
    "extract_think",
    "format_target",
    "is_well_formatted",
    "parse_completion",
    "split_sentences",
]

#: The reference format: the whole completion must match (``re.fullmatch`` with ``re.DOTALL``).
FORMAT_PATTERN = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)

_THINK_OPEN = re.compile(r"<\s*think\s*>", re.IGNORECASE)
_THINK_END = re.compile(r"<\s*/\s*think\s*>|<\s*answer\s*>", re.IGNORECASE)
_ANSWER_BLOCK = re.compile(r"<\s*answer\s*>(.*?)<\s*/\s*answer\s*>", re.IGNORECASE | re.DOTALL)
_ANSWER_OPEN = re.compile(r"<\s*answer\s*>", re.IGNORECASE)
_TAG = re.compile(r"<\s*/?\s*(?:think|answer)\s*>", re.IGNORECASE)

# Opening and closing double quotes; a straight quote toggles.
_OPEN_QUOTES = frozenset('"“„')
_CLOSE_QUOTES = frozenset('"”')
_TERMINATORS = frozenset(".!?")


@dataclass(frozen=True)
class ParsedCompletion:
    """What a completion contains.

    Attributes:
        think: the rationale inside ``<think>``; up to ``</think>``, the next ``<answer>`` or the end of the text when
            the closing tag is missing; ``None`` when there is no ``<think>`` tag at all.
        answer: the content of the first complete ``<answer>…</answer>`` block, else the text after a lone
            ``<answer>`` (a truncated completion); stripped; ``None`` when there is no ``<answer>`` tag.
        num_answers: how many complete ``<answer>`` blocks the text holds.
        well_formatted: the strict reference format check (:func:`is_well_formatted`).
    """

    think: str | None
    answer: str | None
    num_answers: int
    well_formatted: bool

    def answer_or_text(self, text: str) -> str:
        """The reference accuracy reward's input: the answer, or the whole completion (stripped) without a tag."""
        return self.answer if self.answer is not None else text.strip()


def is_well_formatted(text: str) -> bool:
    """Strict format check of the reference format reward (1 if this is ``True``, else 0)."""
    return FORMAT_PATTERN.fullmatch(text) is not None


def extract_think(text: str) -> str | None:
    """The rationale of a completion (see :attr:`ParsedCompletion.think`), stripped; ``None`` without ``<think>``."""
    opening = _THINK_OPEN.search(text)
    if opening is None:
        return None
    end = _THINK_END.search(text, opening.end())
    body = text[opening.end() : end.start() if end else len(text)]
    return body.strip()


def extract_answer(text: str) -> str | None:
    """The answer of a completion (see :attr:`ParsedCompletion.answer`); ``None`` without ``<answer>``."""
    block = _ANSWER_BLOCK.search(text)
    if block is not None:
        return _TAG.sub(" ", block.group(1)).strip()
    opening = _ANSWER_OPEN.search(text)
    if opening is None:
        return None
    return _TAG.sub(" ", text[opening.end() :]).strip()


def parse_completion(text: str) -> ParsedCompletion:
    """Parse a completion tolerantly; never raises."""
    return ParsedCompletion(
        think=extract_think(text),
        answer=extract_answer(text),
        num_answers=len(_ANSWER_BLOCK.findall(text)),
        well_formatted=is_well_formatted(text),
    )


def format_target(rationale: str, label: str) -> str:
    """The cold-start target text ``<think>{rationale}</think>\\n<answer>{label}</answer>``."""
    return f"<think>{rationale.strip()}</think>\n<answer>{label.strip()}</answer>"


def split_sentences(text: str) -> list[str]:
    """Split a rationale into sentences, as the explanation reward reads it.

    A sentence ends after ``.``, ``!`` or ``?`` when white space follows, except inside double quotes (straight
    ``"…"`` or curly ``“…”``). Nothing else is special: abbreviations such as "e.g. " or "Dr. " end a sentence, as
    in the reference. Sentences are stripped and empty ones dropped; an unclosed quote runs to the end of the text.
    """
    sentences: list[str] = []
    start = 0
    in_quote = False
    for i, char in enumerate(text):
        if in_quote and char in _CLOSE_QUOTES:
            in_quote = False
        elif not in_quote and char in _OPEN_QUOTES:
            in_quote = True
        elif not in_quote and char in _TERMINATORS and i + 1 < len(text) and text[i + 1].isspace():
            sentences.append(text[start : i + 1])
            start = i + 1
    sentences.append(text[start:])
    return [s.strip() for s in sentences if s.strip()]
