"""Per-GPU memory of a training run, term by term, for each distributed strategy (small pure functions).

Bytes per parameter (``P`` all parameters, ``T`` trainable ones, ``w`` the policy's weight dtype size):

* Lightning DDP / FSDP / FSDP2 keep the weights in the policy's dtype (``dtype: float32`` = fp32 master weights,
  bf16 compute by autocast): weights ``w P``, gradients ``w T``, AdamW's two states ``2 w T`` plus its 4-byte
  ``step`` tensor per trainable tensor. DDP replicates all of it; FSDP FULL_SHARD and FSDP2 ``fully_shard`` divide
  it by ``N`` (and the frozen reference copy with it).
* DeepSpeed (bf16) casts the module to bf16 and keeps fp32 masters and fp32 Adam states in the optimizer (the ZeRO
  paper's 2 + 2 + 12 bytes): ZeRO-2 shards the 12 optimizer bytes and the gradients, ZeRO-3 also the weights.
* Under bf16 autocast with fp32 weights, the bf16 casts of the weights on the backward path are cached for the
  step (2 bytes each); sharded strategies hold only the gathered units (two decoder layers, prefetch included).

Activations per decoder layer per token (bytes, measured exactly on transformers' Qwen2 layer with sdpa attention,
no dropout; ``h`` hidden, ``i`` intermediate, ``k`` key/value width, ``a`` heads): fp32 ``32h + 16i + 8k + 4a + 8``;
bf16 autocast over fp32 weights (the fp32 residual stream and norms stay fp32) ``30h + 8i + 4k + 4a + 8``; bf16
weights ``16h + 8i + 4k + 4a + 8``. Gradient checkpointing keeps each layer's input (``w h``) and recomputes one
layer at a time. Outside the layers the final norm keeps ``2 w h + 12`` bytes per token. Checked against the
bytes autograd saves (``saved_tensors_hooks``) on a Qwen2 stack of other sizes: within 1% without checkpointing
(tests/scale/test_memory.py). The vision tower (when it trains) uses the same formula over its patch tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from ervlight.scale.models import DecoderShape, ModelSpec

__all__ = [
    "STRATEGIES",
    "MemoryPlan",
    "Setup",
    "Workload",
    "activation_bytes_per_token",
    "plan_memory",
]

Strategy = Literal["ddp", "deepspeed_stage_2", "fsdp", "deepspeed_stage_3"]

#: Strategies the plan compares, from least to most communication.
STRATEGIES: tuple[Strategy, ...] = ("ddp", "deepspeed_stage_2", "fsdp", "deepspeed_stage_3")

_ADAM_STEP_BYTES = 4  # torch AdamW's per-tensor ``step`` (a float32 scalar)
_LOGIT_COPIES = 3  # fp32 logits, log-softmax and softmax of one chunk (bytes: 4 each)


@dataclass(frozen=True)
class Setup:
    """Precision and fine-tuning facts the plan needs."""

    weight_bytes: int  # policy dtype: 4 (float32 masters) or 2 (bfloat16)
    autocast: bool  # bf16/fp16 "-mixed" precision: compute in 16 bits over the weights
    optimizer_states: int  # 2 for Adam/AdamW, 1 for SGD with momentum, 0 for plain SGD
    reference_copy: bool  # beta > 0 with full fine-tuning: a frozen deep copy of the policy


@dataclass(frozen=True)
class Workload:
    """Tokens and rows one GPU processes per step."""

    prompts: int  # prompts per GPU per step (data.batch_size)
    generations: int  # completions per prompt (G; 1 for SFT)
    micro_batch: int  # completions per forward/backward pass
    prompt_tokens: int  # text tokens of a prompt
    media_tokens: int  # video + audio placeholder tokens of a prompt (decoder positions)
    vision_patches: int  # vision-tower tokens of a clip (before the 2x2 merge)
    completion_tokens: int  # completion (GRPO) or target (SFT) tokens
    gradient_checkpointing: bool
    logprob_chunk: int  # completion positions through the LM head at a time
    rollout: bool  # GRPO samples (KV cache) before training; SFT does not

    @property
    def sequence(self) -> int:
        """Decoder positions of one row: prompt text + media + completion."""
        return self.prompt_tokens + self.media_tokens + self.completion_tokens


@dataclass(frozen=True)
class MemoryPlan:
    """Per-GPU bytes of every term for one strategy on ``gpus`` devices, and the phase peaks."""

    strategy: Strategy
    gpus: int
    weights: int
    gradients: int
    optimizer: int
    reference: int
    weight_copies: int
    activations: int
    logits: int
    kv_cache: int

    @property
    def persistent(self) -> int:
        """Bytes held through the whole step: weights, optimizer states and the reference."""
        return self.weights + self.optimizer + self.reference

    @property
    def rollout_peak(self) -> int:
        """Sampling phase: persistent state plus the KV cache (gradients are freed between steps)."""
        return self.persistent + self.kv_cache

    @property
    def training_peak(self) -> int:
        """Loss phase: persistent state, gradients, weight copies, activations and one logits chunk."""
        return self.persistent + self.gradients + self.weight_copies + self.activations + self.logits

    @property
    def peak(self) -> int:
        """The larger of the two phases."""
        return max(self.rollout_peak, self.training_peak)


def activation_bytes_per_token(shape: DecoderShape, weight_bytes: int, autocast: bool) -> int:
    """Saved-for-backward bytes of one decoder layer per token (formula in the module docstring)."""
    h, i, k, a = shape.hidden, shape.intermediate, shape.kv_width, shape.heads
    if weight_bytes == 4 and not autocast:
        return 32 * h + 16 * i + 8 * k + 4 * a + 8
    if weight_bytes == 4:
        return 30 * h + 8 * i + 4 * k + 4 * a + 8
    return 16 * h + 8 * i + 4 * k + 4 * a + 8


def stack_activation_bytes(
    shape: DecoderShape, tokens: int, weight_bytes: int, autocast: bool, checkpointing: bool
) -> int:
    """Saved activations of a whole stack over ``tokens`` tokens, with or without gradient checkpointing."""
    layer = activation_bytes_per_token(shape, weight_bytes, autocast) * tokens
    final_norm = (2 * weight_bytes * shape.hidden + 12) * tokens  # the last norm's input and output
    if checkpointing:
        return shape.layers * weight_bytes * shape.hidden * tokens + layer + final_norm
    return shape.layers * layer + final_norm


def training_tokens(work: Workload) -> int:
    """Decoder tokens of one micro-batch: its completions plus its prompts, each prompt run once for its group."""
    prompts = min(work.prompts, -(-work.micro_batch // work.generations))
    return work.micro_batch * work.completion_tokens + prompts * (work.prompt_tokens + work.media_tokens)


def _state_bytes(spec: ModelSpec, setup: Setup, strategy: Strategy) -> tuple[int, int, int, int]:
    """(weights, gradients, optimizer, reference) bytes on ONE device before sharding."""
    if strategy.startswith("deepspeed"):
        weights, grads = 2 * spec.total, 2 * spec.trainable
        optimizer = (4 + 4 * setup.optimizer_states) * spec.trainable
        return weights, grads, optimizer, 2 * spec.total if setup.reference_copy else 0
    w = setup.weight_bytes
    optimizer = setup.optimizer_states * w * spec.trainable
    optimizer += _ADAM_STEP_BYTES * spec.trainable_tensors if setup.optimizer_states else 0
    return w * spec.total, w * spec.trainable, optimizer, w * spec.total if setup.reference_copy else 0


def _weight_copies(spec: ModelSpec, setup: Setup, strategy: Strategy) -> int:
    """16-bit working copies of the weights: autocast's cache, or the units a sharded strategy gathers."""
    if strategy in ("fsdp", "deepspeed_stage_3"):
        return 2 * 2 * spec.largest_layer
    if strategy == "deepspeed_stage_2":
        return 0  # the module itself is bf16: nothing to cast
    if setup.autocast and setup.weight_bytes == 4:
        return 2 * spec.language_model
    return 0


