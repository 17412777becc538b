"""A lean single-token decode step for plain Qwen2 decoders (``Qwen2Model``): the Qwen2 backbones' decode fast path.

Qwen2-based backbones (:class:`~ervlight.policy.backbones.tiny_omni.TinyOmni`, and
:class:`~ervlight.policy.backbones.causal_lm.CausalLMPolicy` over a Qwen2 LM) return :func:`lean_qwen2_step` from
:meth:`~ervlight.policy.decoder.DecoderPolicy.decode_step_factory`; the generic decode loop calls it through
:attr:`~ervlight.policy.generation.parts.DecoderParts.step_factory` and uses the step when it applies.

A decode step of a small model on CPU is dominated by per-op dispatch and Python overhead, not arithmetic: HF's Qwen2
layer code runs hundreds of small ops a step (mask and cache bookkeeping, kwargs plumbing, module ``__call__``
machinery, ``repeat_kv`` copies). :class:`LeanQwen2Step` does the same computation with fewer ops: per layer
RMSNorm, the q/k/v projections, the rotary embedding at each row's position (cos/sin from the model's own rotary
module, so rope scaling stays right), the new key/value written into the growing cache
(:mod:`ervlight.policy.generation.kv_cache`), grouped-query attention of the one query over the filled cache with
the padding mask (made additive once a step) through ``scaled_dot_product_attention`` (the query heads of a
key/value head are laid out as that head's queries, so keys/values are never repeated), ``o_proj``, residual,
RMSNorm, SiLU-gated MLP, residual; then the final norm. It uses the model's own weights and eps, and calls each
linear layer's ``forward`` (so the transposed copies of :mod:`ervlight.policy.generation.fast_linear` apply inside
the decode loop).

:func:`lean_qwen2_step` decides when it applies; everything else keeps HF's forward: Qwen2.5-Omni thinkers (M-RoPE),
sliding-window layers, other architectures or attention implementations, subclassed or hooked modules, LoRA (peft
replaces the linear layers by its own classes), attention dropout while training.
Symbols: ``N`` rows (``B*G``), ``D`` hidden size, ``I`` MLP size, ``Hq``/``Hk`` query/key-value heads,
``R = Hq/Hk``, ``Dh`` head size, ``K`` cached positions including the new one.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional
from transformers import DynamicCache, PreTrainedConfig
from transformers.activations import SiLUActivation
from transformers.models.qwen2.modeling_qwen2 import (
    Qwen2Attention,
    Qwen2DecoderLayer,
    Qwen2MLP,
    Qwen2Model,
    Qwen2RMSNorm,
    Qwen2RotaryEmbedding,
)

from ervlight.policy.generation.kv_cache import GrowingLayer

__all__ = ["LeanQwen2Step", "lean_qwen2_step"]

#: Attention implementations whose results the lean step reproduces (flash/flex kernels are left to HF).
_ATTENTION = ("sdpa", "eager")
#: Exact module classes a plain Qwen2 decoder is made of; anything else (subclasses, peft layers) disqualifies.
_PLAIN = (
    Qwen2Model,
    Qwen2DecoderLayer,
    Qwen2Attention,
    Qwen2MLP,
    Qwen2RMSNorm,
    Qwen2RotaryEmbedding,
    SiLUActivation,
    nn.Linear,
    nn.ModuleList,
)


def _hooked(module: nn.Module) -> bool:
    """Whether ``module`` has forward hooks, pre-hooks or an instance ``forward`` other than a fast-linear copy."""
    hooks = (
        module._forward_hooks,
        module._forward_pre_hooks,
        module._backward_hooks,
        module._backward_pre_hooks,
    )
    return any(len(h) > 0 for h in hooks) or "forward" in vars(module)


def _global_hooks() -> bool:
    """Whether global module hooks are registered (they would run on every HF module call)."""
    from torch.nn.modules import module as module_impl

    names = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks")
    return any(len(getattr(module_impl, name, {})) > 0 for name in names)


def _plain_config(config: PreTrainedConfig, decoder: nn.Module) -> bool:
    """Full attention in every layer, SiLU MLP, 1-D rope, an attention implementation the lean step reproduces."""
    layer_types = getattr(config, "layer_types", None) or []
    rope = getattr(config, "rope_parameters", None) or {}
    return (
        all(kind == "full_attention" for kind in layer_types)
        and getattr(config, "hidden_act", None) == "silu"
        and "mrope_section" not in rope
        and getattr(config, "_attn_implementation", None) in _ATTENTION
        and (not decoder.training or float(getattr(config, "attention_dropout", 0.0)) == 0.0)
    )


def lean_qwen2_step(decoder: nn.Module, config: PreTrainedConfig) -> LeanQwen2Step | None:
    """A :class:`LeanQwen2Step` for ``decoder`` when it is a plain ``Qwen2Model``, else ``None`` (use HF's forward).

    Call it BEFORE :func:`ervlight.policy.generation.fast_linear.row_major_linears` patches the linear layers: a
    linear layer whose ``forward`` was already replaced (accelerate's hooks…) disqualifies the model.
    """
    if type(decoder) is not Qwen2Model or not _plain_config(config, decoder) or _global_hooks():
        return None
    if any(
        type(sub) not in _PLAIN or _hooked(sub)
        for sub in decoder.modules()
        if sub is not decoder.embed_tokens
    ):
        return None
    return LeanQwen2Step(decoder)


def _rms_norm(hidden: torch.Tensor, norm: Qwen2RMSNorm) -> torch.Tensor:
    """HF's Qwen2 RMSNorm (float32 statistics, weight applied in the input dtype) with the module's weight and eps.

    Written out as HF does: on CPU, ``torch.rms_norm`` is a composite of the same ops and measured slower.
    """
    dtype = hidden.dtype
    hidden32 = hidden.float()
    hidden32 = hidden32 * torch.rsqrt(hidden32.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon)
    out: torch.Tensor = norm.weight * hidden32.to(dtype)
    return out


def _rope_tables(cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[N, 1, 1, Dh]`` cos and sign-folded sin from the rotary module's ``[N, 1, Dh]`` cos/sin (once a step).

    HF's ``rotate_half(x) * sin`` equals ``roll(x, Dh/2) * sin'`` with ``sin'`` = sin whose first half is negated.
    """
    half = sin.shape[-1] // 2
    signed = torch.cat((-sin[..., :half], sin[..., half:]), dim=-1)  # [N, 1, Dh]
    return cos.unsqueeze(1), signed.unsqueeze(1)


def _rotate(states: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding of ``[N, H, 1, Dh]`` states (HF's ``x * cos + rotate_half(x) * sin``) in three ops."""
    return torch.addcmul(states * cos, states.roll(states.shape[-1] // 2, dims=-1), signed_sin)


class LeanQwen2Step:
    """One decode step of a plain ``Qwen2Model`` over a prefilled growing KV cache (see the module docstring).

    Args:
        decoder: the ``Qwen2Model`` (checked by :func:`lean_qwen2_step`; its weights are used, never copied).
    """

    def __init__(self, decoder: Qwen2Model) -> None:
        self.decoder = decoder
        config = decoder.config
        self.layers: list[Qwen2DecoderLayer] = list(decoder.layers[: config.num_hidden_layers])  # type: ignore[arg-type]
        first = self.layers[0].self_attn
        self.query_heads = int(config.num_attention_heads)
        self.head_dim = first.q_proj.out_features // self.query_heads
        self.kv_heads = first.k_proj.out_features // self.head_dim
        self.scaling = float(first.scaling)

    def __call__(
        self, embeds: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: DynamicCache
    ) -> torch.Tensor:
        """Final-normed hidden states ``[N, 1, D]`` of one new token per row; its keys/values are appended to ``cache``.

        Args:
            embeds: ``[N, 1, D]`` input embeddings of the new tokens.
            mask: ``[N, 1, 1, K]`` boolean, ``True`` = attend (left padding is ``False``); ``K`` = cached + 1.
            positions: ``[N, 1]`` position ids of the new tokens.
            cache: a cache of :class:`GrowingLayer` (one per layer), prefilled with ``K - 1`` positions.
        """
        rows = embeds.shape[0]
        cos, sin = _rope_tables(*self.decoder.rotary_emb(embeds, positions))  # [N, 1, 1, Dh] each
        heads = self.query_heads + self.kv_heads
        # One additive mask a step (0 / -inf) spares SDPA converting the boolean one in every layer.
        bias = torch.zeros(mask.shape, dtype=embeds.dtype, device=mask.device).masked_fill_(
            ~mask, float("-inf")
        )
        hidden = embeds  # [N, 1, D]
        for index, layer in enumerate(self.layers):
            attn = layer.self_attn
            normed = _rms_norm(hidden, layer.input_layernorm)  # [N, 1, D]
            # Queries and keys side by side, so the rotary embedding runs once.
            both = torch.cat(
                (attn.q_proj.forward(normed), attn.k_proj.forward(normed)), dim=-1
            )  # [N, 1, (Hq+Hk)*Dh]
            both = _rotate(both.view(rows, heads, 1, self.head_dim), cos, sin)  # [N, Hq+Hk, 1, Dh]
            query, key = both[:, : self.query_heads], both[:, self.query_heads :]  # [N, Hq|Hk, 1, Dh]
            value = attn.v_proj.forward(normed).view(rows, self.kv_heads, 1, self.head_dim)  # [N, Hk, 1, Dh]
            layer_cache = cache.layers[index]
            assert isinstance(layer_cache, GrowingLayer)
            keys, values = layer_cache.update(key, value)  # [N, Hk, K, Dh] views of the filled cache
            # The R query heads of a key/value head become R queries of that head: no repeated keys/values.
            grouped = query.view(rows, self.kv_heads, -1, self.head_dim)  # [N, Hk, R, Dh]
            out = functional.scaled_dot_product_attention(
                grouped, keys, values, attn_mask=bias, scale=self.scaling
            )
            hidden = hidden + attn.o_proj.forward(out.reshape(rows, 1, -1))  # [N, 1, D]
            mlp = layer.mlp
            normed = _rms_norm(hidden, layer.post_attention_layernorm)  # [N, 1, D]
            gated = functional.silu(mlp.gate_proj.forward(normed)) * mlp.up_proj.forward(normed)  # [N, 1, I]
            hidden = hidden + mlp.down_proj.forward(gated)  # [N, 1, D]
        return _rms_norm(hidden, self.decoder.norm)  # [N, 1, D]
