"""The policy backbones: each is one :class:`~ervlight.policy.decoder.DecoderPolicy` subclass (plus its towers)."""

from ervlight.policy.backbones.causal_lm import CausalLMPolicy
from ervlight.policy.backbones.qwen_omni import QwenOmniThinker
from ervlight.policy.backbones.tiny_lm import tiny_qwen2
from ervlight.policy.backbones.tiny_omni import TinyOmni

__all__ = ["CausalLMPolicy", "QwenOmniThinker", "TinyOmni", "tiny_qwen2"]
