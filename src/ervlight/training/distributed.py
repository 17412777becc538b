"""Release the default process group before the interpreter exits (Lightning does so for NCCL only).

Left to the interpreter's exit, a gloo process group is destroyed during static destruction while its worker
threads may still be joinable; the C++ runtime then calls ``std::terminate`` ("terminate called without an
active exception") and the rank dies with SIGABRT (exit -6), although training finished. Measured on the 2-core
development machine with two gloo ranks that exit right after a barrier: 3 aborts in 45 runs without this call,
0 in 30 with it.
"""

from __future__ import annotations

import torch.distributed as dist

__all__ = ["release_process_group"]


def release_process_group() -> None:
    """Destroy the default process group if one is initialised (a no-op on one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
