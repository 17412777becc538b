"""The resumable training loader under 2-process DDP on CPU (gloo), through ERVDataModule and Lightning.

Slow (several interpreter start-ups): ``pytest -m slow tests/data/test_sampling_ddp.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _run(out: Path, corpus: Path, mode: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(HERE / "ddp_resume_run.py"), str(out), str(corpus), mode],
        env=env, capture_output=True, text=True, timeout=600, cwd=out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def _seen(out: Path, mode: str, rank: int) -> list[list[str]]:
    return json.loads((out / f"{mode}_rank{rank}.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.slow
def test_ddp_ranks_split_each_epoch_and_resume_mid_epoch(tmp_path: Path) -> None:
    corpus = tmp_path / "emer.json"
    texts = [f"Sentence number {i} of the corpus." for i in range(10)]
    corpus.write_text(json.dumps([{"reasoning": t, "label": "happy"} for t in texts]), encoding="utf-8")
    for mode in ("straight", "first", "resumed", "unsharded"):
        _run(tmp_path, corpus, mode)
    straight = [_seen(tmp_path, "straight", rank) for rank in (0, 1)]
    assert [[len(b) for b in s] for s in straight] == [[2, 2, 1, 2, 2, 1]] * 2  # 5 texts per rank and epoch
    for epoch in (slice(0, 3), slice(3, 6)):  # the two ranks split each epoch exactly
        served = [t for rank in (0, 1) for b in straight[rank][epoch] for t in b]
        assert sorted(served) == sorted(texts)
    assert straight[0][:3] != straight[0][3:]  # a new order in epoch 1
    for rank in (0, 1):  # both ranks resume where the checkpoint stopped
        assert _seen(tmp_path, "first", rank) + _seen(tmp_path, "resumed", rank) == straight[rank]
    weights = [json.loads((tmp_path / f"{m}.json").read_text()) for m in ("straight", "resumed")]
    assert weights[0] == weights[1]
    assert weights[0]["world_size"] == 2
    unsharded = [_seen(tmp_path, "unsharded", rank) for rank in (0, 1)]
    # use_distributed_sampler=False: every rank reads the whole epoch, in rank 0's order (its drawn seed)
    assert unsharded[0] == unsharded[1]
    assert [len(b) for b in unsharded[0]] == [2, 2]
