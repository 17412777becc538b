"""Parsing of the R1 output format ``<think> rationale </think><answer> emotion </answer>``.

Three pieces, each the single implementation used by rewards, metrics, judges and data code:

* :func:`is_well_formatted` — the strict format check of the reference format reward (full match of
  ``<think>.*?</think>\\s*<answer>.*?</answer>``, dot matches newline, tags case-sensitive);
* :func:`extract_closed_think` — the reference explanation reward's rationale: the first ``<think>…</think>``
  block, tags exactly as written;
* :func:`parse_completion` — tolerant extraction of the rationale and the answer (tags in any case, spaces inside
  tags, missing closing tags, extra text around, several answers);
* :func:`split_sentences` — the rationale sentence splitter (after ``.``, ``!`` or ``?`` followed by white space,
  never inside double quotes; ``quotes`` says which quotes count).

Edge cases, decided once for every caller:

==========================================  ============================  ==================================
input                                       :func:`extract_closed_think`  :func:`extract_think` (tolerant)
==========================================  ============================  ==================================
``<Think>a</Think>``                        ``None`` (tags are exact)     ``"a"``
``</think> x <think>a</think>``             ``"a"`` (first opened block)  ``"a"`` (a stray close is skipped)
``</think> x <think>a`` (never closed)      ``None``                      ``"a"``
``<think>a <answer>b</answer> c</think>``   ``"a <answer>b</answer> c"``  ``"a <answer>b</answer> c"``
``<think>a <answer>b</answer>`` (unclosed)  ``None``                      ``"a"`` (a truncated rationale)
==========================================  ============================  ==================================

The tolerant answer (:func:`extract_answer`) of a text whose closed ``<think>`` block holds an ``<answer>`` is the
first answer block AFTER that block (the one the rationale leads to), else the first anywhere. The reference
accuracy rule (:mod:`ervlight.protocol.reference`) keeps its own reading: the first single-line block anywhere.

Nothing here raises on malformed text: missing parts come back as ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "FORMAT_PATTERN",
    "QUOTE_RULES",
    "ParsedCompletion",
    "QuoteRule",
    "extract_answer",
    "extract_closed_think",
    "extract_think",
    "format_target",
    "is_well_formatted",
    "parse_completion",
    "split_sentences",
]

#: The reference format: the whole completion must match (``re.fullmatch`` with ``re.DOTALL``).
FORMAT_PATTERN = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)

#: The reference reward's rationale: the first ``<think>…</think>`` (exact tags, dot matches newline).
_CLOSED_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_THINK_OPEN = re.compile(r"<\s*think\s*>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"<\s*/\s*think\s*>", re.IGNORECASE)
_ANSWER_BLOCK = re.compile(r"<\s*answer\s*>(.*?)<\s*/\s*answer\s*>", re.IGNORECASE | re.DOTALL)
_ANSWER_OPEN = re.compile(r"<\s*answer\s*>", re.IGNORECASE)
_TAG = re.compile(r"<\s*/?\s*(?:think|answer)\s*>", re.IGNORECASE)

#: Which double quotes protect a sentence end: ``reference`` (straight ``"`` only, counted to the end of the text,
#: as the reference reward's splitter) or ``typographic`` (straight and curly pairs, read left to right).
QuoteRule = Literal["reference", "typographic"]
#: The quote rules, default first.
QUOTE_RULES: tuple[str, ...] = get_args(QuoteRule)

# The reference splitter: white space after a terminator, where an even number of straight quotes follows.
_REFERENCE_SPLIT = re.compile(r'(?<=[.!?])\s+(?=(?:[^"]*"[^"]*")*[^"]*$)')
# Opening and closing double quotes of the typographic rule; a straight quote toggles.
_OPEN_QUOTES = frozenset('"“„')
_CLOSE_QUOTES = frozenset('"”')
_TERMINATORS = frozenset(".!?")


@dataclass(frozen=True)
class ParsedCompletion:
    """What a completion contains.

    Attributes:
        think: the rationale (:func:`extract_think`); ``None`` when there is no ``<think>`` tag at all.
        answer: the answer (:func:`extract_answer`); ``None`` when there is no ``<answer>`` tag.
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


