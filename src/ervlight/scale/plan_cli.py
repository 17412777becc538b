"""``ervlight plan --config FILE.yaml [--gpus N] [--gpu-memory GIB]``: per-GPU memory and the strategy that fits.

Prints every term for DDP, DeepSpeed ZeRO-2, FSDP (FULL_SHARD, and FSDP2 ``fully_shard``: the same bytes) and
ZeRO-3; a strategy fits when its peak stays under ``--headroom`` of the GPU memory (the rest is the CUDA context,
communication buffers and allocator fragmentation). When the configured strategy does not fit it names the first
that does; when none does it adds, one at a time, gradient checkpointing, a micro-batch of 1, LoRA and CPU offload
(ZeRO-3 offload), and says how many GPUs FSDP needs as it stands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from ervlight.scale.memory import STRATEGIES, MemoryPlan, Strategy, plan_memory
from ervlight.scale.run_config import PlanConfigError, RunConfig, load_run_config

__all__ = ["describe", "main", "recommend", "table"]

GIB = 1024**3
_MAX_GPUS = 512
_SHARDED_NOTE = (
    "note: sharded figures assume one FSDP unit per decoder/vision layer "
    "and the reference sharded like the policy"
)
_ROWS: tuple[tuple[str, Callable[[MemoryPlan], int]], ...] = (
    ("weights", lambda p: p.weights),
    ("gradients", lambda p: p.gradients),
    ("optimizer states", lambda p: p.optimizer),
    ("reference model", lambda p: p.reference),
    ("16-bit weight copies", lambda p: p.weight_copies),
    ("activations", lambda p: p.activations),
    ("logits chunk", lambda p: p.logits),
    ("rollout KV cache", lambda p: p.kv_cache),
    ("rollout peak", lambda p: p.rollout_peak),
    ("training peak", lambda p: p.training_peak),
    ("PEAK", lambda p: p.peak),
)


def plans(run: RunConfig, gpus: int | None = None) -> dict[Strategy, MemoryPlan]:
    """The plan of every strategy for ``run`` on ``gpus`` (default: the run's) devices."""
    count = gpus or run.gpus
    return {s: plan_memory(run.spec, run.setup, run.work, s, count) for s in STRATEGIES}


def table(by_strategy: dict[Strategy, MemoryPlan], usable: int) -> str:
    """The per-GPU terms in GiB, one column per strategy, and whether each fits ``usable`` bytes."""
    names = list(by_strategy)
    width = max(len(n) for n in names) + 2
    lines = ["GiB per GPU".ljust(22) + "".join(n.rjust(width) for n in names)]
    for label, term in _ROWS:
        lines.append(label.ljust(22) + "".join(f"{term(p) / GIB:{width}.2f}" for p in by_strategy.values()))
    fits = ["yes" if p.peak <= usable else "no" for p in by_strategy.values()]
    lines.append("fits".ljust(22) + "".join(f.rjust(width) for f in fits))
    return "\n".join(lines)


def _first_fit(by_strategy: dict[Strategy, MemoryPlan], usable: int) -> MemoryPlan | None:
    """The least-communicating strategy whose peak fits."""
    return next((p for p in by_strategy.values() if p.peak <= usable), None)


def _offload(plan: MemoryPlan) -> MemoryPlan:
    """ZeRO-3 with parameters, gradients and optimizer states offloaded to CPU: the GPU keeps the working set."""
    return replace(plan, weights=0, gradients=0, optimizer=0, reference=0)


def _gpus_needed(run: RunConfig, usable: int) -> int | None:
    """Fewest GPUs (up to 512) with which FSDP fits as configured; ``None`` when the unsharded terms alone overflow."""
    for count in range(1, _MAX_GPUS + 1):
        if plan_memory(run.spec, run.setup, run.work, "fsdp", count).peak <= usable:
            return count
    return None


def recommend(run: RunConfig, usable: int, lora_run: Callable[[], RunConfig] | None = None) -> list[str]:
    """What the plan says: fits as configured, switch strategy, or the changes that make it fit."""
    current = plans(run)
    configured = current[run.strategy]
    if configured.peak <= usable:
        return [f"fits: {run.strategy} on {run.gpus} GPU(s), peak {configured.peak / GIB:.1f} GiB per GPU"]
    lines = [f"does not fit: {run.strategy} needs {configured.peak / GIB:.1f} GiB per GPU"]
    best = _first_fit(current, usable)
    if best is not None:
        lines.append(f"switch strategy to {best.strategy}: peak {best.peak / GIB:.1f} GiB per GPU")
        return lines + ([_SHARDED_NOTE] if best.strategy in ("fsdp", "deepspeed_stage_3") else [])
    lines.append("no strategy fits as configured; changes, applied one after another:")
    step = run
    changes: list[tuple[str, Callable[[RunConfig], RunConfig]]] = [
        (
            "gradient checkpointing (gradient_checkpointing: true)",
            lambda r: replace(r, work=replace(r.work, gradient_checkpointing=True)),
        ),
        ("micro_batch_size: 1", lambda r: replace(r, work=replace(r.work, micro_batch=1))),
    ]
    if lora_run is not None and (run.finetune is None or run.finetune.mode != "lora"):
        changes.append(("LoRA (finetune.mode: lora)", lambda r: replace(lora_run(), work=r.work)))
    applied: list[str] = []
    for label, change in changes:
        step = change(step)
        applied.append(label)
        fit = _first_fit(plans(step), usable)
        if fit is not None:
            return [*lines, f"  + {' + '.join(applied)}: {fit.strategy} fits, peak {fit.peak / GIB:.1f} GiB"]
        lines.append(f"  + {label}: still no fit (smallest peak {_smallest(step) / GIB:.1f} GiB)")
    offloaded = _offload(plans(step)["deepspeed_stage_3"])
    if offloaded.peak <= usable:
        lines.append(
            f"  + CPU offload (deepspeed_stage_3_offload): fits, peak {offloaded.peak / GIB:.1f} GiB"
        )
    else:
        lines.append(
            f"  + CPU offload: still {offloaded.peak / GIB:.1f} GiB (activations and KV cache alone)"
        )
    needed = _gpus_needed(run, usable)
    more = (
        f"fsdp fits from {needed} GPUs as configured"
        if needed
        else "no GPU count makes fsdp fit as configured"
    )
    return [*lines, f"more GPUs: {more}"]


def _smallest(run: RunConfig) -> int:
    """The smallest peak over the strategies."""
    return min(p.peak for p in plans(run).values())


def describe(run: RunConfig, path: Path, gpu_memory: float, headroom: float) -> str:
    """The header lines: config, model, hardware and workload."""
    spec, work = run.spec, run.work
    mode = "full" if run.finetune is None else run.finetune.mode
    frozen = ", ".join(run.finetune.freeze) if run.finetune and run.finetune.freeze else "nothing"
    device = "GPU" if run.accelerator != "cpu" else "device (CPU run: host memory)"
    return "\n".join(
        [
            f"config: {path} ({run.task}, {run.policy})",
            f"model: {spec.name} from {spec.source}",
            f"  {spec.total:,} parameters, {spec.trainable:,} trainable ({mode}; frozen: {frozen})",
            f"hardware: {run.gpus} {device} x {gpu_memory:g} GiB, usable {headroom:.0%} = "
            f"{gpu_memory * headroom:.1f} GiB; precision {run.precision}, weights {run.weight_dtype}, "
            f"{'reference copy' if run.setup.reference_copy else 'no reference copy'}",
            f"per GPU and step: {work.prompts} prompt(s) x {work.generations} completion(s), micro-batch "
            f"{work.micro_batch}; sequence {work.prompt_tokens} text + {work.media_tokens} media + "
            f"{work.completion_tokens} completion = {work.sequence} tokens; gradient checkpointing "
            f"{'on' if work.gradient_checkpointing else 'off'}",
        ]
    )


def _parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    parser = argparse.ArgumentParser(
        prog="ervlight plan",
        description="per-GPU memory of a training config on N GPUs, and the strategy that fits",
    )
    parser.add_argument("--config", required=True, type=Path, help="a fit config (GRPO or SFT)")
    parser.add_argument("--gpus", type=int, default=None, help="devices (default: trainer.devices)")
    parser.add_argument("--gpu-memory", type=float, default=80.0, help="GiB per GPU (default 80)")
    parser.add_argument("--headroom", type=float, default=0.9, help="usable share of it (default 0.9)")
    parser.add_argument("--model", default=None, help="built-in architecture when the model folder is absent")
    parser.add_argument("--audio-seconds", type=float, default=5.0, help="audio per clip (default 5 s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ervlight plan``; returns the exit code (2 for a config it cannot read)."""
    args = _parser().parse_args(None if argv is None else list(argv))
    if args.gpus is not None and args.gpus < 1:
        print("ervlight plan: --gpus must be >= 1", file=sys.stderr)
        return 2
    try:
        run = load_run_config(args.config, args.model, args.audio_seconds, args.gpus)
    except PlanConfigError as error:
        print(f"ervlight plan: {error}", file=sys.stderr)
        return 2
    usable = int(args.gpu_memory * args.headroom * GIB)

    def lora_run() -> RunConfig:
        """The same run with LoRA adapters instead of full fine-tuning."""
        return load_run_config(args.config, args.model, args.audio_seconds, args.gpus, lora=True)

    print(describe(run, args.config, args.gpu_memory, args.headroom))
    print()
    print(table(plans(run), usable))
    print()
    print("\n".join(recommend(run, usable, lora_run)))
    return 0
