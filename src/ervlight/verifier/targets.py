"""Which verifier labels stand for a dataset emotion: the one rule the explanation reward and the judge share.

In order: an explicit ``label_map`` entry (keyed by the canonical label, or by each emotion noun of a compound
label), the verifier's own label of the same name (a verifier over the dataset's labels), else the GoEmotions map
of :mod:`ervlight.labels` (``anxiety`` -> ``nervousness``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ervlight.labels import LabelSpace

__all__ = ["verifier_labels_of"]


def verifier_labels_of(
    space: LabelSpace,
    label: str,
    verifier_labels: Collection[str],
    label_map: Mapping[str, str] | None = None,
) -> tuple[str, ...] | None:
    """The verifier labels of canonical ``label`` of ``space``; ``None`` when one of them is not a verifier label."""
    label_map = label_map or {}
    concepts = space.concepts[space.index(label)] if space.concepts else ()
    if label in label_map:
        names: tuple[str, ...] = (label_map[label],)
    elif concepts and all(c in label_map for c in concepts):
        names = tuple(label_map[c] for c in concepts)
    elif label in verifier_labels:
        names = (label,)
    else:
        names = space.goemotions_labels(label)
    if not names or any(n not in verifier_labels for n in names):
        return None
    return names