def extract_closed_think(text: str) -> str | None:
    """The reference reward's rationale: the first ``<think>…</think>`` block, stripped; ``None`` without one.

    Tags must be written exactly (lower case, no spaces); the block is the shortest one from the first ``<think>``
    that has a ``</think>`` after it, ``<answer>`` tags inside included; a ``</think>`` before it is ignored.
    """
    match = _CLOSED_THINK.search(text)
    return match.group(1).strip() if match else None


def _think_span(text: str) -> tuple[int, int, int] | None:
    """``(body start, body end, end of the closing tag or -1)`` of the tolerant rationale; ``None`` without one."""
    opening = _THINK_OPEN.search(text)
    if opening is None:
        return None
    closing = _THINK_CLOSE.search(text, opening.end())
    if closing is not None:
        return opening.end(), closing.start(), closing.end()
    answer = _ANSWER_OPEN.search(text, opening.end())
    return opening.end(), answer.start() if answer else len(text), -1


def extract_think(text: str) -> str | None:
    """The tolerant rationale, stripped; ``None`` without a ``<think>`` tag.

    From the first ``<think>`` (any case, spaces inside the tag allowed) to the next ``</think>``; without a
    closing tag, to the next ``<answer>`` or the end of the text (a truncated completion). A ``</think>`` before the
    first ``<think>`` is ignored; ``<answer>`` tags inside a closed block belong to the rationale.
    """
    span = _think_span(text)
    return None if span is None else text[span[0] : span[1]].strip()


def extract_answer(text: str) -> str | None:
    """The tolerant answer, stripped; ``None`` without an ``<answer>`` tag.

    The content of the first complete ``<answer>…</answer>`` block after a closed ``<think>`` block (any block
    when there is no closed ``<think>`` block or none follows it), else the text after a lone ``<answer>`` (a
    truncated completion). Tags left inside are replaced by a space.
    """
    span = _think_span(text)
    after = span[2] if span is not None and span[2] >= 0 else 0
    block = _ANSWER_BLOCK.search(text, after) or _ANSWER_BLOCK.search(text)
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


def split_sentences(text: str, quotes: QuoteRule = "reference") -> list[str]:
    """Split a rationale into sentences, as the explanation reward reads it.

    A sentence ends after ``.``, ``!`` or ``?`` when white space follows, except inside double quotes. Nothing
    else is special: abbreviations such as "e.g. " or "Dr. " end a sentence, as in the reference. Sentences are
    stripped and empty ones dropped. ``quotes`` decides what "inside double quotes" means:

    * ``reference`` (default, the reference reward's splitter): only straight ``"`` count, and a sentence end is
      protected when an ODD number of them follows it up to the end of the text. Curly quotes are ordinary
      characters; with an unbalanced ``"``, the text before it is never split and the text after it is split;
    * ``typographic``: straight ``"…"`` and curly ``“…”``/``„…”`` pairs read left to right; an unclosed quote
      protects everything after it.

    On text with balanced straight quotes only, the two rules give the same sentences.
    """
    if quotes == "reference":
        pieces = _REFERENCE_SPLIT.split(text)
    elif quotes == "typographic":
        pieces = _typographic_pieces(text)
    else:
        raise ValueError(f"quotes must be one of {', '.join(QUOTE_RULES)}, got {quotes!r}")
    return [s.strip() for s in pieces if s.strip()]


def _typographic_pieces(text: str) -> list[str]:
    """The unstripped sentences of the ``typographic`` quote rule."""
    pieces: list[str] = []
    start = 0
    in_quote = False
    for i, char in enumerate(text):
        if in_quote and char in _CLOSE_QUOTES:
            in_quote = False
        elif not in_quote and char in _OPEN_QUOTES:
            in_quote = True
        elif not in_quote and char in _TERMINATORS and i + 1 < len(text) and text[i + 1].isspace():
            pieces.append(text[start : i + 1])
            start = i + 1
    pieces.append(text[start:])
    return pieces
