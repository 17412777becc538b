"""Policy backbones behind one interface: media encoded once, G samples per prompt, completion log-probs.

Where things are: ``base`` (the :class:`Policy` contract every backbone implements), ``decoder`` (the shared half of
every HF-decoder backbone), ``backbones/`` (TinyOmni and its towers, CausalLMPolicy, QwenOmniThinker, the lean
Qwen2 decode step), ``generation/`` (the backbone-independent decode loop, log-prob pass, KV cache), ``finetune``
(LoRA/full/frozen), ``tokenizer`` (the in-process BPE). Old module paths keep importing (:mod:`.legacy_paths`).
"""

from ervlight.policy import legacy_paths
from ervlight.policy.backbones import CausalLMPolicy, QwenOmniThinker, TinyOmni, tiny_qwen2
from ervlight.policy.base import Generation, Policy, PromptContext, SamplingConfig, ScoringRequest
from ervlight.policy.decoder import DEFAULT_CHAT_TEMPLATE, DEFAULT_INSTRUCTION, DecoderPolicy
from ervlight.policy.finetune import FinetuneConfig
from ervlight.policy.tokenizer import train_bpe_tokenizer

legacy_paths.register()

__all__ = [
    "DEFAULT_CHAT_TEMPLATE",
    "DEFAULT_INSTRUCTION",
    "CausalLMPolicy",
    "DecoderPolicy",
    "FinetuneConfig",
    "Generation",
    "Policy",
    "PromptContext",
    "QwenOmniThinker",
    "SamplingConfig",
    "ScoringRequest",
    "TinyOmni",
    "tiny_qwen2",
    "train_bpe_tokenizer",
]
