"""Generate the synthetic demo corpus: plan the clips, render them in parallel, write trees, texts and manifest.

:func:`generate_demo` is deterministic for a seed: each clip is drawn from a generator seeded by ``(seed,
dataset, clip id)`` and rendered independently, so the worker count never changes a byte of the label, split and
JSON files, nor the decoded frames and audio (the mp4 writer is deterministic).
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ervlight import __version__
from ervlight.data.mp4_writer import write_mp4
from ervlight.demo.emer import build_emer
from ervlight.demo.face import render_face
from ervlight.demo.manifest import README, build_manifest
from ervlight.demo.plan import DATASETS, SIZES, DatasetPlan, DemoSize, plan
from ervlight.demo.spec import ClipSpec
from ervlight.demo.text import caption
from ervlight.demo.trees import clip_path, write_dfew_splits, write_json, write_mafw_splits
from ervlight.demo.verifier_corpus import build_verifier_corpus
from ervlight.demo.voice import SAMPLE_RATE, synthesize_voice

__all__ = [
    "DATASETS",
    "GENERATOR_VERSION",
    "OUTPUTS",
    "SIZES",
    "DatasetPlan",
    "DemoSize",
    "generate_demo",
    "plan",
]

#: Version of the generator; bump it whenever the output for a seed changes.
GENERATOR_VERSION = "1.3.0"
#: What :func:`generate_demo` writes under the output folder (and removes first with ``overwrite=True``).
OUTPUTS = ("DFEW", "MAFW", "emer_coldstart.json", "verifier_corpus.jsonl", "manifest.json", "README.md")


def render_clip(task: tuple[ClipSpec, str]) -> str:
    """Synthesise, render and encode one clip to ``path``; returns the path (a multiprocessing task)."""
    spec, path = task
    voice = synthesize_voice(spec)
    frames = render_face(spec, voice.mouth)
    write_mp4(path, frames, spec.fps, voice.audio, SAMPLE_RATE, preset="superfast")
    return path


def _render_all(tasks: Sequence[tuple[ClipSpec, str]], workers: int, progress: bool) -> None:
    """Render every clip, in ``workers`` processes when more than one, with a progress bar."""
    bar = tqdm(total=len(tasks), desc="rendering clips", unit="clip", disable=not progress)
    if workers <= 1:
        for task in tasks:
            render_clip(task)
            bar.update()
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(render_clip, tasks, chunksize=2):
                bar.update()
    bar.close()


def _prepare(out: Path, overwrite: bool) -> None:
    """Create the output folder; refuse to mix with an earlier corpus unless ``overwrite``, then remove it."""
    present = [name for name in OUTPUTS if (out / name).exists()]
    if present and not overwrite:
        raise FileExistsError(f"{out} already holds a demo corpus ({', '.join(present)}); pass --overwrite")
    for name in present:
        target = out / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def generate_demo(
    out: str | Path,
    size: str | DemoSize = "small",
    seed: int = 0,
    *,
    workers: int = 2,
    incoherent_fraction: float = 0.3,
    emer_fraction: float | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Write the whole demo corpus under ``out`` and return its manifest (also written to ``manifest.json``).

    ``size`` names an entry of :data:`SIZES` or is a :class:`DemoSize` (tests use tiny ones).
    """
    if isinstance(size, str) and size not in SIZES:
        raise ValueError(f"unknown demo size {size!r}; expected one of {', '.join(SIZES)}")
    if not 0.0 <= incoherent_fraction <= 1.0:
        raise ValueError(f"incoherent_fraction must be in [0, 1], got {incoherent_fraction}")
    settings = SIZES[size] if isinstance(size, str) else size
    size_name = size if isinstance(size, str) else "custom"
    share = settings.emer_fraction if emer_fraction is None else emer_fraction
    if not 0.0 < share <= 1.0:
        raise ValueError(f"emer_fraction must be in (0, 1], got {share}")
    root = Path(out)
    _prepare(root, overwrite)
    plans = plan(settings, seed)
    tasks = [(s, str(root / clip_path(s.dataset, s.clip_id))) for p in plans.values() for s in p.specs]
    _render_all(tasks, workers, progress)
    _write_trees(root, plans)
    emer = build_emer(plans, seed, share, incoherent_fraction)
    write_json(root / "emer_coldstart.json", emer.records)
    corpus = build_verifier_corpus(settings.verifier, seed)
    (root / "verifier_corpus.jsonl").write_text("".join(_json_line(r) for r in corpus), encoding="utf-8")
    manifest = build_manifest(
        plans, emer, Counter(r["split"] for r in corpus),
        generator={"name": "ervlight.demo", "version": GENERATOR_VERSION, "ervlight": __version__},
        settings={"seed": seed, "size": size_name, "per_class": settings.per_class,
                  "duration_s": list(settings.duration_s), "fps": settings.fps,
                  "frame_size": 224, "sample_rate": SAMPLE_RATE, "emer_fraction": share,
                  "incoherent_fraction": incoherent_fraction},
    )  # fmt: skip
    write_json(root / "manifest.json", manifest)
    (root / "README.md").write_text(
        README.format(version=GENERATOR_VERSION, size=size_name, seed=seed), encoding="utf-8"
    )
    return manifest


def _json_line(record: dict[str, Any]) -> str:
    """One JSON Lines row (UTF-8 text, no ASCII escaping)."""
    return json.dumps(record, ensure_ascii=False) + "\n"


def _write_trees(root: Path, plans: dict[str, DatasetPlan]) -> None:
    """Write the DFEW split CSVs and the MAFW split lists (with captions)."""
    dfew, mafw = plans["dfew"], plans["mafw"]
    write_dfew_splits(
        root / "DFEW", [s.clip_id for s in dfew.specs], [s.label for s in dfew.specs], dfew.folds
    )
    captions = [caption(s) for s in mafw.specs]
    write_mafw_splits(
        root / "MAFW", [s.clip_id for s in mafw.specs], [s.label for s in mafw.specs], mafw.folds, captions
    )
