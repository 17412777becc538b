"""The reference accuracy rule: how the reference code's accuracy reward reads an answer and compares it.

Restated from the reference reward (``accuracy_reward`` and ``match_emotion_key_DFEW/MAFW`` of Rhatanii/ERV):

1. the answer is the content of the first ``<answer>…</answer>`` match in which ``.`` does not cross a newline;
   without such a match, the whole completion; surrounding white space stripped;
2. DFEW and MAFW answers are lower-cased, every ``\\n`` is deleted and a few forms are mapped (below); other
   datasets are compared as they are;
3. the reward is 1 exactly when the result equals the gold label string (DFEW's adjectives, MAFW's nouns).

The mapping keeps the reference's quirks on purpose: "unhappy" and "happy and surprised" become MAFW
``happiness``, "danger" and "anger and disgust" become DFEW ``angry``, and "surprised", "fearful", "scared",
"disgusted" or "neutrality" are wrong (no mapping names them).
"""

from __future__ import annotations

import re

__all__ = ["REFERENCE_DATASETS", "reference_accuracy", "reference_answer", "reference_label"]

#: The datasets the reference normalises (others are compared without normalisation, as in the reference).
REFERENCE_DATASETS: tuple[str, ...] = ("dfew", "mafw")

_ANSWER = re.compile(r"<answer>(.*?)</answer>")  # no DOTALL: "." does not cross a newline

# DFEW: an exact form, then substring rules in this order (the first that applies wins).
_DFEW_EXACT = {"sadness": "sad"}
_DFEW_CONTAINS = (("happiness", "happy"), ("anger", "angry"))
_MAFW_EXACT = {
    "angry": "anger",
    "sad": "sadness",
    "anxious": "anxiety",
    "helpless": "helplessness",
    "disappointed": "disappointment",
}
_MAFW_CONTAINS = (("happy", "happiness"), ("contemptuous", "contempt"))
_RULES = {"dfew": (_DFEW_EXACT, _DFEW_CONTAINS), "mafw": (_MAFW_EXACT, _MAFW_CONTAINS)}


def reference_answer(completion: str) -> str:
    """Step 1: the first single-line ``<answer>`` content, else the whole completion; stripped."""
    match = _ANSWER.search(completion)
    return match.group(1).strip() if match else completion.strip()


def reference_label(answer: str, dataset: str) -> str:
    """Step 2: the reference's label string of an answer (DFEW/MAFW mapped; other datasets unchanged).

    The result need not be a label: the reference compares it with the gold string as it is.
    """
    rules = _RULES.get(dataset)
    if rules is None:
        return answer
    exact, contains = rules
    text = answer.lower().replace("\n", "")
    if text in exact:
        return exact[text]
    for part, label in contains:
        if part in text:
            return label
    return text


def reference_accuracy(completion: str, gold: str, dataset: str) -> float:
    """1.0 when the reference reads ``completion`` as ``gold`` (the canonical label string), else 0.0."""
    return float(reference_label(reference_answer(completion), dataset) == gold)
