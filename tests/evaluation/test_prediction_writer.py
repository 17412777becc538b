"""PredictionWriter: one process writes the file in stream order; several write parts that rank 0 merges."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from ddp_predictions_run import CLIPS, GOLD, main

from ervlight.evaluation.predictions import PredictionRecord, merge_parts, read_predictions, write_predictions

HERE = Path(__file__).resolve().parent


def _expected() -> list[PredictionRecord]:
    return [PredictionRecord(c, "dfew", 1, g, f"<think>clip {c}.</think><answer>{g}</answer>")
            for c, g in zip(CLIPS, GOLD, strict=True)]  # fmt: skip


def test_one_process_writes_the_file_as_before(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "predictions.jsonl"
    main(str(out), 1)
    assert read_predictions([out]) == _expected()
    assert out.read_bytes() == write_predictions(_expected(), tmp_path / "reference.jsonl").read_bytes()
    assert f"wrote 5 predictions to {out}" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.jsonl", "reference.jsonl"]


def test_merge_orders_by_index_and_drops_padded_repeats(tmp_path: Path) -> None:
    records = _expected()
    rank_of = {
        0: [0, 2, 4],
        1: [1, 3, 0],
    }  # DistributedSampler(5 clips, 2 replicas): index 0 padded onto rank 1
    parts = []
    for rank, indices in rank_of.items():
        part = tmp_path / f"p.jsonl.rank{rank}"
        part.write_text(
            "".join(json.dumps({"loader": 0, "index": i, **asdict(records[i])}) + "\n" for i in indices)
        )
        parts.append(part)
    assert merge_parts(parts) == records
    second = tmp_path / "second.rank0"  # a second test loader keeps its own order, after the first
    second.write_text(json.dumps({"loader": 1, "index": 0, **asdict(records[4])}) + "\n")
    assert merge_parts([*parts, second]) == [*records, records[4]]


@pytest.mark.slow
def test_two_processes_merge_into_one_file_in_dataset_order(tmp_path: Path) -> None:
    out = tmp_path / "predictions.jsonl"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(HERE / "ddp_predictions_run.py"), str(out), "2"],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"2-process test run: {time.perf_counter() - start:.1f} s")
    assert read_predictions([out]) == _expected()  # 6 sampled (one padded repeat), 5 written, in order
    assert f"wrote 5 predictions from 2 processes to {out}" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.jsonl"]  # the parts are gone
