"""Parsing of the R1 output format: the strict check, tolerant extraction and the sentence splitter."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ervlight.parsing import (
    extract_answer,
    extract_closed_think,
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


@pytest.mark.parametrize(
    ("text", "closed", "think", "answer"),
    [
        ("<Think>a.</Think><answer>sad</answer>", None, "a.", "sad"),  # tag case
        ("</think> x <think>a.</think><answer>sad</answer>", "a.", "a.", "sad"),  # a close before the open
        ("</think> x <think>a. b.", None, "a. b.", None),  # never closed after the open
        (
            "<think>a <answer>sad</answer> b.</think><answer>happy</answer>",
            "a <answer>sad</answer> b.",
            "a <answer>sad</answer> b.",
            "happy",
        ),
        (
            "<think>a <answer>sad</answer> b.</think>",
            "a <answer>sad</answer> b.",
            "a <answer>sad</answer> b.",
            "sad",
        ),
        (
            "<think>a <answer>sad</answer>",
            None,
            "a",
            "sad",
        ),  # unclosed: the answer ends a truncated rationale
        ("<think>x</think><think>y</think>", "x", "x", None),
        ("< think >x</ think >", None, "x", None),
        ("<think>\n  line one.\nline two.  \n</think>", "line one.\nline two.", "line one.\nline two.", None),
    ],
)
def test_think_edge_cases(text: str, closed: str | None, think: str | None, answer: str | None) -> None:
    assert extract_closed_think(text) == closed
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
    assert (
        split_sentences(text, "typographic") == sentences
    )  # the rules agree without curly or unbalanced quotes


@pytest.mark.parametrize(
    ("text", "reference", "typographic"),
    [
        # Curly quotes: ordinary characters for the reference; a pair protects its inside typographically (the
        # period before the closing quote is inside the quotes, so no split follows the quote).
        (
            "She whispered “no. please.” Then she cried.",
            ["She whispered “no.", "please.” Then she cried."],
            ["She whispered “no. please.” Then she cried."],
        ),
        (
            "She whispered “no.” She cried.",
            ["She whispered “no.” She cried."],
            ["She whispered “no.” She cried."],
        ),
        ("“Go.” He left. Fine.", ["“Go.” He left.", "Fine."], ["“Go.” He left.", "Fine."]),
        ("„Nein. Doch.” Gut. So.", ["„Nein.", "Doch.” Gut.", "So."], ["„Nein. Doch.” Gut.", "So."]),
        # An unbalanced straight quote: the reference protects the text BEFORE it (an odd count follows), not after.
        (
            'An "open quote. never closed. at all',
            ['An "open quote.', "never closed.", "at all"],
            ['An "open quote. never closed. at all'],
        ),
        (
            'One. Two. He said "so. Three. Four.',
            ['One. Two. He said "so.', "Three.", "Four."],
            ["One.", "Two.", 'He said "so. Three. Four.'],
        ),
        # Three quotes: parity is counted from the end, so the balanced pair is read inside out.
        ('A "b. c" d. "e. f', ['A "b.', 'c" d. "e.', "f"], ['A "b. c" d.', '"e. f']),
    ],
)
def test_split_sentences_quote_rules(text: str, reference: list[str], typographic: list[str]) -> None:
    assert split_sentences(text) == reference
    assert split_sentences(text, "reference") == reference
    assert split_sentences(text, "typographic") == typographic


def test_split_sentences_rejects_an_unknown_quote_rule() -> None:
    with pytest.raises(ValueError, match="quotes must be one of reference, typographic, got 'curly'"):
        split_sentences("a. b", "curly")  # type: ignore[arg-type]


@given(st.lists(st.sampled_from(["a", "b", " ", ".", "!", "?", "\n", '"x. y"', '"z"']), max_size=20))
def test_split_sentences_rules_agree_on_balanced_straight_quotes(parts: list[str]) -> None:
    text = "".join(parts)  # every straight quote comes in a pair
    assert split_sentences(text, "reference") == split_sentences(text, "typographic")


@given(st.text(alphabet='ab .!?"\n', max_size=60))
def test_split_sentences_loses_no_characters(text: str) -> None:
    for rule in ("reference", "typographic"):
        sentences = split_sentences(text, rule)  # type: ignore[arg-type]
        assert all(s and s == s.strip() for s in sentences)
        assert "".join(sentences).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
            "\n", ""
        )


@given(st.text(max_size=80))
def test_parsing_never_raises(text: str) -> None:
    parsed = parse_completion(text)
    assert parsed.well_formatted == is_well_formatted(text)
    assert isinstance(split_sentences(parsed.think or ""), list)
