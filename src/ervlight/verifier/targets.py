"""Which verifier labels stand for a dataset emotion: the one rule the explanation reward and the judge share.

In order: an explicit ``label_map`` entry (keyed by the canonical label, or by each emotion noun of a compound
label), the verifier's own label of the same name (a verifier over the dataset's labels), else the GoEmotions map
of :mod:`ervlight.labels` (``anxiety`` -> ``nervousness``).

Names reach the verifier's labels BY NAME, never by position: a published verifier whose ``id2label`` lists the
GoEmotions labels in another order works as it is, and one that spells them in another case or with ``_``/``-``
for a space (``"Joy"``, ``"NERVOUSNESS"``) maps to its own spelling. A verifier whose labels name none of them
(``LABEL_0``…) needs a ``label_map``; :func:`label_map_message` says which.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ervlight.labels import LabelSpace

__all__ = ["label_map_message", "missing_label_map", "resolve_label", "verifier_labels_of"]


def _key(name: str) -> str:
    """A label name without case, surrounding space or ``_``/``-`` separators."""
    return " ".join(name.casefold().replace("_", " ").replace("-", " ").split())


def resolve_label(name: str, verifier_labels: Collection[str]) -> str | None:
    """The verifier's own spelling of ``name``: itself, else the ONE label equal to it up to case and separators."""
    if name in verifier_labels:
        return name
    matches = [label for label in verifier_labels if _key(label) == _key(name)]
    return matches[0] if len(matches) == 1 else None


def _wanted(
    space: LabelSpace, label: str, verifier_labels: Collection[str], label_map: Mapping[str, str]
) -> tuple[str, ...]:
    """The names canonical ``label`` is looked up by (before they are resolved against the verifier)."""
    concepts = space.concepts[space.index(label)] if space.concepts else ()
    if label in label_map:
        return (label_map[label],)
    if concepts and all(c in label_map for c in concepts):
        return tuple(label_map[c] for c in concepts)
    if resolve_label(label, verifier_labels) is not None:
        return (label,)
    return space.goemotions_labels(label)


def verifier_labels_of(
    space: LabelSpace,
    label: str,
    verifier_labels: Collection[str],
    label_map: Mapping[str, str] | None = None,
) -> tuple[str, ...] | None:
    """The verifier labels of canonical ``label`` of ``space``; ``None`` when one of them is not a verifier label."""
    names = _wanted(space, label, verifier_labels, label_map or {})
    resolved = tuple(resolve_label(name, verifier_labels) for name in names)
    if not resolved or any(name is None for name in resolved):
        return None
    return resolved  # type: ignore[return-value]


def missing_label_map(
    space: LabelSpace, verifier_labels: Collection[str], label_map: Mapping[str, str] | None = None
) -> dict[str, tuple[str, ...]]:
    """The labels of ``space`` that reach no verifier label, each with the names it was looked up by."""
    label_map = label_map or {}
    return {
        label: _wanted(space, label, verifier_labels, label_map)
        for label in space.labels
        if verifier_labels_of(space, label, verifier_labels, label_map) is None
    }


def label_map_message(
    space: LabelSpace, verifier_labels: Collection[str], label_map: Mapping[str, str] | None = None
) -> str:
    """One line naming the ``label_map`` entries a verifier needs for ``space`` (its missing labels, keyed by noun)."""
    missing = missing_label_map(space, verifier_labels, label_map)
    keys: list[str] = []
    for label in missing:
        concepts = space.concepts[space.index(label)] if space.concepts else ()
        keys.extend(concepts if concepts else (label,))
    looked_up = ", ".join(f"{label} -> {'/'.join(names) or '?'}" for label, names in missing.items())
    shown = list(verifier_labels)
    listed = ", ".join(shown[:30]) + (f", … ({len(shown)} labels)" if len(shown) > 30 else "")
    entries = ", ".join(f"{key}: <verifier label>" for key in dict.fromkeys(keys))
    return (
        f"the verifier's labels ({listed}) do not name these {space.name} emotions ({looked_up}): give the "
        f"explanation reward label_map: {{{entries}}}, each value one of the verifier's labels"
    )