def _ceil_div(value: int, parts: int) -> int:
    """``value / parts`` rounded up (a shard's bytes)."""
    return -(-value // parts)


def plan_memory(spec: ModelSpec, setup: Setup, work: Workload, strategy: Strategy, gpus: int) -> MemoryPlan:
    """Every per-GPU term of ``strategy`` on ``gpus`` devices."""
    weights, grads, optimizer, reference = _state_bytes(spec, setup, strategy)
    shard_weights = strategy in ("fsdp", "deepspeed_stage_3")
    shard_grads = strategy != "ddp"
    compute = 2 if setup.autocast or setup.weight_bytes == 2 or strategy.startswith("deepspeed") else 4
    residual = 2 if strategy.startswith("deepspeed") else setup.weight_bytes
    autocast = setup.autocast and residual == 4
    tokens = training_tokens(work)
    activations = stack_activation_bytes(
        spec.decoder, tokens, residual, autocast, work.gradient_checkpointing
    )
    if spec.vision is not None and spec.vision_trainable:
        patches = work.prompts * work.vision_patches  # the step's clips, encoded once with gradients
        activations += stack_activation_bytes(
            spec.vision, patches, residual, autocast, work.gradient_checkpointing
        )
    chunk = min(work.logprob_chunk, work.micro_batch * work.completion_tokens)
    rows = work.prompts * work.generations if work.rollout else 0
    kv = rows * work.sequence * spec.decoder.layers * 2 * spec.decoder.kv_width * compute
    return MemoryPlan(
        strategy=strategy,
        gpus=gpus,
        weights=_ceil_div(weights, gpus) if shard_weights else weights,
        gradients=_ceil_div(grads, gpus) if shard_grads else grads,
        optimizer=optimizer if strategy == "ddp" else _ceil_div(optimizer, gpus),
        reference=_ceil_div(reference, gpus) if shard_weights else reference,
        weight_copies=_weight_copies(spec, setup, strategy),
        activations=activations,
        logits=chunk * spec.decoder.vocab * 4 * _LOGIT_COPIES,
        kv_cache=kv,
    )


def with_changes(work: Workload, **changes: object) -> Workload:
    """A copy of ``work`` with some fields changed (the plan's what-if recommendations)."""
    return replace(work, **changes)  # type: ignore[arg-type]
