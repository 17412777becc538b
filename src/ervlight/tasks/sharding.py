"""FSDP2 sharding of a policy inside ``configure_model`` (Lightning's ``ModelParallelStrategy``), and gathering it.

:func:`shard_policy` applies PyTorch's ``fully_shard`` to every unit the policy names
(:meth:`~ervlight.policy.base.Policy.shard_units`: decoder layers, vision blocks) and then to the policy itself (the
root: embeddings, LM head, final norm, unlisted towers). The tasks never call the policy's ``forward``; they call
``encode``, ``generate`` and ``score_completions``, so these are registered as FSDP forward methods: each call
gathers the root's weights first, and each unit gathers its own in its ``forward`` and frees them after it
(FULL_SHARD), gathering them again for backward. :func:`full_state_dict` gathers the whole state onto rank 0's CPU
(every rank must call it).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import FSDPModule, fully_shard, register_fsdp_forward_method

from ervlight.policy.base import Policy

__all__ = ["FORWARD_METHODS", "data_parallel_mesh", "full_state_dict", "is_sharded", "shard_policy"]

#: Policy methods that run the model (each one gathers the root unit's weights like a ``forward``).
FORWARD_METHODS = ("encode", "generate", "score_completions")


def data_parallel_mesh(mesh: DeviceMesh) -> DeviceMesh:
    """The ``data_parallel`` dimension of Lightning's mesh (tensor parallelism is not supported: size 1)."""
    names = mesh.mesh_dim_names or ()
    if "tensor_parallel" in names and mesh["tensor_parallel"].size() != 1:
        raise ValueError(
            "ervlight shards policies with FSDP2 only: use ModelParallelStrategy(data_parallel_size=<devices>, "
            f"tensor_parallel_size=1), got tensor_parallel_size={mesh['tensor_parallel'].size()}"
        )
    return mesh["data_parallel"] if "data_parallel" in names else mesh


def shard_policy(policy: Policy, mesh: DeviceMesh, reshard_after_forward: bool = True) -> None:
    """Shard ``policy`` in place over ``mesh``: each of its shard units, then the policy itself (FSDP2)."""
    for unit in policy.shard_units():
        fully_shard(unit, mesh=mesh, reshard_after_forward=reshard_after_forward)
    fully_shard(policy, mesh=mesh, reshard_after_forward=reshard_after_forward)
    for name in FORWARD_METHODS:
        register_fsdp_forward_method(policy, name)


def is_sharded(module: nn.Module) -> bool:
    """Whether ``module`` was sharded with ``fully_shard``."""
    return isinstance(module, FSDPModule)


def full_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """The unsharded state of ``module`` on CPU (complete on rank 0; a collective: every rank calls it)."""
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    state: dict[str, torch.Tensor] = dict(get_model_state_dict(module, options=options))  # type: ignore[arg-type]
    return state
