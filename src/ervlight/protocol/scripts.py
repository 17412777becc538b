"""How the reference evaluation scripts read one completion from their result file.

The reference writes each test completion as a line ``clip_id|completion`` and reads the file back by merging
continuation lines into the record (each line stripped, joined by one space; ``rearrange_one_line`` of its
``utils_main.py``). Three scripts then cut the merged text differently; each is restated here as a function of the
completion alone (the record without its ``clip_id|`` prefix):

* :func:`script_answer` — ``eval_score.py`` (WAR/UAR), slightly different for DFEW and MAFW;
* :func:`script_rationale` — ``tools/response_gpt_check.py`` (the rationale sent to the LLM judge);
* :func:`script_compare_answer` — ``tools/compare/compare_reason-recognition.py`` (the answer of EEA/EPC/FCR).

Not reproduced: a completion line that itself starts with digits followed by ``|`` (or is only digits) would
open a new record in the reference's file; here every completion stays one record.
"""

from __future__ import annotations

__all__ = ["script_answer", "script_compare_answer", "script_rationale", "script_record"]

_OPEN, _CLOSE = "<answer>", "</answer>"
_IM_END = "<|im_end|>"


def script_record(completion: str) -> str:
    """The completion as the merged result-file record holds it: lines stripped and joined by one space."""
    lines = completion.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # text-mode file lines
    return " ".join(line.strip() for line in lines).strip()


def script_answer(completion: str, dataset: str) -> str:
    """The answer text ``eval_score.py`` reads (before its label mapping).

    With ``<answer>``: the text after the first one, cut at the next ``<answer>`` and then at the first
    ``</answer>`` (DFEW without any ``</answer>``: everything after the first ``<answer>``). Without: the text up
    to the first ``|`` (MAFW, when ``<|im_end|>`` occurs: up to the first ``<``). Stripped.
    """
    record = script_record(completion)
    if _OPEN in record:
        if dataset == "dfew" and _CLOSE not in record:
            return record.split(_OPEN, 1)[1].strip()
        return record.split(_OPEN)[1].split(_CLOSE)[0].strip()
    head = record.split("|")[0]
    if dataset == "mafw" and _IM_END in record:
        head = head.split("<")[0]
    return head.strip()


def script_rationale(completion: str) -> str:
    """The rationale the judge script sends: after the first ``<think>`` of the text up to the first ``|``,
    cut at the next ``<think>`` and the first ``</think>``; empty when there is no ``<think>`` there."""
    head = script_record(completion).split("|")[0]
    if "<think>" not in head:
        return ""
    return head.split("<think>")[1].split("</think>")[0].strip()


def script_compare_answer(completion: str) -> str | None:
    """The answer the EEA/EPC/FCR script reads: in the text up to the first ``|``, after the first ``<answer>``,
    cut at the next ``<answer>`` and the first ``</answer>``; ``None`` (the script's failure) without ``<answer>``."""
    head = script_record(completion).split("|")[0]
    if _OPEN not in head:
        return None
    return head.split(_OPEN)[1].split(_CLOSE)[0].strip()
