"""A real two-process gloo run: the summed metric states equal one process seeing every clip."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ervlight.evaluation.metrics import consistency_metrics

N, C = 50, 4


def _inputs() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, C, (N,), generator=g)
    preds = torch.randint(-1, C, (N,), generator=g)
    judged = torch.randint(-1, C, (N,), generator=g)
    return preds, target, judged, torch.rand(N, generator=g) > 0.5


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        preds, target, judged, formatted = _inputs()
        shard = slice(0, 17) if rank == 0 else slice(17, N)  # unequal shards
        metrics = consistency_metrics(C, tables=True)
        metrics.update(
            preds=preds[shard], target=target[shard], judged=judged[shard], well_formatted=formatted[shard]
        )
        values = metrics.compute()  # syncs: every state is summed over both processes
        torch.save(values, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_sync_equals_one_process(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = str(tmp_path / "values.pt")
    mp.spawn(_worker, args=(2, port, out), nprocs=2)
    preds, target, judged, formatted = _inputs()
    single = consistency_metrics(C, tables=True)
    single.update(preds=preds, target=target, judged=judged, well_formatted=formatted)
    expected = single.compute()
    for rank in (0, 1):
        synced = torch.load(f"{out}.{rank}", weights_only=True)
        assert synced.keys() == expected.keys()
        for key in expected:
            torch.testing.assert_close(synced[key], expected[key], equal_nan=True, msg=key)
