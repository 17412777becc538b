"""The reward registry: named reward functions with weights, built from config entries (mappings or specs).

Built-in names are ``format``, ``accuracy`` and ``explanation``; a user reward is any class following
:class:`ervlight.rewards.base.RewardFunction`, named by ``class_path`` in the config::

    rewards:
      - {name: format}
      - {name: accuracy}
      - {name: explanation, init_args: {verifier: runs/verifier_demo/verifier}}
      - {class_path: mypackage.rewards.LengthPenalty, weight: 0.1, init_args: {max_words: 120}}

Symbols: ``N`` completions, ``R`` reward functions.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ervlight.errors import ConfigError
from ervlight.rewards.base import RewardFunction, RewardInputs

__all__ = ["BUILTIN_REWARDS", "RewardRegistry", "RewardSpec", "build_reward", "register_reward"]

#: Built-in reward names and the classes they build (imported only when used).
BUILTIN_REWARDS: dict[str, str] = {
    "format": "ervlight.rewards.format.FormatReward",
    "accuracy": "ervlight.rewards.accuracy.AccuracyReward",
    "explanation": "ervlight.rewards.explanation.ExplanationReward",
}


def register_reward(name: str, class_path: str) -> None:
    """Make ``name`` a shorthand for ``class_path`` in reward configs."""
    if name in BUILTIN_REWARDS and BUILTIN_REWARDS[name] != class_path:
        raise ValueError(f"reward name {name!r} is already registered for {BUILTIN_REWARDS[name]}")
    BUILTIN_REWARDS[name] = class_path


@dataclass
class RewardSpec:
    """One reward in a config: a registered ``name`` or a ``class_path``, its ``weight`` and ``init_args``.

    Attributes:
        name: a registered name (``format``, ``accuracy``, ``explanation``) or, with ``class_path``, the name
            the reward is logged under (default: the class's ``name`` attribute).
        class_path: dotted path of a class following the ``RewardFunction`` protocol.
        weight: multiplier of this reward in the total (the reference uses 1 for each).
        init_args: keyword arguments for the class.
    """

    name: str | None = None
    class_path: str | None = None
    weight: float = 1.0
    init_args: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def coerce(cls, entry: RewardSpec | Mapping[str, Any]) -> RewardSpec:
        """A spec from a config mapping (keys ``name``, ``class_path``, ``weight``, ``init_args``) or a spec."""
        if isinstance(entry, RewardSpec):
            return entry
        unknown = sorted(set(entry) - {"name", "class_path", "weight", "init_args"})
        if unknown:
            raise ConfigError(f"reward entry {dict(entry)} has unknown keys {unknown}")
        return cls(entry.get("name"), entry.get("class_path"), float(entry.get("weight", 1.0)),
                   dict(entry.get("init_args") or {}))  # fmt: skip


def _import(class_path: str) -> type:
    """Import ``package.module.Class`` with an error that names the path."""
    module_name, _, class_name = class_path.rpartition(".")
    try:
        cls: type = getattr(importlib.import_module(module_name), class_name)
        return cls
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(f"reward class_path {class_path!r} cannot be imported: {error}") from error


def build_reward(spec: RewardSpec) -> tuple[str, RewardFunction]:
    """Instantiate one reward; returns ``(name, function)``."""
    if spec.class_path is None:
        if spec.name not in BUILTIN_REWARDS:
            raise ConfigError(
                f"unknown reward name {spec.name!r} in model.init_args.rewards: use one of "
                f"{sorted(BUILTIN_REWARDS)} or give a class_path"
            )
        class_path = BUILTIN_REWARDS[spec.name]
    else:
        class_path = spec.class_path
    cls = _import(class_path)
    try:
        function = cls(**spec.init_args)
    except TypeError as error:
        if not _bad_arguments(cls, spec.init_args):
            raise
        raise ConfigError(
            f"reward {spec.name or class_path!r} in model.init_args.rewards: init_args {sorted(spec.init_args)} "
            f"do not fit {class_path}({_parameters(cls)}): {error}"
        ) from None
    if not isinstance(function, RewardFunction):
        raise TypeError(f"{class_path} does not follow the RewardFunction protocol (a `name` and __call__)")
    return spec.name or function.name, function


def _parameters(cls: type) -> str:
    """The constructor parameters of ``cls`` as written in its signature (without ``self``)."""
    return ", ".join(str(p) for p in inspect.signature(cls).parameters.values())


def _bad_arguments(cls: type, init_args: Mapping[str, Any]) -> bool:
    """Whether ``init_args`` do not bind to the constructor of ``cls`` (an unknown or a missing argument)."""
    try:
        inspect.signature(cls).bind(**init_args)
    except TypeError:
        return True
    return False


class RewardRegistry:
    """The weighted reward functions of a GRPO run, in config order; calling it gives ``[N, R]`` rewards."""

    def __init__(self, entries: Sequence[RewardSpec | Mapping[str, Any]]) -> None:
        if not entries:
            raise ConfigError("GRPO needs at least one reward")
        specs = [RewardSpec.coerce(entry) for entry in entries]
        built = [build_reward(spec) for spec in specs]
        self.names = [name for name, _ in built]
        if len(set(self.names)) != len(self.names):
            raise ConfigError(f"reward names must be unique, got {self.names}")
        self.functions = [function for _, function in built]
        self.weights = torch.tensor([float(spec.weight) for spec in specs])  # [R]

    def __len__(self) -> int:
        return len(self.functions)

    def __iter__(self) -> Iterator[tuple[str, RewardFunction]]:
        return iter(zip(self.names, self.functions, strict=True))

    def index(self, name: str) -> int:
        """Column of reward ``name`` in the ``[N, R]`` matrix."""
        if name not in self.names:
            raise KeyError(f"no reward named {name!r}; configured rewards: {self.names}")
        return self.names.index(name)

    def __call__(self, inputs: RewardInputs) -> torch.Tensor:
        """``[N, R]`` float rewards, unweighted, one column per function."""
        columns = []
        for name, function in self:
            scores = torch.as_tensor(function(inputs), dtype=torch.float32).detach().cpu().reshape(-1)  # [N]
            if scores.numel() != len(inputs.completions):
                count = len(inputs.completions)
                raise ValueError(f"reward {name!r} returned {scores.numel()} scores for {count} completions")
            columns.append(scores)
        return torch.stack(columns, dim=1)  # [N, R]
