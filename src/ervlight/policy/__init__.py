"""Policy backbones behind one interface: media encoded once, G samples per prompt, completion log-probs."""

from ervlight.policy.base import Generation, Policy, PromptContext, SamplingConfig
from ervlight.policy.causal_lm import CausalLMPolicy
from ervlight.policy.decoder import DEFAULT_CHAT_TEMPLATE, DEFAULT_INSTRUCTION, DecoderPolicy
from ervlight.policy.finetune import FinetuneConfig
from ervlight.policy.tiny_lm import tiny_qwen2
from ervlight.policy.tiny_omni import TinyOmni
from ervlight.policy.tokenizer import train_bpe_tokenizer

__all__ = [
    "DEFAULT_CHAT_TEMPLATE",
    "DEFAULT_INSTRUCTION",
    "CausalLMPolicy",
    "DecoderPolicy",
    "FinetuneConfig",
    "Generation",
    "Policy",
    "PromptContext",
    "SamplingConfig",
    "TinyOmni",
    "tiny_qwen2",
    "train_bpe_tokenizer",
]
