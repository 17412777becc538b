"""The evaluation protocols: ervlight's own rules and the reference code's rules, each in one place.

Two protocols name every rule that decides a reward or a metric:

* ``ervlight`` (the default): the tolerant answer parser of :mod:`ervlight.parsing`, the label normaliser of
  :meth:`ervlight.labels.LabelSpace.normalize`, every unparseable answer counted wrong in every denominator and an
  out-of-list judge reply counted "unjudged";
* ``reference``: the rules of the public reference code (Rhatanii/ERV at commit 19cb9a7), restated here from its
  reward functions (:mod:`ervlight.protocol.reference`), its evaluation scripts (:mod:`ervlight.protocol.counting`)
  and its LLM-judge script (:mod:`ervlight.protocol.judging`).

The accuracy reward, the report's metrics and the LLM judge take their reference rules from this package only.
"""

from __future__ import annotations

from typing import Literal, get_args

from ervlight.protocol.counting import (
    ReferenceExplanation,
    ReferenceRecognition,
    reference_explanation,
    reference_recognition,
)
from ervlight.protocol.judging import REFERENCE_JUDGE_PROMPT, reference_judge_prompt, reference_judge_reply
from ervlight.protocol.reference import (
    REFERENCE_DATASETS,
    reference_accuracy,
    reference_answer,
    reference_label,
)
from ervlight.protocol.scripts import script_answer, script_compare_answer, script_rationale, script_record

__all__ = [
    "PROTOCOLS",
    "REFERENCE_DATASETS",
    "REFERENCE_JUDGE_PROMPT",
    "Protocol",
    "ReferenceExplanation",
    "ReferenceRecognition",
    "check_protocol",
    "reference_accuracy",
    "reference_answer",
    "reference_explanation",
    "reference_judge_prompt",
    "reference_judge_reply",
    "reference_label",
    "reference_recognition",
    "script_answer",
    "script_compare_answer",
    "script_rationale",
    "script_record",
]

#: A protocol name: ``ervlight`` (default) or ``reference``.
Protocol = Literal["ervlight", "reference"]
#: The protocol names, default first.
PROTOCOLS: tuple[str, ...] = get_args(Protocol)


def check_protocol(name: str, where: str = "protocol") -> Protocol:
    """``name`` if it is a protocol; ``ValueError`` naming ``where`` and the valid names otherwise."""
    if name not in PROTOCOLS:
        raise ValueError(f"{where} must be one of {', '.join(PROTOCOLS)}, got {name!r}")
    return name  # type: ignore[return-value]
