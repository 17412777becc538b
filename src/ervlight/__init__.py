"""ervlight: emotion-coherent reasoning for multimodal LLMs, trained with an Emotional Rationale Verifier."""

__version__ = "0.1.0"
