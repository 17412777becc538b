"""The reference LLM judge's prompt and reply rule (``tools/response_gpt_check.py`` of the reference code).

One user message, no system message, the API's default temperature: the instruction with the dataset's labels
joined by ``", "``, then ``"\\nReason: {rationale}\\nAnswer Emotion:"``. The reply counts only when it equals a
label exactly (case and white space included); anything else, a failed request too, becomes ``"neutral"``.
"""

from __future__ import annotations

from ervlight.labels import get_label_space

__all__ = ["REFERENCE_FALLBACK", "REFERENCE_JUDGE_PROMPT", "reference_judge_prompt", "reference_judge_reply"]

#: The reference instruction; ``{labels}`` is the label list joined by ``", "``.
REFERENCE_JUDGE_PROMPT = (
    "Read the reasoning content and respond with the appropriate emotion in {labels}. "
    "Reply with only the emotion word."
)
#: The label the reference gives a reply outside the list (and a failed request).
REFERENCE_FALLBACK = "neutral"


def reference_judge_prompt(rationale: str, dataset: str) -> str:
    """The whole user message the reference judge receives for one rationale."""
    labels = ", ".join(get_label_space(dataset).labels)
    return REFERENCE_JUDGE_PROMPT.format(labels=labels) + f"\nReason: {rationale}\nAnswer Emotion:"


def reference_judge_reply(reply: str | None, dataset: str) -> str:
    """The judged label: the reply when it is exactly a label of ``dataset``, else ``"neutral"``."""
    space = get_label_space(dataset)
    return reply if reply is not None and reply in space else REFERENCE_FALLBACK
