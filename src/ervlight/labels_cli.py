"""``ervlight labels [SPACE] [--json]``: print a label space (labels, official ids, accepted words, GoEmotions map)."""

from __future__ import annotations

import argparse
import json

from ervlight.labels import EMOTION_FORMS, DatasetName, LabelSpace, get_label_space

__all__ = ["describe", "main"]


def describe(space: LabelSpace) -> list[dict[str, object]]:
    """One row per label: index, official id, label, R1-Omni word, accepted words and GoEmotions labels."""
    rows: list[dict[str, object]] = []
    for i, label in enumerate(space.labels):
        concepts = space.concepts[i] if space.concepts else ()
        words = sorted({w for c in concepts for w in EMOTION_FORMS[c]}) if len(concepts) == 1 else [label]
        rows.append(
            {
                "index": i,
                "id": space.official_id(label),
                "label": label,
                "r1omni": space.export(label, "r1omni"),
                "accepts": words,
                "goemotions": list(space.goemotions_labels(label)),
            }
        )
    return rows


def main(argv: list[str]) -> int:
    """Print the label table of a space."""
    parser = argparse.ArgumentParser(prog="ervlight labels", description=__doc__)
    parser.add_argument("space", nargs="?", default="mafw", choices=[d.value for d in DatasetName])
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)
    rows = describe(get_label_space(args.space))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(f"{'idx':>3} {'id':>3}  {'label':<38} {'r1omni':<28} {'goemotions':<24} accepts")
    for row in rows:
        goemotions = "+".join(map(str, row["goemotions"]))  # type: ignore[call-overload]
        accepts = ", ".join(map(str, row["accepts"]))  # type: ignore[call-overload]
        cells = f"{row['index']:>3} {row['id']:>3}  {row['label']!s:<38} {row['r1omni']!s:<28}"
        print(f"{cells} {goemotions:<24} {accepts}")
    return 0
