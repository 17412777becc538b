"""The judge interface behind EEA/EPC/FCR: a judge reads ONLY a rationale and names one emotion of a label list."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Judge"]


@runtime_checkable
class Judge(Protocol):
    """Names one label of a dataset's label space per rationale, or ``None`` ("unjudged").

    ``None`` is returned when the judge's answer falls outside the label list or the judge failed; it is never
    silently mapped to "neutral".
    """

    name: str

    def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
        """Judge each rationale against the label space named ``dataset`` (``"mafw"``, ``"dfew"``…)."""
        ...
