"""Backbone-independent generation and scoring over an HF decoder: the decode loop, the log-prob pass, the KV cache."""

from ervlight.policy.generation.parts import DecoderParts, DecodeStep, DecodeStepFactory
from ervlight.policy.generation.sampling import sample_completions
from ervlight.policy.generation.scoring import completion_token_scores

__all__ = ["DecodeStep", "DecodeStepFactory", "DecoderParts", "completion_token_scores", "sample_completions"]
