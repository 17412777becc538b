"""Parsing of the R1 output format: the strict check, tolerant extraction and the sentence splitter."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ervlight.parsing import (
    extract_answer,
    extract_think,
    format_target,
    is_well_formatted,
    parse_completion,
    split_sentences,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>a</think><answer>happy</answer>", True),
        ("<think>a</think>\n<answer>happy</answer>", True),
        ("<think>line one\nline two</think>  \n <answer> sad </answer>", True),
        ("<think></think><answer></answer>", True),
        (" <think>a</think><answer>happy</answer>", False),  # full match: nothing before
        ("<think>a</think><answer>happy</answer>\n", False),  # nor after
        ("<think>a</think> so <answer>happy</answer>", False),
        ("<THINK>a</THINK><ANSWER>happy</ANSWER>", False),  # tags are case-sensitive in the reference
        ("<answer>happy</answer>", False),
        ("<think>a</think>", False),
        ("<think>a<answer>happy</answer>", False),
        ("", False),
    ],
)
def test_strict_format(text: str, expected: bool) -> None:
    assert is_well_formatted(text) is expected


@pytest.mark.parametrize(
    ("text", "think", "answer", "num_answers"),
    [
        ("<think> The brows drop. </think>\n<answer> angry </answer>", "The brows drop.", "angry", 1),
        ("<THINK>Upper case.</THINK><Answer>Sad</Answer>", "Upper case.", "Sad", 1),
        ("< think >spaced</ think >< answer >fear</ answer >", "spaced", "fear", 1),
        ("Sure! <think>r</think><answer>happy</answer> Hope this helps.", "r", "happy", 1),
        ("<think>r</think><answer>happy</answer><answer>sad</answer>", "r", "happy", 2),  # first answer wins
        ("<think>unclosed rationale <answer>neutral</answer>", "unclosed rationale", "neutral", 1),
        ("<think>truncated mid-sentence", "truncated mid-sentence", None, 0),
        ("<think>r</think><answer>surpri", "r", "surpri", 0),  # lone answer tag: the rest of the text
        ("just the word happy", None, None, 0),
        ("", None, None, 0),
        ("<answer>happy</answer>", None, "happy", 1),
    ],
)
def test_tolerant_extraction(text: str, think: str | None, answer: str | None, num_answers: int) -> None:
    parsed = parse_completion(text)
    assert parsed.think == think
    assert parsed.answer == answer
    assert parsed.num_answers == num_answers
    assert extract_think(text) == think
    assert extract_answer(text) == answer


def test_answer_or_text_is_the_reference_accuracy_input() -> None:
    assert parse_completion("<answer> Happy </answer>").answer_or_text("x") == "Happy"
    text = "  happy \n"
    assert parse_completion(text).answer_or_text(text) == "happy"


def test_format_target_roundtrip() -> None:
    target = format_target("  The lips press together. ", "angry")
    assert target == "<think>The lips press together.</think>\n<answer>angry</answer>"
    assert is_well_formatted(target)
    assert parse_completion(target).answer == "angry"


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("One.Two. Three", ["One.Two.", "Three"]),  # no white space after the first period
        ("Wait... what?! Yes.", ["Wait...", "what?!", "Yes."]),
        ('He said "stop. now." and left. Then quiet.', ['He said "stop. now." and left.', "Then quiet."]),
        # The period before the closing quote is inside the quotes, so no split follows the quote.
        ("She whispered “no. please.” Then she cried.", ["She whispered “no. please.” Then she cried."]),
        ("She whispered “no.” She cried.", ["She whispered “no.” She cried."]),
        ("“Go.” He left. Fine.", ["“Go.” He left.", "Fine."]),
        ('An "open quote. never closed. at all', ['An "open quote. never closed. at all']),
        ("Dr. Lee frowns, e.g. tightly. Then.", ["Dr.", "Lee frowns, e.g.", "tightly.", "Then."]),
        ("Line one.\nLine two.\tLine three.", ["Line one.", "Line two.", "Line three."]),
        ("  ", []),
        ("", []),
        ("No terminator at all", ["No terminator at all"]),
        ("Ends with space. ", ["Ends with space."]),
        ("Pi is 3.14 today. Yes", ["Pi is 3.14 today.", "Yes"]),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@given(st.text(alphabet='ab .!?"\n', max_size=60))
def test_split_sentences_loses_no_characters(text: str) -> None:
    sentences = split_sentences(text)
    assert all(s and s == s.strip() for s in sentences)
    assert "".join(sentences).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


@given(st.text(max_size=80))
def test_parsing_never_raises(text: str) -> None:
    parsed = parse_completion(text)
    assert parsed.well_formatted == is_well_formatted(text)
    assert isinstance(split_sentences(parsed.think or ""), list)
